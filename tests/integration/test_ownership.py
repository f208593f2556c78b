"""The ownership contract on the Kubernetes side (docs/ownership.md), against the sandbox's real API server:
objects with our names that we did not create stop the run before anything is applied, teardown leaves them and
says so, and ``xray_adopt`` takes one over on purpose. Also: site.yml checks every step's inputs before the first
change. AWS-side cases are in test_irsa_role.py (IAM role, policies) and test_groups_role.py (X-Ray groups, rules)."""

from __future__ import annotations

import json
import os
import secrets

import kubernetes
import pytest
from plays import connected_play, role_play

SUFFIX = secrets.token_hex(3)
PORT = 22000 + int(SUFFIX, 16) % 900


@pytest.fixture(scope="module")
def core(sandbox):
    return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=sandbox["kubeconfig"], persist_config=False))


@pytest.fixture(scope="module")
def apps_api(sandbox):
    return kubernetes.client.AppsV1Api(kubernetes.config.new_client_from_config(config_file=sandbox["kubeconfig"], persist_config=False))


@pytest.fixture
def play(run_playbook, repo):
    def _play(text, **kw):
        return run_playbook(text, inventory=os.path.join(repo, "inventories", "sandbox"), **kw)
    return _play


@pytest.fixture
def namespace(core):
    made = []

    def _make(base):
        name = f"it-own-{base}-{SUFFIX}"
        core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name)))
        made.append(name)
        return name
    yield _make
    for name in made:
        core.delete_namespace(name)



def foreign_objects(core, ns):
    """A team's ConfigMap and an app's Service, named like the daemon role's."""
    meta = kubernetes.client.V1ObjectMeta
    core.create_namespaced_config_map(ns, kubernetes.client.V1ConfigMap(metadata=meta(name="xray-config", labels={"team": "payments"}),
                                                                        data={"keep": "me"}))
    spec = kubernetes.client.V1ServiceSpec(selector={"app": "payments"}, ports=[kubernetes.client.V1ServicePort(port=80)])
    core.create_namespaced_service(ns, kubernetes.client.V1Service(metadata=meta(name="xray-service", labels={"team": "payments"}), spec=spec))


def test_foreign_config_map_and_service_stop_the_daemon_before_any_change(play, core, apps_api, namespace):
    ns = namespace("daemon")
    foreign_objects(core, ns)
    daemon = dict(daemon_namespace=ns, daemon_create_service_account=True, daemon_port=PORT, daemon_wait_delay=1)
    refused = play(role_play("daemon", **daemon))
    assert refused.rc != 0 and refused.changed() == 0, refused.explain()
    message = refused.failure_message()
    for fragment in (f"ConfigMap {ns}/xray-config (team=payments", f"Service {ns}/xray-service (team=payments",
                     f"'ConfigMap/{ns}/xray-config'", f"'Service/{ns}/xray-service'", "xray_adopt"):
        assert fragment in message, message
    assert apps_api.list_namespaced_daemon_set(ns).items == []
    assert core.read_namespaced_config_map("xray-config", ns).data == {"keep": "me"}
    assert core.read_namespaced_service("xray-service", ns).spec.selector == {"app": "payments"}

    # Teardown of the daemon: the foreign objects are reported and left, the run succeeds.
    cleanup = play(role_play("cleanup", cleanup_roles=["daemon"], cleanup_namespaces=[ns], xray_namespace=ns))
    assert cleanup.rc == 0, cleanup.explain()
    assert any("ConfigMap " + ns + "/xray-config" in w and "leaving it in place" in w for w in cleanup.warnings()), cleanup.explain()
    assert core.read_namespaced_config_map("xray-config", ns).data == {"keep": "me"}
    assert core.read_namespaced_service("xray-service", ns).spec.selector == {"app": "payments"}


def test_adopted_objects_are_taken_over_and_then_removed_as_ours(play, core, apps_api, namespace):
    ns = namespace("adopt")
    meta = kubernetes.client.V1ObjectMeta
    core.create_namespaced_config_map(ns, kubernetes.client.V1ConfigMap(metadata=meta(name="xray-config", labels={"team": "payments"}),
                                                                        data={"keep": "me"}))
    daemon = dict(daemon_namespace=ns, daemon_create_service_account=True, daemon_port=PORT + 1, daemon_wait=False,
                  xray_adopt=[f"ConfigMap/{ns}/xray-config"])
    adopted = play(role_play("daemon", **daemon))
    assert adopted.rc == 0, adopted.explain()
    labels = core.read_namespaced_config_map("xray-config", ns).metadata.labels
    assert labels["app.kubernetes.io/managed-by"] == "tracing.xray"
    assert apps_api.read_namespaced_daemon_set("xray-daemon", ns) is not None
    cleanup = play(role_play("cleanup", cleanup_roles=["daemon"], cleanup_namespaces=[ns], xray_namespace=ns, cleanup_delete_namespaces=False))
    assert cleanup.rc == 0, cleanup.explain()
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items if c.metadata.name == "xray-config"] == []


def test_bad_app_entry_fails_site_before_anything_is_created(play, core, sandbox, run_playbook, repo):
    ns_d, ns_a = f"it-own-site-d-{SUFFIX}", f"it-own-site-a-{SUFFIX}"
    site = json.dumps([{"name": "site.yml", "ansible.builtin.import_playbook": os.path.join(repo, "playbooks", "site.yml")}], indent=1)
    run = play(site, extra_vars={"xray_namespace": ns_d, "xray_apps_namespace": ns_a, "xray_verify_enabled": False,
                                 "apps_preset": "none", "apps_services": [{"name": "Bad_Name", "image": "x"}],
                                 "irsa_role_name": f"xray-it-own-{SUFFIX}"})
    assert run.rc != 0 and run.changed() == 0, run.explain()
    assert "tracing.xray.apps" in run.failure_message() or "apps_services" in run.failure_message(), run.explain()
    names = [n.metadata.name for n in core.list_namespace().items]
    assert ns_d not in names and ns_a not in names
    iam = sandbox_iam(sandbox)
    assert f"xray-it-own-{SUFFIX}" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


def sandbox_iam(sandbox):
    import boto3
    return boto3.client("iam", endpoint_url=sandbox["aws_endpoint_url"], region_name=sandbox["region"],
                        aws_access_key_id=sandbox["aws_access_key_id"], aws_secret_access_key=sandbox["aws_secret_access_key"])


def test_connected_play_is_what_site_uses(repo):
    """The tests' plays connect like the collection's playbooks: same vars file, same module_defaults groups."""
    import yaml
    with open(os.path.join(repo, "playbooks", "site.yml"), encoding="utf-8") as handle:
        site = yaml.safe_load(handle)[0]
    ours = connected_play("x")
    assert site["module_defaults"] == ours["module_defaults"]
    assert [os.path.basename(v) for v in site["vars_files"]] == [os.path.basename(v) for v in ours["vars_files"]]
