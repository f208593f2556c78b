"""The ownership contract of the tracing.xray.groups role against the in-process AWS endpoint (moto + the sandbox's
X-Ray EMULATION: not AWS; only the ``aws_endpoint`` fixture, no Kubernetes sandbox).

- A group or sampling rule of a declared name that someone else owns (tagged ``team=payments``) is refused before any
  change, the message names it, its tags and the ``xray_adopt`` entry; teardown leaves it; ``xray_adopt`` takes it over.
- Two clusters of one account and region that declare the same group name: the second is refused (the message names
  the first cluster), the first cluster's group stays as it is, and the second's teardown leaves it.
"""

from __future__ import annotations

import json
import secrets

import pytest
from plays import connected_play
from botocore.exceptions import ClientError

SUFFIX = secrets.token_hex(3)


def name(base: str) -> str:
    return f"own-{base}-{SUFFIX}"[:32]


@pytest.fixture
def role(aws_endpoint, run_playbook, no_ambient_aws):
    """Run the groups role on localhost as cluster ``cluster`` with the given variables."""

    def _role(variables: dict, *, cluster: str, check: bool = False):
        playbook = [connected_play("groups role", hosts="localhost", roles=[{"role": "tracing.xray.groups"}])]
        extra = {
            "xray_cluster_name": cluster,
            "xray_region": aws_endpoint["region"],
            "xray_aws_endpoint_url": aws_endpoint["endpoint_url"],
            "xray_aws_access_key": aws_endpoint["access_key_id"],
            "xray_aws_secret_key": aws_endpoint["secret_access_key"],
            **variables,
        }
        return run_playbook(json.dumps(playbook, indent=1), extra_vars=extra, check=check)

    return _role


def tags_of(xray, arn: str) -> dict:
    return {t["Key"]: t["Value"] for t in xray.list_tags_for_resource(ResourceARN=arn)["Tags"]}


def group(xray, group_name: str) -> dict | None:
    try:
        found = xray.get_group(GroupName=group_name)["Group"]
    except ClientError:
        return None
    return {"filter": found.get("FilterExpression"), "tags": tags_of(xray, found["GroupARN"]), "arn": found["GroupARN"]}


def rule(xray, rule_name: str) -> dict | None:
    for page in xray.get_paginator("get_sampling_rules").paginate():
        for record in page["SamplingRuleRecords"]:
            if record["SamplingRule"]["RuleName"] == rule_name:
                body = record["SamplingRule"]
                return {"fixed_rate": body["FixedRate"], "priority": body["Priority"], "tags": tags_of(xray, body["RuleARN"])}
    return None


def all_groups(xray) -> dict:
    out = {}
    for page in xray.get_paginator("get_groups").paginate():
        out.update({g["GroupName"]: g.get("FilterExpression") for g in page["Groups"]})
    return out


def delete_group(xray, group_name):
    try:
        xray.delete_group(GroupName=group_name)
    except ClientError:
        pass


def delete_rule(xray, rule_name):
    try:
        xray.delete_sampling_rule(RuleName=rule_name)
    except ClientError:
        pass


PAYMENTS = [{"Key": "team", "Value": "payments"}]


def test_foreign_group_is_refused_left_on_teardown_and_adopted_on_request(role, xray):
    cluster = f"own-a-{SUFFIX}"
    foreign = name("errors")
    ours_first = name("first")  # declared before the foreign one: must not be created by the refused run
    declared = [
        {"name": ours_first, "filter_expression": "fault = true"},
        {"name": foreign, "filter_expression": "error = true OR fault = true", "tags": {"app": "web"}},
    ]
    xray.create_group(GroupName=foreign, FilterExpression="responsetime > 5", Tags=PAYMENTS)
    try:
        before = all_groups(xray)
        for check in (True, False):
            run = role({"groups_xray_groups": declared}, cluster=cluster, check=check)
            assert run.rc != 0, run.explain()
            text = run.stdout + run.stderr
            for word in (f"X-Ray group '{foreign}'", "team=payments", f"XRayGroup/{foreign}", "xray_adopt", "groups_xray_groups[1]"):
                assert word in text, f"{word!r} not in the failure\n{run.explain()}"
            assert run.changed() == 0, run.explain()
            assert all_groups(xray) == before, "the refused run changed the groups"
            assert group(xray, foreign) == {"filter": "responsetime > 5", "tags": {"team": "payments"}, "arn": group(xray, foreign)["arn"]}

        gone = role({"groups_state": "absent"}, cluster=cluster)
        assert gone.rc == 0, gone.explain()
        assert group(xray, foreign)["tags"] == {"team": "payments"}, "teardown touched a group that is not ours"

        adopted = role({"groups_xray_groups": declared, "xray_adopt": [f"XRayGroup/{foreign}"]}, cluster=cluster)
        assert adopted.rc == 0, adopted.explain()
        now = group(xray, foreign)
        assert now["filter"] == "error = true OR fault = true"
        assert now["tags"] == {"app": "web", "managed-by": "tracing.xray", "tracing.xray/cluster": cluster}
        assert group(xray, ours_first) is not None

        again = role({"groups_xray_groups": declared}, cluster=cluster)  # ours now: no adopt needed, no change
        assert again.rc == 0 and again.changed() == 0, again.explain()

        gone = role({"groups_state": "absent"}, cluster=cluster)
        assert gone.rc == 0, gone.explain()
        assert group(xray, foreign) is None and group(xray, ours_first) is None
    finally:
        delete_group(xray, foreign)
        delete_group(xray, ours_first)


def test_foreign_sampling_rule_is_refused_left_on_teardown_and_adopted_on_request(role, xray):
    cluster = f"own-r-{SUFFIX}"
    foreign = name("back-all")
    declared = [{"name": foreign, "priority": 120, "fixed_rate": 1.0, "reservoir_size": 5, "service_name": "back-end"}]
    xray.create_sampling_rule(
        SamplingRule={
            "RuleName": foreign, "ResourceARN": "*", "Priority": 121, "FixedRate": 0.05, "ReservoirSize": 1, "ServiceName": "*",
            "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
        },
        Tags=PAYMENTS,
    )
    try:
        run = role({"groups_sampling_rules": declared}, cluster=cluster)
        assert run.rc != 0, run.explain()
        text = run.stdout + run.stderr
        for word in (f"X-Ray sampling rule '{foreign}'", "team=payments", f"XRaySamplingRule/{foreign}", "xray_adopt"):
            assert word in text, f"{word!r} not in the failure\n{run.explain()}"
        assert rule(xray, foreign) == {"fixed_rate": 0.05, "priority": 121, "tags": {"team": "payments"}}

        gone = role({"groups_state": "absent"}, cluster=cluster)
        assert gone.rc == 0, gone.explain()
        assert rule(xray, foreign) == {"fixed_rate": 0.05, "priority": 121, "tags": {"team": "payments"}}

        adopted = role({"groups_sampling_rules": declared, "xray_adopt": [f"XRaySamplingRule/{foreign}"]}, cluster=cluster)
        assert adopted.rc == 0, adopted.explain()
        assert rule(xray, foreign) == {"fixed_rate": 1.0, "priority": 120, "tags": {"managed-by": "tracing.xray", "tracing.xray/cluster": cluster}}

        gone = role({"groups_state": "absent"}, cluster=cluster)
        assert gone.rc == 0, gone.explain()
        assert rule(xray, foreign) is None
    finally:
        delete_rule(xray, foreign)


def test_two_clusters_declaring_one_group_name(role, xray):
    shared = name("shared")
    a, b = f"own-ca-{SUFFIX}", f"own-cb-{SUFFIX}"
    try:
        first = role({"groups_xray_groups": [{"name": shared, "filter_expression": "error = true"}]}, cluster=a)
        assert first.rc == 0, first.explain()
        a_group = group(xray, shared)
        assert a_group["tags"] == {"managed-by": "tracing.xray", "tracing.xray/cluster": a}

        second = role({"groups_xray_groups": [{"name": shared, "filter_expression": "fault = true"}]}, cluster=b)
        assert second.rc != 0, second.explain()
        text = second.stdout + second.stderr
        for word in (f"X-Ray group '{shared}'", f"tracing.xray/cluster={a}", f"XRayGroup/{shared}"):
            assert word in text, f"{word!r} not in the failure\n{second.explain()}"
        assert group(xray, shared) == a_group, "cluster b changed cluster a's group"

        b_down = role({"groups_state": "absent"}, cluster=b)
        assert b_down.rc == 0, b_down.explain()
        assert group(xray, shared) == a_group, "cluster b's teardown touched cluster a's group"

        a_down = role({"groups_state": "absent"}, cluster=a)
        assert a_down.rc == 0, a_down.explain()
        assert group(xray, shared) is None
    finally:
        delete_group(xray, shared)


@pytest.mark.parametrize(
    "variables, words",
    [
        ({"groups_xray_groups": [{"name": "front end"}]}, ["groups_xray_groups[1] (front end)", "characters X-Ray refuses"]),
        ({"groups_xray_groups": [{"name": name("dict"), "tags": {"team": {"name": "payments"}}}]}, ["groups_xray_groups[1]", "tags value of 'team'"]),
        ({"groups_xray_groups": [{"name": name("many"), "tags": {f"k{i}": "v" for i in range(49)}}]}, ["groups_xray_groups[1]", "at most 50"]),
        ({"groups_sampling_rules": [{"name": name("v2"), "priority": 1, "fixed_rate": 0.5, "reservoir_size": 1, "version": 2}]},
         ["groups_sampling_rules[0]", "version=2", "version 1"]),
    ],
)
def test_new_pre_checks_fail_before_any_change(role, xray, variables, words):
    first = {"name": name("ok"), "filter_expression": "error = true"}
    variables = dict(variables)
    variables["groups_xray_groups"] = [first] + variables.get("groups_xray_groups", [])
    before = all_groups(xray)
    try:
        run = role(variables, cluster=f"own-p-{SUFFIX}")
        assert run.rc != 0, run.explain()
        text = run.stdout + run.stderr
        for word in words:
            assert word in text, f"{word!r} not in the failure\n{run.explain()}"
        assert all_groups(xray) == before
    finally:
        delete_group(xray, first["name"])
