"""Unit tests of bench/benchlib.py (`make bench-smoke`): no sandbox, no network."""

from __future__ import annotations

import base64
import json
import os
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402


def test_summary_and_ratios():
    s = benchlib.summary([3.0, 1.0, 2.0])
    assert (s["n"], s["min"], s["median"], s["max"]) == (3, 1.0, 2.0, 3.0)
    assert benchlib.summary([])["median"] is None
    times = {"baseline_converge": [2.0, 2.0, 4.0], "converge": [20.0, 24.0, 24.0], "noop": [10.0, 12.0, 24.0],
             "baseline_noop": [1.0, 1.0, 2.0], "teardown": [40.0, 48.0, 48.0], "baseline_teardown": [4.0, 4.0, 4.0]}
    r = benchlib.headline_ratios(times)
    assert set(r) >= {"converge_ratio", "noop_ratio", "noop_vs_baseline", "teardown_ratio"}
    assert r["converge_ratio"]["values"] == [10.0, 12.0, 6.0]
    assert r["converge_ratio"]["median"] == 10.0
    assert r["noop_ratio"]["median"] == 0.5
    assert r["teardown_ratio"]["min"] == 2.0
    assert r["noop_vs_baseline"]["of_medians"] == 12.0
    assert benchlib.ratio(1.0, 0) is None


def test_tables():
    times = {"converge": [1.0, 2.0], "baseline_converge": [0.5, 0.5]}
    table = benchlib.times_table(times)
    assert table.splitlines()[0].startswith("| what (seconds)")
    assert "| converge | 2 | 1.00 | 1.50 | 2.00 |" in table
    ratios = benchlib.ratios_table({"converge_ratio": benchlib.ratio_summary([1.0, 2.0], [0.5, 0.5])})
    assert "| converge_ratio | 2 | 2.00 | 3.00 | 4.00 | 3.00 |" in ratios


def _task(name, start, end, hosts):
    return {"task": {"name": name, "path": f"roles/x.yml:{len(name)}",
                     "duration": {"start": f"2026-01-01T00:00:{start:06.3f}Z", "end": f"2026-01-01T00:00:{end:06.3f}Z"}},
            "hosts": hosts}


def test_callback_profile():
    doc = {"plays": [{"tasks": [
        _task("slow", 0, 2.5, {"h": {"changed": True, "action": "kubernetes.core.k8s"}}),
        _task("fast", 2.5, 3.0, {"h": {"changed": False, "action": "ansible.builtin.set_fact"}}),
        _task("skipped", 3.0, 3.1, {"h": {"skipped": True, "action": "tracing.xray.k8s_ownership"}}),
        _task("fast", 3.1, 3.6, {"h": {"action": "tracing.xray.xray_group", "results": [{}, {}]}}),
    ]}], "stats": {"h": {"ok": 3, "changed": 1, "skipped": 1, "failures": 0}}}
    parsed = benchlib.parse_callback("[WARNING]: x\n" + json.dumps(doc))
    assert benchlib.stats_totals(parsed)["changed"] == 1
    assert benchlib.task_count(parsed) == {"tasks": 4, "executed": 3, "skipped": 1, "module_calls": 3}
    prof = benchlib.task_profile(parsed)
    assert round(benchlib.total_task_seconds(prof), 3) == 3.6
    top = benchlib.slowest_tasks([prof, prof], top=2)
    assert [t["task"] for t in top] == ["slow", "fast"]
    assert round(top[1]["median_s"], 3) == 1.0 and top[1]["per_run"] == 2
    assert benchlib.parse_callback("no json")["plays"] == []


def test_request_total_delta():
    before = benchlib.parse_request_total(
        '# HELP apiserver_request_total x\n'
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="daemonsets",'
        'scope="resource",subresource="",verb="GET",version="v1"} 5\n'
        'apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="namespaces",'
        'scope="resource",subresource="",verb="APPLY",version="v1"} 1\n')
    after = dict(before)
    after[("GET", "apps", "daemonsets", "", "200")] = 9
    after[("PATCH", "", "pods", "status", "200")] = 2
    delta = benchlib.counter_delta(before, after)
    assert delta == {("GET", "apps", "daemonsets", "", "200"): 4, ("PATCH", "", "pods", "status", "200"): 2}
    out = benchlib.summarize_kube_delta(delta, 2.0, idle_rate={("PATCH", "", "pods", "status", "200"): 0.5})
    assert out["total"] == 6 and out["by_verb"] == {"GET": 4, "PATCH": 2}
    assert out["top"]["GET apps/daemonsets"] == 4 and out["top"]["PATCH pods/status"] == 2
    assert out["background_estimate"] == 1 and out["net_of_background"] == 5


def test_aws_log_and_recorder():
    log = "\n".join([
        '2026 werkzeug INFO 127.0.0.1 - - [x] "POST / HTTP/1.1" 200 -',
        '2026 werkzeug INFO 127.0.0.1 - - [x] "GET /clusters/c HTTP/1.1" 200 -',
        '2026 werkzeug INFO 127.0.0.1 - - [x] "\x1b[33mPOST / HTTP/1.1\x1b[0m" 404 -',
        '2026 werkzeug INFO 127.0.0.1 - - [x] "\x1b[33mGET /_sandbox/pod-identity-association?a=b HTTP/1.1\x1b[0m" 404 -',
        '2026 werkzeug INFO 127.0.0.1 - - [x] "POST /moto-api/recorder/start-recording HTTP/1.1" 200 -',
        "2026 sandbox.aws INFO something else",
    ])
    assert benchlib.count_aws_requests(log) == {"total": 3, "errors": 1}
    auth = "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/iam/aws4_request, SignedHeaders=host"
    entries = [
        {"headers": {"Authorization": auth}, "method": "POST", "url": "http://127.0.0.1/",
         "body": base64.b64encode(b"Action=GetRole&RoleName=x&Version=2010-05-08").decode(), "body_encoded": True},
        {"headers": {"Authorization": auth.replace("/iam/", "/eks/")}, "method": "GET", "url": "http://127.0.0.1/clusters/c",
         "body": "", "body_encoded": False},
        {"headers": {"Authorization": auth.replace("/iam/", "/logs/"), "X-Amz-Target": "Logs_20140328.DescribeResourcePolicies"},
         "method": "POST", "url": "http://127.0.0.1/", "body": "{}", "body_encoded": False},
        {"headers": {}, "method": "GET", "url": "http://127.0.0.1/_sandbox/calls", "body": ""},
    ]
    counted = benchlib.count_recorded([json.dumps(e) for e in entries] + ["", "not json"])
    assert counted == {"iam:GetRole": 1, "eks:GET /clusters/c": 1, "logs:DescribeResourcePolicies": 1}


def test_floor_playbook_has_the_task_counts_and_parses():
    play = yaml.safe_load(benchlib.floor_playbook(3, 2))[0]
    assert play["hosts"] == "all" and play["gather_facts"] is False
    tasks = play["tasks"]
    assert len(tasks) == 5
    assert [t.get("when") for t in tasks] == [None, None, None, False, False]
    assert all(t["ansible.builtin.debug"] == {"msg": "floor"} for t in tasks)
    assert yaml.safe_load(benchlib.floor_playbook(0, 0))[0]["tasks"] == []
    with pytest.raises(ValueError):
        benchlib.floor_playbook(-1, 0)


def test_floor_ratios_are_run_by_run():
    out = benchlib.floor_ratios({"noop": [6.0, 4.0], "floor_noop": [2.0, 2.0], "baseline_noop": [1.0, 0.5]})
    assert out["noop_vs_floor"]["values"] == [3.0, 2.0]
    assert out["floor_vs_baseline"]["values"] == [2.0, 4.0]
