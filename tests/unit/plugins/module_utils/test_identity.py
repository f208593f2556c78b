"""Unit tests for the helpers the identity modules share (module_utils/identity.py)."""

from __future__ import annotations

from ansible_collections.tracing.xray.plugins.module_utils import identity

OURS = {"managed-by": "tracing.xray"}


def params(tags=None, ownership_tags=None, purge_tags=True):
    return {"tags": tags, "ownership_tags": ownership_tags, "purge_tags": purge_tags}


def test_desired_tags_are_tags_plus_ownership_tags():
    assert identity.desired_tags(params({"team": "web"}, OURS)) == {"team": "web", "managed-by": "tracing.xray"}
    assert identity.desired_tags(params({"managed-by": "me"}, OURS)) == OURS
    assert identity.desired_tags(params()) == {}


def test_ownership_tag_changes():
    current = {"managed-by": "tracing.xray", "old": "1"}
    # Neither tags nor ownership tags: nothing to reconcile, even with purge_tags.
    assert identity.ownership_tag_changes(params(), current) == ({}, [])
    # Ownership tags alone never purge.
    assert identity.ownership_tag_changes(params(ownership_tags={"managed-by": "tracing.xray", "x": "y"}), current) == ({"x": "y"}, [])
    # Given tags purge the others (ownership tags kept) unless purge_tags is false.
    assert identity.ownership_tag_changes(params({"new": "2"}, OURS), current) == ({"new": "2"}, ["old"])
    assert identity.ownership_tag_changes(params({"new": "2"}, OURS, purge_tags=False), current) == ({"new": "2"}, [])
    assert identity.ownership_tag_changes(params({"old": "1"}, OURS), None) == ({"old": "1", "managed-by": "tracing.xray"}, [])


def test_tags_after():
    current = {"a": "1", "b": "2"}
    assert identity.tags_after(current, {"c": "3", "a": "0"}, ["b", "missing"]) == {"a": "0", "c": "3"}
    assert current == {"a": "1", "b": "2"}
    assert identity.tags_after(None, {}, []) == {}
