"""Unit tests of the sandbox CLI's pure helpers (sandbox/sandbox.py)."""

from __future__ import annotations

from sandbox import sandbox as cli

READY = {"type": "Ready", "status": "True"}


def node(conditions, taints=None):
    return {"metadata": {"name": "kwok-node-0"}, "spec": {"taints": taints} if taints is not None else {},
            "status": {"conditions": conditions}}


def test_ready_node_without_taints_is_ready():
    assert cli.node_is_ready(node([READY]))
    assert cli.node_is_ready(node([READY], taints=[]))


def test_not_ready_condition_is_not_ready():
    assert not cli.node_is_ready(node([{"type": "Ready", "status": "False"}]))
    assert not cli.node_is_ready(node([]))


def test_ready_node_still_carrying_the_lifecycle_taint_is_not_ready():
    # Seen in CI: Ready=True a moment before the node lifecycle controller removes this taint; pods without a
    # toleration are not scheduled there yet, so `sandbox up` must keep waiting.
    assert not cli.node_is_ready(node([READY], taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]))
    assert not cli.node_is_ready(node([READY], taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]))


def test_other_taints_do_not_count_as_lifecycle_taints():
    assert cli.node_is_ready(node([READY], taints=[{"key": "example.com/dedicated", "effect": "NoSchedule"}]))
