"""Playbook texts the integration tests run (one place for their shape)."""

from __future__ import annotations

import json
import os

# The playbooks' one definition of the connection settings (xray_region, xray_kubeconfig, ...) as module arguments,
# handed to the modules of every role the way playbooks/site.yml does it.
CONNECTION_VARS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                               "playbooks", "vars", "connection.yml")
CONNECTED = {
    "vars_files": [CONNECTION_VARS],
    "module_defaults": {
        "group/amazon.aws.aws": "{{ _xray_aws_connection }}",
        "group/tracing.xray.aws": "{{ _xray_aws_connection }}",
        "group/kubernetes.core.k8s": "{{ _xray_k8s_connection }}",
        "group/tracing.xray.k8s": "{{ _xray_k8s_connection }}",
    },
}


# The same as YAML lines of a play (two-space indent), for tests that write their plays as YAML text.
CONNECTED_YAML = f"""  vars_files:
    - {CONNECTION_VARS}
  module_defaults:
""" + "".join(f'    {group}: "{value}"\n' for group, value in CONNECTED["module_defaults"].items())


def connected_play(name: str, hosts: str = "all", **play) -> dict:
    """A play (as a dict) connected like the collection's playbooks; ``play`` adds tasks, roles, vars, ..."""
    return {"name": name, "hosts": hosts, "gather_facts": False, **CONNECTED, **play}


def role_play(role: str, tasks_from: str | None = None, **task_vars) -> str:
    """A play on every inventory host that includes ``tracing.xray.<role>`` (optionally its ``tasks_from`` entry
    point) with ``task_vars``."""
    include = {"name": f"tracing.xray.{role}", **({"tasks_from": tasks_from} if tasks_from else {})}
    task = {"name": "The role", "ansible.builtin.include_role": include, "vars": task_vars or {"_unused": True}}
    return json.dumps([connected_play("One role", tasks=[task])], indent=1)
