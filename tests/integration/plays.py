"""Playbook texts the integration tests run (one place for their shape)."""

from __future__ import annotations

import json


def role_play(role: str, tasks_from: str | None = None, **task_vars) -> str:
    """A play on every inventory host that includes ``tracing.xray.<role>`` (optionally its ``tasks_from`` entry
    point) with ``task_vars``."""
    body = "\n".join(f"        {key}: {json.dumps(value)}" for key, value in task_vars.items())
    entry = f"\n        tasks_from: {tasks_from}" if tasks_from else ""
    return f"""
- name: One role
  hosts: all
  gather_facts: false
  tasks:
    - name: The role
      ansible.builtin.include_role:
        name: tracing.xray.{role}{entry}
      vars:
{body or '        _unused: true'}
"""
