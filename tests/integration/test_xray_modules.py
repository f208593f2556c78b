"""The X-Ray modules through ansible-playbook against the sandbox AWS endpoint (moto + the sandbox's X-Ray
EMULATION of groups, sampling rules, tags and encryption config: not AWS).

Every module call goes through boto3 over real HTTP to ``endpoint_url``; what the modules report is checked
against what a separate boto3 client reads back. Names are unique per test run; every test removes what it creates.
"""

from __future__ import annotations

import json
import secrets

import pytest
from botocore.exceptions import ClientError

SUFFIX = secrets.token_hex(3)


def name(base: str) -> str:
    return f"it-{base}-{SUFFIX}"[:32]


@pytest.fixture
def play(aws_endpoint, run_playbook, no_ambient_aws):
    """Run tasks (a list of dicts) in one play on localhost; connection settings come only from module_defaults."""

    def _play(tasks: list[dict], *, check: bool = False, diff: bool = False):
        playbook = [
            {
                "name": "X-Ray modules against the sandbox endpoint",
                "hosts": "localhost",
                "gather_facts": False,
                "module_defaults": {
                    "group/tracing.xray.aws": {
                        "endpoint_url": aws_endpoint["endpoint_url"],
                        "region": aws_endpoint["region"],
                        "access_key": aws_endpoint["access_key_id"],
                        "secret_key": aws_endpoint["secret_access_key"],
                    }
                },
                "tasks": tasks,
            }
        ]
        run = run_playbook(json.dumps(playbook, indent=1), check=check, diff=diff)
        return run

    return _play


def ok(run, task: str) -> dict:
    result = run.results().get(task)
    assert result is not None, f"task {task!r} did not run\n{run.explain()}"
    assert not result.get("failed"), f"task {task!r} failed: {result.get('msg')}\n{run.explain()}"
    return result


def failed(run, task: str) -> dict:
    result = run.results().get(task)
    assert result is not None, f"task {task!r} did not run\n{run.explain()}"
    assert result.get("failed"), f"task {task!r} should have failed\n{run.explain()}"
    return result


def group_task(title: str, **args) -> dict:
    return {"name": title, "tracing.xray.xray_group": args}


def rule_task(title: str, **args) -> dict:
    return {"name": title, "tracing.xray.xray_sampling_rule": args}


def tags_of(xray, arn: str) -> dict:
    return {t["Key"]: t["Value"] for t in xray.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def get_group(xray, group_name: str):
    try:
        return xray.get_group(GroupName=group_name)["Group"]
    except ClientError as e:
        if "not found" in e.response["Error"]["Message"].lower():
            return None
        raise


def get_rule(xray, rule_name: str):
    for page in xray.get_paginator("get_sampling_rules").paginate():
        for record in page["SamplingRuleRecords"]:
            if record["SamplingRule"]["RuleName"] == rule_name:
                return record["SamplingRule"]
    return None


# --- xray_group ----------------------------------------------------------------------------------


def test_group_lifecycle(play, xray):
    group = name("group")
    base = {"group_name": group, "filter_expression": 'service("front-end")', "tags": {"team": "web", "env": "it"}}

    run = play([group_task("create", **base), group_task("again", **base)])
    created, again = ok(run, "create"), ok(run, "again")
    assert created["changed"] is True
    assert again["changed"] is False, "a second identical run must report no change"
    arn = created["group"]["group_arn"]
    assert arn.startswith("arn:aws:xray:") and created["group"]["group_name"] == group
    assert created["group"]["tags"] == {"team": "web", "env": "it"}
    assert again["group"] == created["group"]
    assert get_group(xray, group)["FilterExpression"] == 'service("front-end")'
    assert tags_of(xray, arn) == {"team": "web", "env": "it"}

    # each field on its own, each followed by an identical run that changes nothing
    steps = [
        ("filter", {"filter_expression": 'service("front-end") AND responsetime > 1'}),
        ("insights on", {"insights_enabled": True}),
        ("notifications on", {"insights_enabled": True, "notifications_enabled": True}),
        ("notifications off", {"notifications_enabled": False}),
        ("insights off", {"insights_enabled": False}),
        ("tag added, no purge", {"tags": {"owner": "ops"}, "purge_tags": False}),
        ("tag value changed and others purged", {"tags": {"owner": "sre"}}),
        ("all tags purged", {"tags": {}}),
    ]
    tasks = []
    for title, args in steps:
        tasks += [group_task(title, group_name=group, **args), group_task(f"{title} (again)", group_name=group, **args)]
    run = play(tasks)
    for title, _args in steps:
        assert ok(run, title)["changed"] is True, title
        assert ok(run, f"{title} (again)")["changed"] is False, title

    results = run.results()
    assert results["filter"]["group"]["filter_expression"] == 'service("front-end") AND responsetime > 1'
    assert results["notifications on"]["group"]["insights_configuration"] == {"insights_enabled": True, "notifications_enabled": True}
    assert results["notifications off"]["group"]["insights_configuration"] == {"insights_enabled": True, "notifications_enabled": False}
    assert results["tag added, no purge"]["group"]["tags"] == {"team": "web", "env": "it", "owner": "ops"}
    assert results["tag value changed and others purged"]["group"]["tags"] == {"owner": "sre"}

    live = get_group(xray, group)
    assert live["FilterExpression"] == 'service("front-end") AND responsetime > 1'
    assert live["InsightsConfiguration"] == {"InsightsEnabled": False, "NotificationsEnabled": False}
    assert tags_of(xray, arn) == {}

    run = play([group_task("delete", group_name=group, state="absent"), group_task("delete again", group_name=group, state="absent")])
    assert ok(run, "delete")["changed"] is True
    assert ok(run, "delete again")["changed"] is False
    assert get_group(xray, group) is None


def test_group_check_mode_and_diff_change_nothing(play, xray):
    group = name("check")
    run = play([group_task("create", group_name=group, filter_expression="error = true", tags={"env": "it"})], check=True, diff=True)
    result = ok(run, "create")
    assert result["changed"] is True
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["filter_expression"] == "error = true"
    assert get_group(xray, group) is None, "check mode created the group"

    xray.create_group(GroupName=group, FilterExpression="error = true", Tags=[{"Key": "env", "Value": "it"}])
    try:
        run = play(
            [
                group_task("update", group_name=group, filter_expression="fault = true", insights_enabled=True, tags={"env": "prod"}),
                group_task("delete", group_name=group, state="absent"),
            ],
            check=True,
            diff=True,
        )
        update = ok(run, "update")
        assert update["changed"] is True
        assert update["diff"]["before"]["filter_expression"] == "error = true"
        assert update["diff"]["after"]["filter_expression"] == "fault = true"
        assert update["diff"]["after"]["insights_configuration"]["insights_enabled"] is True
        assert update["diff"]["after"]["tags"] == {"env": "prod"}
        assert ok(run, "delete")["changed"] is True
        live = get_group(xray, group)
        assert live is not None, "check mode deleted the group"
        assert live["FilterExpression"] == "error = true"
        assert live["InsightsConfiguration"]["InsightsEnabled"] is False
        assert tags_of(xray, live["GroupARN"]) == {"env": "it"}
    finally:
        xray.delete_group(GroupName=group)


def test_group_bad_input_fails_before_any_change(play, xray):
    group = name("bad")
    run = play(
        [
            {**group_task("too long", group_name="g" * 33), "ignore_errors": True},
            {**group_task("empty", group_name=""), "ignore_errors": True},
            {**group_task("default", group_name="Default", filter_expression="error = true"), "ignore_errors": True},
            {**group_task("notifications without insights", group_name=group, notifications_enabled=True), "ignore_errors": True},
            {**group_task("aws tag", group_name=group, tags={"aws:team": "x"}), "ignore_errors": True},
        ]
    )
    assert "group_name" in failed(run, "too long")["msg"]
    assert "group_name" in failed(run, "empty")["msg"]
    assert "group_name" in failed(run, "default")["msg"]
    assert "notifications_enabled" in failed(run, "notifications without insights")["msg"]
    assert "aws:" in failed(run, "aws tag")["msg"]
    assert get_group(xray, group) is None
    assert get_group(xray, "Default").get("FilterExpression") in (None, "")


def test_group_name_x_ray_refuses_is_caught_before_any_call(play, xray):
    """A name with characters X-Ray refuses (a space, '!') fails in the module, naming the field and what is allowed."""
    run = play([{**group_task("refused name", group_name="bad name!", filter_expression="error = true"), "ignore_errors": True}])
    msg = failed(run, "refused name")["msg"]
    assert "group_name='bad name!'" in msg and "letters A-Z and a-z, digits and _.-" in msg
    assert get_group(xray, "bad_name") is None


def test_group_api_error_is_reported_with_the_api_message(play, xray):
    """A request the module lets through but the endpoint refuses (the per-region group quota, which the module
    cannot know): the task fails naming the group, with X-Ray's own message."""
    existing = [g["GroupName"] for page in xray.get_paginator("get_groups").paginate() for g in page["Groups"] if g["GroupName"] != "Default"]
    fillers = [name(f"quota{i}") for i in range(max(0, 25 - len(existing)))]
    refused = name("over-quota")
    try:
        for filler in fillers:
            xray.create_group(GroupName=filler, FilterExpression="error = true")
        run = play([{**group_task("refused", group_name=refused, filter_expression="error = true"), "ignore_errors": True}])
        msg = failed(run, "refused")["msg"]
        assert f"X-Ray group {refused!r}" in msg
        assert "maximum number of groups" in msg
        assert get_group(xray, refused) is None
    finally:
        for filler in fillers:
            xray.delete_group(GroupName=filler)


def test_group_info(play, xray):
    first, second = name("info-a"), name("info-b")
    xray.create_group(GroupName=first, FilterExpression="error = true", Tags=[{"Key": "managed-by", "Value": "it-info"}])
    xray.create_group(GroupName=second, FilterExpression="fault = true")
    try:
        run = play(
            [
                {"name": "all", "tracing.xray.xray_group_info": {}},
                {"name": "by name", "tracing.xray.xray_group_info": {"group_name": first}},
                {"name": "by arn", "tracing.xray.xray_group_info": {"group_arn": get_group(xray, second)["GroupARN"]}},
                {"name": "missing", "tracing.xray.xray_group_info": {"group_name": name("nope")}},
                {"name": "tagged", "tracing.xray.xray_group_info": {"match_tags": {"managed-by": "it-info"}}},
            ]
        )
        names = [g["group_name"] for g in ok(run, "all")["groups"]]
        assert first in names and second in names and "Default" in names
        assert ok(run, "by name")["groups"][0]["tags"] == {"managed-by": "it-info"}
        assert [g["group_name"] for g in ok(run, "by arn")["groups"]] == [second]
        assert ok(run, "missing")["groups"] == []
        assert [g["group_name"] for g in ok(run, "tagged")["groups"]] == [first]
    finally:
        xray.delete_group(GroupName=first)
        xray.delete_group(GroupName=second)


def test_many_groups_are_listed_across_pages(play, xray):
    """The sandbox pages GetGroups in small pages: the info module must follow NextToken."""
    created = [name(f"page{i}") for i in range(7)]
    for group in created:
        xray.create_group(GroupName=group, FilterExpression="error = true")
    try:
        run = play([{"name": "all", "tracing.xray.xray_group_info": {"include_tags": False}}])
        names = {g["group_name"] for g in ok(run, "all")["groups"]}
        assert set(created) <= names
    finally:
        for group in created:
            xray.delete_group(GroupName=group)


# --- xray_sampling_rule --------------------------------------------------------------------------


def test_sampling_rule_lifecycle(play, xray):
    rule = name("rule")
    base = {
        "rule_name": rule,
        "priority": 500,
        "fixed_rate": 0.5,
        "reservoir_size": 2,
        "service_name": "back-end",
        "http_method": "GET",
        "url_path": "/api/*",
        "attributes": {"tier": "gold"},
        "tags": {"env": "it"},
    }
    run = play([rule_task("create", **base), rule_task("again", **base)])
    created = ok(run, "create")
    assert created["changed"] is True
    assert ok(run, "again")["changed"] is False
    out = created["sampling_rule"]
    assert out["rule_name"] == rule and out["priority"] == 500 and out["fixed_rate"] == 0.5
    assert out["service_type"] == "*" and out["host"] == "*" and out["resource_arn"] == "*" and out["version"] == 1
    assert out["tags"] == {"env": "it"}
    assert get_rule(xray, rule)["URLPath"] == "/api/*"

    steps = [
        ("priority", {"priority": 7}),
        ("fixed_rate", {"fixed_rate": 0.05}),
        ("reservoir_size", {"reservoir_size": 0}),
        ("service_name", {"service_name": "front-end"}),
        ("service_type", {"service_type": "AWS::EKS::Container"}),
        ("host", {"host": "shop.example.com"}),
        ("http_method", {"http_method": "POST"}),
        ("url_path", {"url_path": "/cart"}),
        ("resource_arn", {"resource_arn": "arn:aws:eks:eu-west-1:123456789012:cluster/it"}),
        ("attributes", {"attributes": {"tier": "silver", "zone": "a"}}),
        ("tags", {"tags": {"env": "prod", "team": "shop"}}),
    ]
    tasks = []
    for title, args in steps:
        tasks += [rule_task(title, rule_name=rule, **args), rule_task(f"{title} (again)", rule_name=rule, **args)]
    run = play(tasks)
    for title, args in steps:
        assert ok(run, title)["changed"] is True, title
        assert ok(run, f"{title} (again)")["changed"] is False, title
        for option, value in args.items():
            assert ok(run, title)["sampling_rule"][option] == value, title

    live = get_rule(xray, rule)
    assert live["Priority"] == 7 and live["FixedRate"] == 0.05 and live["ReservoirSize"] == 0
    assert live["Host"] == "shop.example.com" and live["Attributes"] == {"tier": "silver", "zone": "a"}
    assert tags_of(xray, live["RuleARN"]) == {"env": "prod", "team": "shop"}

    run = play([{**rule_task("version", rule_name=rule, version=2), "ignore_errors": True}])
    assert "version" in failed(run, "version")["msg"]

    run = play([rule_task("check delete", rule_name=rule, state="absent")], check=True)
    assert ok(run, "check delete")["changed"] is True
    assert get_rule(xray, rule) is not None, "check mode deleted the rule"

    run = play([rule_task("delete", rule_name=rule, state="absent"), rule_task("delete again", rule_name=rule, state="absent")])
    assert ok(run, "delete")["changed"] is True
    assert ok(run, "delete again")["changed"] is False
    assert get_rule(xray, rule) is None


def test_default_rule_updated_never_deleted(play, xray):
    before = get_rule(xray, "Default")
    try:
        run = play(
            [
                rule_task("tune", rule_name="Default", fixed_rate=0.2, reservoir_size=3),
                rule_task("tune again", rule_name="Default", fixed_rate=0.2, reservoir_size=3),
                {**rule_task("delete", rule_name="Default", state="absent"), "ignore_errors": True},
                {**rule_task("priority", rule_name="Default", priority=5), "ignore_errors": True},
            ]
        )
        assert ok(run, "tune")["changed"] is (before["FixedRate"] != 0.2 or before["ReservoirSize"] != 3)
        assert ok(run, "tune again")["changed"] is False
        assert "never deleted" in failed(run, "delete")["msg"]
        assert "priority" in failed(run, "priority")["msg"]
        live = get_rule(xray, "Default")
        assert live["FixedRate"] == 0.2 and live["ReservoirSize"] == 3
    finally:
        xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "FixedRate": before["FixedRate"], "ReservoirSize": before["ReservoirSize"]})


def test_sampling_rule_bad_input_fails_before_any_change(play, xray):
    rule = name("badrule")
    base = {"rule_name": rule, "priority": 10, "fixed_rate": 0.5, "reservoir_size": 1}
    cases = {
        "fixed_rate 1.5": ({"fixed_rate": 1.5}, "fixed_rate"),
        "priority 0": ({"priority": 0}, "priority"),
        "six attributes": ({"attributes": {f"k{i}": "v" for i in range(6)}}, "attributes"),
        "aws tag": ({"tags": {"aws:x": "y"}}, "tags"),
        "name too long": ({"rule_name": "r" * 33}, "rule_name"),
    }
    run = play([{**rule_task(title, **{**base, **args}), "ignore_errors": True} for title, (args, _field) in cases.items()])
    for title, (_args, field) in cases.items():
        assert field in failed(run, title)["msg"], title
    assert get_rule(xray, rule) is None


def test_sampling_rule_info(play, xray):
    rule = name("inforule")
    xray.create_sampling_rule(
        SamplingRule={
            "RuleName": rule, "ResourceARN": "*", "Priority": 42, "FixedRate": 0.1, "ReservoirSize": 1, "ServiceName": "*",
            "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
        },
        Tags=[{"Key": "managed-by", "Value": "it-rule-info"}],
    )
    try:
        run = play(
            [
                {"name": "all", "tracing.xray.xray_sampling_rule_info": {}},
                {"name": "one", "tracing.xray.xray_sampling_rule_info": {"rule_name": rule}},
                {"name": "tagged", "tracing.xray.xray_sampling_rule_info": {"match_tags": {"managed-by": "it-rule-info"}}},
            ]
        )
        names = [r["rule_name"] for r in ok(run, "all")["sampling_rules"]]
        assert rule in names and names[-1] == "Default"
        assert ok(run, "one")["sampling_rules"][0]["tags"] == {"managed-by": "it-rule-info"}
        assert [r["rule_name"] for r in ok(run, "tagged")["sampling_rules"]] == [rule]
    finally:
        xray.delete_sampling_rule(RuleName=rule)


# --- xray_encryption_config ----------------------------------------------------------------------


def test_encryption_config(play, xray, aws_endpoint):
    import boto3

    # The module checks the key exists (kms:DescribeKey) before PutEncryptionConfig: a real key of the endpoint's KMS.
    kms = boto3.client("kms", endpoint_url=aws_endpoint["endpoint_url"], region_name=aws_endpoint["region"],
                       aws_access_key_id=aws_endpoint["access_key_id"], aws_secret_access_key=aws_endpoint["secret_access_key"])
    key = kms.create_key(Description="it-encryption")["KeyMetadata"]["Arn"]
    task = {"name": "kms", "tracing.xray.xray_encryption_config": {"encryption_type": "KMS", "key_id": key, "wait": True, "wait_timeout": 60}}
    try:
        run = play([{**task, "name": "kms (check)"}], check=True)
        assert ok(run, "kms (check)")["changed"] is True
        assert xray.get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"

        run = play([task, {**task, "name": "kms again"}])
        result = ok(run, "kms")
        assert result["changed"] is True
        assert result["encryption_config"]["status"] == "ACTIVE"
        assert ok(run, "kms again")["changed"] is False
        live = xray.get_encryption_config()["EncryptionConfig"]
        assert live["Type"] == "KMS" and key.endswith(live["KeyId"].split("/")[-1])

        run = play([{"name": "bad", "tracing.xray.xray_encryption_config": {"encryption_type": "KMS"}, "ignore_errors": True}])
        assert "key_id" in failed(run, "bad")["msg"]
    finally:
        run = play([{"name": "none", "tracing.xray.xray_encryption_config": {"encryption_type": "NONE", "wait": True}}])
        ok(run, "none")
    assert xray.get_encryption_config()["EncryptionConfig"]["Type"] == "NONE"
