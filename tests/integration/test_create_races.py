"""Create races (issue 17, reliability): parallel runs that create the same resource all succeed, and one exists.

Twelve inventory hosts (all local) run ``tracing.xray.xray_group`` with the same group name at once (``--forks 12``),
against the sandbox AWS endpoint (moto + the X-Ray EMULATION, real HTTP through boto3). Every run reads first and
finds nothing; the runs whose CreateGroup loses the race get X-Ray's "already exists" and continue with the group the
winner created. The sandbox's call log shows how many CreateGroup calls were made (more than one: the race happened).
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.request

import pytest
from plays import connected_play

HOSTS = 12
ROUNDS = 3  # a round where every run but one saw the group before creating it proves nothing: try again, bounded
TIMEOUT = 240


def _calls(endpoint, action, since):
    with urllib.request.urlopen(f"{endpoint}/_sandbox/calls?action={action}&since={since}", timeout=10) as response:  # noqa: S310
        return json.load(response)


@pytest.fixture
def inventory(tmp_path):
    hosts = {f"racer-{i:02d}": {} for i in range(HOSTS)}
    path = tmp_path / "hosts.json"
    path.write_text(json.dumps({"all": {"hosts": hosts, "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}),
                    encoding="utf-8")
    return str(path)


def test_parallel_creates_of_one_group_all_succeed_and_one_group_exists(aws_endpoint, xray, run_playbook, inventory, no_ambient_aws):
    connection = {"xray_region": aws_endpoint["region"], "xray_aws_endpoint_url": aws_endpoint["endpoint_url"],
                  "xray_aws_access_key": aws_endpoint["access_key_id"], "xray_aws_secret_key": aws_endpoint["secret_access_key"]}
    creates = 0
    for _round in range(ROUNDS):
        name = f"race-{secrets.token_hex(4)}"
        task = {"name": "The group", "tracing.xray.xray_group": {
            "group_name": name, "filter_expression": "error = true", "ownership_tags": {"managed-by": "tracing.xray"}}}
        playbook = json.dumps([connected_play("race", tasks=[task])], indent=1)
        since = time.time()
        started = time.monotonic()
        run = run_playbook(playbook, inventory=inventory, extra_vars=connection, env={"ANSIBLE_FORKS": str(HOSTS)}, timeout=TIMEOUT)
        seconds = time.monotonic() - started
        try:
            assert run.rc == 0, run.explain()
            results = {host: run.results(host).get("The group", {}) for host in (f"racer-{i:02d}" for i in range(HOSTS))}
            assert all(r and not r.get("failed") for r in results.values()), json.dumps(results, indent=1, default=str)[-6000:]
            assert sum(1 for r in results.values() if r.get("changed")) >= 1
            assert len({r["group"]["group_arn"] for r in results.values()}) == 1
            groups = [g for g in xray.get_groups()["Groups"] if g["GroupName"] == name]
            assert len(groups) == 1, groups
            creates = len(_calls(aws_endpoint["endpoint_url"], "CreateGroup", since))
            print(f"round {_round}: {HOSTS} runs in {seconds:.1f} s, {creates} CreateGroup calls, "
                  f"{sum(1 for r in results.values() if r.get('changed'))} changed")
        finally:
            if any(g["GroupName"] == name for g in xray.get_groups()["Groups"]):
                xray.delete_group(GroupName=name)
        if creates > 1:
            break
    assert creates > 1, f"no round of {ROUNDS} had two CreateGroup calls for one name: the race was never exercised"
