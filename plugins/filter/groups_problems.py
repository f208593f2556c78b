# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: groups_problems
short_description: Input problems of the tracing.xray.groups role, checked before its first change
version_added: 0.1.0
author: tracing.xray maintainers (@tracing-xray)
description:
  - Takes the groups role's variables as one dictionary and returns a list of messages, one per problem (empty when
    all is well). Each message names the variable, the item index and name, the field, and what X-Ray allows, for
    example C(groups_sampling_rules[0] (checkout) - fixed_rate=1.5 is out of range) (the real messages separate the
    item and the problem with a colon).
  - Runs the same checks as the modules (module_utils C(xray_limits)) over every item - names (length, characters,
    reserved names, duplicates), sampling rule ranges and field lengths, C(version) (only V(1)), attributes, boosts,
    tags (type, count of at most 50 including the owner tags, lengths, characters, the C(aws:) prefix), resource
    policies, indexing rules and the trace segment destination - so that the role fails before any change instead of
    half-way through a list.
  - With O(existing_groups) and O(existing_rules) (the results of M(tracing.xray.xray_group_info) and
    M(tracing.xray.xray_sampling_rule_info)) it also reports every declared group or rule that exists without all of
    O(owner_tags) and is not listed in O(adopt), with the refusal message of the modules.
options:
  _input:
    description:
      - The role's variables - C(groups_xray_groups), C(groups_sampling_rules), C(groups_resource_policies),
        C(groups_resource_policy_prefix), C(groups_indexing_rules), C(groups_trace_segment_destination), C(groups_tags),
        C(groups_owner_tags); missing ones count as empty.
    type: dict
    required: true
  existing_groups:
    description: The X-Ray groups that exist (C(groups) of M(tracing.xray.xray_group_info), with tags).
    type: list
    elements: dict
  existing_rules:
    description: The sampling rules that exist (C(sampling_rules) of M(tracing.xray.xray_sampling_rule_info), with tags).
    type: list
    elements: dict
  owner_tags:
    description: The tags that mark a group or rule as ours (the role passes C(groups_owner_tags) plus C(managed-by)).
    type: dict
  adopt:
    description: The C(xray_adopt) entries (C(XRayGroup/<name>), C(XRaySamplingRule/<name>)) that may be taken over.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Check the declared groups and sampling rules
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ {'groups_xray_groups': groups_xray_groups, 'groups_sampling_rules': groups_sampling_rules} | tracing.xray.groups_problems }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the input is good.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.tracing.xray.plugins.module_utils.ownership import adopt_entry
from ansible_collections.tracing.xray.plugins.module_utils.ownership import is_owned
from ansible_collections.tracing.xray.plugins.module_utils.ownership import refusal_message
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import DEFAULT_RULE_UPDATABLE
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import DESTINATIONS
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import MAX_RESOURCE_POLICIES
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import XRAY_DEFAULT_RULE
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import group_problems
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import indexing_rule_problems
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import load_policy_document
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import sampling_rule_problems
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import validate_policy_name
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import validate_tags

MANAGED_BY = {"managed-by": "tracing.xray"}
_INTS = ("priority", "reservoir_size", "version")
_FLOATS = ("fixed_rate",)
_BOOLS = ("insights_enabled", "notifications_enabled")


def _bool(value):
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0", ""):
            return False
    return value


def _number(value, kind):
    """``value`` as an int/float when it is one (or a string of one); otherwise unchanged (the checks report it)."""
    if isinstance(value, bool) or value is None:
        return value
    try:
        number = kind(value) if isinstance(value, str) else value
    except ValueError:
        return value
    if kind is int and isinstance(number, float) and number.is_integer():
        number = int(number)
    return number


def _items(variables, key):
    value = variables.get(key) or []
    if not isinstance(value, list):
        raise AnsibleFilterError(f"groups_problems: {key} must be a list, got {type(value).__name__}")
    return value


def _where(variable, index, name):
    return f"{variable}[{index}] ({name})"


def _merged_tags(variables, item):
    """The tags the role puts on an item: groups_tags, the item's tags, the owner tags (in that order)."""
    merged = {}
    for source in (variables.get("groups_tags"), item.get("tags"), variables.get("groups_owner_tags"), MANAGED_BY):
        if isinstance(source, dict):
            merged.update(source)
    return merged


def _merged_tag_problems(variables, item, where):
    """The tags the item ends up with (its own, groups_tags, the owner tags) checked together, once its own are valid."""
    if item.get("tags") is not None and validate_tags(item.get("tags")) is not None:
        return []  # its own tags are already reported
    problem = validate_tags(_merged_tags(variables, item), "tags with groups_tags and the owner tags")
    return [f"{where}: {problem}"] if problem else []


def _group_checks(variables):
    problems, seen = [], set()
    for index, item in enumerate(_items(variables, "groups_xray_groups")):
        if not isinstance(item, dict):
            problems.append(f"groups_xray_groups[{index}]: must be a dictionary with at least a name")
            continue
        name = item.get("name")
        where = _where("groups_xray_groups", index, name)
        params = {
            "group_name": name if name is None else str(name),
            "filter_expression": item.get("filter_expression"),
            "insights_enabled": _bool(item.get("insights_enabled")),
            "notifications_enabled": _bool(item.get("notifications_enabled")),
            "tags": item.get("tags"),
        }
        problems.extend(f"{where}: {problem}" for problem in group_problems(params))
        problems.extend(_merged_tag_problems(variables, item, where))
        if name in seen:
            problems.append(f"{where}: name is declared twice")
        seen.add(name)
    return problems


def _rule_checks(variables):
    problems, seen = [], set()
    for index, item in enumerate(_items(variables, "groups_sampling_rules")):
        if not isinstance(item, dict):
            problems.append(f"groups_sampling_rules[{index}]: must be a dictionary with at least a name")
            continue
        name = item.get("name")
        where = _where("groups_sampling_rules", index, name)
        params = {key: value for key, value in item.items() if key != "name"}
        params["rule_name"] = name if name is None else str(name)
        for key in _INTS:
            params[key] = _number(params.get(key), int)
        for key in _FLOATS:
            params[key] = _number(params.get(key), float)
        boost = params.get("sampling_rate_boost")
        if isinstance(boost, dict):
            params["sampling_rate_boost"] = dict(
                boost, max_rate=_number(boost.get("max_rate"), float), cooldown_window_minutes=_number(boost.get("cooldown_window_minutes"), int)
            )
        is_default = params["rule_name"] == XRAY_DEFAULT_RULE
        if is_default and params.get("tags") is not None:
            problems.append(
                f"{where}: tags cannot be set on the built-in Default sampling rule in this role "
                f"(it belongs to the account and is never tagged as ours; only {' and '.join(DEFAULT_RULE_UPDATABLE)})"
            )
            params["tags"] = None
        problems.extend(f"{where}: {problem}" for problem in sampling_rule_problems(params, creating=True))
        if not is_default:
            problems.extend(_merged_tag_problems(variables, item, where))
        if name in seen:
            problems.append(f"{where}: name is declared twice")
        seen.add(name)
    return problems


def _policy_checks(variables):
    problems, seen = [], set()
    policies = _items(variables, "groups_resource_policies")
    prefix = str(variables.get("groups_resource_policy_prefix") or "")
    if policies:
        problem = validate_policy_name(prefix, "groups_resource_policy_prefix")
        if problem:
            problems.append(f"{problem} (the prefix marks the policies as ours)")
    if len(policies) > MAX_RESOURCE_POLICIES:
        problems.append(f"groups_resource_policies: {len(policies)} policies declared, X-Ray allows at most {MAX_RESOURCE_POLICIES} per account and region")
    for index, item in enumerate(policies):
        if not isinstance(item, dict):
            problems.append(f"groups_resource_policies[{index}]: must be a dictionary with name and policy_document")
            continue
        full = prefix + str(item.get("name") or "")
        where = _where("groups_resource_policies", index, full)
        problem = validate_policy_name(full if item.get("name") else "", "name (prefix and name together)")
        if problem:
            problems.append(f"{where}: {problem}")
        elif full in seen:
            problems.append(f"{where}: name is declared twice")
        seen.add(full)
        document = item.get("policy_document")
        if document is None:
            problems.append(f"{where}: policy_document is required (a dict or a JSON object string)")
            continue
        problem = load_policy_document(document)[2]
        if problem:
            problems.append(f"{where}: {problem}")
    return problems


def _account_checks(variables):
    problems, seen = [], set()
    for index, item in enumerate(_items(variables, "groups_indexing_rules")):
        if not isinstance(item, dict):
            problems.append(f"groups_indexing_rules[{index}]: must be a dictionary with desired_sampling_percentage")
            continue
        name = str(item.get("name") or "Default")
        where = _where("groups_indexing_rules", index, name)
        percentage = _number(item.get("desired_sampling_percentage"), float)
        if percentage is None:
            problems.append(f"{where}: desired_sampling_percentage is required (0 to 100)")
        else:
            problems.extend(f"{where}: {problem}" for problem in indexing_rule_problems(name, percentage))
        if name in seen:
            problems.append(f"{where}: name is declared twice")
        seen.add(name)
    destination = variables.get("groups_trace_segment_destination") or {}
    if destination:
        if not isinstance(destination, dict):
            problems.append("groups_trace_segment_destination: must be a dictionary ({} leaves the account as it is)")
        else:
            if destination.get("destination") not in DESTINATIONS:
                problems.append(f"groups_trace_segment_destination: destination must be {' or '.join(DESTINATIONS)}, got {destination.get('destination')!r}")
            timeout = _number(destination.get("wait_timeout", 300), int)
            if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
                problems.append("groups_trace_segment_destination: wait_timeout must be 0 or more seconds")
    return problems


def _shared_tag_checks(variables):
    problems = []
    for key in ("groups_tags", "groups_owner_tags"):
        problem = validate_tags(variables.get(key), key)
        if problem:
            problems.append(problem)
    return problems


def _ownership_checks(variables, existing_groups, existing_rules, owner_tags, adopt):
    """Declared groups and rules that exist, are not ours and are not in ``adopt``: the modules' refusal message."""
    problems = []
    adopt = set(adopt or [])
    owner_tags = dict(owner_tags or {})
    declared = [
        ("XRayGroup", "groups_xray_groups", "group_name", "group_arn", existing_groups),
        ("XRaySamplingRule", "groups_sampling_rules", "rule_name", "rule_arn", existing_rules),
    ]
    for kind, variable, name_key, arn_key, existing in declared:
        if existing is None:
            continue
        by_name = {entry.get(name_key): entry for entry in existing if isinstance(entry, dict)}
        for index, item in enumerate(_items(variables, variable)):
            name = item.get("name") if isinstance(item, dict) else None
            if name is None or name == XRAY_DEFAULT_RULE or name not in by_name:
                continue
            current = by_name[name]
            if is_owned(current.get("tags"), owner_tags) or adopt_entry(kind, name) in adopt:
                continue
            message = refusal_message(kind, name, current.get("tags"), owner_tags, arn=current.get(arn_key), adopt_hint=adopt_entry(kind, name))
            problems.append(f"{_where(variable, index, name)}: {message}")
    return problems


def groups_problems(variables, existing_groups=None, existing_rules=None, owner_tags=None, adopt=None):
    """Every problem of the groups role's input (list of messages, empty when the input is good)."""
    if not isinstance(variables, dict):
        raise AnsibleFilterError(f"groups_problems: expects a dictionary of the role's variables, got {type(variables).__name__}")
    if adopt is not None and (not isinstance(adopt, list) or not all(isinstance(entry, str) for entry in adopt)):
        raise AnsibleFilterError("groups_problems: adopt (xray_adopt) must be a list of strings like XRayGroup/<name> or XRaySamplingRule/<name>")
    problems = []
    problems.extend(_group_checks(variables))
    problems.extend(_rule_checks(variables))
    problems.extend(_policy_checks(variables))
    problems.extend(_account_checks(variables))
    problems.extend(_shared_tag_checks(variables))
    if owner_tags is None:
        owner_tags = dict(variables.get("groups_owner_tags") or {}, **MANAGED_BY)
    problems.extend(_ownership_checks(variables, existing_groups, existing_rules, owner_tags, adopt))
    return problems


class FilterModule:
    def filters(self):
        return {"groups_problems": groups_problems}
