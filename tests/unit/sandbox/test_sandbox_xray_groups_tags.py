"""X-Ray groups and tags (EMULATION) through real boto3 clients."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError


def _error(exc: pytest.ExceptionInfo) -> tuple[str, str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def _rule(name: str, **overrides: Any) -> dict[str, Any]:
    rule = {
        "RuleName": name,
        "ResourceARN": "*",
        "Priority": 100,
        "FixedRate": 0.1,
        "ReservoirSize": 2,
        "ServiceName": "*",
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": "*",
        "URLPath": "*",
        "Version": 1,
    }
    rule.update(overrides)
    return rule


# --- groups -----------------------------------------------------------------------------------------------


def test_default_group_always_exists(xray: Any, sandbox: dict[str, Any]) -> None:
    groups = xray.get_groups()["Groups"]
    assert groups == [
        {
            "GroupName": "Default",
            "GroupARN": f"arn:aws:xray:{sandbox['region']}:{sandbox['account_id']}:group/Default",
            "InsightsConfiguration": {"InsightsEnabled": False, "NotificationsEnabled": False},
        }
    ]
    assert xray.get_group(GroupName="Default")["Group"]["GroupName"] == "Default"


def test_group_lifecycle(xray: Any, sandbox: dict[str, Any]) -> None:
    created = xray.create_group(
        GroupName="checkout.api-v2_x",
        FilterExpression='service("checkout")',
        InsightsConfiguration={"InsightsEnabled": True, "NotificationsEnabled": True},
        Tags=[{"Key": "managed-by", "Value": "tracing.xray"}],
    )["Group"]
    arn = created["GroupARN"]
    assert re.fullmatch(rf"arn:aws:xray:{sandbox['region']}:{sandbox['account_id']}:group/checkout\.api-v2_x/[A-Z2-7]+", arn)
    assert created["FilterExpression"] == 'service("checkout")'
    assert created["InsightsConfiguration"] == {"InsightsEnabled": True, "NotificationsEnabled": True}

    assert xray.get_group(GroupName="checkout.api-v2_x")["Group"] == created
    assert xray.get_group(GroupARN=arn)["Group"] == created
    assert {g["GroupName"] for g in xray.get_groups()["Groups"]} == {"Default", "checkout.api-v2_x"}
    assert xray.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "managed-by", "Value": "tracing.xray"}]

    updated = xray.update_group(GroupARN=arn, FilterExpression='service("payments")', InsightsConfiguration={"NotificationsEnabled": False})["Group"]
    assert updated["FilterExpression"] == 'service("payments")'
    assert updated["InsightsConfiguration"] == {"InsightsEnabled": True, "NotificationsEnabled": False}
    updated = xray.update_group(GroupName="checkout.api-v2_x", InsightsConfiguration={"InsightsEnabled": False})["Group"]
    assert updated["InsightsConfiguration"] == {"InsightsEnabled": False, "NotificationsEnabled": False}
    assert updated["FilterExpression"] == 'service("payments")'
    assert xray.get_group(GroupARN=arn)["Group"] == updated

    xray.delete_group(GroupARN=arn)
    with pytest.raises(ClientError) as exc:
        xray.get_group(GroupARN=arn)
    assert _error(exc) == ("InvalidRequestException", "Group not found", 400)
    # Tags go with the group; a new group of the same name has a new ARN.
    again = xray.create_group(GroupName="checkout.api-v2_x")["Group"]
    assert again["GroupARN"] != arn
    assert "FilterExpression" not in again
    assert xray.list_tags_for_resource(ResourceARN=again["GroupARN"])["Tags"] == []


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.get_group(GroupName="missing"),
        lambda x: x.update_group(GroupName="missing", FilterExpression="ok"),
        lambda x: x.delete_group(GroupName="missing"),
        lambda x: x.get_group(GroupARN="arn:aws:xray:us-west-2:123456789012:group/missing/ABC"),
    ],
    ids=["get", "update", "delete", "get-by-arn"],
)
def test_group_not_found(xray: Any, call: Any) -> None:
    with pytest.raises(xray.exceptions.InvalidRequestException) as exc:
        call(xray)
    assert _error(exc) == ("InvalidRequestException", "Group not found", 400)


def test_group_arn_must_match_exactly(xray: Any) -> None:
    arn = xray.create_group(GroupName="exact")["Group"]["GroupARN"]
    with pytest.raises(xray.exceptions.InvalidRequestException, match="Group not found"):
        xray.get_group(GroupARN=arn[:-1] + ("A" if arn[-1] != "A" else "B"))
    with pytest.raises(xray.exceptions.InvalidRequestException, match="Group not found"):
        xray.get_group(GroupARN=arn, GroupName="other")


def test_group_create_errors(xray: Any, xray_raw: Any) -> None:
    xray.create_group(GroupName="dup")
    cases = [
        ({"GroupName": "Default"}, "reserved"),
        ({"GroupName": "dup"}, "already exists"),
        ({"GroupName": "x" * 33}, "length less than or equal to 32"),
        ({"GroupName": "bad name!"}, "regular expression"),
        ({"GroupName": "n", "InsightsConfiguration": {"NotificationsEnabled": True}}, "InsightsEnabled"),
        ({"GroupName": "n", "InsightsConfiguration": {"InsightsEnabled": False, "NotificationsEnabled": True}}, "InsightsEnabled"),
    ]
    for params, message in cases:
        with pytest.raises(xray.exceptions.InvalidRequestException, match=message):
            xray.create_group(**params)
    # botocore refuses an empty name client-side; the server refuses it too.
    with pytest.raises(ParamValidationError):
        xray.create_group(GroupName="")
    with pytest.raises(xray_raw.exceptions.InvalidRequestException, match="length greater than or equal to 1"):
        xray_raw.create_group(GroupName="")
    with pytest.raises(xray_raw.exceptions.InvalidRequestException, match="GroupName or GroupARN"):
        xray_raw.get_group()
    with pytest.raises(xray_raw.exceptions.InvalidRequestException, match="expected a boolean"):
        xray_raw.create_group(GroupName="n", InsightsConfiguration={"InsightsEnabled": "yes"})
    assert {g["GroupName"] for g in xray.get_groups()["Groups"]} == {"Default", "dup"}


def test_group_update_errors(xray: Any) -> None:
    xray.create_group(GroupName="plain")
    with pytest.raises(xray.exceptions.InvalidRequestException, match="InsightsEnabled"):
        xray.update_group(GroupName="plain", InsightsConfiguration={"NotificationsEnabled": True})
    assert xray.get_group(GroupName="plain")["Group"]["InsightsConfiguration"] == {"InsightsEnabled": False, "NotificationsEnabled": False}


def test_default_group_rules(xray: Any) -> None:
    with pytest.raises(xray.exceptions.InvalidRequestException, match="cannot be deleted"):
        xray.delete_group(GroupName="Default")
    with pytest.raises(xray.exceptions.InvalidRequestException, match="filter expression of the Default group"):
        xray.update_group(GroupName="Default", FilterExpression='service("x")')
    group = xray.update_group(GroupName="Default", InsightsConfiguration={"InsightsEnabled": True})["Group"]
    assert group["InsightsConfiguration"] == {"InsightsEnabled": True, "NotificationsEnabled": False}
    assert "FilterExpression" not in group


def test_group_pagination(xray: Any) -> None:
    names = [f"page-{i:02d}" for i in range(7)]
    for name in names:
        xray.create_group(GroupName=name)
    first = xray.get_groups()
    assert len(first["Groups"]) == 5 and first["NextToken"]
    second = xray.get_groups(NextToken=first["NextToken"])
    assert len(second["Groups"]) == 3 and "NextToken" not in second
    seen = [g["GroupName"] for page in xray.get_paginator("get_groups").paginate() for g in page["Groups"]]
    assert sorted(seen) == sorted(names + ["Default"])
    assert len(seen) == len(set(seen))
    with pytest.raises(xray.exceptions.InvalidRequestException, match="Invalid NextToken"):
        xray.get_groups(NextToken="not-a-token")
    # Tokens are key-based: deleting what a page returned does not shift the next page.
    first = xray.get_groups()
    for group in first["Groups"]:
        if group["GroupName"] != "Default":
            xray.delete_group(GroupARN=group["GroupARN"])
    rest = xray.get_groups(NextToken=first["NextToken"])["Groups"]
    assert [g["GroupName"] for g in rest] == ["page-04", "page-05", "page-06"]


def test_group_limit(xray: Any) -> None:
    for i in range(25):
        xray.create_group(GroupName=f"limit-{i}")
    with pytest.raises(xray.exceptions.InvalidRequestException, match="maximum number of groups"):
        xray.create_group(GroupName="limit-25")


# --- tags -----------------------------------------------------------------------------------------------


def test_tags_on_group_and_rule(xray: Any) -> None:
    group_arn = xray.create_group(GroupName="tagged", Tags=[{"Key": "a", "Value": "1"}])["Group"]["GroupARN"]
    rule = xray.create_sampling_rule(SamplingRule=_rule("tagged"), Tags=[{"Key": "r", "Value": "x"}])["SamplingRuleRecord"]["SamplingRule"]
    rule_arn = rule["RuleARN"]

    xray.tag_resource(ResourceARN=group_arn, Tags=[{"Key": "b", "Value": ""}, {"Key": "a", "Value": "2"}])
    assert xray.list_tags_for_resource(ResourceARN=group_arn)["Tags"] == [{"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}]
    xray.untag_resource(ResourceARN=group_arn, TagKeys=["a", "not-there"])
    assert xray.list_tags_for_resource(ResourceARN=group_arn)["Tags"] == [{"Key": "b", "Value": ""}]

    assert xray.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [{"Key": "r", "Value": "x"}]
    xray.tag_resource(ResourceARN=rule_arn, Tags=[{"Key": "managed-by", "Value": "tracing.xray"}])
    assert {t["Key"] for t in xray.list_tags_for_resource(ResourceARN=rule_arn)["Tags"]} == {"r", "managed-by"}

    # Tags die with the resource: a rule re-created with the same name (same ARN) starts untagged.
    xray.delete_sampling_rule(RuleARN=rule_arn)
    with pytest.raises(xray.exceptions.ResourceNotFoundException):
        xray.list_tags_for_resource(ResourceARN=rule_arn)
    assert xray.create_sampling_rule(SamplingRule=_rule("tagged"))["SamplingRuleRecord"]["SamplingRule"]["RuleARN"] == rule_arn
    assert xray.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == []


@pytest.mark.parametrize(
    "call",
    [
        lambda x, arn: x.list_tags_for_resource(ResourceARN=arn),
        lambda x, arn: x.tag_resource(ResourceARN=arn, Tags=[{"Key": "k", "Value": "v"}]),
        lambda x, arn: x.untag_resource(ResourceARN=arn, TagKeys=["k"]),
    ],
    ids=["list", "tag", "untag"],
)
def test_tags_unknown_resource(xray: Any, call: Any) -> None:
    arn = "arn:aws:xray:us-west-2:123456789012:group/nothing/XYZ"
    with pytest.raises(xray.exceptions.ResourceNotFoundException) as exc:
        call(xray, arn)
    code, message, status = _error(exc)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert arn in message
    assert exc.value.response["ResourceName"] == arn


def test_tag_limits(xray: Any, xray_raw: Any) -> None:
    arn = xray.create_group(GroupName="limits")["Group"]["GroupARN"]
    fifty = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    xray.tag_resource(ResourceARN=arn, Tags=fifty)
    assert len(xray.list_tags_for_resource(ResourceARN=arn)["Tags"]) == 50
    xray.tag_resource(ResourceARN=arn, Tags=[{"Key": "k0", "Value": "overwrite"}])  # still 50
    with pytest.raises(xray.exceptions.TooManyTagsException) as exc:
        xray.tag_resource(ResourceARN=arn, Tags=[{"Key": "k50", "Value": "v"}])
    assert exc.value.response["ResourceName"] == arn
    assert len(xray.list_tags_for_resource(ResourceARN=arn)["Tags"]) == 50

    with pytest.raises(xray.exceptions.InvalidRequestException, match="limit of 50"):
        xray.create_group(GroupName="too-many", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    with pytest.raises(xray.exceptions.InvalidRequestException, match="limit of 50"):
        xray.create_sampling_rule(SamplingRule=_rule("too-many"), Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])

    bad = [
        ([{"Key": "k" * 129, "Value": "v"}], "length less than or equal to 128"),
        ([{"Key": "k", "Value": "v" * 257}], "length less than or equal to 256"),
        ([{"Key": "aws:owner", "Value": "v"}], "aws: prefix is reserved"),
        ([{"Key": "AWS:owner", "Value": "v"}], "aws: prefix is reserved"),
        ([{"Key": "semi;colon", "Value": "v"}], "regular expression"),
        ([{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}], "Duplicate tag key"),
    ]
    for tags, message in bad:
        with pytest.raises(xray.exceptions.InvalidRequestException, match=message):
            xray.tag_resource(ResourceARN=arn, Tags=tags)
        with pytest.raises(xray.exceptions.InvalidRequestException, match=message):
            xray.create_group(GroupName="bad-tags", Tags=tags)
    with pytest.raises(xray.exceptions.InvalidRequestException, match="aws: prefix is reserved"):
        xray.untag_resource(ResourceARN=arn, TagKeys=["aws:cloudformation:stack-name"])
    with pytest.raises(xray_raw.exceptions.InvalidRequestException, match="length greater than or equal to 1"):
        xray_raw.tag_resource(ResourceARN=arn, Tags=[{"Key": "", "Value": "v"}])
    assert len(xray.list_tags_for_resource(ResourceARN=arn)["Tags"]) == 50
    assert "bad-tags" not in {g["GroupName"] for g in xray.get_groups()["Groups"]}


@pytest.mark.parametrize("expression", ["error = true AND", "(fault = true", 'service("x) AND ok', "responsetme > 1"])
def test_bad_filter_expression_is_refused_like_aws(xray: Any, expression: str) -> None:
    """CreateGroup and UpdateGroup refuse a filter expression that does not parse (InvalidRequestException), as AWS
    does; the emulation uses the collection's own check (plugins/module_utils/xray_filter.py). Issue 17."""
    with pytest.raises(ClientError) as exc:
        xray.create_group(GroupName="bad-filter", FilterExpression=expression)
    code, message, status = _error(exc)
    assert (code, status) == ("InvalidRequestException", 400) and "filter expression" in message
    assert "bad-filter" not in [g["GroupName"] for g in xray.get_groups()["Groups"]]
    xray.create_group(GroupName="good-filter", FilterExpression="error = true")
    with pytest.raises(ClientError) as exc:
        xray.update_group(GroupName="good-filter", FilterExpression=expression)
    assert _error(exc)[0] == "InvalidRequestException"
    assert xray.get_group(GroupName="good-filter")["Group"]["FilterExpression"] == "error = true"
    xray.delete_group(GroupName="good-filter")
