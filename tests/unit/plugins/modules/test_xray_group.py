"""Unit tests for tracing.xray.xray_group against a Stubber on a real botocore X-Ray client."""

from __future__ import annotations

import pytest

from ansible_collections.tracing.xray.plugins.modules import xray_group

REGION = "eu-west-1"
NAME = "web-slow"
ARN = f"arn:aws:xray:{REGION}:123456789012:group/{NAME}/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
FILTER = 'service("web") AND responsetime > 1'


def group(filter_expression=FILTER, insights=False, notifications=False, name=NAME, arn=ARN):
    body = {"GroupName": name, "GroupARN": arn, "InsightsConfiguration": {"InsightsEnabled": insights, "NotificationsEnabled": notifications}}
    if filter_expression is not None:
        body["FilterExpression"] = filter_expression
    return body


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def existing(xray, current=None, tags=None):
    """Queue the two reads every run of the module starts with, for an existing group."""
    xray.add("get_group", {"Group": current or group()}, {"GroupName": NAME})
    xray.add("list_tags_for_resource", {"Tags": tag_list(tags or {})}, {"ResourceARN": ARN})


def missing(xray):
    xray.error("get_group", "InvalidRequestException", "Group not found", expected={"GroupName": NAME})


# --- create --------------------------------------------------------------------------------------


def test_create_minimal(xray, run_module):
    missing(xray)
    xray.add("create_group", {"Group": group()}, {"GroupName": NAME, "FilterExpression": FILTER})
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": FILTER})
    assert not failed, result
    assert result["changed"] is True
    assert result["group"] == {
        "group_name": NAME,
        "group_arn": ARN,
        "filter_expression": FILTER,
        "insights_configuration": {"insights_enabled": False, "notifications_enabled": False},
        "tags": {},
    }
    assert xray.calls == ["GetGroup", "CreateGroup"]
    xray.assert_done()


def test_create_with_insights_notifications_and_tags_in_one_call(xray, run_module):
    missing(xray)
    xray.add(
        "create_group",
        {"Group": group(insights=True, notifications=True)},
        {
            "GroupName": NAME,
            "FilterExpression": FILTER,
            "InsightsConfiguration": {"InsightsEnabled": True, "NotificationsEnabled": True},
            "Tags": [{"Key": "managed-by", "Value": "tracing.xray"}, {"Key": "replicas", "Value": "3"}],
        },
    )
    failed, result = run_module(
        xray_group,
        {
            "group_name": NAME,
            "filter_expression": FILTER,
            "insights_enabled": True,
            "notifications_enabled": True,
            "tags": {"managed-by": "tracing.xray", "replicas": 3},
        },
    )
    assert not failed, result
    assert result["changed"] is True
    assert result["group"]["insights_configuration"] == {"insights_enabled": True, "notifications_enabled": True}
    assert result["group"]["tags"] == {"managed-by": "tracing.xray", "replicas": "3"}
    assert xray.calls == ["GetGroup", "CreateGroup"]
    xray.assert_done()


def test_create_failure_reports_the_api_message(xray, run_module):
    missing(xray)
    xray.error(
        "create_group",
        "InvalidRequestException",
        "Invalid filter expression: responsetime >",
        expected={"GroupName": NAME, "FilterExpression": "http.status CONTAINS 1"},
    )
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": "http.status CONTAINS 1"})
    assert failed
    assert "Failed to create X-Ray group 'web-slow'" in result["msg"]
    assert "Invalid filter expression: responsetime >" in result["msg"]
    assert result["error"]["code"] == "InvalidRequestException"
    assert xray.sleeps == []


# --- no-op ---------------------------------------------------------------------------------------


def test_noop_makes_exactly_two_read_calls(xray, run_module):
    existing(xray, group(insights=True, notifications=True), {"managed-by": "tracing.xray"})
    failed, result = run_module(
        xray_group,
        {
            "group_name": NAME,
            "filter_expression": FILTER,
            "insights_enabled": True,
            "notifications_enabled": True,
            "tags": {"managed-by": "tracing.xray"},
        },
        diff=True,
    )
    assert not failed, result
    assert result["changed"] is False
    assert xray.calls == ["GetGroup", "ListTagsForResource"]
    assert len(xray.calls) == 2
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["group"]["group_arn"] == ARN
    xray.assert_done()


def test_unset_options_leave_the_group_alone(xray, run_module):
    existing(xray, group(insights=True, notifications=True), {"owner": "someone"})
    failed, result = run_module(xray_group, {"group_name": NAME})
    assert not failed, result
    assert result["changed"] is False
    assert xray.mutating_calls == []
    assert result["group"]["tags"] == {"owner": "someone"}


# --- update each field ---------------------------------------------------------------------------


def test_update_filter_expression_only(xray, run_module):
    existing(xray, group(insights=True))
    new_filter = 'service("web") AND responsetime > 2'
    xray.add("update_group", {"Group": group(new_filter, insights=True)}, {"GroupARN": ARN, "FilterExpression": new_filter})
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": new_filter})
    assert not failed, result
    assert result["changed"] is True
    assert result["group"]["filter_expression"] == new_filter
    assert result["group"]["insights_configuration"]["insights_enabled"] is True
    assert xray.calls == ["GetGroup", "ListTagsForResource", "UpdateGroup"]
    xray.assert_done()


def test_enable_insights(xray, run_module):
    existing(xray, group())
    xray.add(
        "update_group",
        {"Group": group(insights=True)},
        {"GroupARN": ARN, "InsightsConfiguration": {"InsightsEnabled": True, "NotificationsEnabled": False}},
    )
    failed, result = run_module(xray_group, {"group_name": NAME, "insights_enabled": True})
    assert not failed, result
    assert result["changed"] is True
    assert result["group"]["insights_configuration"] == {"insights_enabled": True, "notifications_enabled": False}
    xray.assert_done()


def test_enable_notifications(xray, run_module):
    existing(xray, group(insights=True))
    xray.add(
        "update_group",
        {"Group": group(insights=True, notifications=True)},
        {"GroupARN": ARN, "InsightsConfiguration": {"InsightsEnabled": True, "NotificationsEnabled": True}},
    )
    failed, result = run_module(xray_group, {"group_name": NAME, "insights_enabled": True, "notifications_enabled": True})
    assert not failed, result
    assert result["changed"] is True
    assert result["group"]["insights_configuration"]["notifications_enabled"] is True
    xray.assert_done()


def test_disable_notifications_keeps_insights(xray, run_module):
    existing(xray, group(insights=True, notifications=True))
    xray.add(
        "update_group",
        {"Group": group(insights=True, notifications=False)},
        {"GroupARN": ARN, "InsightsConfiguration": {"InsightsEnabled": True, "NotificationsEnabled": False}},
    )
    failed, result = run_module(xray_group, {"group_name": NAME, "notifications_enabled": False})
    assert not failed, result
    assert result["changed"] is True
    xray.assert_done()


def test_disabling_insights_also_disables_notifications(xray, run_module):
    existing(xray, group(insights=True, notifications=True))
    xray.add(
        "update_group",
        {"Group": group()},
        {"GroupARN": ARN, "InsightsConfiguration": {"InsightsEnabled": False, "NotificationsEnabled": False}},
    )
    failed, result = run_module(xray_group, {"group_name": NAME, "insights_enabled": False})
    assert not failed, result
    assert result["changed"] is True
    assert result["group"]["insights_configuration"] == {"insights_enabled": False, "notifications_enabled": False}
    xray.assert_done()


def test_update_failure_reports_the_api_message(xray, run_module):
    existing(xray)
    xray.error("update_group", "InvalidRequestException", "Invalid filter expression", expected={"GroupARN": ARN, "FilterExpression": "http.status CONTAINS 1"})
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": "http.status CONTAINS 1"})
    assert failed
    assert "Failed to update X-Ray group 'web-slow'" in result["msg"]
    assert "Invalid filter expression" in result["msg"]


# --- tags ----------------------------------------------------------------------------------------


def test_tags_added_without_purge(xray, run_module):
    existing(xray, tags={"owner": "someone"})
    xray.add("tag_resource", {}, {"ResourceARN": ARN, "Tags": [{"Key": "managed-by", "Value": "tracing.xray"}]})
    failed, result = run_module(xray_group, {"group_name": NAME, "tags": {"managed-by": "tracing.xray"}, "purge_tags": False})
    assert not failed, result
    assert result["changed"] is True
    assert result["group"]["tags"] == {"owner": "someone", "managed-by": "tracing.xray"}
    assert xray.calls == ["GetGroup", "ListTagsForResource", "TagResource"]
    xray.assert_done()


def test_tags_purged(xray, run_module):
    existing(xray, tags={"owner": "someone", "managed-by": "tracing.xray", "aws:cloudformation:stack-name": "s"})
    xray.add("untag_resource", {}, {"ResourceARN": ARN, "TagKeys": ["owner"]})
    failed, result = run_module(xray_group, {"group_name": NAME, "tags": {"managed-by": "tracing.xray"}})
    assert not failed, result
    assert result["changed"] is True
    # aws: tags are never purged (AWS owns them)
    assert result["group"]["tags"] == {"managed-by": "tracing.xray", "aws:cloudformation:stack-name": "s"}
    assert xray.calls == ["GetGroup", "ListTagsForResource", "UntagResource"]
    xray.assert_done()


def test_tags_value_changed_and_removed(xray, run_module):
    existing(xray, tags={"env": "dev", "old": "x"})
    xray.add("untag_resource", {}, {"ResourceARN": ARN, "TagKeys": ["old"]})
    xray.add("tag_resource", {}, {"ResourceARN": ARN, "Tags": [{"Key": "env", "Value": "prod"}]})
    failed, result = run_module(xray_group, {"group_name": NAME, "tags": {"env": "prod"}})
    assert not failed, result
    assert result["changed"] is True
    assert result["group"]["tags"] == {"env": "prod"}
    xray.assert_done()


def test_empty_tags_with_purge_removes_all(xray, run_module):
    existing(xray, tags={"a": "1", "b": "2"})
    xray.add("untag_resource", {}, {"ResourceARN": ARN, "TagKeys": ["a", "b"]})
    failed, result = run_module(xray_group, {"group_name": NAME, "tags": {}})
    assert not failed, result
    assert result["changed"] is True
    assert result["group"]["tags"] == {}
    xray.assert_done()


def test_filter_and_tags_updated_together(xray, run_module):
    existing(xray, tags={})
    xray.add("update_group", {"Group": group("error = true")}, {"GroupARN": ARN, "FilterExpression": "error = true"})
    xray.add("tag_resource", {}, {"ResourceARN": ARN, "Tags": [{"Key": "team", "Value": "web"}]})
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": "error = true", "tags": {"team": "web"}})
    assert not failed, result
    assert xray.calls == ["GetGroup", "ListTagsForResource", "UpdateGroup", "TagResource"]
    xray.assert_done()


# --- delete and missing --------------------------------------------------------------------------


def test_delete(xray, run_module):
    existing(xray, tags={"managed-by": "tracing.xray"})
    xray.add("delete_group", {}, {"GroupARN": ARN})
    failed, result = run_module(xray_group, {"group_name": NAME, "state": "absent"}, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["group"] == {}
    assert result["diff"]["before"]["group_name"] == NAME
    assert result["diff"]["after"] == {}
    assert xray.calls == ["GetGroup", "ListTagsForResource", "DeleteGroup"]
    xray.assert_done()


def test_delete_missing_group_is_not_a_change(xray, run_module):
    missing(xray)
    failed, result = run_module(xray_group, {"group_name": NAME, "state": "absent"})
    assert not failed, result
    assert result["changed"] is False
    assert xray.calls == ["GetGroup"]


def test_delete_race_group_already_gone(xray, run_module):
    existing(xray)
    xray.error("delete_group", "InvalidRequestException", "Group not found", expected={"GroupARN": ARN})
    failed, result = run_module(xray_group, {"group_name": NAME, "state": "absent"})
    assert not failed, result
    assert result["changed"] is True


def test_read_error_other_than_not_found_fails(xray, run_module):
    xray.error("get_group", "InvalidRequestException", "User is not authorized", expected={"GroupName": NAME})
    failed, result = run_module(xray_group, {"group_name": NAME})
    assert failed
    assert "Failed to read X-Ray group 'web-slow'" in result["msg"]
    assert "User is not authorized" in result["msg"]
    assert xray.mutating_calls == []


# --- throttling ----------------------------------------------------------------------------------


def test_throttling_is_retried_with_both_codes(xray, run_module):
    xray.error("get_group", "ThrottledException", "Rate exceeded", 429, {"GroupName": NAME})
    xray.error("get_group", "ThrottlingException", "Rate exceeded", 400, {"GroupName": NAME})
    xray.add("get_group", {"Group": group()}, {"GroupName": NAME})
    xray.error("list_tags_for_resource", "ThrottlingException", "Rate exceeded", 400, {"ResourceARN": ARN})
    xray.add("list_tags_for_resource", {"Tags": []}, {"ResourceARN": ARN})
    xray.error("update_group", "ThrottledException", "Rate exceeded", 429, {"GroupARN": ARN, "FilterExpression": "error = true"})
    xray.add("update_group", {"Group": group("error = true")}, {"GroupARN": ARN, "FilterExpression": "error = true"})
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": "error = true"})
    assert not failed, result
    assert result["changed"] is True
    assert xray.calls == ["GetGroup"] * 3 + ["ListTagsForResource"] * 2 + ["UpdateGroup"] * 2
    assert len(xray.sleeps) == 4
    assert all(0 <= s <= 60 for s in xray.sleeps)
    xray.assert_done()


def test_throttling_gives_up_after_the_retry_budget(xray, run_module):
    for _attempt in range(10):
        xray.error("get_group", "ThrottledException", "Rate exceeded", 429, {"GroupName": NAME})
    failed, result = run_module(xray_group, {"group_name": NAME})
    assert failed
    assert "Rate exceeded" in result["msg"]
    assert xray.calls == ["GetGroup"] * 10
    assert len(xray.sleeps) == 9


# --- check mode and diff -------------------------------------------------------------------------


def test_check_mode_create(xray, run_module):
    missing(xray)
    failed, result = run_module(
        xray_group,
        {"group_name": NAME, "filter_expression": FILTER, "insights_enabled": True, "tags": {"managed-by": "tracing.xray"}},
        check_mode=True,
        diff=True,
    )
    assert not failed, result
    assert result["changed"] is True
    assert xray.calls == ["GetGroup"]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["group_name"] == NAME
    assert result["diff"]["after"]["filter_expression"] == FILTER
    assert result["diff"]["after"]["insights_configuration"] == {"insights_enabled": True, "notifications_enabled": False}
    assert result["diff"]["after"]["tags"] == {"managed-by": "tracing.xray"}


def test_check_mode_update(xray, run_module):
    existing(xray, group(), {"owner": "someone"})
    failed, result = run_module(
        xray_group,
        {"group_name": NAME, "filter_expression": "error = true", "insights_enabled": True, "tags": {"team": "web"}},
        check_mode=True,
        diff=True,
    )
    assert not failed, result
    assert result["changed"] is True
    assert xray.mutating_calls == []
    assert xray.calls == ["GetGroup", "ListTagsForResource"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["filter_expression"] == FILTER and after["filter_expression"] == "error = true"
    assert before["insights_configuration"]["insights_enabled"] is False
    assert after["insights_configuration"]["insights_enabled"] is True
    assert before["tags"] == {"owner": "someone"} and after["tags"] == {"team": "web"}
    assert result["group"] == after


def test_check_mode_delete(xray, run_module):
    existing(xray)
    failed, result = run_module(xray_group, {"group_name": NAME, "state": "absent"}, check_mode=True)
    assert not failed, result
    assert result["changed"] is True
    assert xray.mutating_calls == []


def test_no_diff_unless_asked(xray, run_module):
    existing(xray)
    failed, result = run_module(xray_group, {"group_name": NAME})
    assert not failed
    assert "diff" not in result


def test_the_client_uses_the_xray_retry_decorator(xray, run_module):
    existing(xray)
    run_module(xray_group, {"group_name": NAME})
    assert len(xray.retry_decorators) == 1 and xray.retry_decorators[0] is not None


# --- bad input: refused before any call ----------------------------------------------------------


@pytest.mark.parametrize(
    "args, field",
    [
        ({"group_name": "g" * 33}, "group_name"),
        ({"group_name": ""}, "group_name"),
        ({"group_name": "Default"}, "group_name"),
        ({"group_name": "Default", "state": "absent"}, "group_name"),
        ({"group_name": NAME, "notifications_enabled": True}, "notifications_enabled"),
        ({"group_name": NAME, "notifications_enabled": True, "insights_enabled": False}, "notifications_enabled"),
        ({"group_name": NAME, "tags": {"aws:owner": "x"}}, "tags"),
        ({"group_name": NAME, "tags": {"AWS:owner": "x"}}, "tags"),
        ({"group_name": NAME, "tags": {"k" * 129: "x"}}, "tags"),
        ({"group_name": NAME, "tags": {"k": "v" * 257}}, "tags"),
        ({"group_name": NAME, "filter_expression": "  "}, "filter_expression"),
    ],
    ids=[
        "name-too-long",
        "name-empty",
        "name-default",
        "name-default-absent",
        "notifications-without-insights",
        "notifications-with-insights-false",
        "tag-aws-prefix",
        "tag-aws-prefix-uppercase",
        "tag-key-too-long",
        "tag-value-too-long",
        "filter-blank",
    ],
)
def test_bad_input_is_refused_before_any_call(xray, run_module, args, field):
    failed, result = run_module(xray_group, args)
    assert failed
    assert field in result["msg"]
    assert xray.calls == []


def test_name_of_32_characters_is_accepted(xray, run_module):
    name = "g" * 32
    xray.error("get_group", "InvalidRequestException", "Group not found", expected={"GroupName": name})
    xray.add("create_group", {"Group": group(name=name)}, {"GroupName": name})
    failed, result = run_module(xray_group, {"group_name": name})
    assert not failed, result
    xray.assert_done()


# --- ownership (ownership_tags / adopt) -------------------------------------------------------------

OURS = {"managed-by": "tracing.xray", "tracing.xray/cluster": "cluster-b"}


def test_create_carries_the_ownership_tags(xray, run_module):
    missing(xray)
    xray.add(
        "create_group",
        {"Group": group()},
        {"GroupName": NAME, "FilterExpression": FILTER, "Tags": tag_list({"team": "web", **OURS})},
    )
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": FILTER, "tags": {"team": "web"}, "ownership_tags": OURS})
    assert not failed, result
    assert result["changed"] is True and result["owned"] is True
    assert result["group"]["tags"] == {"team": "web", **OURS}
    xray.assert_done()


def test_owned_group_is_updated(xray, run_module):
    existing(xray, tags=OURS)
    xray.add("update_group", {"Group": group("error = true")}, {"GroupARN": ARN, "FilterExpression": "error = true"})
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": "error = true", "ownership_tags": OURS})
    assert not failed, result
    assert result["changed"] is True and result["owned"] is True
    xray.assert_done()


@pytest.mark.parametrize("check_mode", [False, True])
def test_foreign_group_is_refused_before_any_change(xray, run_module, check_mode):
    existing(xray, tags={"team": "payments"})
    failed, result = run_module(
        xray_group, {"group_name": NAME, "filter_expression": "error = true", "tags": {}, "ownership_tags": OURS}, check_mode=check_mode
    )
    assert failed
    assert result["owned"] is False
    assert f"X-Ray group {NAME!r}" in result["msg"] and ARN in result["msg"]
    assert "team=payments" in result["msg"]
    assert f"'XRayGroup/{NAME}' to xray_adopt" in result["msg"] and "adopt: true" in result["msg"]
    assert xray.calls == ["GetGroup", "ListTagsForResource"]
    assert xray.mutating_calls == []


def test_other_clusters_group_is_refused_and_named(xray, run_module):
    existing(xray, tags={"managed-by": "tracing.xray", "tracing.xray/cluster": "cluster-a"})
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": FILTER, "ownership_tags": OURS})
    assert failed
    assert "tracing.xray/cluster=cluster-a" in result["msg"]
    assert xray.mutating_calls == []


def test_adopt_takes_a_foreign_group_over(xray, run_module):
    existing(xray, tags={"team": "payments"})
    xray.add("update_group", {"Group": group("error = true")}, {"GroupARN": ARN, "FilterExpression": "error = true"})
    xray.add("untag_resource", {}, {"ResourceARN": ARN, "TagKeys": ["team"]})
    xray.add("tag_resource", {}, {"ResourceARN": ARN, "Tags": tag_list(OURS)})
    failed, result = run_module(
        xray_group, {"group_name": NAME, "filter_expression": "error = true", "tags": {}, "ownership_tags": OURS, "adopt": True}
    )
    assert not failed, result
    assert result["changed"] is True and result["owned"] is True
    assert result["group"]["tags"] == OURS
    assert "adopting" in " ".join(result.get("warnings", []))
    xray.assert_done()


def test_adopt_without_purge_keeps_their_tags(xray, run_module):
    existing(xray, tags={"team": "payments"})
    xray.add("tag_resource", {}, {"ResourceARN": ARN, "Tags": tag_list(OURS)})
    failed, result = run_module(xray_group, {"group_name": NAME, "ownership_tags": OURS, "adopt": True})
    assert not failed, result
    assert result["group"]["tags"] == {"team": "payments", **OURS}
    xray.assert_done()


def test_absent_leaves_a_foreign_group_and_warns(xray, run_module):
    existing(xray, tags={"team": "payments"})
    failed, result = run_module(xray_group, {"group_name": NAME, "state": "absent", "ownership_tags": OURS, "adopt": True}, diff=True)
    assert not failed, result
    assert result["changed"] is False and result["owned"] is False
    assert result["group"]["tags"] == {"team": "payments"}
    assert result["diff"]["before"] == result["diff"]["after"]
    warning = " ".join(result["warnings"])
    assert NAME in warning and "team=payments" in warning and "not deleting" in warning
    assert xray.mutating_calls == []


def test_absent_deletes_an_owned_group(xray, run_module):
    existing(xray, tags={**OURS, "extra": "1"})
    xray.add("delete_group", {}, {"GroupARN": ARN})
    failed, result = run_module(xray_group, {"group_name": NAME, "state": "absent", "ownership_tags": OURS})
    assert not failed, result
    assert result["changed"] is True and result["owned"] is True
    xray.assert_done()


def test_without_ownership_tags_any_group_is_managed(xray, run_module):
    existing(xray, tags={"team": "payments"})
    xray.add("delete_group", {}, {"GroupARN": ARN})
    failed, result = run_module(xray_group, {"group_name": NAME, "state": "absent"})
    assert not failed, result
    assert result["changed"] is True and result["owned"] is True
    xray.assert_done()


@pytest.mark.parametrize(
    "args, words",
    [
        ({"group_name": "front end"}, ["group_name", "characters X-Ray refuses", "letters"]),
        ({"group_name": NAME, "tags": {"team": {"name": "payments"}}}, ["tags value of 'team'", "dict"]),
        ({"group_name": NAME, "tags": {f"k{i}": "v" for i in range(49)}, "ownership_tags": OURS}, ["together", "at most 50"]),
        ({"group_name": NAME, "ownership_tags": {"aws:owner": "me"}}, ["ownership_tags key", "aws:"]),
    ],
)
def test_bad_names_and_tags_are_refused_before_any_call(xray, run_module, args, words):
    failed, result = run_module(xray_group, args)
    assert failed
    for word in words:
        assert word in result["msg"], result["msg"]
    assert xray.calls == []


def test_filter_expression_syntax_error_is_refused_before_any_call(xray, run_module):
    """Issue 17: a filter expression with a syntax error went to AWS (which refuses it); now the module refuses it."""
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": 'service("front-end") AND'})
    assert failed
    assert result["msg"].startswith("filter_expression ") and "needs an operand" in result["msg"] and "Allowed:" in result["msg"]
    assert xray.calls == []


# --- create races: another run created the group between our read and CreateGroup ---------------------------------


def test_create_race_continues_with_the_group_the_other_run_created(xray, run_module):
    missing(xray)
    xray.error("create_group", "InvalidRequestException", f"Group {NAME} already exists")
    existing(xray, tags=OURS)  # the re-read (GetGroup) and its tags
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": FILTER, "ownership_tags": OURS})
    assert not failed, result
    assert result["changed"] is False and result["owned"] is True
    assert result["group"]["group_arn"] == ARN
    assert xray.calls == ["GetGroup", "CreateGroup", "GetGroup", "ListTagsForResource"]
    xray.assert_done()


def test_create_race_updates_what_differs(xray, run_module):
    missing(xray)
    xray.error("create_group", "InvalidRequestException", "Group already exists")
    existing(xray, current=group(filter_expression="error = true"), tags=OURS)
    xray.add("update_group", {"Group": group()}, {"GroupARN": ARN, "FilterExpression": FILTER})
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": FILTER, "ownership_tags": OURS})
    assert not failed, result
    assert result["changed"] is True
    assert xray.mutating_calls == ["CreateGroup", "UpdateGroup"]


def test_create_race_with_a_foreign_group_is_refused(xray, run_module):
    missing(xray)
    xray.error("create_group", "InvalidRequestException", "Group already exists")
    existing(xray, tags={"team": "payments"})
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": FILTER, "ownership_tags": OURS})
    assert failed and result["owned"] is False
    assert f"'XRayGroup/{NAME}' to xray_adopt" in result["msg"]
    assert xray.mutating_calls == ["CreateGroup"]


def test_other_invalid_requests_on_create_still_fail(xray, run_module):
    missing(xray)
    xray.error("create_group", "InvalidRequestException", "Invalid filter expression")
    failed, result = run_module(xray_group, {"group_name": NAME, "filter_expression": FILTER})
    assert failed and "Invalid filter expression" in result["msg"]
    assert xray.calls == ["GetGroup", "CreateGroup"]
