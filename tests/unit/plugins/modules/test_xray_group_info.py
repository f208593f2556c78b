"""Unit tests for tracing.xray.xray_group_info (botocore Stubber)."""

from __future__ import annotations

from ansible_collections.tracing.xray.plugins.modules import xray_group_info

REGION = "eu-west-1"


def arn(name):
    return f"arn:aws:xray:{REGION}:123456789012:group/{name}/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def group(name, filter_expression="error = true"):
    body = {"GroupName": name, "GroupARN": arn(name), "InsightsConfiguration": {"InsightsEnabled": False, "NotificationsEnabled": False}}
    if filter_expression:
        body["FilterExpression"] = filter_expression
    return body


def test_all_groups_across_pages_with_tags(xray, run_module):
    xray.add("get_groups", {"Groups": [group("Default", None), group("a")], "NextToken": "t2"}, {})
    xray.add("get_groups", {"Groups": [group("b")]}, {"NextToken": "t2"})
    xray.error("list_tags_for_resource", "ResourceNotFoundException", "Resource not found", 404, {"ResourceARN": arn("Default")})
    xray.add("list_tags_for_resource", {"Tags": [{"Key": "managed-by", "Value": "tracing.xray"}]}, {"ResourceARN": arn("a")})
    xray.add("list_tags_for_resource", {"Tags": []}, {"ResourceARN": arn("b")})
    failed, result = run_module(xray_group_info, {})
    assert not failed, result
    assert result["changed"] is False
    assert [g["group_name"] for g in result["groups"]] == ["Default", "a", "b"]
    assert result["groups"][0]["filter_expression"] is None
    assert result["groups"][1]["tags"] == {"managed-by": "tracing.xray"}
    assert result["groups"][1]["group_arn"] == arn("a")
    xray.assert_done()


def test_one_group_by_name(xray, run_module):
    xray.add("get_group", {"Group": group("a")}, {"GroupName": "a"})
    xray.add("list_tags_for_resource", {"Tags": []}, {"ResourceARN": arn("a")})
    failed, result = run_module(xray_group_info, {"group_name": "a"})
    assert not failed, result
    assert [g["group_name"] for g in result["groups"]] == ["a"]
    assert xray.calls == ["GetGroup", "ListTagsForResource"]


def test_one_group_by_arn_without_tags(xray, run_module):
    xray.add("get_group", {"Group": group("a")}, {"GroupARN": arn("a")})
    failed, result = run_module(xray_group_info, {"group_arn": arn("a"), "include_tags": False})
    assert not failed, result
    assert result["groups"][0]["tags"] == {}
    assert xray.calls == ["GetGroup"]


def test_missing_group_is_an_empty_list(xray, run_module):
    xray.error("get_group", "InvalidRequestException", "Group not found", expected={"GroupName": "nope"})
    failed, result = run_module(xray_group_info, {"group_name": "nope"})
    assert not failed, result
    assert result["groups"] == []


def test_throttled_listing_is_retried(xray, run_module):
    xray.error("get_groups", "ThrottledException", "Rate exceeded", 429)
    xray.add("get_groups", {"Groups": [group("a")]}, {})
    failed, result = run_module(xray_group_info, {"include_tags": False})
    assert not failed, result
    assert len(result["groups"]) == 1
    assert len(xray.sleeps) == 1


def test_name_and_arn_are_mutually_exclusive(xray, run_module):
    failed, result = run_module(xray_group_info, {"group_name": "a", "group_arn": arn("a")})
    assert failed
    assert "group_name" in result["msg"] and "group_arn" in result["msg"]
    assert xray.calls == []


def test_api_error_is_reported(xray, run_module):
    xray.error("get_groups", "InvalidRequestException", "Not authorized to perform xray:GetGroups")
    failed, result = run_module(xray_group_info, {})
    assert failed
    assert "Not authorized to perform xray:GetGroups" in result["msg"]


def test_match_tags_keeps_only_groups_with_every_tag(xray, run_module):
    xray.add("get_groups", {"Groups": [group("a"), group("b"), group("c")]}, {})
    for group_name, cluster in (("a", "one"), ("b", "two")):
        tags = [{"Key": "managed-by", "Value": "tracing.xray"}, {"Key": "tracing.xray/cluster", "Value": cluster}]
        xray.add("list_tags_for_resource", {"Tags": tags}, {"ResourceARN": arn(group_name)})
    xray.add("list_tags_for_resource", {"Tags": []}, {"ResourceARN": arn("c")})
    failed, result = run_module(xray_group_info, {"match_tags": {"managed-by": "tracing.xray", "tracing.xray/cluster": "one"}})
    assert not failed, result
    assert [g["group_name"] for g in result["groups"]] == ["a"]


def test_match_tags_needs_tags(xray, run_module):
    failed, result = run_module(xray_group_info, {"match_tags": {"managed-by": "tracing.xray"}, "include_tags": False})
    assert failed
    assert "match_tags" in result["msg"]
    assert xray.calls == []
