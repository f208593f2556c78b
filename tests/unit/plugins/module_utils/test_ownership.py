"""Unit tests for the ownership contract (module_utils/ownership.py)."""

from __future__ import annotations

import pytest

from ansible_collections.tracing.xray.plugins.module_utils import ownership

OURS = {"managed-by": "tracing.xray"}
CLUSTER_A = {"managed-by": "tracing.xray", "tracing.xray/cluster": "cluster-a"}
CLUSTER_B = {"managed-by": "tracing.xray", "tracing.xray/cluster": "cluster-b"}


def params(tags=None, ownership_tags=None, purge_tags=True, adopt=False):
    return {"tags": tags, "ownership_tags": ownership_tags, "purge_tags": purge_tags, "adopt": adopt}


def test_options_fragment():
    assert ownership.OWNERSHIP_OPTIONS == {"ownership_tags": {"type": "dict"}, "adopt": {"type": "bool", "default": False}}


def test_is_owned():
    assert ownership.is_owned({"managed-by": "tracing.xray", "a": "b"}, OURS)
    assert not ownership.is_owned({"managed-by": "someone"}, OURS)
    assert not ownership.is_owned(None, OURS)
    assert not ownership.is_owned(CLUSTER_A, CLUSTER_B)
    assert ownership.is_owned({"n": "3"}, {"n": 3})  # values compared as strings
    # without ownership tags everything is ours
    assert ownership.is_owned(None, None) and ownership.is_owned({"team": "payments"}, {})


def test_missing_ownership_tags():
    assert ownership.missing_ownership_tags(CLUSTER_A, CLUSTER_B) == {"tracing.xray/cluster": "cluster-b"}
    assert ownership.missing_ownership_tags({"team": "payments"}, OURS) == OURS
    assert ownership.missing_ownership_tags(CLUSTER_A, OURS) == {}


def test_refusal_message_names_resource_owner_and_what_to_do():
    msg = ownership.refusal_message(
        "XRayGroup", "front-end-errors", {"team": "payments"}, CLUSTER_B, arn="arn:aws:xray:eu-west-1:1:group/front-end-errors/X",
        adopt_hint="XRayGroup/front-end-errors",
    )
    assert "X-Ray group 'front-end-errors'" in msg
    assert "arn:aws:xray:eu-west-1:1:group/front-end-errors/X" in msg
    assert "team=payments" in msg  # who appears to own it
    assert "managed-by=tracing.xray, tracing.xray/cluster=cluster-b" in msg  # what it lacks
    assert "choose another name" in msg and "adopt: true" in msg
    assert "'XRayGroup/front-end-errors' to xray_adopt" in msg
    # another cluster's group: the message names that cluster
    other = ownership.refusal_message("XRaySamplingRule", "back-end-all", CLUSTER_A, CLUSTER_B)
    assert "X-Ray sampling rule 'back-end-all'" in other and "tracing.xray/cluster=cluster-a" in other
    assert "xray_adopt" not in other  # no hint given


def test_not_deleting_message():
    msg = ownership.not_deleting_message("XRayGroup", "g", {"team": "payments"}, OURS)
    assert "X-Ray group 'g'" in msg and "team=payments" in msg and "not deleting" in msg


def test_adopt_entry():
    assert ownership.adopt_entry("XRayGroup", "front-end-errors") == "XRayGroup/front-end-errors"
    assert ownership.adopt_entry("XRaySamplingRule", "back-end-all") == "XRaySamplingRule/back-end-all"


def test_desired_tags_are_tags_plus_ownership_tags():
    assert ownership.desired_tags(params({"team": "web"}, OURS)) == {"team": "web", "managed-by": "tracing.xray"}
    assert ownership.desired_tags(params({"managed-by": "me"}, OURS)) == OURS
    assert ownership.desired_tags(params({"replicas": 3})) == {"replicas": "3"}
    assert ownership.desired_tags(params()) == {}


def test_ownership_tag_changes():
    current = {"managed-by": "tracing.xray", "old": "1"}
    # Neither tags nor ownership tags: nothing to reconcile, even with purge_tags.
    assert ownership.ownership_tag_changes(params(), current) == ({}, [])
    # Ownership tags alone never purge.
    assert ownership.ownership_tag_changes(params(ownership_tags={"managed-by": "tracing.xray", "x": "y"}), current) == ({"x": "y"}, [])
    # Given tags purge the others (ownership tags kept) unless purge_tags is false.
    assert ownership.ownership_tag_changes(params({"new": "2"}, OURS), current) == ({"new": "2"}, ["old"])
    assert ownership.ownership_tag_changes(params({"new": "2"}, OURS, purge_tags=False), current) == ({"new": "2"}, [])
    assert ownership.ownership_tag_changes(params({"old": "1"}, OURS), None) == ({"old": "1", "managed-by": "tracing.xray"}, [])
    # AWS' own tags are never purged
    assert ownership.ownership_tag_changes(params({}, OURS), {"aws:cloudformation:stack-id": "s", "b": "2"}) == (OURS, ["b"])


def test_tags_after():
    current = {"a": "1", "b": "2"}
    assert ownership.tags_after(current, {"c": 3, "a": "0"}, ["b", "missing"]) == {"a": "0", "c": "3"}
    assert current == {"a": "1", "b": "2"}
    assert ownership.tags_after(None, {}, []) == {}


class _Failed(Exception):
    pass


class FakeModule:
    def __init__(self, **module_params):
        self.params = params(**module_params)
        self.warnings = []
        self.failure = None

    def warn(self, text):
        self.warnings.append(text)

    def fail_json(self, **result):
        self.failure = result
        raise _Failed(result["msg"])


def test_check_present():
    assert ownership.check_present(FakeModule(ownership_tags=OURS), "XRayGroup", "g", {"managed-by": "tracing.xray"}) is True
    assert ownership.check_present(FakeModule(), "XRayGroup", "g", {"team": "payments"}) is True  # no contract: ours
    module = FakeModule(ownership_tags=OURS)
    with pytest.raises(_Failed):
        ownership.check_present(module, "XRayGroup", "g", {"team": "payments"}, adopt_hint="XRayGroup/g")
    assert module.failure["owned"] is False and module.failure["changed"] is False
    assert "team=payments" in module.failure["msg"] and "XRayGroup/g" in module.failure["msg"]
    adopting = FakeModule(ownership_tags=OURS, adopt=True)
    assert ownership.check_present(adopting, "XRayGroup", "g", {"team": "payments"}) is True
    assert "adopting X-Ray group 'g'" in adopting.warnings[0] and "team=payments" in adopting.warnings[0]


def test_check_absent_never_fails():
    module = FakeModule(ownership_tags=OURS, adopt=True)  # adopt does not make a foreign resource deletable
    assert ownership.check_absent(module, "XRaySamplingRule", "r", {"team": "payments"}) is False
    assert module.failure is None and "not deleting" in module.warnings[0]
    assert ownership.check_absent(FakeModule(ownership_tags=OURS), "XRaySamplingRule", "r", OURS) is True


def test_tags_to_set_are_sorted_so_requests_are_deterministic():
    to_set, removed = ownership.ownership_tag_changes(params(ownership_tags={"z": "1", "a": "2", "m": "3"}), {})
    assert list(to_set) == ["a", "m", "z"] and removed == []
