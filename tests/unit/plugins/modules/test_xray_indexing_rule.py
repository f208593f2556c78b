"""Unit tests for tracing.xray.xray_indexing_rule and xray_indexing_rule_info (botocore Stubber)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.tracing.xray.plugins.modules import xray_indexing_rule
from ansible_collections.tracing.xray.plugins.modules import xray_indexing_rule_info

MODIFIED = datetime.datetime(2026, 11, 21, 19, 40, tzinfo=datetime.timezone.utc)


def rule(pct=1.0, name="Default", actual=None):
    return {
        "Name": name,
        "ModifiedAt": MODIFIED,
        "Rule": {"Probabilistic": {"DesiredSamplingPercentage": pct, "ActualSamplingPercentage": pct if actual is None else actual}},
    }


def rules(xray, *items):
    xray.add("get_indexing_rules", {"IndexingRules": list(items) or [rule()]}, {})


def test_noop_is_one_call(xray, run_module):
    rules(xray, rule(5.0))
    failed, result = run_module(xray_indexing_rule, {"desired_sampling_percentage": 5}, diff=True)
    assert not failed, result
    assert result["changed"] is False
    assert result["indexing_rule"] == {
        "name": "Default",
        "desired_sampling_percentage": 5.0,
        "actual_sampling_percentage": 5.0,
        "modified_at": "2026-11-21T19:40:00+00:00",
    }
    assert result["diff"]["before"] == result["diff"]["after"]
    assert xray.calls == ["GetIndexingRules"]
    xray.assert_done()


def test_update(xray, run_module):
    rules(xray, rule(1.0))
    xray.add(
        "update_indexing_rule",
        {"IndexingRule": rule(12.5)},
        {"Name": "Default", "Rule": {"Probabilistic": {"DesiredSamplingPercentage": 12.5}}},
    )
    failed, result = run_module(xray_indexing_rule, {"desired_sampling_percentage": 12.5}, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["indexing_rule"]["desired_sampling_percentage"] == 12.5
    assert result["diff"] == {
        "before": {"name": "Default", "desired_sampling_percentage": 1.0},
        "after": {"name": "Default", "desired_sampling_percentage": 12.5},
    }
    assert xray.calls == ["GetIndexingRules", "UpdateIndexingRule"]
    xray.assert_done()


def test_percentage_compared_as_a_float(xray, run_module):
    rules(xray, rule(5.0))
    failed, result = run_module(xray_indexing_rule, {"desired_sampling_percentage": 5.0000000000001})
    assert not failed and result["changed"] is False, result


def test_check_mode(xray, run_module):
    rules(xray, rule(1.0))
    failed, result = run_module(xray_indexing_rule, {"desired_sampling_percentage": 100}, check_mode=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["indexing_rule"] == {"name": "Default", "desired_sampling_percentage": 100.0, "actual_sampling_percentage": None, "modified_at": None}
    assert xray.mutating_calls == []


def test_rule_found_on_a_later_page(xray, run_module):
    xray.add("get_indexing_rules", {"IndexingRules": [rule(1.0, "Other")], "NextToken": "p2"}, {})
    xray.add("get_indexing_rules", {"IndexingRules": [rule(3.0)]}, {"NextToken": "p2"})
    failed, result = run_module(xray_indexing_rule, {"desired_sampling_percentage": 3})
    assert not failed and result["changed"] is False, result
    xray.assert_done()


def test_unknown_rule(xray, run_module):
    rules(xray)
    failed, result = run_module(xray_indexing_rule, {"name": "Custom", "desired_sampling_percentage": 3})
    assert failed
    assert "name='Custom'" in result["msg"] and "rules: Default" in result["msg"]
    assert xray.mutating_calls == []


def test_update_error(xray, run_module):
    rules(xray)
    xray.error("update_indexing_rule", "InvalidRequestException", "Transaction Search is not enabled")
    failed, result = run_module(xray_indexing_rule, {"desired_sampling_percentage": 3})
    assert failed
    assert "Transaction Search is not enabled" in result["msg"] and "Default" in result["msg"]


def test_throttling_is_retried(xray, run_module):
    xray.error("get_indexing_rules", "ThrottledException", "Rate exceeded", 429)
    rules(xray)
    failed, result = run_module(xray_indexing_rule, {"desired_sampling_percentage": 1})
    assert not failed, result
    assert len(xray.sleeps) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        ({"desired_sampling_percentage": -1}, "desired_sampling_percentage=-1.0 is out of range"),
        ({"desired_sampling_percentage": 100.01}, "desired_sampling_percentage=100.01 is out of range"),
        ({"desired_sampling_percentage": "nan"}, "desired_sampling_percentage=nan is out of range"),
        ({"desired_sampling_percentage": 5, "name": ""}, "name must not be empty"),
        ({"desired_sampling_percentage": 5, "name": "n" * 33}, "name is 33 characters long"),
        ({}, "desired_sampling_percentage"),
    ],
)
def test_bad_input_is_refused_before_any_call(xray, run_module, args, message):
    failed, result = run_module(xray_indexing_rule, args)
    assert failed
    assert message in result["msg"]
    assert xray.calls == []


def test_info_with_destination(xray, run_module):
    rules(xray, rule(5.0), rule(2.0, "Other"))
    xray.add("get_trace_segment_destination", {"Destination": "CloudWatchLogs", "Status": "ACTIVE"}, {})
    failed, result = run_module(xray_indexing_rule_info, {})
    assert not failed, result
    assert result["changed"] is False
    assert [r["name"] for r in result["indexing_rules"]] == ["Default", "Other"]
    assert result["trace_segment_destination"] == {"destination": "CloudWatchLogs", "status": "ACTIVE"}
    xray.assert_done()


def test_info_one_rule_without_destination(xray, run_module):
    rules(xray, rule(5.0), rule(2.0, "Other"))
    failed, result = run_module(xray_indexing_rule_info, {"name": "Other", "include_destination": False})
    assert not failed, result
    assert [r["desired_sampling_percentage"] for r in result["indexing_rules"]] == [2.0]
    assert "trace_segment_destination" not in result
    assert xray.calls == ["GetIndexingRules"]


def test_info_empty_name_refused(xray, run_module):
    failed, result = run_module(xray_indexing_rule_info, {"name": ""})
    assert failed and "name must not be empty" in result["msg"]
    assert xray.calls == []
