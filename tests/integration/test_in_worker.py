"""Modules run in Ansible's worker (plugins/plugin_utils/in_worker.py, issue 15) give the results the normal way gives:
the same tasks against the sandbox's real API server and AWS endpoint, once in the worker and once with
``xray_in_worker=false`` (a new Python process per module, as AnsiballZ runs them), compared result by result."""

from __future__ import annotations

import json
import os
import secrets

import pytest
from plays import connected_play

SUFFIX = secrets.token_hex(3)
OURS = {"app.kubernetes.io/managed-by": "tracing.xray"}
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": f"it-in-worker-{SUFFIX}", "namespace": "default", "labels": OURS},
              "data": {"mode": "check"}}

TASKS = [
    {"name": "Read a namespace", "tracing.xray.k8s_info": {"kind": "Namespace", "name": "kube-system"},
     "register": "read"},
    {"name": "Apply a ConfigMap in check mode with diff", "check_mode": True, "diff": True,
     "tracing.xray.k8s": {"state": "present", "apply": True, "server_side_apply": {"field_manager": "tracing.xray"},
                          "definition": CONFIG_MAP}},
    {"name": "Report a namespace that is not ours (a warning)",
     "tracing.xray.k8s_ownership": {"objects": [{"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": "kube-system"}}],
                                    "owner_labels": OURS, "on_foreign": "report"}},
    {"name": "Read the X-Ray groups", "tracing.xray.xray_group_info": {}},
    {"name": "A kind the API server does not serve", "tracing.xray.k8s_info": {"kind": "NoSuchKindAnywhere"}},
    {"name": "An API server that refuses the connection",
     "tracing.xray.k8s_info": {"kind": "Namespace", "host": "https://127.0.0.1:9", "validate_certs": False},
     "ignore_errors": True},
    {"name": "An argument that is not allowed", "tracing.xray.k8s_ownership": {"objects": [], "owner_labels": OURS, "on_foreign": "maybe"},
     "ignore_errors": True},
]
MODULE_TASKS = len(TASKS)


@pytest.fixture(scope="module")
def runs(run_playbook, repo, sandbox):
    del sandbox
    play = json.dumps([connected_play("In the worker or not", tasks=TASKS)], indent=1)
    inventory = os.path.join(repo, "inventories", "sandbox")
    return {mode: run_playbook(play, inventory=inventory, verbosity=3, extra_vars={"xray_in_worker": mode})
            for mode in (True, False)}


def test_every_module_task_ran_in_the_worker_or_not_as_switched(runs):
    assert runs[True].stdout.count(": run in the worker (") == MODULE_TASKS, runs[True].explain()
    assert ": a new Python process" not in runs[True].stdout
    assert runs[False].stdout.count(": a new Python process (xray_in_worker is false)") == MODULE_TASKS
    assert ": run in the worker (" not in runs[False].stdout


# What the API server makes anew for each (dry-run) request, so it differs between any two runs.
PER_REQUEST = {"uid", "creationTimestamp", "time", "resourceVersion"}


def stable(value):
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in PER_REQUEST}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def test_results_are_the_same_either_way(runs):
    in_worker, normal = runs[True].results(), runs[False].results()
    assert list(in_worker) == list(normal)
    for name in in_worker:
        assert stable(in_worker[name]) == stable(normal[name]), name


def test_the_cases_did_what_they_claim(runs):
    results = runs[True].results()
    assert results["Read a namespace"]["resources"][0]["metadata"]["name"] == "kube-system"
    applied = results["Apply a ConfigMap in check mode with diff"]
    assert applied["changed"] is True and "diff" in applied
    assert any("kube-system" in str(w) for w in results["Report a namespace that is not ours (a warning)"]["warnings"])
    assert "groups" in results["Read the X-Ray groups"]
    assert results["A kind the API server does not serve"]["api_found"] is False
    assert results["An API server that refuses the connection"]["failed"] is True
    assert "on_foreign" in results["An argument that is not allowed"]["msg"]
    assert runs[True].failed() == 0  # the two failures are ignored; nothing else failed
