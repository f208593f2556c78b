"""tracing.xray.verify (playbooks/verify.yml) against the in-process sandbox AWS endpoint (moto + the sandbox's
X-Ray EMULATION, which computes GetServiceGraph from the segments it ingested: not AWS).

The segments are the real ones: the sample application (apps/sample) runs as two local processes and its X-Ray
SDK sends every segment over UDP to a socket of this test, which puts them with PutTraceSegments in batches, as
the X-Ray daemon does. (The real daemon in that path is tests/integration/test_e2e.py's subject.)
Names are unique per run, so other tests' segments in the same endpoint cannot change the counts.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import socket
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
FRONT = f"vr-front-{SUFFIX}"
BACK = f"vr-back-{SUFFIX}"
HEALTHY = 60
DOWN = 10
AFTER = 30
ROLE = "tracing.xray.verify : "
SHOW_TABLE = ROLE + "Show the service table"
READ_GRAPH = ROLE + "Read the service map, waiting until the expected services and edges are on it"
CHECK = ROLE + "Check the service map"


class SegmentSink:
    """A UDP socket standing in for the daemon's listener; ``flush()`` puts what arrived with PutTraceSegments."""

    def __init__(self, client):
        self.client = client
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.docs: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self):
        while not self.stop.is_set():
            try:
                data = self.sock.recvfrom(65535)[0]
            except socket.timeout:
                continue
            header, body = data.decode("utf-8").split("\n", 1)
            assert json.loads(header) == {"format": "json", "version": 1}
            self.docs.append(body)

    def flush(self) -> int:
        time.sleep(0.5)
        docs, self.docs = self.docs, []
        for start in range(0, len(docs), 50):
            result = self.client.put_trace_segments(TraceSegmentDocuments=docs[start:start + 50])
            assert result["UnprocessedTraceSegments"] == []
        return len(docs)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def traffic(xray, tmp_path_factory):
    """Healthy load, then the back end killed during load and restarted; the windows of each phase."""
    sink = SegmentSink(xray)
    windows = {}
    try:
        with LocalSample(sink.address, workdir=str(tmp_path_factory.mktemp("sample")), front_name=FRONT, back_name=BACK, work_ms=10) as app:
            start = time.time()
            healthy = loadgen.run(app.front_url, HEALTHY, 60, concurrency=2)
            assert healthy["ok"] == HEALTHY, healthy
            sink.flush()
            windows["healthy"] = (start - 0.5, time.time() + 0.5)
            time.sleep(1.5)
            start = time.time()
            app.kill_backend()
            down = loadgen.run(app.front_url, DOWN, 30)
            assert down["status"] == {"502": DOWN}, down
            app.restart_backend()
            after = loadgen.run(app.front_url, AFTER, 30)
            assert after["ok"] == AFTER, after
            sink.flush()
            windows["chaos"] = (start - 0.5, time.time() + 0.5)
    finally:
        sink.close()
    return windows


def verify_vars(aws_endpoint, tmp_path, window, **extra):
    values = {
        "xray_aws_endpoint_url": aws_endpoint["endpoint_url"],
        "xray_region": aws_endpoint["region"],
        "xray_aws_access_key": aws_endpoint["access_key_id"],
        "xray_aws_secret_key": aws_endpoint["secret_access_key"],
        "verify_start_time": "%.3f" % window[0],
        "verify_end_time": "%.3f" % window[1],
        "verify_expected_services": [FRONT, BACK],
        "verify_expected_edges": [{"source": FRONT, "target": BACK}],
        "verify_output_dir": str(tmp_path),
        "verify_wait_timeout": 10,
        "verify_wait_interval": 1,
    }
    values.update(extra)
    return values


def test_healthy_window_passes_prints_the_table_and_draws_the_map(aws_endpoint, traffic, run_playbook, tmp_path):
    run = run_playbook("playbooks/verify.yml", extra_vars=verify_vars(aws_endpoint, tmp_path, traffic["healthy"]))
    assert run.rc == 0, run.explain()
    assert run.changed() == 0, "the role only reads and reports"
    results = run.results()
    graph = results[READ_GRAPH]
    edge = next(e for e in graph["edges"] if (e["source"], e["target"]) == (FRONT, BACK))
    assert (edge["requests"], edge["ok"], edge["faults"]) == (HEALTHY, HEALTHY, 0)
    services = {s["name"]: s for s in graph["services"]}
    assert services[FRONT]["requests"] == HEALTHY and services[BACK]["requests"] == HEALTHY
    assert services[BACK]["average_latency_ms"] > 0

    table = results[SHOW_TABLE]["msg"]
    assert "EMULATED" in table and aws_endpoint["endpoint_url"] in table
    front_line = next(line for line in table.splitlines() if line.startswith(FRONT + " "))
    assert front_line.split()[1] == str(HEALTHY)
    assert f"{FRONT} -> {BACK}" in table
    assert "Checks: OK" in table
    host = "localhost"
    assert (tmp_path / f"{host}-services.txt").read_text() == table + ("\n" if not table.endswith("\n") else "")
    png = (tmp_path / f"{host}-service-map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    svg = html.unescape((tmp_path / f"{host}-service-map.svg").read_text())  # Graphviz writes "-" as &#45;
    assert "<svg" in svg and FRONT in svg and BACK in svg and "EMULATED" in svg and f"{HEALTHY} calls" in svg


def test_chaos_window_shows_faults_on_the_edge_and_fails_the_threshold(aws_endpoint, traffic, run_playbook, tmp_path):
    run = run_playbook("playbooks/verify.yml", extra_vars=verify_vars(aws_endpoint, tmp_path, traffic["chaos"]))
    assert run.rc != 0, run.explain()
    results = run.results()
    edge = next(e for e in results[READ_GRAPH]["edges"] if (e["source"], e["target"]) == (FRONT, BACK))
    assert (edge["requests"], edge["faults"], edge["ok"]) == (DOWN + AFTER, DOWN, AFTER)
    assert edge["fault_percent"] == 25.0
    failure = results[CHECK]
    assert failure.get("failed") is True
    assert f"{FRONT} 25.0 %" in failure["msg"] and "Over 5.0 %" in failure["msg"]
    assert "Checks: FAILED" in results[SHOW_TABLE]["msg"]
    assert (tmp_path / "localhost-service-map.png").exists(), "the picture is drawn before the checks fail"


def test_report_only_and_missing_service(aws_endpoint, traffic, run_playbook, tmp_path):
    missing = f"vr-missing-{SUFFIX}"
    extra = {"verify_expected_services": [FRONT, missing], "verify_wait_timeout": 2, "verify_render_map": False}
    run = run_playbook("playbooks/verify.yml", extra_vars=verify_vars(aws_endpoint, tmp_path, traffic["healthy"], **extra))
    assert run.rc != 0
    assert f"Missing services: {missing}" in run.results()[CHECK]["msg"]
    assert run.results()[READ_GRAPH]["attempts"] == 3  # waited (bounded), then reported
    assert not (tmp_path / "localhost-service-map.png").exists()

    run = run_playbook("playbooks/verify.yml", extra_vars=verify_vars(aws_endpoint, tmp_path, traffic["chaos"], verify_assert=False))
    assert run.rc == 0, run.explain()
    assert "over the threshold" in run.results()[SHOW_TABLE]["msg"]


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"verify_max_error_percent": 150}, "verify_max_error_percent in [0, 100]"),
        ({"verify_expected_edges": [{"source": FRONT}]}, "target"),
        ({"verify_map_formats": ["gif"]}, "gif"),
        ({"verify_output_dir": "relative/dir"}, "absolute path"),
    ],
)
def test_bad_input_fails_before_reading(aws_endpoint, run_playbook, tmp_path, extra, message):
    run = run_playbook("playbooks/verify.yml", extra_vars=verify_vars(aws_endpoint, tmp_path, (time.time() - 60, time.time()), **extra))
    assert run.rc != 0
    assert READ_GRAPH not in run.results()
    assert message in run.stdout


def test_absent_removes_the_reports(aws_endpoint, traffic, run_playbook, tmp_path):
    run = run_playbook("playbooks/verify.yml", extra_vars=verify_vars(aws_endpoint, tmp_path, traffic["healthy"]))
    assert run.rc == 0, run.explain()
    assert len(list(tmp_path.iterdir())) == 4
    (tmp_path / "unrelated.txt").write_text("not ours")
    run = run_playbook("playbooks/verify.yml", extra_vars=verify_vars(aws_endpoint, tmp_path, traffic["healthy"], verify_state="absent"))
    assert run.rc == 0, run.explain()
    assert [p.name for p in tmp_path.iterdir()] == ["unrelated.txt"]


# --- Transaction Search: the map from every trace, not only the indexed share ----------------------------------


def _spans_policy(aws_endpoint) -> str:
    arn = f"arn:aws:logs:{aws_endpoint['region']}:{aws_endpoint['account_id']}:log-group:aws/spans:*"
    statement = {"Effect": "Allow", "Principal": {"Service": "xray.amazonaws.com"}, "Action": "logs:PutLogEvents", "Resource": arn}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _front_to_back(xray, count: int, front: str, back: str) -> None:
    base = time.time() - 5
    for n in range(count):
        start = base + n * 0.05
        trace_id = f"1-{int(start):08x}-{secrets.token_hex(12)}"
        front_id, call_id, back_id = secrets.token_hex(8), secrets.token_hex(8), secrets.token_hex(8)
        docs = [
            {"trace_id": trace_id, "id": front_id, "name": front, "origin": "AWS::EKS::Container", "start_time": start, "end_time": start + 0.02,
             "http": {"request": {"method": "GET", "url": f"http://{front}/"}, "response": {"status": 200}},
             "subsegments": [{"id": call_id, "name": back, "namespace": "remote", "start_time": start + 0.005, "end_time": start + 0.015}]},
            {"trace_id": trace_id, "id": back_id, "parent_id": call_id, "name": back, "origin": "AWS::EKS::Container",
             "start_time": start + 0.006, "end_time": start + 0.014,
             "http": {"request": {"method": "GET", "url": f"http://{back}/"}, "response": {"status": 200}}},
        ]
        assert xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])["UnprocessedTraceSegments"] == []


def _wait_active(xray) -> dict:
    deadline = time.monotonic() + 30
    while xray.get_trace_segment_destination()["Status"] != "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.2)
    return xray.get_trace_segment_destination()


def test_transaction_search_map_from_retrieved_traces(aws_endpoint, xray, run_playbook, tmp_path):
    logs = boto3.client("logs", endpoint_url=aws_endpoint["endpoint_url"], region_name=aws_endpoint["region"],
                        aws_access_key_id=aws_endpoint["access_key_id"], aws_secret_access_key=aws_endpoint["secret_access_key"])
    front, back, traces = f"ts-front-{SUFFIX}", f"ts-back-{SUFFIX}", 40
    logs.put_resource_policy(policyName=f"it-verify-{SUFFIX}", policyDocument=_spans_policy(aws_endpoint))
    try:
        xray.update_trace_segment_destination(Destination="CloudWatchLogs")
        assert _wait_active(xray)["Destination"] == "CloudWatchLogs"
        start = time.time() - 10
        _front_to_back(xray, traces, front, back)
        window = (start, time.time() + 1)
        names = {"verify_expected_services": [front, back], "verify_expected_edges": [{"source": front, "target": back}], "verify_render_map": False}

        # auto (the default): every trace of the window, read back through trace retrieval.
        run = run_playbook("playbooks/verify.yml", extra_vars=verify_vars(aws_endpoint, tmp_path, window, **names))
        assert run.rc == 0, run.explain()
        graph = run.results()[READ_GRAPH]
        assert graph["source"] == "GetRetrievedTracesGraph" and graph["trace_segment_destination"] == "CloudWatchLogs"
        assert graph["retrieved_traces"] == traces
        edge = next(e for e in graph["edges"] if (e["source"], e["target"]) == (front, back))
        assert edge["requests"] == traces and edge["ok"] == traces
        assert "Transaction Search: the map is built from 40 traces retrieved" in run.results()[SHOW_TABLE]["msg"]

        # ignore: GetServiceGraph sees only the indexed share (1 %), so the expected edge does not carry every request.
        run = run_playbook(
            "playbooks/verify.yml",
            extra_vars=verify_vars(aws_endpoint, tmp_path, window, verify_transaction_search="ignore", verify_wait_timeout=1, verify_assert=False, **names),
        )
        assert run.rc == 0, run.explain()
        graph = run.results()[READ_GRAPH]
        assert graph["source"] == "GetServiceGraph"
        indexed = sum(e["requests"] for e in graph["edges"] if (e["source"], e["target"]) == (front, back))
        assert indexed < traces
    finally:
        if _wait_active(xray)["Destination"] != "XRay":
            xray.update_trace_segment_destination(Destination="XRay")
            _wait_active(xray)
        logs.delete_resource_policy(policyName=f"it-verify-{SUFFIX}")
