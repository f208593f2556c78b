"""End to end: the sample application -> the real X-Ray daemon -> the sandbox's AWS endpoint -> X-Ray APIs.

The ``sandbox`` fixture starts (or reuses) the sandbox: the real X-Ray daemon on udp/tcp 127.0.0.1:2000,
forwarding with PutTraceSegments to moto on 127.0.0.1, whose GetServiceGraph is the sandbox's EMULATION
(computed from the ingested segments; not AWS). The sample's front end and back end run as local processes
(apps/sample, X-Ray SDK for Python) and send their segments to that daemon; the load generator sends N requests.

Everything asserted comes from the X-Ray API (boto3, and the collection's modules inside tracing.xray.verify),
never from the application's logs: both services and the edge between them with N requests counted on the edge;
then, with the back end killed and restarted during load, the faults on that edge; then recovery.
Service names are unique per run, so other traffic in the shared sandbox cannot change the counts.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import sys
import threading
import time

import boto3
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "apps", "sample"))

from xray_sample import loadgen  # noqa: E402
from xray_sample.local import LocalSample  # noqa: E402

SUFFIX = secrets.token_hex(3)
FRONT = f"e2e-front-{SUFFIX}"
BACK = f"e2e-back-{SUFFIX}"
N = 100
CHAOS_COUNT = 200
CHAOS_RATE = 25.0  # requests per second: 8 s of load
KILL_AT = 2.5  # seconds into the chaos load
DOWN_FOR = 2.5
RECOVERY = 50
WAIT = 60.0  # bound on waiting for X-Ray to show what was sent
ROLE = "tracing.xray.verify : "
READ_GRAPH = ROLE + "Read the service map, waiting until the expected services and edges are on it"
READ_TRACES = ROLE + "Read the trace summaries of the same window"
SHOW_TABLE = ROLE + "Show the service table"


@pytest.fixture(scope="module")
def xray(sandbox):
    return boto3.client("xray", endpoint_url=sandbox["aws_endpoint_url"], region_name=sandbox["region"],
                        aws_access_key_id=sandbox["aws_access_key_id"], aws_secret_access_key=sandbox["aws_secret_access_key"])


def edge_between(services: list[dict], source: str, target: str) -> dict:
    """Totals of every graph edge from ``source`` to a node named ``target`` (the service and any inferred node)."""
    by_ref = {s["ReferenceId"]: s for s in services}
    totals = {"requests": 0, "ok": 0, "faults": 0, "errors": 0}
    for service in services:
        if service.get("Name") != source or service.get("Type") == "client":
            continue
        for edge in service.get("Edges", []):
            if by_ref[edge["ReferenceId"]].get("Name") != target:
                continue
            stats = edge["SummaryStatistics"]
            totals["requests"] += stats["TotalCount"]
            totals["ok"] += stats["OkCount"]
            totals["faults"] += stats["FaultStatistics"]["TotalCount"]
            totals["errors"] += stats["ErrorStatistics"]["TotalCount"]
    return totals


def wait_for_edge(xray, start: float, end: float, requests: int) -> tuple[list[dict], dict, float]:
    """Poll GetServiceGraph (bounded) until the front -> back edge counts ``requests``; (services, edge, seconds waited)."""
    began = time.monotonic()
    while True:
        services = xray.get_service_graph(StartTime=start, EndTime=end)["Services"]
        edge = edge_between(services, FRONT, BACK)
        waited = time.monotonic() - began
        if edge["requests"] >= requests or waited > WAIT:
            return services, edge, waited
        time.sleep(1.0)


def service_node(services: list[dict], name: str) -> dict:
    nodes = [s for s in services if s.get("Name") == name and s.get("Type") != "client" and s.get("AccountId")]
    assert len(nodes) == 1, (name, services)
    return nodes[0]


def verify(run_playbook, sandbox, tmp_path, window, **extra):
    values = {
        "verify_start_time": "%.3f" % window[0],
        "verify_end_time": "%.3f" % window[1],
        "verify_expected_services": [FRONT, BACK],
        "verify_expected_edges": [{"source": FRONT, "target": BACK}],
        "verify_output_dir": str(tmp_path),
        "verify_wait_timeout": 30,
        "verify_wait_interval": 2,
    }
    values.update(extra)
    env = {"SANDBOX_DIR": sandbox["sandbox_dir"]}
    return run_playbook("playbooks/verify.yml", inventory=os.path.join(REPO, "inventories", "sandbox", "hosts.yml"), extra_vars=values, env=env)


def test_sample_through_the_real_daemon_then_chaos_then_recovery(sandbox, xray, run_playbook, tmp_path):
    began = time.monotonic()
    workdir = tmp_path / "sample"
    with LocalSample(sandbox["daemon_address"], workdir=str(workdir), front_name=FRONT, back_name=BACK, work_ms=10) as app:
        # --- N requests, all answered ------------------------------------------------------------------------
        start = time.time() - 0.5
        load = loadgen.run(app.front_url, N, 60, concurrency=2)
        healthy = (start, time.time() + 0.5)
        assert load["sent"] == N and load["ok"] == N, load

        services, edge, waited = wait_for_edge(xray, *healthy, N)
        print(f"healthy: {N} requests sent, {edge['requests']} counted on the edge after {waited:.1f} s")
        assert edge == {"requests": N, "ok": N, "faults": 0, "errors": 0}, edge
        front, back = service_node(services, FRONT), service_node(services, BACK)
        assert front["Root"] is True and back["Root"] is False
        assert front["SummaryStatistics"]["TotalCount"] == N and back["SummaryStatistics"]["TotalCount"] == N

        summaries = xray.get_paginator("get_trace_summaries").paginate(StartTime=healthy[0] - 1, EndTime=healthy[1] + 1).build_full_result()
        found = {s["Id"] for s in summaries["TraceSummaries"]}
        assert set(load["trace_ids"]) <= found and len(set(load["trace_ids"])) == N
        traces = xray.batch_get_traces(TraceIds=load["trace_ids"][:5])["Traces"]
        assert len(traces) == 5
        for trace in traces:
            docs = [json.loads(segment["Document"]) for segment in trace["Segments"]]
            assert sorted(d["name"] for d in docs) == sorted([FRONT, BACK])
            back_doc = next(d for d in docs if d["name"] == BACK)
            front_doc = next(d for d in docs if d["name"] == FRONT)
            call = front_doc["subsegments"][0]
            assert call["namespace"] == "remote" and call["name"] == BACK and back_doc["parent_id"] == call["id"]
            assert back_doc["subsegments"][0]["name"] == f"{BACK}-gen"

        # --- chaos: the back end is killed during load and restarted -------------------------------------------
        time.sleep(2.0)
        start = time.time() - 0.5
        results: dict = {}
        runner = threading.Thread(target=lambda: results.update(loadgen.run(app.front_url, CHAOS_COUNT, 60, rate=CHAOS_RATE, concurrency=4)))
        runner.start()
        time.sleep(KILL_AT)
        app.kill_backend()
        time.sleep(DOWN_FOR)
        app.restart_backend()
        runner.join(timeout=120)
        chaos = (start, time.time() + 0.5)
        failed = results["status"].get("502", 0)
        assert results["sent"] == CHAOS_COUNT and results["answered"] == CHAOS_COUNT, results
        assert 0 < failed < CHAOS_COUNT, results

        services, edge, waited = wait_for_edge(xray, *chaos, CHAOS_COUNT)
        assert edge["requests"] == CHAOS_COUNT, edge
        assert edge["faults"] == failed and edge["ok"] == CHAOS_COUNT - failed, (edge, results["status"])
        assert service_node(services, FRONT)["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == failed
        print(f"chaos: {CHAOS_COUNT} sent, {failed} answered 502; edge {edge['requests']} requests, {edge['faults']} faults")

        # --- recovery -------------------------------------------------------------------------------------------
        time.sleep(2.0)
        start = time.time() - 0.5
        load = loadgen.run(app.front_url, RECOVERY, 60, concurrency=2)
        recovery = (start, time.time() + 0.5)
        assert load["ok"] == RECOVERY, load
        services, edge, waited = wait_for_edge(xray, *recovery, RECOVERY)
        assert edge == {"requests": RECOVERY, "ok": RECOVERY, "faults": 0, "errors": 0}, edge
        print(f"recovery: {RECOVERY} sent, edge {edge['requests']} requests, {edge['faults']} faults")

    # --- the same through the collection: tracing.xray.verify (xray_service_graph_info, xray_trace_summary_info) --
    run = verify(run_playbook, sandbox, tmp_path / "healthy", healthy)
    assert run.rc == 0, run.explain()
    results_by_task = run.results("xray-sandbox")
    graph = results_by_task[READ_GRAPH]
    module_edge = next(e for e in graph["edges"] if (e["source"], e["target"]) == (FRONT, BACK))
    assert (module_edge["requests"], module_edge["faults"]) == (N, 0)
    # The module reads the same GetTraceSummaries as boto3 does for the window the module reports using (the role
    # passes on the service graph's window, whole seconds, so it is not exactly `healthy`).
    traces = results_by_task[READ_TRACES]
    module_window = [datetime.datetime.fromisoformat(traces[key].replace("Z", "+00:00")) for key in ("start_time", "end_time")]
    same_window = xray.get_paginator("get_trace_summaries").paginate(StartTime=module_window[0], EndTime=module_window[1]).build_full_result()
    assert traces["summary"]["traces"] == len(same_window["TraceSummaries"]) > 0
    table = results_by_task[SHOW_TABLE]["msg"]
    assert "EMULATED" in table and sandbox["aws_endpoint_url"] in table and "Checks: OK" in table
    assert (tmp_path / "healthy" / "xray-sandbox-service-map.png").stat().st_size > 10_000

    run = verify(run_playbook, sandbox, tmp_path / "chaos", chaos, verify_assert=False)
    assert run.rc == 0, run.explain()
    graph = run.results("xray-sandbox")[READ_GRAPH]
    module_edge = next(e for e in graph["edges"] if (e["source"], e["target"]) == (FRONT, BACK))
    assert (module_edge["requests"], module_edge["faults"]) == (CHAOS_COUNT, failed)
    assert module_edge["fault_percent"] == round(100.0 * failed / CHAOS_COUNT, 2)
    table = run.results("xray-sandbox")[SHOW_TABLE]["msg"]
    edge_line = next(line for line in table.splitlines() if line.startswith(f"{FRONT} -> {BACK}"))
    assert edge_line.split()[3] == str(CHAOS_COUNT) and float(edge_line.split()[-2]) == module_edge["fault_percent"]
    assert "Checks: FAILED" in table

    run = verify(run_playbook, sandbox, tmp_path / "recovery", recovery)
    assert run.rc == 0, run.explain()
    graph = run.results("xray-sandbox")[READ_GRAPH]
    module_edge = next(e for e in graph["edges"] if (e["source"], e["target"]) == (FRONT, BACK))
    assert (module_edge["requests"], module_edge["faults"]) == (RECOVERY, 0)

    print(f"e2e took {time.monotonic() - began:.1f} s")
