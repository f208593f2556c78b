"""The daemon role's collector flavors against the sandbox (a real kube-apiserver with kwok nodes): each flavor
converges, is idempotent and is torn down without leftovers; a live cluster switches xray -> cloudwatch-agent -> xray
with the DaemonSet Ready between the steps; a collector that is not ours on the same hostPort (the EKS add-on
amazon-cloudwatch-observability's agent) stops site.yml before any change.

SIMULATED: the CloudWatch agent image is neither pulled nor run here. Its DaemonSet is applied, scheduled and rolled
out on kwok nodes, which mark pods Ready without running them; its JSON configuration is checked against the agent's
documented keys in tests/unit/roles/test_daemon_flavors.py. REAL: the API server (server-side apply, the DaemonSet
controller's rolling update, the scheduler), the clash check's reads. Every test uses unique namespaces and a unique
high hostPort (except the clash test, which needs 2000 and stops before anything is applied).
"""

from __future__ import annotations

import json
import os
import secrets

import kubernetes
import pytest
from plays import role_play

SUFFIX = secrets.token_hex(3)
PORT = 24000 + int(SUFFIX, 16) % 900
OURS = "app.kubernetes.io/managed-by=tracing.xray"
CONTAINER = {"xray": "xray-daemon", "cloudwatch-agent": "cloudwatch-agent"}


# The CloudWatch agent's image cannot be built or pulled here, so the flavors are checked on the kwok nodes only
# (SIMULATED: the API server, scheduler and DaemonSet controller are real, the pods are marked Ready by kwok). The
# sandbox's real node lacks this label; the xray flavor runs there for real in test_real_node.py.
KWOK_NODES = {"node-role.kubernetes.io/agent": ""}

@pytest.fixture(scope="module")
def kube(sandbox):
    api_client = kubernetes.config.new_client_from_config(config_file=sandbox["kubeconfig"], persist_config=False)
    return {"core": kubernetes.client.CoreV1Api(api_client), "apps": kubernetes.client.AppsV1Api(api_client), "sandbox": sandbox}


@pytest.fixture
def play(run_playbook, repo):
    def _play(text, expect_ok=True, **kw):
        result = run_playbook(text, inventory=os.path.join(repo, "inventories", "sandbox"), **kw)
        if expect_ok:
            assert result.rc == 0 and result.failed() == 0, result.explain()
        return result
    return _play


def teardown(play, ns):
    return play(role_play("cleanup", cleanup_roles=["daemon"], cleanup_namespaces=[ns], xray_namespace=ns))



def assert_rolled_out(kube, ns, flavor):
    ds = kube["apps"].read_namespaced_daemon_set("xray-daemon", ns)
    # the nodes the tests' DaemonSets select (KWOK_NODES)
    nodes = kube["core"].list_node(label_selector=",".join(f"{key}={value}" for key, value in KWOK_NODES.items())).items
    status = ds.status
    assert status.desired_number_scheduled == len(nodes) == status.number_ready == status.updated_number_scheduled, status
    assert [c.name for c in ds.spec.template.spec.containers] == [CONTAINER[flavor]]
    pods = [p for p in kube["core"].list_namespaced_pod(ns).items if p.metadata.deletion_timestamp is None]
    assert {c.name for p in pods for c in p.spec.containers} == {CONTAINER[flavor]}, "only the current flavor's pods run"
    return ds


def nothing_of_ours(kube, ns):
    names = {n.metadata.name for n in kube["core"].list_namespace().items}
    if ns in names:
        assert not kube["apps"].list_namespaced_daemon_set(ns, label_selector=OURS).items
        assert not kube["core"].list_namespaced_service(ns, label_selector=OURS).items
        assert not kube["core"].list_namespaced_config_map(ns, label_selector=OURS).items
        assert not kube["core"].list_namespaced_pod(ns, label_selector=OURS).items
    return ns not in names


@pytest.mark.parametrize("flavor", ["xray", "cloudwatch-agent"])
def test_flavor_converges_is_idempotent_and_tears_down(play, kube, flavor):
    ns = f"it-flavor-{flavor}-{SUFFIX}"
    base = dict(daemon_namespace=ns, daemon_create_service_account=True, daemon_port=PORT + (flavor == "xray"),
                daemon_wait_delay=1, daemon_flavor=flavor, daemon_node_selector=KWOK_NODES)
    try:
        first = play(role_play("daemon", **base))
        assert first.changed() >= 1
        again = play(role_play("daemon", **base))
        assert again.changed() == 0, again.explain()
        ds = assert_rolled_out(kube, ns, flavor)
        cm = kube["core"].read_namespaced_config_map("xray-config", ns)
        if flavor == "cloudwatch-agent":
            config = json.loads(cm.data["cwagentconfig.json"])
            assert config["traces"]["traces_collected"]["xray"]["bind_address"] == f"0.0.0.0:{base['daemon_port']}"
            assert ds.spec.template.spec.containers[0].image.startswith("public.ecr.aws/cloudwatch-agent/cloudwatch-agent:")
        else:
            assert "cfg.yaml" in cm.data
        svc = kube["core"].read_namespaced_service("xray-service", ns)
        assert {(p.name, p.protocol, p.port) for p in svc.spec.ports} == {
            ("xray-udp", "UDP", base["daemon_port"]), ("xray-tcp", "TCP", base["daemon_port"])}
    finally:
        result = teardown(play, ns)
    assert result.rc == 0, result.explain()
    assert nothing_of_ours(kube, ns)


def test_switch_xray_to_cloudwatch_agent_and_back(play, kube):
    ns = f"it-flavor-switch-{SUFFIX}"
    base = dict(daemon_namespace=ns, daemon_create_service_account=True, daemon_port=PORT + 2, daemon_wait_delay=1,
                daemon_node_selector=KWOK_NODES)
    try:
        play(role_play("daemon", daemon_flavor="xray", **base))
        before = assert_rolled_out(kube, ns, "xray")
        uid = before.metadata.uid
        switched = play(role_play("daemon", daemon_flavor="cloudwatch-agent", daemon_otlp_enabled=True,
                                  daemon_otlp_grpc_port=PORT + 3, daemon_otlp_http_port=PORT + 4, **base))
        assert switched.changed() >= 1
        agent = assert_rolled_out(kube, ns, "cloudwatch-agent")
        assert agent.metadata.uid == uid, "same DaemonSet, same selector: one rolling update, not delete and create"
        assert agent.spec.template.metadata.annotations["tracing.xray/config-checksum"] != (
            before.spec.template.metadata.annotations["tracing.xray/config-checksum"])
        svc = kube["core"].read_namespaced_service("xray-service", ns)
        assert {p.name for p in svc.spec.ports} == {"xray-udp", "xray-tcp", "otlp-grpc", "otlp-http"}
        cm = kube["core"].read_namespaced_config_map("xray-config", ns)
        assert set(cm.data) == {"cwagentconfig.json"}, "server-side apply drops the other flavor's config key"

        play(role_play("daemon", daemon_flavor="xray", **base))
        back = assert_rolled_out(kube, ns, "xray")
        assert back.metadata.uid == uid
        assert set(kube["core"].read_namespaced_config_map("xray-config", ns).data) == {"cfg.yaml"}
        assert {p.name for p in kube["core"].read_namespaced_service("xray-service", ns).spec.ports} == {"xray-udp", "xray-tcp"}
    finally:
        result = teardown(play, ns)
    assert result.rc == 0, result.explain()
    assert nothing_of_ours(kube, ns)


def test_our_daemonset_with_another_selector_is_replaced(play, kube):
    """A DaemonSet of ours whose selector differs (another flavor's, an older release's) is deleted, then created."""
    ns = f"it-flavor-selector-{SUFFIX}"
    labels = {"app.kubernetes.io/managed-by": "tracing.xray", "app.kubernetes.io/component": "daemon",
              "app.kubernetes.io/instance": "xray-daemon", "app.kubernetes.io/name": "old-collector"}
    base = dict(daemon_namespace=ns, daemon_create_service_account=True, daemon_port=PORT + 5, daemon_wait_delay=1,
                daemon_node_selector=KWOK_NODES)
    try:
        kube["core"].create_namespace({"metadata": {"name": ns, "labels": {"app.kubernetes.io/managed-by": "tracing.xray"}}})
        selector = {"app.kubernetes.io/name": "old-collector", "app.kubernetes.io/instance": "xray-daemon"}
        kube["apps"].create_namespaced_daemon_set(ns, {
            "metadata": {"name": "xray-daemon", "labels": labels},
            "spec": {"selector": {"matchLabels": selector}, "template": {"metadata": {"labels": labels}, "spec": {
                "containers": [{"name": "old", "image": "old:1", "ports": [{"containerPort": PORT + 5, "hostPort": PORT + 5, "protocol": "UDP"}]}]}}}})
        play(role_play("daemon", **base))
        ds = assert_rolled_out(kube, ns, "xray")
        assert ds.spec.selector.match_labels["app.kubernetes.io/name"] == "aws-xray-daemon"
    finally:
        result = teardown(play, ns)
    assert result.rc == 0, result.explain()
    assert nothing_of_ours(kube, ns)


def test_foreign_collector_on_2000_stops_site_before_any_change(play, kube, repo, sandbox):
    """The EKS add-on's agent (namespace amazon-cloudwatch, hostPorts 4315, 4316, 2000) stops site.yml in its first step.
    Its nodeSelector matches no node, so the DaemonSet holds port 2000 in its spec without competing with anything."""
    core, apps = kube["core"], kube["apps"]
    addon_ns, ns = "amazon-cloudwatch", f"it-flavor-clash-{SUFFIX}"
    image = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300062.0b1304"
    created_ns = addon_ns not in {n.metadata.name for n in core.list_namespace().items}
    if created_ns:
        core.create_namespace({"metadata": {"name": addon_ns}})
    name = f"cloudwatch-agent-{SUFFIX}"
    labels = {"app.kubernetes.io/name": "cloudwatch-agent", "app.kubernetes.io/managed-by": "amazon-cloudwatch-agent-operator"}
    apps.create_namespaced_daemon_set(addon_ns, {
        "metadata": {"name": name, "labels": labels},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "cloudwatch-agent", "it": SUFFIX}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "cloudwatch-agent", "it": SUFFIX}}, "spec": {
                     "nodeSelector": {"tracing.xray/no-such-node": "true"},
                     "containers": [{"name": "cloudwatch-agent", "image": image, "ports": [
                         {"containerPort": 4315, "hostPort": 4315, "protocol": "TCP"},
                         {"containerPort": 4316, "hostPort": 4316, "protocol": "TCP"},
                         {"containerPort": 2000, "hostPort": 2000, "protocol": "UDP"}]}]}}}})
    role = f"xray-it-flavor-{SUFFIX}"
    try:
        site = json.dumps([{"name": "site.yml", "ansible.builtin.import_playbook": os.path.join(repo, "playbooks", "site.yml")}], indent=1)
        run = play(site, expect_ok=False, extra_vars={
            "xray_namespace": ns, "irsa_role_name": role, "xray_groups_enabled": False, "xray_apps_enabled": False,
            "xray_verify_enabled": False, "daemon_wait_delay": 1})
        assert run.rc != 0 and run.changed() == 0, run.explain()
        message = run.failure_message()
        for fragment in (f"DaemonSet {addon_ns}/{name}", image, "2000/UDP", "xray_daemon_enabled: false",
                         "apps_daemon_service_address"):
            assert fragment in message, message or run.explain()
        tasks = list(run.results())
        assert not any(t.startswith("tracing.xray.irsa :") and "Create" in t for t in tasks)
        assert ns not in {n.metadata.name for n in core.list_namespace().items}, "nothing was created"
        import boto3  # noqa: PLC0415
        iam = boto3.client("iam", endpoint_url=sandbox["aws_endpoint_url"], region_name=sandbox["region"],
                           aws_access_key_id=sandbox["aws_access_key_id"], aws_secret_access_key=sandbox["aws_secret_access_key"])
        assert role not in [r["RoleName"] for r in iam.list_roles()["Roles"]]

        # The way out: the daemon step off; site.yml then goes past the check (irsa only here).
        ok = play(site, extra_vars={"xray_namespace": ns, "irsa_role_name": role, "xray_daemon_enabled": False,
                                    "xray_groups_enabled": False, "xray_apps_enabled": False, "xray_verify_enabled": False})
        assert ok.rc == 0, ok.explain()
    finally:
        apps.delete_namespaced_daemon_set(name, addon_ns)
        if created_ns:
            core.delete_namespace(addon_ns)
        play(role_play("cleanup", cleanup_roles=["irsa"], cleanup_namespaces=[ns], xray_namespace=ns, irsa_role_name=role),
             expect_ok=False)
