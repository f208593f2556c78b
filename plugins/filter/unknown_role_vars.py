# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: unknown_role_vars
short_description: Variables named like a role's inputs that the role does not know (typos such as daemon_prot)
version_added: 0.2.0
author: tracing.xray maintainers (@tracing-xray)
description:
  - For each role in O(roles), finds the variables of the input whose name starts with C(<role>_) but that are
    neither an option of the role's argument spec (C(meta/argument_specs.yml), entry point C(main)) nor a value
    of its C(defaults/main.yml) or C(vars/main.yml). Ansible passes such a variable silently, so a typo would
    leave the intended setting at its default; C(playbooks/site.yml) refuses it before the first change.
  - Returns one message per unknown variable, with the closest known name when there is one.
options:
  _input:
    description: The variables to check (in a play, C(vars)).
    type: dict
    required: true
  roles:
    description: Short names of the roles whose prefixes are checked (C(daemon), C(apps), ...).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse typos in the variables of the enabled steps
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join(' ') }}"
  vars:
    problems: "{{ vars | tracing.xray.unknown_role_vars(['daemon', 'apps']) }}"
"""

RETURN = r"""
_value:
  description: One message per unknown variable (empty when all are known).
  type: list
  elements: str
"""

import difflib
import os

import yaml

from ansible.errors import AnsibleFilterError

# libyaml's loader where PyYAML has it: the argument specs are large, and the pure-Python loader took 0.16 s of every
# site.yml run for the four default steps (issue 15).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


def _keys(path):
    if not os.path.exists(path):
        return set()
    with open(path, encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_LOADER) or {}  # noqa: S506 - a safe loader
    return set(data) if isinstance(data, dict) else set()


def known_names(role, roles_dir=ROLES_DIR):
    """Every variable name the role knows: argument spec options, defaults and vars."""
    spec_path = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
    if not os.path.exists(spec_path):
        raise AnsibleFilterError(f"unknown_role_vars: no role {role!r} in {roles_dir}")
    with open(spec_path, encoding="utf-8") as handle:
        specs = (yaml.load(handle, Loader=_LOADER) or {}).get("argument_specs", {})  # noqa: S506 - a safe loader
    names = set((specs.get("main") or {}).get("options") or {})
    names |= _keys(os.path.join(roles_dir, role, "defaults", "main.yml"))
    names |= _keys(os.path.join(roles_dir, role, "vars", "main.yml"))
    return names


def unknown_role_vars(variables, roles, roles_dir=ROLES_DIR):
    if not isinstance(variables, dict):
        raise AnsibleFilterError("unknown_role_vars: the input must be the play's variables (a dict)")
    problems = []
    for role in roles:
        prefix = f"{role}_"
        known = known_names(role, roles_dir)
        for name in sorted(str(key) for key in variables):
            if not name.startswith(prefix) or name in known:
                continue
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{name} is not a variable of tracing.xray.{role}{hint}; its variables are listed in the role's README "
                            f"(meta/argument_specs.yml).")
    return problems


class FilterModule:
    def filters(self):
        return {"unknown_role_vars": unknown_role_vars}
