"""The tracing.xray.groups role through ansible-playbook against the sandbox AWS endpoint (moto + the sandbox's
X-Ray EMULATION: not AWS). Checks apply, idempotence, input validation before any change, and that the absent
path deletes only what carries our owner tags.
"""

from __future__ import annotations

import json
import secrets
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from plays import connected_play

SUFFIX = secrets.token_hex(3)
CLUSTER = f"it-role-{SUFFIX}"


def name(base: str) -> str:
    return f"role-{base}-{SUFFIX}"[:32]


@pytest.fixture
def role(aws_endpoint, run_playbook, no_ambient_aws):
    """Run the role with the given variables; the AWS connection comes from the xray_* variables (module_defaults)."""

    def _role(variables: dict, *, check: bool = False):
        playbook = [connected_play("groups role", hosts="localhost", roles=[{"role": "tracing.xray.groups"}])]
        extra = {
            "xray_cluster_name": CLUSTER,
            "xray_region": aws_endpoint["region"],
            "xray_aws_endpoint_url": aws_endpoint["endpoint_url"],
            "xray_aws_access_key": aws_endpoint["access_key_id"],
            "xray_aws_secret_key": aws_endpoint["secret_access_key"],
            **variables,
        }
        return run_playbook(json.dumps(playbook, indent=1), extra_vars=extra, check=check)

    return _role


def group_names(xray) -> set[str]:
    names = set()
    for page in xray.get_paginator("get_groups").paginate():
        names |= {g["GroupName"] for g in page["Groups"]}
    return names


def rules(xray) -> dict:
    out = {}
    for page in xray.get_paginator("get_sampling_rules").paginate():
        out.update({r["SamplingRule"]["RuleName"]: r["SamplingRule"] for r in page["SamplingRuleRecords"]})
    return out


def tags_of(xray, arn: str) -> dict:
    return {t["Key"]: t["Value"] for t in xray.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def delete_quietly(xray, groups=(), rule_names=()):
    for group in groups:
        try:
            xray.delete_group(GroupName=group)
        except ClientError:
            pass
    for rule in rule_names:
        try:
            xray.delete_sampling_rule(RuleName=rule)
        except ClientError:
            pass


GROUPS = [
    {"name": name("errors"), "filter_expression": "error = true OR fault = true", "tags": {"team": "web"}},
    {"name": name("slow"), "filter_expression": "responsetime > 1", "insights_enabled": True, "notifications_enabled": True},
]
RULES = [
    {"name": name("front"), "priority": 100, "fixed_rate": 1.0, "reservoir_size": 5, "service_name": "front-end"},
    {"name": name("back"), "priority": 200, "fixed_rate": 0.1, "reservoir_size": 1, "service_name": "back-end",
     "http_method": "GET", "url_path": "/api/*", "attributes": {"tier": "gold"}},
    {"name": "Default", "fixed_rate": 0.1, "reservoir_size": 2},
]


def test_apply_idempotent_and_remove_only_ours(role, xray):
    default_before = rules(xray)["Default"]
    foreign = name("foreign")  # created directly, without our tags: must survive the absent path
    other_cluster = name("other")  # ours, but another cluster's: must survive too
    ours = [g["name"] for g in GROUPS]
    our_rules = [r["name"] for r in RULES if r["name"] != "Default"]
    try:
        run = role({"groups_xray_groups": GROUPS, "groups_sampling_rules": RULES})
        assert run.rc == 0, run.explain()
        assert run.changed() >= 2

        assert set(ours) <= group_names(xray)
        live_rules = rules(xray)
        assert set(our_rules) <= set(live_rules)
        assert live_rules[name("back")]["Attributes"] == {"tier": "gold"}
        assert live_rules["Default"]["FixedRate"] == 0.1 and live_rules["Default"]["ReservoirSize"] == 2
        errors = xray.get_group(GroupName=name("errors"))["Group"]
        assert tags_of(xray, errors["GroupARN"]) == {"team": "web", "managed-by": "tracing.xray", "tracing.xray/cluster": CLUSTER}
        slow = xray.get_group(GroupName=name("slow"))["Group"]
        assert slow["InsightsConfiguration"] == {"InsightsEnabled": True, "NotificationsEnabled": True}
        assert tags_of(xray, live_rules[name("front")]["RuleARN"]) == {"managed-by": "tracing.xray", "tracing.xray/cluster": CLUSTER}
        assert "managed-by" not in tags_of(xray, live_rules["Default"]["RuleARN"])

        again = role({"groups_xray_groups": GROUPS, "groups_sampling_rules": RULES})
        assert again.rc == 0, again.explain()
        assert again.changed() == 0, f"second run changed something\n{again.explain()}"

        xray.create_group(GroupName=foreign, FilterExpression="error = true")
        xray.create_group(
            GroupName=other_cluster,
            FilterExpression="error = true",
            Tags=[{"Key": "managed-by", "Value": "tracing.xray"}, {"Key": "tracing.xray/cluster", "Value": "someone-else"}],
        )

        check = role({"groups_state": "absent"}, check=True)
        assert check.rc == 0, check.explain()
        assert check.changed() >= 2
        assert set(ours) <= group_names(xray), "check mode deleted groups"

        gone = role({"groups_state": "absent"})
        assert gone.rc == 0, gone.explain()
        names = group_names(xray)
        assert not set(ours) & names, "our groups were not deleted"
        assert foreign in names, "a group without our tag was deleted"
        assert other_cluster in names, "another cluster's group was deleted"
        assert "Default" in names
        live_rules = rules(xray)
        assert not set(our_rules) & set(live_rules)
        assert "Default" in live_rules

        again = role({"groups_state": "absent"})
        assert again.rc == 0 and again.changed() == 0, again.explain()
    finally:
        delete_quietly(xray, ours + [foreign, other_cluster], our_rules)
        xray.update_sampling_rule(
            SamplingRuleUpdate={"RuleName": "Default", "FixedRate": default_before["FixedRate"], "ReservoirSize": default_before["ReservoirSize"]}
        )


@pytest.mark.parametrize(
    "variables, words",
    [
        ({"groups_sampling_rules": [{"name": name("r"), "priority": 1, "fixed_rate": 1.5, "reservoir_size": 1}]}, ["groups_sampling_rules[0]", "fixed_rate"]),
        ({"groups_sampling_rules": [{"name": name("r"), "priority": 0, "fixed_rate": 0.5, "reservoir_size": 1}]}, ["priority"]),
        ({"groups_sampling_rules": [{"name": name("r"), "priority": 1, "fixed_rate": 0.5, "reservoir_size": 1,
                                     "attributes": {f"k{i}": "v" for i in range(6)}}]}, ["attributes"]),
        ({"groups_sampling_rules": [{"name": "Default", "priority": 3}]}, ["priority", "Default"]),
        ({"groups_xray_groups": [{"name": "g" * 33}]}, ["groups_xray_groups[1]", "name"]),
        ({"groups_xray_groups": [{"name": "Default"}]}, ["groups_xray_groups[1]", "Default"]),
        ({"groups_xray_groups": [{"name": name("n"), "notifications_enabled": True}]}, ["notifications_enabled"]),
        ({"groups_xray_groups": [{"name": name("t"), "tags": {"aws:x": "1"}}]}, ["aws:"]),
        ({"groups_xray_groups": [{"name": name("u"), "filter": "typo"}]}, ["filter"]),
    ],
)
def test_bad_input_fails_before_any_change(role, xray, variables, words):
    # a valid group first: it must not be created when a later item is bad
    first = {"name": name("first"), "filter_expression": "error = true"}
    variables = dict(variables)
    variables["groups_xray_groups"] = [first] + variables.get("groups_xray_groups", [])
    before_groups, before_rules = group_names(xray), rules(xray)
    try:
        run = role(variables)
        assert run.rc != 0, run.explain()
        text = run.stdout + run.stderr
        for word in words:
            assert word in text, f"{word!r} not in the failure\n{run.explain()}"
        assert group_names(xray) == before_groups
        assert rules(xray) == before_rules
    finally:
        delete_quietly(xray, [first["name"]])


# --- resource policies, Transaction Search and sampling rate boost as data ------------------------------------


def policy_names(xray) -> set[str]:
    return {p["PolicyName"] for page in xray.get_paginator("list_resource_policies").paginate() for p in page["ResourcePolicies"]}


def destination(xray) -> str:
    deadline = time.monotonic() + 30
    while xray.get_trace_segment_destination()["Status"] != "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.2)
    return xray.get_trace_segment_destination()["Destination"]


def indexing(xray) -> float:
    return xray.get_indexing_rules()["IndexingRules"][0]["Rule"]["Probabilistic"]["DesiredSamplingPercentage"]


SNS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "SNSAccess", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": ["xray:PutTraceSegments"], "Resource": "*"}],
}


def test_account_resources_as_data(role, xray, aws_endpoint):
    logs = boto3.client(
        "logs",
        endpoint_url=aws_endpoint["endpoint_url"],
        region_name=aws_endpoint["region"],
        aws_access_key_id=aws_endpoint["access_key_id"],
        aws_secret_access_key=aws_endpoint["secret_access_key"],
    )
    account, region = aws_endpoint["account_id"], aws_endpoint["region"]
    spans_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "xray.amazonaws.com"},
                "Action": "logs:PutLogEvents",
                "Resource": f"arn:aws:logs:{region}:{account}:log-group:aws/spans:*",
            }
        ],
    }
    prefix = f"tracing.xray-{CLUSTER}."
    ours = [f"{prefix}sns", f"{prefix}json"]
    foreign = name("foreign-policy")  # no prefix: not ours
    # Another cluster whose name starts with ours (shop / shop-prod): its prefix must not match ours.
    other_cluster = f"tracing.xray-{CLUSTER}-prod.sns"
    rule = name("boosted")
    variables = {
        "groups_sampling_rules": [
            {"name": rule, "priority": 300, "fixed_rate": 0.1, "reservoir_size": 1, "sampling_rate_boost": {"max_rate": 0.5, "cooldown_window_minutes": 5}}
        ],
        "groups_resource_policies": [
            {"name": "sns", "policy_document": SNS_POLICY},
            {"name": "json", "policy_document": json.dumps(SNS_POLICY)},
        ],
        "groups_indexing_rules": [{"desired_sampling_percentage": 5}],
        "groups_trace_segment_destination": {"destination": "CloudWatchLogs", "wait_timeout": 60},
    }
    logs.put_resource_policy(policyName="it-role-spans", policyDocument=json.dumps(spans_policy))
    try:
        check = role(variables, check=True)
        assert check.rc == 0, check.explain()
        assert not set(ours) & policy_names(xray) and destination(xray) == "XRay" and indexing(xray) == 1.0

        run = role(variables)
        assert run.rc == 0, run.explain()
        assert set(ours) <= policy_names(xray)
        assert destination(xray) == "CloudWatchLogs" and indexing(xray) == 5.0
        assert rules(xray)[rule]["SamplingRateBoost"] == {"MaxRate": 0.5, "CooldownWindowMinutes": 5}

        again = role(variables)
        assert again.rc == 0, again.explain()
        assert again.changed() == 0, f"second run changed something\n{again.explain()}"

        xray.put_resource_policy(PolicyName=foreign, PolicyDocument=json.dumps(SNS_POLICY))
        xray.put_resource_policy(PolicyName=other_cluster, PolicyDocument=json.dumps(SNS_POLICY))

        gone = role({"groups_state": "absent"})
        assert gone.rc == 0, gone.explain()
        names = policy_names(xray)
        assert not set(ours) & names, "our resource policies were not deleted"
        assert {foreign, other_cluster} <= names, "a resource policy that is not ours was deleted"
        assert rule not in rules(xray)
        # Account settings stay unless asked for.
        assert destination(xray) == "CloudWatchLogs" and indexing(xray) == 5.0

        restore = role({"groups_state": "absent", "groups_restore_account_defaults": True})
        assert restore.rc == 0, restore.explain()
        assert destination(xray) == "XRay" and indexing(xray) == 1.0
        assert {foreign, other_cluster} <= policy_names(xray)
    finally:
        for policy in [*ours, foreign, other_cluster]:
            if policy in policy_names(xray):
                xray.delete_resource_policy(PolicyName=policy)
        delete_quietly(xray, rule_names=[rule])
        if destination(xray) != "XRay":
            xray.update_trace_segment_destination(Destination="XRay")
            destination(xray)
        xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": 1.0}})
        logs.delete_resource_policy(policyName="it-role-spans")


BIG_POLICY = {"Version": "2012-10-17", "Statement": [dict(SNS_POLICY["Statement"][0], Sid="s" * 5200)]}


@pytest.mark.parametrize(
    "variables, words",
    [
        ({"groups_sampling_rules": [{"name": name("b"), "priority": 1, "fixed_rate": 0.5, "reservoir_size": 1,
                                     "sampling_rate_boost": {"max_rate": 2, "cooldown_window_minutes": 1}}]},
         ["groups_sampling_rules[0]", "sampling_rate_boost.max_rate=2"]),
        ({"groups_sampling_rules": [{"name": "Default", "sampling_rate_boost": {"max_rate": 0.5, "cooldown_window_minutes": 1}}]},
         ["sampling_rate_boost", "Default"]),
        ({"groups_resource_policies": [{"name": "big", "policy_document": BIG_POLICY}]}, ["groups_resource_policies[0]", "at most 5120"]),
        ({"groups_resource_policies": [{"name": "np", "policy_document": {"Statement": [{"Effect": "Allow", "Action": "xray:*"}]}}]},
         ["Principal"]),
        ({"groups_resource_policies": [{"name": f"p{n}", "policy_document": SNS_POLICY} for n in range(6)]}, ["at most 5"]),
        ({"groups_resource_policies": [{"name": "bad name", "policy_document": SNS_POLICY}]}, ["groups_resource_policies[0]", "128"]),
        ({"groups_indexing_rules": [{"desired_sampling_percentage": 101}]}, ["groups_indexing_rules[0]", "0 to 100"]),
        ({"groups_trace_segment_destination": {"destination": "S3"}}, ["destination", "XRay, CloudWatchLogs"]),
    ],
)
def test_account_resources_bad_input_fails_before_any_change(role, xray, variables, words):
    first = {"name": name("first2"), "filter_expression": "error = true"}
    before_groups, before_rules, before_policies = group_names(xray), rules(xray), policy_names(xray)
    try:
        run = role(dict(variables, groups_xray_groups=[first]))
        assert run.rc != 0, run.explain()
        text = run.stdout + run.stderr
        for word in words:
            assert word in text, f"{word!r} not in the failure\n{run.explain()}"
        assert group_names(xray) == before_groups and rules(xray) == before_rules and policy_names(xray) == before_policies
        assert destination(xray) == "XRay" and indexing(xray) == 1.0
    finally:
        delete_quietly(xray, [first["name"]])
