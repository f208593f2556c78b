"""tracing.xray.unknown_role_vars: typos in role variables are refused, known names pass (the collection's roles)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.tracing.xray.plugins.filter.unknown_role_vars import known_names
from ansible_collections.tracing.xray.plugins.filter.unknown_role_vars import unknown_role_vars


def test_typo_is_named_with_the_closest_known_variable():
    problems = unknown_role_vars({"daemon_prot": 2000, "daemon_port": 2000, "xray_region": "eu-west-1"}, ["daemon"])
    assert len(problems) == 1
    assert problems[0].startswith("daemon_prot is not a variable of tracing.xray.daemon (did you mean daemon_port?)")


def test_known_options_defaults_and_internal_vars_pass():
    variables = {name: None for name in known_names("groups")} | {"_daemon_internal": 1, "apps_preset": "none"}
    assert unknown_role_vars(variables, ["groups", "apps", "daemon"]) == []
    assert "groups_role_input" in known_names("groups")  # a role var, not an input: still not a typo


def test_only_the_given_roles_are_checked():
    assert unknown_role_vars({"chaos_intervall_min": 1}, ["daemon"]) == []
    assert unknown_role_vars({"chaos_intervall_min": 1}, ["chaos"])[0].startswith("chaos_intervall_min is not a variable")


def test_no_close_match_gives_no_hint():
    (problem,) = unknown_role_vars({"apps_zzzzzz": 1}, ["apps"])
    assert "did you mean" not in problem


def test_unknown_role_and_bad_input_are_errors():
    with pytest.raises(AnsibleFilterError, match="no role 'nope'"):
        unknown_role_vars({}, ["nope"])
    with pytest.raises(AnsibleFilterError, match="must be the play's variables"):
        unknown_role_vars(["daemon_port"], ["daemon"])
