"""Unit tests for tracing.xray.xray_resource_policy and xray_resource_policy_info (botocore Stubber)."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.tracing.xray.plugins.modules import xray_resource_policy
from ansible_collections.tracing.xray.plugins.modules import xray_resource_policy_info

NAME = "sns-access"
UPDATED = datetime.datetime(2026, 11, 21, 19, 40, tzinfo=datetime.timezone.utc)
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "SNSAccess",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": ["xray:PutTraceSegments", "xray:GetSamplingRules"],
            "Resource": "*",
        }
    ],
}
COMPACT = json.dumps(POLICY, separators=(",", ":"))


def stored(name=NAME, document=None, revision="3"):
    return {
        "PolicyName": name,
        "PolicyDocument": document if document is not None else json.dumps(POLICY, indent=2),
        "PolicyRevisionId": revision,
        "LastUpdatedTime": UPDATED,
    }


def listed(xray, *policies):
    xray.add("list_resource_policies", {"ResourcePolicies": list(policies)}, {})


# --- create, no-op, update ------------------------------------------------------------------------------------


def test_create_is_atomic_with_revision_zero(xray, run_module):
    listed(xray, stored("other"))
    xray.add(
        "put_resource_policy",
        {"ResourcePolicy": stored(document=COMPACT, revision="1")},
        {"PolicyName": NAME, "PolicyDocument": COMPACT, "PolicyRevisionId": "0"},
    )
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": POLICY}, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["resource_policy"] == {
        "policy_name": NAME,
        "policy_document": POLICY,
        "policy_revision_id": "1",
        "last_updated_time": "2026-11-21T19:40:00+00:00",
    }
    assert result["diff"]["before"] == {} and result["diff"]["after"]["policy_document"] == POLICY
    assert xray.calls == ["ListResourcePolicies", "PutResourcePolicy"]
    xray.assert_done()


def test_a_json_string_works_too(xray, run_module):
    listed(xray)
    xray.add(
        "put_resource_policy",
        {"ResourcePolicy": stored(document=COMPACT, revision="1")},
        {"PolicyName": NAME, "PolicyDocument": COMPACT, "PolicyRevisionId": "0"},
    )
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": json.dumps(POLICY, indent=4)})
    assert not failed and result["changed"] is True, result
    xray.assert_done()


@pytest.mark.parametrize(
    "equivalent",
    [
        POLICY,
        # key order, a one-element list versus a string, statement-list versus one statement object
        {
            "Statement": {
                "Resource": ["*"],
                "Action": ["xray:GetSamplingRules", "xray:PutTraceSegments"],
                "Principal": {"Service": ["sns.amazonaws.com"]},
                "Effect": "Allow",
                "Sid": "SNSAccess",
            },
            "Version": "2012-10-17",
        },
    ],
)
def test_semantically_equal_document_is_no_change(xray, run_module, equivalent):
    listed(xray, stored())
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": equivalent}, diff=True)
    assert not failed, result
    assert result["changed"] is False
    assert result["resource_policy"]["policy_revision_id"] == "3"
    assert result["diff"]["before"] == result["diff"]["after"]
    assert xray.calls == ["ListResourcePolicies"]


def test_principal_star_and_root_arn_forms_are_equal(xray, run_module):
    current = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "xray:*", "Resource": "*"}],
    }
    wanted = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "xray:*", "Resource": "*"}]}
    listed(xray, stored(document=json.dumps(current)))
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": wanted})
    assert not failed and result["changed"] is False, result


def test_update_uses_the_revision_read(xray, run_module):
    changed = json.loads(COMPACT)
    changed["Statement"][0]["Action"].append("xray:GetSamplingTargets")
    text = json.dumps(changed, separators=(",", ":"))
    listed(xray, stored())
    xray.add(
        "put_resource_policy", {"ResourcePolicy": stored(document=text, revision="4")}, {"PolicyName": NAME, "PolicyDocument": text, "PolicyRevisionId": "3"}
    )
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": changed}, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["resource_policy"]["policy_revision_id"] == "4"
    assert result["diff"]["before"]["policy_revision_id"] == "3"
    xray.assert_done()


def test_update_with_an_explicit_revision_and_bypass(xray, run_module):
    listed(xray, stored(document="{}"))
    xray.add(
        "put_resource_policy",
        {"ResourcePolicy": stored(document=COMPACT, revision="9")},
        {"PolicyName": NAME, "PolicyDocument": COMPACT, "PolicyRevisionId": "8", "BypassPolicyLockoutCheck": True},
    )
    failed, result = run_module(
        xray_resource_policy, {"policy_name": NAME, "policy_document": POLICY, "policy_revision_id": "8", "bypass_policy_lockout_check": True}
    )
    assert not failed and result["changed"] is True, result
    xray.assert_done()


def test_stale_revision_is_explained(xray, run_module):
    listed(xray, stored(document="{}"))
    xray.error(
        "put_resource_policy",
        "InvalidPolicyRevisionIdException",
        "revision mismatch",
        expected={"PolicyName": NAME, "PolicyDocument": COMPACT, "PolicyRevisionId": "3"},
    )
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": POLICY})
    assert failed
    assert "revision" in result["msg"] and "read it again" in result["msg"]


def test_lockout_is_explained(xray, run_module):
    listed(xray)
    xray.error("put_resource_policy", "LockoutPreventionException", "would lock you out")
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": POLICY})
    assert failed
    assert "bypass_policy_lockout_check=true" in result["msg"] and "would lock you out" in result["msg"]


def test_count_limit_checked_before_the_put(xray, run_module):
    listed(xray, *(stored(f"p{n}") for n in range(5)))
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": POLICY})
    assert failed
    assert "already has 5 resource policies (p0, p1, p2, p3, p4)" in result["msg"]
    assert xray.calls == ["ListResourcePolicies"]


def test_count_limit_does_not_apply_to_an_update(xray, run_module):
    listed(xray, stored(document="{}"), *(stored(f"p{n}") for n in range(4)))
    xray.add(
        "put_resource_policy",
        {"ResourcePolicy": stored(document=COMPACT, revision="4")},
        {"PolicyName": NAME, "PolicyDocument": COMPACT, "PolicyRevisionId": "3"},
    )
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": POLICY})
    assert not failed and result["changed"] is True, result


def test_check_mode_create_and_update(xray, run_module):
    listed(xray)
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": POLICY}, check_mode=True)
    assert not failed and result["changed"] is True, result
    assert result["resource_policy"] == {"policy_name": NAME, "policy_document": POLICY, "policy_revision_id": None, "last_updated_time": None}
    listed(xray, stored(document="{}"))
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "policy_document": POLICY}, check_mode=True)
    assert not failed and result["changed"] is True, result
    assert xray.mutating_calls == []


# --- delete ----------------------------------------------------------------------------------------------------


def test_delete_with_the_revision_read(xray, run_module):
    listed(xray, stored())
    xray.add("delete_resource_policy", {}, {"PolicyName": NAME, "PolicyRevisionId": "3"})
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "state": "absent"}, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["resource_policy"] == {} and result["diff"]["after"] == {}
    assert result["diff"]["before"]["policy_document"] == POLICY
    xray.assert_done()


def test_delete_missing_and_check_mode(xray, run_module):
    listed(xray)
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "state": "absent"})
    assert not failed and result["changed"] is False, result
    listed(xray, stored())
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "state": "absent"}, check_mode=True)
    assert not failed and result["changed"] is True, result
    assert xray.mutating_calls == []


def test_delete_gone_in_between_is_fine(xray, run_module):
    listed(xray, stored())
    xray.error("delete_resource_policy", "InvalidRequestException", "Resource policy sns-access not found")
    failed, result = run_module(xray_resource_policy, {"policy_name": NAME, "state": "absent"})
    assert not failed and result["changed"] is True, result


# --- bad input -------------------------------------------------------------------------------------------------


BIG = {"Version": "2012-10-17", "Statement": [dict(POLICY["Statement"][0], Sid="s" * 5100)]}


@pytest.mark.parametrize(
    "args, message",
    [
        ({"policy_name": NAME}, "policy_document is required with state=present"),
        ({"policy_name": "bad name", "policy_document": POLICY}, "policy_name='bad name' has characters X-Ray refuses"),
        ({"policy_name": "p" * 129, "policy_document": POLICY}, "policy_name is 129 characters long"),
        ({"policy_name": "", "policy_document": POLICY}, "policy_name must not be empty"),
        ({"policy_name": NAME, "policy_document": "{not json"}, "policy_document is not valid JSON"),
        ({"policy_name": NAME, "policy_document": "[1, 2]"}, "policy_document must be a JSON object"),
        ({"policy_name": NAME, "policy_document": {"Version": "2012-10-17"}}, "policy_document has no Statement"),
        ({"policy_name": NAME, "policy_document": {"Statement": [{"Effect": "Allow", "Action": "xray:*"}]}}, "Statement[0]: Principal is required"),
        ({"policy_name": NAME, "policy_document": {"Statement": [{"Effect": "Permit", "Principal": "*", "Action": "xray:*"}]}}, "Effect must be Allow or Deny"),
        ({"policy_name": NAME, "policy_document": {"Statement": [{"Effect": "Allow", "Principal": "*"}]}}, "Action (or NotAction) is required"),
        ({"policy_name": NAME, "policy_document": BIG}, "bytes as compact JSON: X-Ray allows at most 5120 bytes"),
        ({"policy_name": NAME, "policy_document": POLICY, "policy_revision_id": ""}, "policy_revision_id must not be empty"),
        ({"policy_name": NAME, "policy_document": POLICY, "state": "absent"}, "policy_document is only used with state=present"),
    ],
)
def test_bad_input_is_refused_before_any_call(xray, run_module, args, message):
    failed, result = run_module(xray_resource_policy, args)
    assert failed
    assert message in result["msg"]
    assert xray.calls == []


# --- info ------------------------------------------------------------------------------------------------------


def test_info_lists_sorted_and_parsed(xray, run_module):
    xray.add("list_resource_policies", {"ResourcePolicies": [stored("b"), stored("tracing.xray-it-a", document="not json")], "NextToken": "n"}, {})
    xray.add("list_resource_policies", {"ResourcePolicies": [stored("a")]}, {"NextToken": "n"})
    failed, result = run_module(xray_resource_policy_info, {})
    assert not failed, result
    assert [p["policy_name"] for p in result["resource_policies"]] == ["a", "b", "tracing.xray-it-a"]
    assert result["resource_policies"][0]["policy_document"] == POLICY
    assert result["resource_policies"][2]["policy_document"] == "not json"
    xray.assert_done()


def test_info_by_name_and_prefix(xray, run_module):
    listed(xray, stored("b"), stored("tracing.xray-it-a"), stored("tracing.xray-it-b"))
    failed, result = run_module(xray_resource_policy_info, {"name_prefix": "tracing.xray-it-"})
    assert not failed, result
    assert [p["policy_name"] for p in result["resource_policies"]] == ["tracing.xray-it-a", "tracing.xray-it-b"]
    listed(xray, stored("b"))
    failed, result = run_module(xray_resource_policy_info, {"policy_name": "missing"})
    assert not failed and result["resource_policies"] == [], result


def test_info_refuses_both_filters(xray, run_module):
    failed, result = run_module(xray_resource_policy_info, {"policy_name": "a", "name_prefix": "b"})
    assert failed and "mutually exclusive" in result["msg"]
    assert xray.calls == []
