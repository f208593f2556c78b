"""The sandbox's real node: the roles' default manifests run as containers on a kubelet with containerd, and what
the kwok nodes could never show is checked here: the daemon's arguments and cfg.yaml executing, the node-local path
(status.hostIP -> hostPort -> daemon container -> AWS endpoint), the apps' environment wiring, the chaos pod deleting
real pods, and the daemon role's wait recognising real failures.

Real: kube-apiserver, kubelet, containerd/runc, CNI bridge + portmap, kube-proxy, CoreDNS, the X-Ray daemon and the
sample apps (images built locally, see sandbox/images.py). EMULATED: the AWS endpoint (moto + our X-Ray emulation).
Every test works in namespaces of its own and removes what it creates. Skipped when SANDBOX_REAL_NODES=0.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import kubernetes
import pytest
from plays import CONNECTED_YAML, role_play

SUFFIX = secrets.token_hex(3)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(REPO, "inventories", "sandbox")
FRONT, BACK = "x-ray-sample-front-k8s", "x-ray-sample-back-k8s"


@pytest.fixture(scope="module")
def real(sandbox):
    if not sandbox.get("real_nodes"):
        pytest.skip("the sandbox has no real node (SANDBOX_REAL_NODES=0)")
    api_client = kubernetes.config.new_client_from_config(config_file=sandbox["kubeconfig"], persist_config=False)
    yield {
        "sandbox": sandbox,
        "core": kubernetes.client.CoreV1Api(api_client),
        "apps": kubernetes.client.AppsV1Api(api_client),
        "node": sandbox["real_node_names"][0],
        "kubectl": [sandbox["kubectl"], "--kubeconfig", sandbox["kubeconfig"]],
    }
    api_client.close()


@pytest.fixture
def play(run_playbook):
    def _play(text, expect_ok=True, **kw):
        result = run_playbook(text, inventory=INVENTORY, **kw)
        if expect_ok:
            assert result.rc == 0 and result.failed() == 0, result.explain()
        return result

    return _play


def kubectl(real, *args, timeout=60, check=True):
    proc = subprocess.run([*real["kubectl"], *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc


def containerd_ids(real) -> set[str]:
    """Container IDs as containerd itself lists them (namespace k8s.io)."""
    out = subprocess.run(["ctr", "--address", real["sandbox"]["containerd_socket"], "-n", "k8s.io", "containers", "ls", "-q"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return set(out.split())


def assert_running_on_real_node(real, pods):
    ids = containerd_ids(real)
    for pod in pods:
        assert pod.spec.node_name == real["node"], f"{pod.metadata.name} is on {pod.spec.node_name}"
        for status in pod.status.container_statuses:
            assert status.started and status.ready, f"{pod.metadata.name}/{status.name}: {status.state}"
            runtime, cid = status.container_id.split("://", 1)
            assert runtime == "containerd" and cid in ids, f"{status.container_id} is not a containerd container"


def host_daemon_batches(sandbox) -> int:
    with open(sandbox["logs"]["xray"], encoding="utf-8", errors="replace") as handle:
        return sum(1 for line in handle if "Successfully sent batch" in line)


def aws(sandbox, service):
    return boto3.client(service, endpoint_url=sandbox["aws_endpoint_url"], region_name=sandbox["region"],
                        aws_access_key_id=sandbox["aws_access_key_id"], aws_secret_access_key=sandbox["aws_secret_access_key"])


def edge(graph: dict, source: str, target: str) -> dict:
    """Summed statistics of the source -> target edges: calls that no segment of the target answered (connection
    refused while its pod was gone) end at a second node of the same name, as in the X-Ray console."""
    names = {s["ReferenceId"]: s["Name"] for s in graph["Services"]}
    total = {"OkCount": 0, "TotalCount": 0, "FaultStatistics": {"TotalCount": 0}}
    for service in graph["Services"]:
        if service["Name"] != source or service.get("Type") == "client":
            continue
        for item in service.get("Edges", []):
            if names.get(item["ReferenceId"]) == target:
                stats = item.get("SummaryStatistics", {})
                total["OkCount"] += stats.get("OkCount", 0)
                total["TotalCount"] += stats.get("TotalCount", 0)
                total["FaultStatistics"]["TotalCount"] += stats.get("FaultStatistics", {}).get("TotalCount", 0)
    return total


def service_graph(sandbox, start: float, end: float) -> dict:
    return aws(sandbox, "xray").get_service_graph(StartTime=start, EndTime=end)


def sandbox_calls(sandbox, action: str, since: float) -> list[dict]:
    """The AWS endpoint's record of who made which call (its admin hook, EMULATION)."""
    url = f"{sandbox['aws_endpoint_url']}/_sandbox/calls?action={action}&since={since}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def send_segment_to_node(sandbox, port: int = 2000) -> None:
    """One segment to the node's port 2000 (portmap sends it to the daemon pod), as an SDK in a pod would."""
    now = time.time()
    segment = {"name": "it-probe", "id": secrets.token_hex(8), "trace_id": f"1-{int(now):08x}-{secrets.token_hex(12)}",
               "start_time": now, "end_time": now + 0.001}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b'{"format": "json", "version": 1}\n' + json.dumps(segment).encode(), (sandbox["node_ip"], port))


def traffic(namespace, count, rate, duration=120):
    proc = subprocess.run([sys.executable, os.path.join(REPO, "sandbox", "traffic.py"), "--namespace", namespace,
                           "--count", str(count), "--rate", str(rate), "--duration", str(duration)],
                          capture_output=True, text=True, timeout=duration + 200, check=False)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {"raw": proc.stdout + proc.stderr}


# --- the node itself ---------------------------------------------------------------------------------

def test_real_node_runs_containers_with_logs_and_exec(real):
    core = real["core"]
    node = core.read_node(real["node"])
    assert node.status.node_info.container_runtime_version.startswith("containerd://")
    assert "kwok.x-k8s.io/node" not in (node.metadata.annotations or {}), "kwok must not manage the real node"
    assert not node.spec.taints
    ns = f"it-node-{SUFFIX}"
    core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=ns)))
    try:
        pod = kubernetes.client.V1Pod(
            metadata=kubernetes.client.V1ObjectMeta(name="hello"),
            spec=kubernetes.client.V1PodSpec(containers=[kubernetes.client.V1Container(
                name="py", image="docker.io/library/python:3.13-alpine",
                command=["python3", "-c", "import socket,time; print('hello from', socket.gethostname(), flush=True); time.sleep(600)"],
            )]),
        )
        core.create_namespaced_pod(ns, pod)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = core.read_namespaced_pod("hello", ns)
            if current.status.container_statuses and current.status.container_statuses[0].ready:
                break
            time.sleep(0.5)
        assert_running_on_real_node(real, [core.read_namespaced_pod("hello", ns)])
        assert "hello from hello" in kubectl(real, "-n", ns, "logs", "hello").stdout
        # exec, and the pod's view of the cluster: DNS names, the API server through the `kubernetes` Service
        probe = ("import socket,ssl,urllib.request,os; "
                 "print(socket.gethostbyname('kubernetes.default.svc.cluster.local')); "
                 "ctx=ssl.create_default_context(cafile='/var/run/secrets/kubernetes.io/serviceaccount/ca.crt'); "
                 "print(urllib.request.urlopen('https://kubernetes.default.svc/version', context=ctx, timeout=5).status)")
        out = kubectl(real, "-n", ns, "exec", "hello", "--", "python3", "-c", probe).stdout.split()
        assert out == [real["sandbox"]["service_cidr"].rsplit(".", 1)[0] + ".1", "200"], out
    finally:
        core.delete_namespace(ns)


def test_pods_cannot_reach_beyond_the_node(real):
    """The guard chain: a pod's traffic to an address off the node's bridge is rejected, not routed."""
    ns = f"it-guard-{SUFFIX}"
    core = real["core"]
    core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=ns)))
    try:
        # 198.51.100.7 (TEST-NET-2) stands for "anywhere else"; the guard must refuse it at once
        code = ("import socket\ns=socket.socket(); s.settimeout(5)\n"
                "try:\n  s.connect(('198.51.100.7', 80)); print('connected')\nexcept OSError as e: print(type(e).__name__)")
        kubectl(real, "-n", ns, "run", "guard", "--image=docker.io/library/python:3.13-alpine", "--restart=Never",
                "--command", "--", "python3", "-c", code)
        deadline = time.monotonic() + 60
        phase = None
        while time.monotonic() < deadline and phase not in ("Succeeded", "Failed"):
            phase = core.read_namespaced_pod("guard", ns).status.phase
            time.sleep(0.5)
        assert kubectl(real, "-n", ns, "logs", "guard").stdout.strip() == "ConnectionRefusedError"
    finally:
        core.delete_namespace(ns)


# --- the daemon role's wait against real failures ----------------------------------------------------

BROKEN_CFG = "Version: 2\nRegion: eu-west-1\nLocalMode: true\nBogusKey: 1\n"


def test_broken_daemon_config_fails_fast_naming_node_reason_and_log(play, real):
    """A cfg.yaml the daemon refuses: the real pod crash-loops, and the wait says where, why and what the log said
    (a kwok node would have reported the pod Ready)."""
    ns = f"it-broken-{SUFFIX}"
    try:
        began = time.monotonic()
        # the role's own rendering replaced by a broken one, as a template bug would
        result = play(role_play("daemon", daemon_namespace=ns, daemon_create_service_account=True, daemon_port=21999,
                                daemon_wait_delay=2, daemon_wait_timeout=240, daemon_tolerations=[]),
                      expect_ok=False, extra_vars={"_daemon_config_text": BROKEN_CFG})
        took = time.monotonic() - began
        assert result.rc != 0
        text = result.stdout
        assert real["node"] in text and "CrashLoopBackOff" in text, result.explain()
        assert "BogusKey flag is invalid" in text, "the last log lines of the crashed container are in the message"
        assert took < 200, f"a definite failure ends the wait early ({took:.0f}s)"
    finally:
        play(role_play("cleanup", cleanup_roles=["daemon"], cleanup_namespaces=[ns], xray_namespace=ns,
                       xray_apps_namespace="it-none"))


def test_missing_daemon_image_is_reported_without_any_pull_leaving_the_machine(play, real):
    ns = f"it-noimage-{SUFFIX}"
    try:
        result = play(role_play("daemon", daemon_namespace=ns, daemon_create_service_account=True, daemon_port=21998,
                                daemon_image_tag="0.0.0-not-imported", daemon_wait_delay=2, daemon_wait_timeout=240,
                                daemon_tolerations=[]),
                      expect_ok=False)
        assert result.rc != 0
        assert real["node"] in result.stdout and ("ImagePullBackOff" in result.stdout or "ErrImagePull" in result.stdout), result.explain()
    finally:
        play(role_play("cleanup", cleanup_roles=["daemon"], cleanup_namespaces=[ns], xray_namespace=ns,
                       xray_apps_namespace="it-none"))


# --- end to end through pods, and chaos for real ----------------------------------------------------------

@pytest.fixture(scope="module")
def stack(real, run_playbook):
    """irsa (its own IAM role) + daemon (hostPort 2000 on the real node, credentials from its token) + apps
    (workshop images, back end with one replica)."""
    ns_d, ns_a = f"it-rd-{SUFFIX}", f"it-ra-{SUFFIX}"
    role_name = f"xray-it-real-{SUFFIX}"
    services = [
        {"name": FRONT, "image": "docker.io/rnzdocker1/eks-workshop-x-ray-sample-front:ba01b042766edb5fc794733b0af28d92d99b63dd",
         "port": 8080, "service_port": 80, "replicas": 2, "calls": [BACK], "labels": {"tier": "frontend"}},
        {"name": BACK, "image": "docker.io/rnzdocker1/eks-workshop-x-ray-sample-back:ba01b042766edb5fc794733b0af28d92d99b63dd",
         "port": 8080, "service_port": 80, "replicas": 1, "labels": {"tier": "backend"}},
    ]
    playbook = f"""
- name: Daemon and apps on the real node
  hosts: all
  gather_facts: false
{CONNECTED_YAML}  vars:
    xray_namespace: {ns_d}
    xray_apps_namespace: {ns_a}
  tasks:
    - name: IRSA (OIDC provider, IAM role, annotated ServiceAccount)
      ansible.builtin.include_role:
        name: tracing.xray.irsa
      vars:
        irsa_role_name: {role_name}
    - name: Daemon
      ansible.builtin.include_role:
        name: tracing.xray.daemon
      vars:
        daemon_wait_delay: 1
    - name: Apps
      ansible.builtin.include_role:
        name: tracing.xray.apps
      vars:
        apps_services: {json.dumps(services)}
        apps_wait_delay: 1
"""
    result = run_playbook(playbook, inventory=INVENTORY)
    assert result.rc == 0, result.explain()
    yield {"daemon_ns": ns_d, "apps_ns": ns_a, "role_name": role_name}
    cleanup = role_play("cleanup", cleanup_roles=["chaos", "apps", "daemon", "irsa"], cleanup_namespaces=[ns_d, ns_a],
                        xray_namespace=ns_d, xray_apps_namespace=ns_a, irsa_role_name=role_name)
    assert run_playbook(cleanup, inventory=INVENTORY).rc == 0


def test_traffic_from_pods_goes_through_the_daemon_pod(real, stack):
    core, sandbox = real["core"], real["sandbox"]
    pods = core.list_namespaced_pod(stack["apps_ns"]).items + core.list_namespaced_pod(stack["daemon_ns"]).items
    real_pods = [p for p in pods if p.spec.node_name == real["node"]]
    assert {p.metadata.labels.get("app.kubernetes.io/name") for p in real_pods} >= {FRONT, BACK, "aws-xray-daemon"}
    assert_running_on_real_node(real, real_pods)
    daemon_pod = next(p for p in real_pods if p.metadata.labels.get("app.kubernetes.io/name") == "aws-xray-daemon")
    env = {e.name: e for e in next(p for p in real_pods if p.metadata.labels["app.kubernetes.io/name"] == FRONT).spec.containers[0].env}
    assert env["AWS_XRAY_DAEMON_ADDRESS"].value == "$(XRAY_DAEMON_HOST):2000"

    # kube-proxy programs a Service's rules a moment after its pods are Ready, so the first requests right after the
    # rollout can be refused (CI once: 58 of 60 answered 2xx). The measured traffic starts once a short burst is
    # answered in full (at most 3 bursts), and 2 s after it, so that no warm-up segment falls in the counted window.
    for _ in range(3):
        code, warm = traffic(stack["apps_ns"], count=5, rate=5)
        if code == 0 and warm.get("ok") == 5:
            break
    time.sleep(2)
    host_before = host_daemon_batches(sandbox)
    start = time.time() - 1
    code, summary = traffic(stack["apps_ns"], count=60, rate=20)
    assert code == 0 and summary["ok"] == 60 and summary["node"] == real["node"], summary

    def counted():
        graph = service_graph(sandbox, start, time.time() + 1)
        return (edge(graph, FRONT, BACK).get("OkCount", 0) or 0), graph

    deadline = time.monotonic() + 60
    ok, graph = counted()
    while ok < 60 and time.monotonic() < deadline:
        time.sleep(1)
        ok, graph = counted()
    assert ok == 60, json.dumps(graph, default=str)[:2000]
    log = kubectl(real, "-n", stack["daemon_ns"], "logs", daemon_pod.metadata.name).stdout
    assert "Successfully sent batch" in log, log[-2000:]
    assert host_daemon_batches(sandbox) == host_before, "the host's own daemon must not have caught the pods' segments"
    # IRSA end to end: the webhook injected the role and token, STS (enforcing EMULATION) exchanged the pod's own token,
    # and the segments were sent with the session of our role, not with any static credential
    spec = daemon_pod.spec.containers[0]
    env = {e.name: e.value for e in spec.env}
    assert env["AWS_ROLE_ARN"].endswith(f":role/{stack['role_name']}") and "AWS_ACCESS_KEY_ID" not in env
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
    calls = sandbox_calls(sandbox, "PutTraceSegments", start)
    principals = {c["principal_arn"] for c in calls}
    assert calls and all(c["principal_type"] == "assumed-role" for c in calls), calls[:3]
    assert all(f":assumed-role/{stack['role_name']}/" in p for p in principals), principals


def test_a_trust_policy_edited_by_hand_denies_the_daemon_and_the_doctor_says_why(real, stack, run_playbook):
    sandbox = real["sandbox"]
    iam = aws(sandbox, "iam")
    role = iam.get_role(RoleName=stack["role_name"])["Role"]
    policy = role["AssumeRolePolicyDocument"]
    edited = json.loads(json.dumps(policy).replace(f"system:serviceaccount:{stack['daemon_ns']}:", "system:serviceaccount:default:"))
    assert edited != policy
    iam.update_assume_role_policy(RoleName=stack["role_name"], PolicyDocument=json.dumps(edited))
    try:
        # a new daemon pod fetches credentials afresh with its token: STS refuses, and the daemon says so
        kubectl(real, "-n", stack["daemon_ns"], "delete", "pod", "-l", "app.kubernetes.io/name=aws-xray-daemon",
                "--field-selector", f"spec.nodeName={real['node']}", "--wait=true", timeout=90)
        deadline = time.monotonic() + 90
        log = ""
        while time.monotonic() < deadline and "AccessDenied" not in log:
            send_segment_to_node(sandbox)
            time.sleep(2)
            pods = real["core"].list_namespaced_pod(stack["daemon_ns"], label_selector="app.kubernetes.io/name=aws-xray-daemon",
                                                    field_selector=f"spec.nodeName={real['node']}").items
            if pods:
                log = kubectl(real, "-n", stack["daemon_ns"], "logs", pods[0].metadata.name, check=False).stdout
        assert "AccessDenied" in log and "AssumeRoleWithWebIdentity" in log, log[-3000:]
        denied = [c for c in sandbox_calls(sandbox, "AssumeRoleWithWebIdentity", 0) if c.get("error_code") == "AccessDenied"]
        assert denied, "the STS emulation recorded the refusal"
        doctor = role_play("irsa", tasks_from="verify", xray_namespace=stack["daemon_ns"], irsa_role_name=stack["role_name"])
        result = run_playbook(doctor, inventory=INVENTORY)
        assert result.rc != 0
        assert f"trust policy expects namespace default, the ServiceAccount is in {stack['daemon_ns']}" in result.stdout, result.explain()
    finally:
        iam.update_assume_role_policy(RoleName=stack["role_name"], PolicyDocument=json.dumps(policy))
        kubectl(real, "-n", stack["daemon_ns"], "delete", "pod", "-l", "app.kubernetes.io/name=aws-xray-daemon",
                "--field-selector", f"spec.nodeName={real['node']}", "--wait=true", timeout=90)
        kubectl(real, "-n", stack["daemon_ns"], "rollout", "status", "ds/xray-daemon", "--timeout=90s", timeout=120)


def test_chaos_deletes_real_back_end_pods_faults_show_and_recover(real, stack, run_playbook):
    core, sandbox = real["core"], real["sandbox"]
    selector = f"app.kubernetes.io/name={BACK}"
    before = {p.metadata.uid for p in core.list_namespaced_pod(stack["apps_ns"], label_selector=selector).items}
    chaos = role_play("chaos", chaos_namespace=stack["apps_ns"], chaos_label_selector=selector,
                      chaos_interval_min=3, chaos_interval_max=4, chaos_wait_delay=1)
    result = run_playbook(chaos, inventory=INVENTORY)
    assert result.rc == 0, result.explain()
    chaos_pods = core.list_namespaced_pod(stack["apps_ns"], label_selector="app.kubernetes.io/component=chaos").items
    assert_running_on_real_node(real, chaos_pods)

    start = time.time() - 1
    code, summary = traffic(stack["apps_ns"], count=200, rate=20)
    end = time.time() + 1
    after = {p.metadata.uid for p in core.list_namespaced_pod(stack["apps_ns"], label_selector=selector).items}
    assert before - after, "the randomizer deleted at least one real back-end pod"
    chaos_log = kubectl(real, "-n", stack["apps_ns"], "logs", chaos_pods[0].metadata.name).stdout
    assert '"deleted"' in chaos_log or "deleted" in chaos_log, chaos_log[-2000:]
    failed = sum(n for status, n in summary.get("status", {}).items() if not status.startswith("2"))
    time.sleep(3)
    stats = edge(service_graph(sandbox, start, end), FRONT, BACK)
    assert failed > 0 and (stats.get("FaultStatistics", {}).get("TotalCount", 0) or 0) > 0, (summary, stats)

    # recovery: chaos off, the back end Ready again, a new window without faults
    remove = role_play("chaos", chaos_state="absent", chaos_namespace=stack["apps_ns"])
    assert run_playbook(remove, inventory=INVENTORY).rc == 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod(stack["apps_ns"], label_selector=selector).items
        if pods and all(s.ready for p in pods for s in (p.status.container_statuses or [])) and \
                all(p.metadata.deletion_timestamp is None for p in pods):
            break
        time.sleep(1)
    start = time.time() - 0.5
    code, summary = traffic(stack["apps_ns"], count=40, rate=20)
    assert code == 0 and summary["ok"] == 40, summary
    time.sleep(3)
    stats = edge(service_graph(sandbox, start, time.time() + 1), FRONT, BACK)
    assert stats.get("OkCount") == 40 and not stats.get("FaultStatistics", {}).get("TotalCount"), stats


def test_pod_identity_mode_converges_and_its_daemon_pod_gets_credentials(real, run_playbook):
    """irsa_mode=pod_identity: role trusting pods.eks.amazonaws.com + association (EMULATED EKS API); the webhook
    injects the container-credentials settings; the agent (EMULATION, 169.254.170.23) exchanges the pod's token at
    eks-auth (EMULATION); the daemon pod sends segments with that role's session."""
    sandbox = real["sandbox"]
    ns, role_name, port = f"it-pi-{SUFFIX}", f"xray-it-pi-{SUFFIX}", 2100
    playbook = f"""
- name: Pod Identity on the real node
  hosts: all
  gather_facts: false
{CONNECTED_YAML}  vars:
    xray_namespace: {ns}
  tasks:
    - name: Pod Identity (role, association, ServiceAccount)
      ansible.builtin.include_role:
        name: tracing.xray.irsa
      vars:
        irsa_mode: pod_identity
        irsa_role_name: {role_name}
    - name: Daemon
      ansible.builtin.include_role:
        name: tracing.xray.daemon
      vars:
        daemon_port: {port}
        daemon_wait_delay: 1
"""
    try:
        first = run_playbook(playbook, inventory=INVENTORY)
        assert first.rc == 0, first.explain()
        again = run_playbook(playbook, inventory=INVENTORY)
        assert again.rc == 0 and again.changed() == 0, again.explain()
        pod = next(p for p in real["core"].list_namespaced_pod(ns).items if p.spec.node_name == real["node"])
        env = {e.name: e.value for e in pod.spec.containers[0].env}
        assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "http://169.254.170.23/v1/credentials" and "AWS_ROLE_ARN" not in env
        start = time.time() - 1
        deadline = time.monotonic() + 60
        calls = []
        while time.monotonic() < deadline and not calls:
            send_segment_to_node(sandbox, port)
            time.sleep(2)
            calls = sandbox_calls(sandbox, "PutTraceSegments", start)
            calls = [c for c in calls if f":assumed-role/{role_name}/" in (c.get("principal_arn") or "")]
        log = kubectl(real, "-n", ns, "logs", pod.metadata.name, check=False).stdout
        assert calls, f"no PutTraceSegments by the pod identity role; daemon log:\n{log[-2000:]}"
    finally:
        cleanup = role_play("cleanup", cleanup_roles=["daemon", "irsa"], cleanup_namespaces=[ns], xray_namespace=ns,
                            xray_apps_namespace="it-none", irsa_mode="pod_identity", irsa_role_name=role_name)
        assert run_playbook(cleanup, inventory=INVENTORY).rc == 0


def test_apps_wait_reports_a_missing_image_fast_with_node_and_reason(play, real):
    """The apps role's wait reads pod failures with the same filter as the daemon role: an image that cannot be had
    ends the wait early and is named, where a kwok node would have reported the pod Ready."""
    ns = f"it-appsimg-{SUFFIX}"
    services = [{"name": "ghost", "image": "example.invalid/ghost:1", "port": 8080}]
    try:
        began = time.monotonic()
        result = play(role_play("apps", apps_namespace=ns, apps_services=services, apps_wait_delay=2, apps_wait_timeout=240),
                      expect_ok=False)
        took = time.monotonic() - began
        assert result.rc != 0
        assert "ImagePullBackOff" in result.stdout or "ErrImagePull" in result.stdout, result.explain()
        assert f"on node {real['node']}" in result.stdout and "stopped early" in result.stdout, result.explain()
        assert took < 180, f"a definite failure ends the wait early ({took:.0f}s)"
    finally:
        play(role_play("cleanup", cleanup_roles=["apps"], cleanup_namespaces=[ns], xray_namespace="it-none", xray_apps_namespace=ns))
