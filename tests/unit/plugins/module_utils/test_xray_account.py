"""Unit tests for the account configuration helpers (module_utils/xray_account.py)."""

from __future__ import annotations

import datetime
import json

from ansible_collections.tracing.xray.plugins.module_utils import xray as xr
from ansible_collections.tracing.xray.plugins.module_utils import xray_account as xa
from ansible_collections.tracing.xray.plugins.module_utils import xray_limits as xl


def test_wait_until_backs_off_and_gives_up_at_the_deadline():
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    values = iter(["PENDING"] * 10)
    value, reached = xa.wait_until(lambda: next(values), lambda v: v == "ACTIVE", 10, 5, sleep=sleep, clock=lambda: now[0])
    assert (value, reached) == ("PENDING", False)
    assert sleeps == [1, 2, 4, 5]

    values = iter(["PENDING", "ACTIVE"])
    assert xa.wait_until(lambda: next(values), lambda v: v == "ACTIVE", 10, 5, sleep=lambda s: None, clock=lambda: 0.0) == ("ACTIVE", True)


def test_load_policy_document_compacts_and_measures():
    policy = {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "xray:*"}}
    loaded, text, problem = xl.load_policy_document(json.dumps(policy, indent=8))
    assert problem is None and loaded == policy and text == json.dumps(policy, separators=(",", ":"))
    near = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "xray:*", "Sid": ""}]}
    room = xl.MAX_POLICY_BYTES - len(json.dumps(near, separators=(",", ":")))
    near["Statement"][0]["Sid"] = "s" * room
    assert xl.load_policy_document(near)[2] is None
    near["Statement"][0]["Sid"] += "s"
    assert "5121 bytes" in xl.load_policy_document(near)[2]


def test_policy_name_rules():
    assert xl.validate_policy_name("tracing.xray-it_a+b=c,d@e") is None
    assert "characters X-Ray refuses" in xl.validate_policy_name("a/b")


def test_spans_policy_problem_and_the_documented_policy():
    required = xa.required_spans_policy("eu-west-1", "123456789012")
    assert xa.spans_policy_problem([{"policyName": "p", "policyDocument": json.dumps(required)}], "eu-west-1", "123456789012") is None
    problem = xa.spans_policy_problem([{"policyName": "p", "policyDocument": json.dumps(required)}], "us-east-1", "123456789012")
    assert "covers the resource arn:aws:logs:us-east-1:123456789012:log-group:aws/spans:*" in problem and "checked: p" in problem
    assert "checked: none" in xa.spans_policy_problem([], "eu-west-1", "123456789012")
    not_action = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "xray.amazonaws.com"},
                "NotAction": "logs:Delete*",
                "NotResource": "arn:aws:logs:*:*:log-group:secret:*",
            }
        ]
    }
    assert xa.spans_policy_problem([{"policyName": "n", "policyDocument": json.dumps(not_action)}], "eu-west-1", "123456789012") is None


def test_normalizers():
    when = datetime.datetime(2026, 11, 21, 19, 40, tzinfo=datetime.timezone.utc)
    rule = {"Name": "Default", "ModifiedAt": when, "Rule": {"Probabilistic": {"DesiredSamplingPercentage": 5.0}}}
    assert xa.normalize_indexing_rule(rule) == {
        "name": "Default",
        "desired_sampling_percentage": 5.0,
        "actual_sampling_percentage": None,
        "modified_at": "2026-11-21T19:40:00+00:00",
    }
    policy = {"PolicyName": "p", "PolicyDocument": '{"a": 1}', "PolicyRevisionId": "2", "LastUpdatedTime": when}
    assert xa.normalize_resource_policy(policy) == {
        "policy_name": "p",
        "policy_document": {"a": 1},
        "policy_revision_id": "2",
        "last_updated_time": "2026-11-21T19:40:00+00:00",
    }
    assert xa.normalize_resource_policy(None) == {} and xa.normalize_indexing_rule(None) == {}


def test_sampling_rate_boost_compared_with_a_tolerance():
    boost = {"MaxRate": 0.5, "CooldownWindowMinutes": 10}
    assert xr.rule_values_equal("SamplingRateBoost", boost, {"MaxRate": 0.5 + 1e-12, "CooldownWindowMinutes": 10})
    assert not xr.rule_values_equal("SamplingRateBoost", boost, {"MaxRate": 0.5, "CooldownWindowMinutes": 11})
    assert not xr.rule_values_equal("SamplingRateBoost", None, boost)
    assert xr.rule_values_equal("SamplingRateBoost", None, None)
