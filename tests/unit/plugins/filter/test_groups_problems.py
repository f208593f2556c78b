"""Unit tests for the tracing.xray.groups_problems filter (the groups role's pre-check, module_utils/xray_limits)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tracing.xray.plugins.filter.groups_problems import FilterModule
from ansible_collections.tracing.xray.plugins.filter.groups_problems import groups_problems

OWNER = {"managed-by": "tracing.xray", "tracing.xray/cluster": "cluster-b"}
RULE = {"name": "checkout", "priority": 100, "fixed_rate": 0.5, "reservoir_size": 1}


def variables(**extra):
    base = {"groups_xray_groups": [], "groups_sampling_rules": [], "groups_owner_tags": OWNER, "groups_tags": {}}
    base.update(extra)
    return base


def test_registered():
    assert FilterModule().filters()["groups_problems"] is groups_problems


def test_good_input_has_no_problem():
    good = variables(
        groups_xray_groups=[{"name": "front-end.errors_1", "filter_expression": "error = true", "insights_enabled": "true", "notifications_enabled": True,
                             "tags": {"team": "web", "n": 3}}],
        groups_sampling_rules=[dict(RULE, priority="100", version=1, attributes={"tier": "gold"}), {"name": "Default", "fixed_rate": 0.1, "reservoir_size": 2}],
        groups_resource_policies=[{"name": "sns", "policy_document": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "xray:*"}]}}],
        groups_resource_policy_prefix="tracing.xray-a-",
        groups_indexing_rules=[{"desired_sampling_percentage": 5}],
        groups_trace_segment_destination={"destination": "CloudWatchLogs"},
    )
    assert groups_problems(good) == []


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"groups_xray_groups": [{"name": "front end"}]}, "groups_xray_groups[0] (front end): group_name='front end' has characters X-Ray refuses"),
        ({"groups_xray_groups": [{"name": "g/1"}]}, "groups_xray_groups[0] (g/1): group_name='g/1' has characters X-Ray refuses"),
        ({"groups_xray_groups": [{"name": "g" * 33}]}, "X-Ray allows 1 to 32 characters"),
        ({"groups_xray_groups": [{"name": "Default"}]}, "groups_xray_groups[0] (Default): group_name='Default' is reserved"),
        ({"groups_xray_groups": [{"name": "a"}, {"name": "a"}]}, "groups_xray_groups[1] (a): name is declared twice"),
        ({"groups_xray_groups": [{"name": "a", "notifications_enabled": True}]}, "notifications_enabled=true requires insights_enabled=true"),
        ({"groups_xray_groups": [{"name": "a", "filter_expression": " "}]}, "filter_expression must not be empty"),
        ({"groups_xray_groups": [{"name": "a", "tags": {"team": {"x": 1}}}]}, "groups_xray_groups[0] (a): tags value of 'team' must be a string, got a dict"),
        ({"groups_xray_groups": [{"name": "a", "tags": {"aws:x": "1"}}]}, "starts with 'aws:'"),
        ({"groups_xray_groups": [{"name": "a", "tags": {"k": "a;b"}}]}, "tags value of 'k' has characters X-Ray refuses"),
        # 49 own tags + 2 owner tags + managed-by (already an owner tag) = 51
        ({"groups_xray_groups": [{"name": "a", "tags": {f"k{i}": "v" for i in range(49)}}]},
         "groups_xray_groups[0] (a): tags with groups_tags and the owner tags has 51 entries: X-Ray allows at most 50"),
        ({"groups_sampling_rules": [dict(RULE, fixed_rate=1.5)]}, "groups_sampling_rules[0] (checkout): fixed_rate=1.5 is out of range: X-Ray allows 0 to 1"),
        ({"groups_sampling_rules": [dict(RULE, priority=0)]}, "priority=0 is out of range: X-Ray allows 1 to 9999"),
        ({"groups_sampling_rules": [dict(RULE, priority="high")]}, "priority=high is out of range"),
        ({"groups_sampling_rules": [dict(RULE, version=2)]}, "groups_sampling_rules[0] (checkout): version=2 is not supported"),
        ({"groups_sampling_rules": [dict(RULE, url_path="/" * 129)]}, "url_path must be 1 to 128 characters long"),
        ({"groups_sampling_rules": [dict(RULE, http_method="")]}, "http_method must be 1 to 10 characters long"),
        ({"groups_sampling_rules": [dict(RULE, attributes={f"k{i}": "v" for i in range(6)})]}, "attributes has 6 entries: X-Ray allows at most 5"),
        ({"groups_sampling_rules": [dict(RULE, sampling_rate_boost={"max_rate": 2, "cooldown_window_minutes": 1})]},
         "sampling_rate_boost.max_rate=2 is out of range"),
        ({"groups_sampling_rules": [{"name": "new"}]}, "groups_sampling_rules[0] (new): priority, fixed_rate, reservoir_size must be set"),
        ({"groups_sampling_rules": [{"name": "Default", "priority": 3}]}, "priority cannot be set on the built-in Default sampling rule"),
        ({"groups_sampling_rules": [{"name": "Default", "tags": {"a": "b"}}]}, "tags cannot be set on the built-in Default sampling rule in this role"),
        ({"groups_sampling_rules": [RULE, RULE]}, "groups_sampling_rules[1] (checkout): name is declared twice"),
        ({"groups_resource_policies": [{"name": "bad name", "policy_document": {}}], "groups_resource_policy_prefix": "p-"},
         "groups_resource_policies[0] (p-bad name)"),
        ({"groups_resource_policies": [{"name": "np", "policy_document": {"Statement": [{"Effect": "Allow", "Action": "x"}]}}],
          "groups_resource_policy_prefix": "p-"},
         "Principal is required"),
        ({"groups_indexing_rules": [{"desired_sampling_percentage": 101}]},
         "groups_indexing_rules[0] (Default): desired_sampling_percentage=101 is out of range"),
        ({"groups_trace_segment_destination": {"destination": "S3"}}, "destination must be XRay or CloudWatchLogs"),
        ({"groups_owner_tags": {"aws:owner": "x"}}, "groups_owner_tags key 'aws:owner'"),
    ],
)
def test_each_problem_names_variable_item_and_field(extra, expected):
    problems = groups_problems(variables(**extra))
    assert any(expected in problem for problem in problems), problems


def test_every_bad_item_is_reported_not_only_the_first():
    problems = groups_problems(variables(groups_xray_groups=[{"name": "a b"}, {"name": "ok"}, {"name": "c d"}]))
    assert len(problems) == 2 and "[0]" in problems[0] and "[2]" in problems[1]


def test_foreign_and_other_clusters_groups_are_reported_unless_adopted():
    declared = variables(groups_xray_groups=[{"name": "front-end-errors"}, {"name": "new"}, {"name": "mine"}], groups_sampling_rules=[RULE])
    existing_groups = [
        {"group_name": "front-end-errors", "group_arn": "arn:aws:xray:eu-west-1:1:group/front-end-errors/X", "tags": {"team": "payments"}},
        {"group_name": "mine", "tags": dict(OWNER, extra="1")},
        {"group_name": "unrelated", "tags": {}},
    ]
    existing_rules = [{"rule_name": "checkout", "tags": {"managed-by": "tracing.xray", "tracing.xray/cluster": "cluster-a"}}]
    owner = dict(OWNER)
    problems = groups_problems(declared, existing_groups=existing_groups, existing_rules=existing_rules, owner_tags=owner)
    assert len(problems) == 2, problems
    assert problems[0].startswith("groups_xray_groups[0] (front-end-errors): X-Ray group 'front-end-errors'")
    assert "team=payments" in problems[0] and "'XRayGroup/front-end-errors' to xray_adopt" in problems[0]
    assert problems[1].startswith("groups_sampling_rules[0] (checkout): X-Ray sampling rule 'checkout'")
    assert "tracing.xray/cluster=cluster-a" in problems[1] and "XRaySamplingRule/checkout" in problems[1]
    adopted = groups_problems(
        declared, existing_groups=existing_groups, existing_rules=existing_rules, owner_tags=owner,
        adopt=["XRayGroup/front-end-errors", "XRaySamplingRule/checkout"],
    )
    assert adopted == []
    # an entry of the wrong kind does not adopt
    assert len(groups_problems(declared, existing_groups=existing_groups, existing_rules=existing_rules, owner_tags=owner,
                               adopt=["XRaySamplingRule/front-end-errors"])) == 2


def test_default_rule_is_never_an_ownership_problem():
    declared = variables(groups_sampling_rules=[{"name": "Default", "fixed_rate": 0.1}])
    assert groups_problems(declared, existing_rules=[{"rule_name": "Default", "tags": {}}]) == []


def test_bad_arguments_raise():
    with pytest.raises(AnsibleFilterError):
        groups_problems([])
    with pytest.raises(AnsibleFilterError):
        groups_problems(variables(), adopt="XRayGroup/a")
    with pytest.raises(AnsibleFilterError):
        groups_problems(variables(groups_xray_groups={"name": "a"}))


def test_filter_expression_syntax_error_is_refused_before_any_change():
    """Issue 17: a group with a filter expression AWS refuses was only refused half-way through the list."""
    from ansible_collections.tracing.xray.plugins.filter.groups_problems import groups_problems as check

    problems = check({"groups_xray_groups": [{"name": "ok", "filter_expression": "error = true"},
                                             {"name": "broken", "filter_expression": 'service("front-end") AND (error = true'}]})
    assert len(problems) == 1, problems
    assert problems[0].startswith("groups_xray_groups[1] (broken): filter_expression ") and "never closed" in problems[0]
