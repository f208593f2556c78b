# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The sandbox inventory's state as plain values (a vars plugin of this checkout, not of the collection).

group_vars/all.yml reads the sandbox's sandbox.json with two lookups (``env``, then ``file`` and ``from_json``). Ansible
templates a variable again every time a task uses it, so every task that touched a connection setting read and parsed
the file again: about 80 lookups, 160 template compilations and 0.5 s per ``site.yml`` run (issue 15). This plugin
reads the same file once per playbook run and gives ``xray_sandbox_dir`` and ``xray_sandbox`` to the group ``all`` of
the sandbox inventory as plain values, as a real inventory has them; it is listed after ``host_group_vars`` in
ansible.cfg, so its values win. When the file does not exist (the sandbox is not up) it gives nothing, and the lookups
of group_vars/all.yml fail as they always did ("could not locate file ... sandbox.json").
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: sandbox_state
short_description: The local sandbox's sandbox.json as inventory variables of the sandbox inventory
description:
  - Gives C(xray_sandbox_dir) and C(xray_sandbox) (the parsed sandbox.json) to the group C(all) of
    inventories/sandbox; nothing for any other inventory, or when the sandbox is not up.
# Declared options (the standard stage option) make ansible-core register the plugin's configuration once; without
# any, it parsed this documentation again each time it looked the plugin up (every variable lookup of every task).
extends_documentation_fragment:
  - vars_plugin_staging
"""

import copy
import json
import os

from ansible.plugins.vars import BaseVarsPlugin

_INVENTORY_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
_CACHE = {}


def _state_dir():
    return os.environ.get("SANDBOX_DIR") or os.path.realpath(os.path.join(_INVENTORY_DIR, "..", "..", ".sandbox"))


class VarsModule(BaseVarsPlugin):
    REQUIRES_ENABLED = True

    def get_vars(self, loader, path, entities, cache=True):
        entities = entities if isinstance(entities, list) else [entities]
        if not any(getattr(entity, "name", None) == "all" for entity in entities):
            return {}
        if os.path.realpath(path) != _INVENTORY_DIR:
            return {}
        state_dir = _state_dir()
        state_file = os.path.join(state_dir, "sandbox.json")
        try:
            mtime = os.stat(state_file).st_mtime_ns
        except OSError:
            return {}
        key = (state_file, mtime)
        if key not in _CACHE:
            with open(state_file, encoding="utf-8") as handle:
                _CACHE.clear()
                _CACHE[key] = json.load(handle)
        return {"xray_sandbox_dir": state_dir, "xray_sandbox": copy.deepcopy(_CACHE[key])}
