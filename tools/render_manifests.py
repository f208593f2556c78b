#!/usr/bin/env python3
"""Render every Kubernetes manifest the roles apply, without a cluster, into one YAML file per scenario.

One ``ansible-playbook`` on localhost: per scenario it includes the role's pre-check (``tasks_from: validate.yml``,
``public: true``, so the role's defaults and vars/main.yml are what is rendered, and the inputs pass the same checks
as in a real run), then templates the role's ``templates/manifests.yml.j2`` exactly as ``tasks/present.yml`` does
(``lookup('ansible.builtin.template', ...) | from_yaml_all``) with the few values present.yml computes from the cluster
given as task vars. The scenarios cover each role's objects: the daemon (as site.yml runs it, and with hostNetwork and
its own ServiceAccount), the apps with each preset (workshop, usermgmt; with and without the Ingress), the chaos
randomizer and the irsa ServiceAccount (IRSA and EKS Pod Identity).

    tools/render_manifests.py OUT_DIR      # writes OUT_DIR/<scenario>.yml

``render(out_dir)`` returns ``{scenario: [objects]}`` for tests (tests/unit/security).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK_BIN = Path(sys.executable).parent / "ansible-playbook"
# Render-only placeholders: the usermgmt preset refuses empty credentials.
PLACEHOLDER = "render-only-placeholder"
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
ROLE_ARN = "arn:aws:iam::123456789012:role/xray-daemon-example"

USERMGMT = {
    "apps_preset": "usermgmt",
    "apps_usermgmt_db_password": PLACEHOLDER,
    "apps_usermgmt_smtp_username": PLACEHOLDER,
    "apps_usermgmt_smtp_password": PLACEHOLDER,
}

# name -> (role, inputs, values tasks/present.yml computes from the cluster)
SCENARIOS: dict[str, tuple[str, dict, dict]] = {
    # No cluster here: the daemon's hostPort clash check (a cluster read) is off.
    "daemon": ("daemon", {"xray_region": "eu-west-1", "daemon_clash_check": False}, {"_daemon_create_namespace_now": True}),
    "daemon-host-network": ("daemon", {"xray_region": "eu-west-1", "daemon_host_network": True, "daemon_create_service_account": True,
                                       "daemon_clash_check": False},
                            {"_daemon_create_namespace_now": False}),
    "apps-workshop": ("apps", {"apps_preset": "workshop"}, {"_apps_create_namespace_now": True}),
    "apps-workshop-ingress": ("apps", {"apps_preset": "workshop", "apps_ingress_enabled": True}, {"_apps_create_namespace_now": False}),
    "apps-usermgmt": ("apps", USERMGMT, {"_apps_create_namespace_now": False}),
    "apps-usermgmt-ingress": ("apps", dict(USERMGMT, apps_ingress_enabled=True), {"_apps_create_namespace_now": True}),
    "chaos": ("chaos", {}, {}),
    "irsa": ("irsa", {"xray_region": "eu-west-1", "irsa_issuer": ISSUER},
             {"_irsa_create_namespace_now": True, "_irsa_annotation_role_arn": ROLE_ARN}),
    "irsa-pod-identity": ("irsa", {"xray_region": "eu-west-1", "xray_cluster_name": "example", "irsa_mode": "pod_identity"},
                          {"_irsa_create_namespace_now": False, "_irsa_annotation_role_arn": ROLE_ARN}),
}

# What tasks/present.yml renders besides manifests.yml.j2 (the same lookups).
ROLE_RENDER_VARS = {
    "daemon": {"_daemon_config_text": "{{ lookup('ansible.builtin.template', '%s/' ~ _daemon_flavor_config_template) }}"
                                      % (ROOT / "roles/daemon/templates")},
    "chaos": {"_chaos_script": "{{ lookup('ansible.builtin.file', '%s') }}" % (ROOT / "roles/chaos/files/randomizer.py")},
}


def _playbook(out: Path) -> list:
    tasks = []
    for name, (role, inputs, computed) in SCENARIOS.items():
        template = str(ROOT / "roles" / role / "templates" / "manifests.yml.j2")
        tasks.append({
            "name": f"{name}: the role's pre-check, its defaults and vars",
            "ansible.builtin.include_role": {"name": f"tracing.xray.{role}", "tasks_from": "validate.yml", "public": True},
            "vars": inputs,
        })
        tasks.append({
            "name": f"{name}: render manifests.yml.j2",
            "ansible.builtin.set_fact": {
                "rendered": "{{ rendered | combine({%s: lookup('ansible.builtin.template', %s) | ansible.builtin.from_yaml_all | list}) }}"
                            % (json.dumps(name), json.dumps(template)),
            },
            "vars": dict(inputs, **computed, **ROLE_RENDER_VARS.get(role, {})),
        })
    tasks.append({"name": "Write the rendered objects",
                  "ansible.builtin.copy": {"dest": str(out), "content": "{{ rendered | to_json }}", "mode": "0600"}})
    return [{"name": "Render the manifests of every role", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "rendered": {}}, "tasks": tasks}]


def render(out_dir: str | os.PathLike | None = None) -> dict[str, list[dict]]:
    """Render every scenario; write ``<scenario>.yml`` files into out_dir when given. Returns {scenario: objects}."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rendered.json"
        play = Path(tmp) / "render.yml"
        play.write_text(yaml.safe_dump(_playbook(out), sort_keys=False), encoding="utf-8")
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
        proc = subprocess.run([str(PLAYBOOK_BIN), "-i", "localhost,", str(play)], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"rendering failed (rc {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
        rendered = json.loads(out.read_text(encoding="utf-8"))
    if out_dir is not None:
        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name, objects in rendered.items():
            (target / f"{name}.yml").write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")
    return rendered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="directory for <scenario>.yml")
    args = parser.parse_args()
    rendered = render(args.out_dir)
    for name, objects in rendered.items():
        print(f"{name}: {', '.join(o['kind'] + '/' + o['metadata']['name'] for o in objects)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
