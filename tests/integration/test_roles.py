"""The ``daemon``, ``apps``, ``chaos`` and ``cleanup`` roles against the sandbox (a real kube-apiserver with kwok
nodes), driven through ``ansible-playbook`` with the sandbox inventory; results are read back with the
Kubernetes client. Every test works in namespaces of its own (unique per run) and removes what it creates.

Pods on the kwok nodes are simulated; the sandbox's real node runs the rest as containers (tests/integration/
test_real_node.py checks what only a real node shows). What these tests check for real: the API server (server-side
apply, admission, RBAC, the DaemonSet/Deployment controllers, the scheduler's hostPort checks), the X-Ray daemon binary
of the sandbox build cache (it must accept the cfg.yaml the role renders), and the chaos randomizer's own code,
authenticated as its ServiceAccount.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time

import kubernetes
import pytest
from plays import role_play
import yaml

SUFFIX = secrets.token_hex(3)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The sample app's images as the sandbox imports them (the workshop preset's names).
FRONT_IMAGE = "docker.io/rnzdocker1/eks-workshop-x-ray-sample-front:ba01b042766edb5fc794733b0af28d92d99b63dd"
BACK_IMAGE = "docker.io/rnzdocker1/eks-workshop-x-ray-sample-back:ba01b042766edb5fc794733b0af28d92d99b63dd"
# A hostPort nobody else uses, so these tests never compete with a DaemonSet on 2000.
TEST_PORT = 20000 + int(SUFFIX, 16) % 9000


def _cleanup_play(roles, daemon_ns="it-none", apps_ns="it-none", extra=()):
    """tracing.xray.cleanup for the given roles; like site.yml, it reaches them through the cluster-wide inputs."""
    return role_play("cleanup", cleanup_roles=roles, cleanup_namespaces=[daemon_ns, apps_ns, *extra],
                     xray_namespace=daemon_ns, xray_apps_namespace=apps_ns)


@pytest.fixture(scope="module")
def kube(sandbox):
    api_client = kubernetes.config.new_client_from_config(config_file=sandbox["kubeconfig"], persist_config=False)
    return {
        "core": kubernetes.client.CoreV1Api(api_client),
        "apps": kubernetes.client.AppsV1Api(api_client),
        "rbac": kubernetes.client.RbacAuthorizationV1Api(api_client),
        "sandbox": sandbox,
    }


@pytest.fixture
def play(run_playbook, repo):
    """Run a playbook against the sandbox inventory; fail the test with the output when asked to succeed."""

    def _play(text, expect_ok=True, **kw):
        result = run_playbook(text, inventory=os.path.join(repo, "inventories", "sandbox"), **kw)
        if expect_ok:
            assert result.rc == 0 and result.failed() == 0, result.explain()
        return result

    return _play


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- daemon ------------------------------------------------------------------------------------

def test_daemon_rollout_idempotence_and_checksum_roll(play, kube):
    ns = f"it-daemon-{SUFFIX}"
    base = dict(daemon_namespace=ns, daemon_create_service_account=True, daemon_port=TEST_PORT, daemon_wait_delay=1)
    try:
        first = play(role_play("daemon", **base))
        assert first.changed() >= 1
        again = play(role_play("daemon", **base))
        assert again.changed() == 0, again.explain()

        ds = kube["apps"].read_namespaced_daemon_set("xray-daemon", ns)
        nodes = [n.metadata.name for n in kube["core"].list_node(label_selector="kubernetes.io/os=linux").items]
        assert ds.status.desired_number_scheduled == len(nodes) == ds.status.number_ready
        container = ds.spec.template.spec.containers[0]
        assert container.command is None, "no path inside the image may be assumed"
        assert container.image.startswith("public.ecr.aws/xray/aws-xray-daemon:")
        assert {(p.protocol, p.host_port) for p in container.ports} == {("UDP", TEST_PORT), ("TCP", TEST_PORT)}
        sc = container.security_context
        assert sc.read_only_root_filesystem and not sc.allow_privilege_escalation and sc.capabilities.drop == ["ALL"]
        assert ds.spec.template.spec.security_context.run_as_non_root
        for obj in (ds, kube["core"].read_namespaced_service("xray-service", ns),
                    kube["core"].read_namespaced_config_map("xray-config", ns)):
            assert obj.metadata.labels["app.kubernetes.io/managed-by"] == "tracing.xray"
            assert obj.metadata.labels["app.kubernetes.io/part-of"] == "tracing-xray"

        before = ds.spec.template.metadata.annotations["tracing.xray/config-checksum"]
        pods_before = {p.metadata.name for p in kube["core"].list_namespaced_pod(ns).items}
        play(role_play("daemon", daemon_log_level="debug", **base))
        ds = kube["apps"].read_namespaced_daemon_set("xray-daemon", ns)
        assert ds.spec.template.metadata.annotations["tracing.xray/config-checksum"] != before
        pods_after = {p.metadata.name for p in kube["core"].list_namespaced_pod(ns).items
                      if p.metadata.deletion_timestamp is None}
        assert pods_after and not pods_after & pods_before, "a config change rolls every daemon pod"
    finally:
        play(_cleanup_play(["daemon"], daemon_ns=ns))
    assert ns not in {n.metadata.name for n in kube["core"].list_namespace().items}


def test_daemon_wait_names_the_nodes_without_a_ready_pod(play, kube):
    """Two daemons of ours on one hostPort (two inventory hosts on one cluster). The port clash check refuses the
    second before any change; with the check off, the second cannot be scheduled, and the wait's failure says where
    and why."""
    ns_a, ns_b = f"it-daemon-a-{SUFFIX}", f"it-daemon-b-{SUFFIX}"
    port = TEST_PORT + 1
    common = dict(daemon_create_service_account=True, daemon_port=port, daemon_wait_delay=1)
    try:
        play(role_play("daemon", daemon_namespace=ns_a, **common))
        refused = play(role_play("daemon", daemon_namespace=ns_b, daemon_name="xray-daemon-b", **common), expect_ok=False)
        assert refused.rc != 0
        assert (f"another collector already listens on the nodes on port(s) {port}: DaemonSet {ns_a}/xray-daemon "
                in refused.stdout), refused.stdout
        assert ns_b not in {n.metadata.name for n in kube["core"].list_namespace().items}, "refused before any change"

        result = play(role_play("daemon", daemon_namespace=ns_b, daemon_name="xray-daemon-b", daemon_clash_check=False,
                                daemon_wait_timeout=6, **common), expect_ok=False)
        assert result.rc != 0
        text = result.stdout
        assert "did not become ready within 6s" in text
        for node in kube["sandbox"]["node_names"]:
            assert node in text
        assert "free ports" in text, "the scheduler's reason is part of the message"
    finally:
        play(_cleanup_play(["daemon"], daemon_ns=ns_a))
        play(role_play("cleanup", cleanup_roles=["daemon"], cleanup_namespaces=[ns_b], xray_namespace=ns_b,
                       daemon_name="xray-daemon-b"))


def test_daemon_rejects_bad_input_before_any_change(play, kube):
    ns = f"it-daemon-bad-{SUFFIX}"
    result = play(role_play("daemon", daemon_namespace=ns, daemon_region="mars-1", daemon_buffer_size_mb=2,
                            daemon_role_arn="not-an-arn"), expect_ok=False)
    assert result.rc != 0
    for field in ("daemon_region", "daemon_buffer_size_mb", "daemon_role_arn"):
        assert field in result.stdout
    assert ns not in {n.metadata.name for n in kube["core"].list_namespace().items}



def test_daemon_and_apps_fail_on_a_namespace_or_service_account_that_must_exist(play, kube):
    """A namespace the role may not create, and the ServiceAccount the daemon does not create, must exist: the failure
    names the variable and nothing is applied."""
    ns = f"it-required-{SUFFIX}"
    result = play(role_play("daemon", daemon_namespace=ns, daemon_create_namespace=False, daemon_port=TEST_PORT),
                  expect_ok=False)
    assert (f"tracing.xray.daemon: namespace {ns} does not exist and daemon_create_namespace is false. Create it first"
            " (tracing.xray.irsa does) or set daemon_create_namespace: true.") in result.failure_message(), result.explain()
    result = play(role_play("apps", apps_namespace=ns, apps_create_namespace=False), expect_ok=False)
    assert f"tracing.xray.apps: namespace {ns} does not exist and apps_create_namespace is false." in result.failure_message(), \
        result.explain()
    assert ns not in {n.metadata.name for n in kube["core"].list_namespace().items}

    kube["core"].create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=ns)))
    try:
        result = play(role_play("daemon", daemon_namespace=ns, daemon_create_namespace=False,
                                daemon_create_service_account=False, daemon_service_account_name="xray-daemon-it",
                                daemon_port=TEST_PORT), expect_ok=False)
        assert (f"tracing.xray.daemon: ServiceAccount {ns}/xray-daemon-it does not exist. Run tracing.xray.irsa first"
                ) in result.failure_message(), result.explain()
        assert result.changed() == 0, result.explain()
        assert kube["apps"].list_namespaced_daemon_set(ns).items == []
        assert kube["core"].list_namespaced_config_map(ns, label_selector="app.kubernetes.io/managed-by").items == []
        # with the ServiceAccount in place the same inputs pass the check (the rollout is not waited for)
        kube["core"].create_namespaced_service_account(
            ns, kubernetes.client.V1ServiceAccount(metadata=kubernetes.client.V1ObjectMeta(name="xray-daemon-it")))
        play(role_play("daemon", daemon_namespace=ns, daemon_create_namespace=False, daemon_create_service_account=False,
                       daemon_service_account_name="xray-daemon-it", daemon_port=TEST_PORT, daemon_wait=False))
    finally:
        play(role_play("cleanup", cleanup_roles=["daemon"], cleanup_namespaces=[ns], xray_namespace=ns))
        try:
            kube["core"].delete_namespace(ns)
        except kubernetes.client.exceptions.ApiException as e:
            if e.status != 404:
                raise


def test_daemon_config_is_accepted_by_the_real_daemon(play, kube, tmp_path):
    """The cfg.yaml the role renders (with RoleARN and Endpoint) starts the real X-Ray daemon of the sandbox."""
    from sandbox import gobuild  # noqa: PLC0415 - the sandbox's build cache (conftest puts the checkout on sys.path)

    binary = gobuild.binaries()["xray"]
    if not os.access(binary, os.X_OK):
        pytest.skip(f"the sandbox's X-Ray daemon is not built ({binary})")
    ns = f"it-daemon-cfg-{SUFFIX}"
    try:
        play(role_play("daemon", daemon_namespace=ns, daemon_create_service_account=True, daemon_port=TEST_PORT + 2,
                       daemon_role_arn="arn:aws:iam::123456789012:role/xray-cross-account", daemon_wait=False))
        cfg = kube["core"].read_namespaced_config_map("xray-config", ns).data["cfg.yaml"]
    finally:
        play(_cleanup_play(["daemon"], daemon_ns=ns))
    assert "Version: 2" in cfg and "Region: " in cfg and "RoleARN: arn:aws:iam::123456789012:role/xray-cross-account" in cfg
    port = _free_port()
    path = tmp_path / "cfg.yaml"
    path.write_text(cfg.replace(f"0.0.0.0:{TEST_PORT + 2}", f"127.0.0.1:{port}"), encoding="utf-8")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y")
    proc = subprocess.Popen([binary, "--config", str(path), "--local-mode"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        time.sleep(2)
        assert proc.poll() is None, f"the daemon exited on our cfg.yaml:\n{proc.stdout.read()}"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert f"Listening on UDP 127.0.0.1:{port}" in out or "Using region" in out, out


# --- apps --------------------------------------------------------------------------------------

def test_apps_usermgmt_credentials_only_in_a_secret(play, kube):
    ns = f"it-apps-um-{SUFFIX}"
    password, smtp_password = f"pw-{secrets.token_hex(8)}", f"smtp-{secrets.token_hex(8)}"
    task_vars = dict(apps_namespace=ns, apps_preset="usermgmt", apps_usermgmt_db_password=password,
                     apps_usermgmt_smtp_username="smtp-user", apps_usermgmt_smtp_password=smtp_password,
                     apps_ingress_enabled=True, apps_wait_delay=1,
                     # the usermgmt images (Java services) are not built into the sandbox: on the real node their
                     # pods stay in ImagePullBackOff, so this test of where credentials go does not wait for them
                     apps_wait=False)
    try:
        first = play(role_play("apps", **task_vars))
        again = play(role_play("apps", **task_vars))
        assert again.changed() == 0, again.explain()
        for text in (first.stdout, first.stderr, again.stdout):
            for secret in (password, smtp_password):
                assert secret not in text
                assert base64.b64encode(secret.encode()).decode() not in text

        stored = kube["core"].read_namespaced_secret("usermgmt-restapp-env", ns)
        assert base64.b64decode(stored.data["DB_PASSWORD"]).decode() == password
        for dep in kube["apps"].list_namespaced_deployment(ns).items:
            env = dep.spec.template.spec.containers[0].env
            names = {e.name: e for e in env}
            assert {"AWS_XRAY_TRACING_NAME", "AWS_XRAY_DAEMON_ADDRESS", "AWS_XRAY_CONTEXT_MISSING"} <= set(names)
            assert names["XRAY_DAEMON_HOST"].value_from.field_ref.field_path == "status.hostIP"
            for entry in env:
                assert entry.value not in (password, smtp_password)
            secret_refs = [e for e in env if e.value_from and e.value_from.secret_key_ref]
            assert secret_refs, f"{dep.metadata.name} reads its credentials from the Secret"
        ingress = kubernetes.client.NetworkingV1Api(kube["core"].api_client).read_namespaced_ingress("xray-apps", ns)
        assert ingress.spec.ingress_class_name == "alb"
        assert ingress.metadata.annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    finally:
        play(_cleanup_play(["apps"], apps_ns=ns))
    assert ns not in {n.metadata.name for n in kube["core"].list_namespace().items}


def test_apps_service_address_mode_and_own_list(play, kube):
    ns = f"it-apps-own-{SUFFIX}"
    # the sandbox's sample image (imported into the real node's containerd): the pods really start
    services = [
        {"name": "web", "image": FRONT_IMAGE, "port": 8080, "calls": ["api"], "replicas": 2, "env": {"GREETING": "hi"}},
        {"name": "api", "image": BACK_IMAGE, "port": 9090, "service_port": 80, "env": {"SAMPLE_PORT": "9090"}},
    ]
    try:
        play(role_play("apps", apps_namespace=ns, apps_services=services, apps_daemon_address_mode="service",
                       apps_daemon_service_address="xray-service.xray-system:2000", apps_wait_delay=1))
        web = kube["apps"].read_namespaced_deployment("web", ns)
        env = {e.name: e.value for e in web.spec.template.spec.containers[0].env}
        assert env["AWS_XRAY_DAEMON_ADDRESS"] == "xray-service.xray-system:2000"
        assert env["DOWNSTREAM_URLS"] == f"http://api.{ns}.svc:80"
        assert env["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR" and env["GREETING"] == "hi"
        assert web.status.ready_replicas == 2
    finally:
        play(_cleanup_play(["apps"], apps_ns=ns))


def test_apps_rejects_bad_entries_naming_the_field(play, kube):
    ns = f"it-apps-bad-{SUFFIX}"
    services = [{"name": "Bad_Name", "image": "x", "port": 80, "calls": ["nobody"],
                 "env": {"AWS_XRAY_DAEMON_ADDRESS": "1.2.3.4:2000"}}]
    result = play(role_play("apps", apps_namespace=ns, apps_services=services), expect_ok=False)
    assert result.rc != 0
    assert "apps_services[0]: name must be a DNS-1035 label" in result.stdout
    assert "calls must name other services" in result.stdout
    assert "AWS_XRAY_DAEMON_ADDRESS are set by the role" in result.stdout
    assert ns not in {n.metadata.name for n in kube["core"].list_namespace().items}


# --- chaos -------------------------------------------------------------------------------------

def test_chaos_rbac_randomizer_and_absent(play, kube, repo, tmp_path):
    ns = f"it-chaos-{SUFFIX}"
    other = f"it-chaos-other-{SUFFIX}"
    core = kube["core"]
    try:
        play(role_play("apps", apps_namespace=ns, apps_wait_delay=1))
        play(role_play("apps", apps_namespace=other, apps_preset="none", apps_wait_delay=1,
                       apps_services=[{"name": "bystander", "image": BACK_IMAGE, "port": 8080}]))
        play(role_play("chaos", chaos_namespace=ns, chaos_wait_delay=1))

        role = kube["rbac"].read_namespaced_role("xray-chaos", ns)
        assert [(r.resources, sorted(r.verbs)) for r in role.rules] == [(["pods"], ["delete", "get", "list"])]
        assert not [b for b in kube["rbac"].list_cluster_role_binding().items
                    if any(s.name == "xray-chaos" for s in b.subjects or [])]

        # The randomizer's own code, authenticated as its ServiceAccount (as the in-cluster pod would be).
        token = core.create_namespaced_service_account_token(
            "xray-chaos", ns, {"spec": {"audiences": [kube["sandbox"]["oidc_issuer"]], "expirationSeconds": 600}}
        ).status.token
        token_file = tmp_path / "token"
        token_file.write_text(token, encoding="utf-8")
        with open(kube["sandbox"]["kubeconfig"], encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        argv = [sys.executable, os.path.join(repo, "roles", "chaos", "files", "randomizer.py"), "--once",
                "--server", cluster["server"], "--token-file", str(token_file), "--ca-file", cluster["certificate-authority"]]
        selector = "app.kubernetes.io/part-of=tracing-xray,app.kubernetes.io/component=apps"

        def randomizer(*extra):
            return subprocess.run(argv + list(extra), capture_output=True, text=True, check=False)

        before = {p.metadata.name for p in core.list_namespaced_pod(ns, label_selector=selector).items}
        dry = randomizer("--namespace", ns, "--selector", selector, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout.splitlines()[-1])["event"] == "would-delete"
        assert {p.metadata.name for p in core.list_namespaced_pod(ns, label_selector=selector).items
                if p.metadata.deletion_timestamp is None} == before

        strike = randomizer("--namespace", ns, "--selector", selector)
        assert strike.returncode == 0, strike.stderr
        victim = json.loads(strike.stdout.splitlines()[-1])["pod"]
        assert victim in before

        denied = randomizer("--namespace", other, "--selector", selector)
        assert denied.returncode != 0 and "403" in denied.stderr, "the Role is namespaced"
        assert core.list_namespaced_pod(other).items, "nothing was deleted in the other namespace"

        nothing = randomizer("--namespace", ns, "--selector", "app=nothing-matches")
        assert nothing.returncode == 3

        deadline = time.time() + 60
        while time.time() < deadline:
            pods = core.list_namespaced_pod(ns, label_selector=selector).items
            ready = [p for p in pods if p.metadata.deletion_timestamp is None and any(
                c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
            if victim not in {p.metadata.name for p in pods} and len(ready) == len(before):
                break
            time.sleep(1)
        else:
            pytest.fail(f"the apps did not return to {len(before)} ready pods after {victim} was deleted")

        play(role_play("chaos", chaos_namespace=ns, chaos_state="absent", chaos_wait_delay=1))
        left = kube["apps"].list_namespaced_deployment(ns, label_selector="app.kubernetes.io/component=chaos").items
        assert not left
        assert not [r for r in kube["rbac"].list_namespaced_role(ns).items if r.metadata.name == "xray-chaos"]
    finally:
        play(_cleanup_play(["chaos", "apps"], apps_ns=ns))
        play(_cleanup_play(["apps"], apps_ns=other))


# --- cleanup -----------------------------------------------------------------------------------

def test_cleanup_keeps_a_namespace_with_foreign_objects(play, kube):
    ns = f"it-cleanup-{SUFFIX}"
    core = kube["core"]
    try:
        play(role_play("apps", apps_namespace=ns, apps_wait_delay=1))
        core.create_namespaced_config_map(ns, {"metadata": {"name": "not-ours"}, "data": {"a": "b"}})
        result = play(_cleanup_play(["apps"], apps_ns=ns))
        assert "holds ConfigMap/not-ours" in result.stdout
        assert core.read_namespace(ns).status.phase == "Active"
        assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items
                if c.metadata.name != "kube-root-ca.crt"] == ["not-ours"]
        assert not kube["apps"].list_namespaced_deployment(ns).items
        assert not core.list_namespaced_pod(ns).items
    finally:
        core.delete_namespace(ns)


def test_cleanup_names_what_of_ours_is_left_in_a_kept_namespace_and_not_in_a_deleted_one(play, kube):
    """The final check lists our labelled objects in every namespace still there; a namespace the cleanup deleted and
    saw gone holds nothing any more, so it is not listed again (issue 15) and its objects went with it."""
    kept, deleted = f"it-left-{SUFFIX}", f"it-gone-{SUFFIX}"
    core = kube["core"]
    ours = {"app.kubernetes.io/managed-by": "tracing.xray"}
    try:
        for ns in (kept, deleted):
            core.create_namespace({"metadata": {"name": ns, "labels": ours}})
            core.create_namespaced_config_map(ns, {"metadata": {"name": "ours-left", "labels": ours}, "data": {"a": "b"}})
        core.create_namespaced_config_map(kept, {"metadata": {"name": "not-ours"}, "data": {"a": "b"}})
        result = play(role_play("cleanup", cleanup_roles=[], cleanup_namespaces=[kept, deleted]), expect_ok=False)
        assert result.rc != 0
        assert f"are left: ConfigMap {kept}/ours-left." in result.stdout, result.explain()
        assert deleted not in result.stdout.split("are left:")[1].split("\n")[0]
        assert [n.metadata.name for n in core.list_namespace().items if n.metadata.name in (kept, deleted)] == [kept]
    finally:
        for ns in (kept, deleted):
            try:
                core.delete_namespace(ns)
            except kubernetes.client.exceptions.ApiException:
                pass


# --- the randomizer's selection, without a cluster ------------------------------------------------

def test_randomizer_candidates_skip_itself_terminating_and_not_running():
    spec = importlib.util.spec_from_file_location("randomizer", os.path.join(REPO, "roles", "chaos", "files",
                                                                             "randomizer.py"))
    randomizer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(randomizer)
    pods = [
        {"metadata": {"name": "a"}, "status": {"phase": "Running"}},
        {"metadata": {"name": "b", "deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running"}},
        {"metadata": {"name": "c"}, "status": {"phase": "Pending"}},
        {"metadata": {"name": "me"}, "status": {"phase": "Running"}},
        {"metadata": {"name": "d"}, "status": {"phase": "Running"}},
    ]
    assert randomizer.candidates(pods, "me") == ["a", "d"]
    with pytest.raises(SystemExit):
        randomizer.parse_args(["--selector", "a=b", "--interval-min", "10", "--interval-max", "5"])
    with pytest.raises(SystemExit):
        randomizer.parse_args(["--selector", ""])
