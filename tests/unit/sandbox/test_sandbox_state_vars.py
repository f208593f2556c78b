"""inventories/sandbox/vars_plugins/sandbox_state.py: sandbox.json as plain inventory values, read once (issue 15)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from ansible.inventory.group import Group
from ansible.inventory.host import Host

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
INVENTORY_DIR = os.path.join(REPO, "inventories", "sandbox")
PLUGIN = os.path.join(INVENTORY_DIR, "vars_plugins", "sandbox_state.py")


@pytest.fixture
def plugin():
    spec = importlib.util.spec_from_file_location("sandbox_state_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VarsModule()


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    (tmp_path / "sandbox.json").write_text(json.dumps({"cluster_name": "c1", "region": "eu-west-1"}))
    monkeypatch.setenv("SANDBOX_DIR", str(tmp_path))
    return tmp_path


def test_group_all_of_the_sandbox_inventory_gets_the_parsed_file(plugin, state_dir):
    got = plugin.get_vars(None, INVENTORY_DIR, [Group("all")])
    assert got == {"xray_sandbox_dir": str(state_dir), "xray_sandbox": {"cluster_name": "c1", "region": "eu-west-1"}}
    got["xray_sandbox"]["region"] = "changed"  # each caller gets its own copy
    assert plugin.get_vars(None, INVENTORY_DIR, Group("all"))["xray_sandbox"]["region"] == "eu-west-1"


def test_a_changed_file_is_read_again(plugin, state_dir):
    assert plugin.get_vars(None, INVENTORY_DIR, [Group("all")])["xray_sandbox"]["cluster_name"] == "c1"
    (state_dir / "sandbox.json").write_text(json.dumps({"cluster_name": "c2"}))
    os.utime(state_dir / "sandbox.json", ns=(1, 1))
    assert plugin.get_vars(None, INVENTORY_DIR, [Group("all")])["xray_sandbox"]["cluster_name"] == "c2"


def test_nothing_for_other_inventories_other_entities_or_a_sandbox_that_is_not_up(plugin, state_dir, tmp_path):
    assert plugin.get_vars(None, os.path.join(REPO, "inventories", "eks-example"), [Group("all")]) == {}
    assert plugin.get_vars(None, INVENTORY_DIR, [Host("xray-sandbox"), Group("ungrouped")]) == {}
    os.remove(state_dir / "sandbox.json")
    assert plugin.get_vars(None, INVENTORY_DIR, [Group("all")]) == {}


def test_ansible_cfg_enables_it_and_its_values_win_over_the_lookups(state_dir):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "--host", "xray-sandbox"],
                         cwd=REPO, env=env, check=True, capture_output=True, text=True).stdout
    host = json.loads(out)
    assert host["xray_sandbox"] == {"cluster_name": "c1", "region": "eu-west-1"}  # a dict, not the lookup template
    assert host["xray_sandbox_dir"] == str(state_dir)
