"""Unit tests for tracing.xray.xray_sampling_rule and xray_sampling_rule_info (botocore Stubber)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.tracing.xray.plugins.modules import xray_sampling_rule
from ansible_collections.tracing.xray.plugins.modules import xray_sampling_rule_info

REGION = "eu-west-1"
NAME = "checkout"
ARN = f"arn:aws:xray:{REGION}:123456789012:sampling-rule/{NAME}"
DEFAULT_ARN = f"arn:aws:xray:{REGION}:123456789012:sampling-rule/Default"
CREATED = datetime.datetime(2026, 11, 21, 19, 40, tzinfo=datetime.timezone.utc)


def rule(name=NAME, arn=ARN, **overrides):
    body = {
        "RuleName": name,
        "RuleARN": arn,
        "ResourceARN": "*",
        "Priority": 100,
        "FixedRate": 0.5,
        "ReservoirSize": 5,
        "ServiceName": "back-end",
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": "POST",
        "URLPath": "/checkout*",
        "Version": 1,
        "Attributes": {"tier": "gold"},
    }
    body.update(overrides)
    return body


def record(body):
    return {"SamplingRule": body, "CreatedAt": CREATED, "ModifiedAt": CREATED}


def default_rule(**overrides):
    body = rule(
        "Default", DEFAULT_ARN, Priority=10000, FixedRate=0.05, ReservoirSize=1, ServiceName="*", HTTPMethod="*", URLPath="*", Attributes={}
    )
    body.update(overrides)
    return body


def listed(xray, *bodies, tags=None, arn=ARN):
    """Queue the reads every run starts with: the rule list and, when the rule exists, its tags."""
    xray.add("get_sampling_rules", {"SamplingRuleRecords": [record(b) for b in bodies]}, {})
    if any(b["RuleARN"] == arn for b in bodies):
        xray.add("list_tags_for_resource", {"Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}, {"ResourceARN": arn})


ARGS = {
    "rule_name": NAME,
    "priority": 100,
    "fixed_rate": 0.5,
    "reservoir_size": 5,
    "service_name": "back-end",
    "http_method": "POST",
    "url_path": "/checkout*",
    "attributes": {"tier": "gold"},
}


# --- create --------------------------------------------------------------------------------------


def test_create_full_shape_with_defaults(xray, run_module):
    listed(xray, default_rule(), arn=ARN)
    xray.add(
        "create_sampling_rule",
        {"SamplingRuleRecord": record(rule())},
        {
            "SamplingRule": {
                "RuleName": NAME,
                "ResourceARN": "*",
                "Priority": 100,
                "FixedRate": 0.5,
                "ReservoirSize": 5,
                "ServiceName": "back-end",
                "ServiceType": "*",
                "Host": "*",
                "HTTPMethod": "POST",
                "URLPath": "/checkout*",
                "Version": 1,
                "Attributes": {"tier": "gold"},
            },
            "Tags": [{"Key": "managed-by", "Value": "tracing.xray"}],
        },
    )
    failed, result = run_module(xray_sampling_rule, dict(ARGS, tags={"managed-by": "tracing.xray"}))
    assert not failed, result
    assert result["changed"] is True
    out = result["sampling_rule"]
    assert out["rule_name"] == NAME and out["rule_arn"] == ARN
    assert out["http_method"] == "POST" and out["url_path"] == "/checkout*" and out["resource_arn"] == "*"
    assert out["attributes"] == {"tier": "gold"}
    assert out["tags"] == {"managed-by": "tracing.xray"}
    assert out["created_at"].startswith("2026-11-21T19:40:00")
    assert xray.calls == ["GetSamplingRules", "CreateSamplingRule"]
    xray.assert_done()


def test_create_needs_priority_rate_and_reservoir(xray, run_module):
    listed(xray, default_rule())
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "fixed_rate": 0.1})
    assert failed
    assert "priority, reservoir_size must be set to create" in result["msg"]
    assert xray.mutating_calls == []


def test_create_failure_reports_the_api_message(xray, run_module):
    listed(xray)
    xray.error("create_sampling_rule", "RuleLimitExceededException", "You have reached the maximum number of sampling rules")
    failed, result = run_module(xray_sampling_rule, ARGS)
    assert failed
    assert "maximum number of sampling rules" in result["msg"]


# --- no-op and updates ---------------------------------------------------------------------------


def test_noop_makes_two_read_calls(xray, run_module):
    listed(xray, default_rule(), rule(), tags={"managed-by": "tracing.xray"})
    failed, result = run_module(xray_sampling_rule, dict(ARGS, tags={"managed-by": "tracing.xray"}, version=1), diff=True)
    assert not failed, result
    assert result["changed"] is False
    assert xray.calls == ["GetSamplingRules", "ListTagsForResource"]
    assert result["diff"]["before"] == result["diff"]["after"]
    xray.assert_done()


@pytest.mark.parametrize(
    "option, value, field",
    [
        ("priority", 7, "Priority"),
        ("fixed_rate", 0.05, "FixedRate"),
        ("reservoir_size", 0, "ReservoirSize"),
        ("resource_arn", "arn:aws:eks:eu-west-1:123456789012:cluster/demo", "ResourceARN"),
        ("service_name", "front-end", "ServiceName"),
        ("service_type", "AWS::EKS::Container", "ServiceType"),
        ("host", "shop.example.com", "Host"),
        ("http_method", "GET", "HTTPMethod"),
        ("url_path", "/cart", "URLPath"),
        ("attributes", {"tier": "silver", "region": "eu"}, "Attributes"),
        ("attributes", {}, "Attributes"),
    ],
)
def test_update_each_field_in_place(xray, run_module, option, value, field):
    listed(xray, rule())
    xray.add(
        "update_sampling_rule",
        {"SamplingRuleRecord": record(rule(**{field: value}))},
        {"SamplingRuleUpdate": {"RuleName": NAME, field: value}},
    )
    failed, result = run_module(xray_sampling_rule, dict(ARGS, **{option: value}), diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["sampling_rule"][option] == value
    assert result["diff"]["after"][option] == value
    assert xray.calls == ["GetSamplingRules", "ListTagsForResource", "UpdateSamplingRule"]
    xray.assert_done()


def test_fixed_rate_compared_as_a_float(xray, run_module):
    listed(xray, rule(FixedRate=0.1))
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "fixed_rate": 0.1000000000001})
    assert not failed, result
    assert result["changed"] is False


def test_version_cannot_change(xray, run_module):
    listed(xray, rule())
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "version": 2})
    assert failed
    assert "version" in result["msg"]
    assert xray.mutating_calls == []


def test_tags_reconciled_through_tag_and_untag(xray, run_module):
    listed(xray, rule(), tags={"managed-by": "tracing.xray", "old": "1"})
    xray.add("untag_resource", {}, {"ResourceARN": ARN, "TagKeys": ["old"]})
    xray.add("tag_resource", {}, {"ResourceARN": ARN, "Tags": [{"Key": "team", "Value": "shop"}]})
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "tags": {"managed-by": "tracing.xray", "team": "shop"}})
    assert not failed, result
    assert result["changed"] is True
    assert result["sampling_rule"]["tags"] == {"managed-by": "tracing.xray", "team": "shop"}
    assert xray.calls == ["GetSamplingRules", "ListTagsForResource", "UntagResource", "TagResource"]
    xray.assert_done()


def test_check_mode_update_makes_no_mutating_call(xray, run_module):
    listed(xray, rule())
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "priority": 1, "tags": {"a": "b"}}, check_mode=True, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert xray.mutating_calls == []
    assert result["diff"]["before"]["priority"] == 100
    assert result["diff"]["after"]["priority"] == 1
    assert result["diff"]["after"]["tags"] == {"a": "b"}


def test_check_mode_create(xray, run_module):
    listed(xray)
    failed, result = run_module(xray_sampling_rule, ARGS, check_mode=True, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert xray.calls == ["GetSamplingRules"]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["service_type"] == "*"
    assert result["diff"]["after"]["version"] == 1


# --- the Default rule ----------------------------------------------------------------------------


def test_default_rule_rate_and_reservoir_can_be_updated(xray, run_module):
    listed(xray, default_rule(), rule(), arn=DEFAULT_ARN)
    xray.add(
        "update_sampling_rule",
        {"SamplingRuleRecord": record(default_rule(FixedRate=0.1, ReservoirSize=2))},
        {"SamplingRuleUpdate": {"RuleName": "Default", "FixedRate": 0.1, "ReservoirSize": 2}},
    )
    failed, result = run_module(xray_sampling_rule, {"rule_name": "Default", "fixed_rate": 0.1, "reservoir_size": 2})
    assert not failed, result
    assert result["changed"] is True
    assert result["sampling_rule"]["priority"] == 10000
    xray.assert_done()


def test_default_rule_is_never_deleted(xray, run_module):
    failed, result = run_module(xray_sampling_rule, {"rule_name": "Default", "state": "absent"})
    assert failed
    assert "rule_name" in result["msg"] and "never deleted" in result["msg"]
    assert xray.calls == []


def test_default_rule_match_fields_are_refused(xray, run_module):
    failed, result = run_module(xray_sampling_rule, {"rule_name": "Default", "priority": 5, "host": "x"})
    assert failed
    assert "priority, host" in result["msg"]
    assert xray.calls == []


# --- delete --------------------------------------------------------------------------------------


def test_delete(xray, run_module):
    listed(xray, default_rule(), rule())
    xray.add("delete_sampling_rule", {"SamplingRuleRecord": record(rule())}, {"RuleName": NAME})
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "state": "absent"}, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["sampling_rule"] == {}
    assert result["diff"]["before"]["rule_name"] == NAME
    assert xray.calls == ["GetSamplingRules", "ListTagsForResource", "DeleteSamplingRule"]
    xray.assert_done()


def test_delete_missing_rule(xray, run_module):
    listed(xray, default_rule())
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "state": "absent"})
    assert not failed, result
    assert result["changed"] is False
    assert xray.calls == ["GetSamplingRules"]


def test_check_mode_delete(xray, run_module):
    listed(xray, rule())
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "state": "absent"}, check_mode=True)
    assert not failed, result
    assert result["changed"] is True
    assert xray.mutating_calls == []


def test_rules_are_found_on_later_pages(xray, run_module):
    xray.add("get_sampling_rules", {"SamplingRuleRecords": [record(default_rule())], "NextToken": "page2"}, {})
    xray.add("get_sampling_rules", {"SamplingRuleRecords": [record(rule())]}, {"NextToken": "page2"})
    xray.add("list_tags_for_resource", {"Tags": []}, {"ResourceARN": ARN})
    failed, result = run_module(xray_sampling_rule, ARGS)
    assert not failed, result
    assert result["changed"] is False
    xray.assert_done()


def test_throttling_is_retried(xray, run_module):
    xray.error("get_sampling_rules", "ThrottledException", "Rate exceeded", 429)
    listed(xray, rule())
    xray.error("update_sampling_rule", "ThrottlingException", "Rate exceeded", 400)
    xray.add("update_sampling_rule", {"SamplingRuleRecord": record(rule(Priority=9))}, {"SamplingRuleUpdate": {"RuleName": NAME, "Priority": 9}})
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "priority": 9})
    assert not failed, result
    assert len(xray.sleeps) == 2
    xray.assert_done()


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"fixed_rate": 1.5}, "fixed_rate"),
        ({"fixed_rate": -0.1}, "fixed_rate"),
        ({"priority": 0}, "priority"),
        ({"priority": 10000}, "priority"),
        ({"reservoir_size": -1}, "reservoir_size"),
        ({"attributes": {f"k{i}": "v" for i in range(6)}}, "attributes"),
        ({"attributes": {"k": "v" * 33}}, "attributes"),
        ({"rule_name": "r" * 33}, "rule_name"),
        ({"rule_name": ""}, "rule_name"),
        ({"http_method": "PROPPATCHXYZ"}, "http_method"),
        ({"url_path": "/" * 129}, "url_path"),
        ({"service_name": ""}, "service_name"),
        ({"version": 0}, "version"),
        ({"tags": {"aws:owner": "x"}}, "tags"),
    ],
)
def test_bad_input_is_refused_before_any_call(xray, run_module, overrides, field):
    failed, result = run_module(xray_sampling_rule, dict(ARGS, **overrides))
    assert failed
    assert field in result["msg"]
    assert xray.calls == []


# --- info ----------------------------------------------------------------------------------------


def test_info_lists_all_rules_with_tags_sorted_by_priority(xray, run_module):
    xray.add("get_sampling_rules", {"SamplingRuleRecords": [record(default_rule()), record(rule())]}, {})
    xray.error("list_tags_for_resource", "ResourceNotFoundException", "no tags for Default", 404, {"ResourceARN": DEFAULT_ARN})
    xray.add("list_tags_for_resource", {"Tags": [{"Key": "managed-by", "Value": "tracing.xray"}]}, {"ResourceARN": ARN})
    failed, result = run_module(xray_sampling_rule_info, {})
    assert not failed, result
    assert result["changed"] is False
    assert [r["rule_name"] for r in result["sampling_rules"]] == [NAME, "Default"]
    assert result["sampling_rules"][0]["tags"] == {"managed-by": "tracing.xray"}
    assert result["sampling_rules"][1]["tags"] == {}
    xray.assert_done()


def test_info_one_rule_without_tags(xray, run_module):
    xray.add("get_sampling_rules", {"SamplingRuleRecords": [record(default_rule()), record(rule())]}, {})
    failed, result = run_module(xray_sampling_rule_info, {"rule_name": NAME, "include_tags": False})
    assert not failed, result
    assert [r["rule_name"] for r in result["sampling_rules"]] == [NAME]
    assert xray.calls == ["GetSamplingRules"]


def test_info_missing_rule_is_an_empty_list(xray, run_module):
    xray.add("get_sampling_rules", {"SamplingRuleRecords": [record(default_rule())]}, {})
    failed, result = run_module(xray_sampling_rule_info, {"rule_name": "nope", "include_tags": False})
    assert not failed, result
    assert result["sampling_rules"] == []


def test_info_error(xray, run_module):
    xray.error("get_sampling_rules", "InvalidRequestException", "Not authorized")
    failed, result = run_module(xray_sampling_rule_info, {})
    assert failed
    assert "Not authorized" in result["msg"]


def test_info_match_tags(xray, run_module):
    other = rule("other", ARN.replace(NAME, "other"))
    xray.add("get_sampling_rules", {"SamplingRuleRecords": [record(default_rule()), record(rule()), record(other)]}, {})
    xray.add("list_tags_for_resource", {"Tags": []}, {"ResourceARN": DEFAULT_ARN})
    xray.add("list_tags_for_resource", {"Tags": [{"Key": "managed-by", "Value": "tracing.xray"}]}, {"ResourceARN": ARN})
    xray.add("list_tags_for_resource", {"Tags": [{"Key": "managed-by", "Value": "someone-else"}]}, {"ResourceARN": other["RuleARN"]})
    failed, result = run_module(xray_sampling_rule_info, {"match_tags": {"managed-by": "tracing.xray"}})
    assert not failed, result
    assert [r["rule_name"] for r in result["sampling_rules"]] == [NAME]


# --- sampling rate boost -------------------------------------------------------------------------

BOOST = {"max_rate": 0.5, "cooldown_window_minutes": 10}
BOOST_API = {"MaxRate": 0.5, "CooldownWindowMinutes": 10}


def test_create_with_boost(xray, run_module):
    listed(xray)
    expected_rule = {k: v for k, v in rule().items() if k != "RuleARN"}
    xray.add(
        "create_sampling_rule",
        {"SamplingRuleRecord": record(rule(SamplingRateBoost=BOOST_API))},
        {"SamplingRule": dict(expected_rule, SamplingRateBoost=BOOST_API)},
    )
    failed, result = run_module(xray_sampling_rule, dict(ARGS, sampling_rate_boost=BOOST))
    assert not failed, result
    assert result["changed"] is True
    assert result["sampling_rule"]["sampling_rate_boost"] == BOOST
    xray.assert_done()


def test_boost_added_changed_and_identical(xray, run_module):
    listed(xray, rule())
    xray.add(
        "update_sampling_rule",
        {"SamplingRuleRecord": record(rule(SamplingRateBoost=BOOST_API))},
        {"SamplingRuleUpdate": {"RuleName": NAME, "SamplingRateBoost": BOOST_API}},
    )
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "sampling_rate_boost": BOOST}, diff=True)
    assert not failed and result["changed"] is True, result
    assert "sampling_rate_boost" not in result["diff"]["before"] and result["diff"]["after"]["sampling_rate_boost"] == BOOST
    xray.assert_done()

    listed(xray, rule(SamplingRateBoost=BOOST_API))
    xray.add(
        "update_sampling_rule",
        {"SamplingRuleRecord": record(rule(SamplingRateBoost={"MaxRate": 0.5, "CooldownWindowMinutes": 30}))},
        {"SamplingRuleUpdate": {"RuleName": NAME, "SamplingRateBoost": {"MaxRate": 0.5, "CooldownWindowMinutes": 30}}},
    )
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "sampling_rate_boost": dict(BOOST, cooldown_window_minutes=30)})
    assert not failed and result["changed"] is True, result
    xray.assert_done()

    # The same boost (the rate compared as a float), or no boost option at all: no change.
    listed(xray, rule(SamplingRateBoost=BOOST_API))
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "sampling_rate_boost": dict(BOOST, max_rate=0.5000000000001)})
    assert not failed and result["changed"] is False, result
    listed(xray, rule(SamplingRateBoost=BOOST_API))
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "priority": 100})
    assert not failed and result["changed"] is False, result
    assert result["sampling_rule"]["sampling_rate_boost"] == BOOST
    assert xray.mutating_calls == ["UpdateSamplingRule", "UpdateSamplingRule"]


def test_check_mode_boost(xray, run_module):
    listed(xray, rule())
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "sampling_rate_boost": BOOST}, check_mode=True)
    assert not failed and result["changed"] is True, result
    assert result["sampling_rule"]["sampling_rate_boost"] == BOOST
    assert xray.mutating_calls == []


@pytest.mark.parametrize(
    "boost, message",
    [
        ({"max_rate": 1.5, "cooldown_window_minutes": 1}, "sampling_rate_boost.max_rate=1.5 is out of range"),
        ({"max_rate": -0.1, "cooldown_window_minutes": 1}, "sampling_rate_boost.max_rate=-0.1 is out of range"),
        ({"max_rate": 0.5, "cooldown_window_minutes": -1}, "sampling_rate_boost.cooldown_window_minutes=-1 is out of range"),
        ({"max_rate": 0.5}, "cooldown_window_minutes"),
    ],
)
def test_bad_boost_is_refused_before_any_call(xray, run_module, boost, message):
    failed, result = run_module(xray_sampling_rule, dict(ARGS, sampling_rate_boost=boost))
    assert failed
    assert message in result["msg"]
    assert xray.calls == []


def test_boost_refused_on_the_default_rule(xray, run_module):
    failed, result = run_module(xray_sampling_rule, {"rule_name": "Default", "sampling_rate_boost": BOOST})
    assert failed
    assert "sampling_rate_boost cannot be set on the built-in Default sampling rule" in result["msg"]
    assert xray.calls == []


# --- ownership (ownership_tags / adopt) -------------------------------------------------------------

OURS = {"managed-by": "tracing.xray", "tracing.xray/cluster": "cluster-b"}


def test_create_carries_the_ownership_tags(xray, run_module):
    listed(xray, default_rule())
    expected = {"SamplingRule": dict(rule(), RuleARN=None)}
    del expected["SamplingRule"]["RuleARN"]
    expected["Tags"] = [{"Key": k, "Value": v} for k, v in OURS.items()]
    xray.add("create_sampling_rule", {"SamplingRuleRecord": record(rule())}, expected)
    failed, result = run_module(xray_sampling_rule, dict(ARGS, ownership_tags=OURS))
    assert not failed, result
    assert result["changed"] is True and result["owned"] is True
    assert result["sampling_rule"]["tags"] == OURS
    xray.assert_done()


@pytest.mark.parametrize("check_mode", [False, True])
def test_foreign_rule_is_refused_before_any_change(xray, run_module, check_mode):
    listed(xray, rule(), tags={"team": "payments"})
    failed, result = run_module(xray_sampling_rule, dict(ARGS, fixed_rate=0.1, tags={}, ownership_tags=OURS), check_mode=check_mode)
    assert failed
    assert result["owned"] is False
    assert f"X-Ray sampling rule {NAME!r}" in result["msg"] and "team=payments" in result["msg"]
    assert f"'XRaySamplingRule/{NAME}' to xray_adopt" in result["msg"]
    assert xray.mutating_calls == []


def test_adopt_takes_a_foreign_rule_over(xray, run_module):
    listed(xray, rule(), tags={"team": "payments"})
    xray.add("update_sampling_rule", {"SamplingRuleRecord": record(rule(FixedRate=0.1))}, {"SamplingRuleUpdate": {"RuleName": NAME, "FixedRate": 0.1}})
    xray.add("untag_resource", {}, {"ResourceARN": ARN, "TagKeys": ["team"]})
    xray.add("tag_resource", {}, {"ResourceARN": ARN, "Tags": [{"Key": k, "Value": v} for k, v in OURS.items()]})
    failed, result = run_module(xray_sampling_rule, dict(ARGS, fixed_rate=0.1, tags={}, ownership_tags=OURS, adopt=True))
    assert not failed, result
    assert result["changed"] is True and result["owned"] is True
    assert result["sampling_rule"]["tags"] == OURS
    xray.assert_done()


def test_owned_rule_without_changes_is_idempotent(xray, run_module):
    listed(xray, rule(), tags=OURS)
    failed, result = run_module(xray_sampling_rule, dict(ARGS, tags={}, ownership_tags=OURS))
    assert not failed, result
    assert result["changed"] is False and result["owned"] is True
    assert xray.mutating_calls == []


def test_absent_leaves_a_foreign_rule_and_warns(xray, run_module):
    listed(xray, rule(), tags={"managed-by": "tracing.xray", "tracing.xray/cluster": "cluster-a"})
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "state": "absent", "ownership_tags": OURS})
    assert not failed, result
    assert result["changed"] is False and result["owned"] is False
    assert "tracing.xray/cluster=cluster-a" in " ".join(result["warnings"])
    assert xray.mutating_calls == []


def test_absent_deletes_an_owned_rule(xray, run_module):
    listed(xray, rule(), tags=OURS)
    xray.add("delete_sampling_rule", {"SamplingRuleRecord": record(rule())}, {"RuleName": NAME})
    failed, result = run_module(xray_sampling_rule, {"rule_name": NAME, "state": "absent", "ownership_tags": OURS})
    assert not failed, result
    assert result["changed"] is True and result["owned"] is True
    xray.assert_done()


@pytest.mark.parametrize("version", [0, 2])
def test_only_version_1_is_accepted(xray, run_module, version):
    failed, result = run_module(xray_sampling_rule, dict(ARGS, version=version))
    assert failed
    assert f"version={version}" in result["msg"] and "version 1" in result["msg"]
    assert xray.calls == []


def test_tag_value_dict_is_refused(xray, run_module):
    failed, result = run_module(xray_sampling_rule, dict(ARGS, tags={"team": {"a": "b"}}))
    assert failed and "tags value of 'team'" in result["msg"]
    assert xray.calls == []


# --- create races: another run created the rule between our read and CreateSamplingRule ---------------------------


def test_create_race_continues_with_the_rule_the_other_run_created(xray, run_module):
    listed(xray, default_rule())
    xray.error("create_sampling_rule", "InvalidRequestException", f"Sampling rule {NAME} already exists")
    listed(xray, default_rule(), rule(), tags={"managed-by": "tracing.xray"})  # the re-read and its tags
    failed, result = run_module(xray_sampling_rule, dict(ARGS, tags={"managed-by": "tracing.xray"}))
    assert not failed, result
    assert result["changed"] is False
    assert xray.calls == ["GetSamplingRules", "CreateSamplingRule", "GetSamplingRules", "ListTagsForResource"]
    xray.assert_done()


def test_create_race_with_a_foreign_rule_is_refused(xray, run_module):
    listed(xray, default_rule())
    xray.error("create_sampling_rule", "InvalidRequestException", "Rule already exists")
    listed(xray, default_rule(), rule(), tags={"team": "payments"})
    failed, result = run_module(xray_sampling_rule, dict(ARGS, tags={}, ownership_tags=OURS))
    assert failed and result["owned"] is False
    assert f"'XRaySamplingRule/{NAME}' to xray_adopt" in result["msg"]
    assert xray.mutating_calls == ["CreateSamplingRule"]
