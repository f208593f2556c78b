"""Unit tests for tracing.xray.xray_trace_segment_destination (botocore Stubber: X-Ray, CloudWatch Logs, STS)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.tracing.xray.plugins.modules import xray_trace_segment_destination as module_under_test

REGION = "eu-west-1"
ACCOUNT = "123456789012"
SPANS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws/spans:*"


def destination(xray, dest="XRay", status="ACTIVE"):
    xray.add("get_trace_segment_destination", {"Destination": dest, "Status": status}, {})


def logs_policy(**statement):
    body = {
        "Sid": "TransactionSearchXRayAccess",
        "Effect": "Allow",
        "Principal": {"Service": "xray.amazonaws.com"},
        "Action": "logs:PutLogEvents",
        "Resource": [SPANS, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/application-signals/data:*"],
    }
    body.update(statement)
    return {"policyName": "TransactionSearchAccess", "policyDocument": json.dumps({"Version": "2012-10-17", "Statement": [body]})}


def account_and_policies(xray, *policies):
    xray.sts.add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ops", "UserId": "AIDEXAMPLE"}, {})
    xray.logs.add_response("describe_resource_policies", {"resourcePolicies": list(policies)}, {})


def test_noop_is_one_call(xray, run_module):
    destination(xray)
    failed, result = run_module(module_under_test, {"destination": "XRay"}, diff=True)
    assert not failed, result
    assert result["changed"] is False
    assert result["trace_segment_destination"] == {"destination": "XRay", "status": "ACTIVE"}
    assert result["diff"] == {"before": {"destination": "XRay"}, "after": {"destination": "XRay"}}
    assert xray.calls == ["GetTraceSegmentDestination"]
    xray.assert_done()


def test_switch_to_cloudwatch_logs_checks_the_logs_policy_and_waits(xray, run_module):
    destination(xray)
    account_and_policies(xray, {"policyName": "other", "policyDocument": "{}"}, logs_policy())
    xray.add("update_trace_segment_destination", {"Destination": "CloudWatchLogs", "Status": "PENDING"}, {"Destination": "CloudWatchLogs"})
    destination(xray, "CloudWatchLogs", "PENDING")
    destination(xray, "CloudWatchLogs", "ACTIVE")
    failed, result = run_module(module_under_test, {"destination": "CloudWatchLogs"}, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["trace_segment_destination"] == {"destination": "CloudWatchLogs", "status": "ACTIVE"}
    assert result["diff"] == {"before": {"destination": "XRay"}, "after": {"destination": "CloudWatchLogs"}}
    assert xray.calls == [
        "GetTraceSegmentDestination",
        "GetCallerIdentity",
        "DescribeResourcePolicies",
        "UpdateTraceSegmentDestination",
        "GetTraceSegmentDestination",
        "GetTraceSegmentDestination",
    ]
    # The xray fixture turns time.sleep into a recorder: one pause (the first is 1 s) between the two reads.
    assert xray.sleeps == [1]
    xray.assert_done()


@pytest.mark.parametrize(
    "policies, missing",
    [
        ([], "no statement allows the principal xray.amazonaws.com"),
        ([logs_policy(Principal={"Service": "delivery.logs.amazonaws.com"})], "no statement allows the principal xray.amazonaws.com"),
        ([logs_policy(Effect="Deny")], "no statement allows the principal xray.amazonaws.com"),
        ([logs_policy(Action=["logs:CreateLogStream"])], "grants the action logs:PutLogEvents"),
        ([logs_policy(Resource=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws/spans")], f"covers the resource {SPANS}"),
        ([logs_policy(Resource=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:aws/spans:*")], f"covers the resource {SPANS}"),
    ],
)
def test_missing_logs_policy_fails_before_the_update(xray, run_module, policies, missing):
    destination(xray)
    account_and_policies(xray, *policies)
    failed, result = run_module(module_under_test, {"destination": "CloudWatchLogs"})
    assert failed
    assert "needs a CloudWatch Logs resource policy" in result["msg"] and missing in result["msg"]
    statement = result["required_logs_policy"]["Statement"][0]
    assert statement["Principal"] == {"Service": "xray.amazonaws.com"} and statement["Action"] == "logs:PutLogEvents"
    assert SPANS in statement["Resource"]
    assert xray.mutating_calls == []


@pytest.mark.parametrize(
    "statement",
    [
        {"Principal": "*", "Action": "logs:*", "Resource": "*"},
        {"Principal": {"Service": ["logs.amazonaws.com", "xray.amazonaws.com"]}, "Action": ["logs:Put*"], "Resource": "arn:aws:logs:*:*:log-group:aws/*"},
    ],
)
def test_wildcards_in_the_logs_policy_count(xray, run_module, statement):
    destination(xray)
    account_and_policies(xray, logs_policy(**statement))
    failed, result = run_module(module_under_test, {"destination": "CloudWatchLogs"}, check_mode=True)
    assert not failed, result
    assert result["changed"] is True


def test_check_mode_predicts_without_updating(xray, run_module):
    destination(xray)
    account_and_policies(xray, logs_policy())
    failed, result = run_module(module_under_test, {"destination": "CloudWatchLogs"}, check_mode=True, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["trace_segment_destination"] == {"destination": "CloudWatchLogs", "status": "ACTIVE"}
    assert xray.mutating_calls == []

    destination(xray, "CloudWatchLogs")
    failed, result = run_module(module_under_test, {"destination": "XRay", "wait": False}, check_mode=True)
    assert not failed, result
    assert result["trace_segment_destination"] == {"destination": "XRay", "status": "PENDING"}
    assert xray.mutating_calls == []


def test_check_mode_fails_like_the_real_run_when_the_logs_policy_is_missing(xray, run_module):
    destination(xray)
    account_and_policies(xray)
    failed, result = run_module(module_under_test, {"destination": "CloudWatchLogs"}, check_mode=True)
    assert failed and "required_logs_policy" in result
    assert xray.mutating_calls == []


def test_pending_change_is_waited_for_first(xray, run_module):
    destination(xray, "CloudWatchLogs", "PENDING")
    destination(xray, "CloudWatchLogs", "ACTIVE")
    failed, result = run_module(module_under_test, {"destination": "CloudWatchLogs"})
    assert not failed, result
    assert result["changed"] is False
    assert xray.calls == ["GetTraceSegmentDestination", "GetTraceSegmentDestination"]


def test_back_to_xray_needs_no_logs_check_and_may_not_wait(xray, run_module):
    destination(xray, "CloudWatchLogs")
    xray.add("update_trace_segment_destination", {"Destination": "XRay", "Status": "PENDING"}, {"Destination": "XRay"})
    failed, result = run_module(module_under_test, {"destination": "XRay", "wait": False})
    assert not failed, result
    assert result["changed"] is True
    assert result["trace_segment_destination"] == {"destination": "XRay", "status": "PENDING"}
    assert xray.calls == ["GetTraceSegmentDestination", "UpdateTraceSegmentDestination"]


def test_wait_times_out(xray, run_module):
    destination(xray, "CloudWatchLogs")
    xray.add("update_trace_segment_destination", {"Destination": "XRay", "Status": "PENDING"}, {"Destination": "XRay"})
    destination(xray, "XRay", "PENDING")
    failed, result = run_module(module_under_test, {"destination": "XRay", "wait_timeout": 0})
    assert failed
    assert "Timed out after 0 seconds after the update" in result["msg"] and "PENDING" in result["msg"]
    assert result["trace_segment_destination"] == {"destination": "XRay", "status": "PENDING"}


def test_access_denied_update_names_the_logs_policy(xray, run_module):
    destination(xray)
    xray.error("update_trace_segment_destination", "AccessDeniedException", "User is not authorized", 403, {"Destination": "CloudWatchLogs"})
    failed, result = run_module(module_under_test, {"destination": "CloudWatchLogs", "check_logs_policy": False})
    assert failed
    assert "xray.amazonaws.com logs:PutLogEvents on the aws/spans log group" in result["msg"]
    assert "GetCallerIdentity" not in xray.calls and "DescribeResourcePolicies" not in xray.calls


def test_unreadable_logs_policies_warn_and_go_on(xray, run_module):
    destination(xray)
    xray.sts.add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ops", "UserId": "AIDEXAMPLE"}, {})
    xray.logs.add_client_error("describe_resource_policies", "AccessDeniedException", "not allowed", 400)
    xray.add("update_trace_segment_destination", {"Destination": "CloudWatchLogs", "Status": "PENDING"}, {"Destination": "CloudWatchLogs"})
    failed, result = run_module(module_under_test, {"destination": "CloudWatchLogs", "wait": False})
    assert not failed, result
    assert any("logs:DescribeResourcePolicies" in w for w in result.get("warnings", []))


def test_throttling_is_retried(xray, run_module):
    xray.error("get_trace_segment_destination", "ThrottledException", "Rate exceeded", 429)
    destination(xray)
    failed, result = run_module(module_under_test, {"destination": "XRay"})
    assert not failed, result
    assert len(xray.sleeps) == 1


@pytest.mark.parametrize(
    "args, field",
    [
        ({"destination": "S3"}, "destination"),
        ({"destination": "XRay", "wait_timeout": -1}, "wait_timeout"),
        ({}, "destination"),
    ],
)
def test_bad_input_is_refused_before_any_call(xray, run_module, args, field):
    failed, result = run_module(module_under_test, args)
    assert failed
    assert field in result["msg"]
    assert xray.calls == []
