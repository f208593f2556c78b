"""site.yml with ``--tags <step>`` (docs/architecture.md, "site.yml"): the inputs of every enabled step are still
checked, the selected step runs its whole present path, and no other step runs. The roles' paths are dynamic includes
(issue 15), so this is what keeps ``apply: tags: [always]`` and the step tags honest. Check mode: nothing changes."""

from __future__ import annotations

import json
import os


def test_tags_daemon_checks_every_enabled_step_and_runs_only_the_daemon_step(run_playbook, repo, sandbox):
    del sandbox
    run = run_playbook(os.path.join(repo, "playbooks", "site.yml"), inventory=os.path.join(repo, "inventories", "sandbox"),
                       check=True, env={"ANSIBLE_RUN_TAGS": "daemon"})
    assert run.rc == 0, run.explain()
    ran = {name for name, result in run.results().items() if not result.get("skipped")}
    # The validate step of every enabled step (irsa, daemon, groups, apps), tagged always.
    for name in ("tracing.xray.irsa : Check the irsa inputs",
                 "tracing.xray.daemon : Check the daemon inputs before any change",
                 "tracing.xray.groups : Check the declared groups and sampling rules",
                 "tracing.xray.apps : Check the apps inputs before any change"):
        assert name in ran, (name, sorted(ran))
    # The daemon step's present path, through its dynamic include.
    for name in ("tracing.xray.daemon : Render the daemon objects",
                 "tracing.xray.daemon : Apply the daemon objects in one server-side apply"):
        assert name in ran, (name, sorted(ran))
    # Nothing of the other steps beyond their input checks.
    others = sorted(name for name in run.results() if name.startswith(("tracing.xray.irsa : ", "tracing.xray.apps : ",
                                                                       "tracing.xray.groups : "))
                    and "inputs" not in name and "Check" not in name and "Validating arguments" not in name
                    and "Read the X-Ray" not in name)
    assert others == [], others


def test_each_import_of_site_yml_runs_its_own_steps(run_playbook, repo, sandbox):
    """site.yml sets the step switches as a fact, which outlives its play: a second import in the same run (site, then
    verify) must still run the steps its own variables switch on. Check mode, only the groups step (nothing to read
    or change with no groups declared), switched off in the first import and on in the second."""
    del sandbox
    site = os.path.join(repo, "playbooks", "site.yml")
    off = {"xray_irsa_enabled": False, "xray_daemon_enabled": False, "xray_apps_enabled": False}
    text = json.dumps([{"import_playbook": site, "vars": {**off, "xray_groups_enabled": False}},
                       {"import_playbook": site, "vars": {**off, "xray_groups_enabled": True}}])
    run = run_playbook(text + "\n", inventory=os.path.join(repo, "inventories", "sandbox"), check=True)
    assert run.rc == 0, run.explain()
    plays = run.data["plays"]
    assert len(plays) == 2, run.explain()

    def ran(play):
        return {t["task"]["name"] for t in play["tasks"]
                if not all(result.get("skipped") for result in t["hosts"].values())}

    step = "tracing.xray.groups : Apply the declared groups and sampling rules, or remove the ones we own (groups_state)"
    assert step not in ran(plays[0]), sorted(ran(plays[0]))
    assert step in ran(plays[1]), sorted(ran(plays[1]))
