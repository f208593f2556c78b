#!/usr/bin/env python3
"""The local sandbox: a real Kubernetes control plane with simulated nodes, an AWS-shaped endpoint and
the real X-Ray daemon, all on 127.0.0.1.

    .venv/bin/python sandbox/sandbox.py build   # build (or find in the cache) every Go binary
    .venv/bin/python sandbox/sandbox.py up      # start everything (idempotent)
    .venv/bin/python sandbox/sandbox.py status  # nodes, endpoints, versions, pids (exit 1 when not healthy)
    .venv/bin/python sandbox/sandbox.py down    # stop everything and check nothing of ours is left

Pieces: kube-apiserver, kube-controller-manager, kube-scheduler and etcd built from their Go modules and
run by ``kwokctl --runtime binary``; kwok-controller simulating ``SANDBOX_NODES`` nodes; the AWS endpoint
``python -m sandbox.aws.server`` (moto plus our X-Ray emulation); the X-Ray daemon in local mode, sending
to that endpoint. See sandbox/README.md.

Environment: SANDBOX_DIR (state, default <repo>/.sandbox), SANDBOX_CLUSTER (xray-sandbox),
SANDBOX_REGION (eu-west-1), SANDBOX_NODES (3), SANDBOX_REAL_NODES (1: a kubelet node that runs containers, see
realnode.py; 0: kwok nodes only), SANDBOX_API_PORT (6443), SANDBOX_AWS_PORT (4580),
SANDBOX_DAEMON_PORT (the host daemon: 2001 with a real node, whose daemon pod holds 2000; else 2000),
SANDBOX_TIMEOUT (seconds per health wait, 180), TRACING_XRAY_CACHE (build cache).
Only the standard library is used here (boto3 is not needed to start the sandbox).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import gobuild  # noqa: E402  (sibling module; the script directory is not a package here)
import images  # noqa: E402
import realnode  # noqa: E402
import procs  # noqa: E402
from procs import (  # noqa: E402
    HOST,
    SandboxError,
    describe_holders,
    log_tail,
    pid_alive,
    port_holders,
    port_in_use,
    proc_rss_kib,
    read_pid,
    say,
    stop_pid,
    tcp_open,
    wait_for,
)

AWS_SERVER_MODULE = os.environ.get("SANDBOX_AWS_SERVER_MODULE", "sandbox.aws.server")
NODE_PREFIX = "kwok-node-"
# The hostPort of the daemon DaemonSet on the real node (the role's default daemon_port).
REAL_NODE_DAEMON_PORT = 2000
# Taint of the kwok nodes when a real node exists: workloads go where containers run; DaemonSets that tolerate it
# (the sandbox inventory's daemon_tolerations) still cover every node.
KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}


# --- settings ---------------------------------------------------------------------------------------

class Settings:
    def __init__(self) -> None:
        env = os.environ
        self.dir = os.path.abspath(env.get("SANDBOX_DIR") or os.path.join(REPO, ".sandbox"))
        self.cluster = env.get("SANDBOX_CLUSTER", "xray-sandbox")
        self.region = env.get("SANDBOX_REGION", "eu-west-1")
        self.nodes = _int_env("SANDBOX_NODES", 3, minimum=1)
        # Real (kubelet) nodes beside the kwok ones: 1 (default) or 0 for a sandbox of simulated nodes only.
        self.real_nodes = _int_env("SANDBOX_REAL_NODES", 1, minimum=0)
        if self.real_nodes > 1:
            raise SandboxError(f"SANDBOX_REAL_NODES={self.real_nodes}: one machine runs at most 1 real node (0 or 1)")
        self.api_port = _int_env("SANDBOX_API_PORT", 6443, minimum=1)
        self.aws_port = _int_env("SANDBOX_AWS_PORT", 4580, minimum=1)
        # The host's own daemon. With a real node, 2000 on this machine belongs to the daemon pod's hostPort (as on
        # an EKS node), and a hostPort without hostIP also captures 127.0.0.1:2000: the host daemon moves to 2001.
        self.daemon_port = _int_env("SANDBOX_DAEMON_PORT", 2001 if self.real_nodes else 2000, minimum=1)
        if self.real_nodes and self.daemon_port == REAL_NODE_DAEMON_PORT:
            raise SandboxError(f"SANDBOX_DAEMON_PORT={self.daemon_port}: with a real node that port is the daemon pod's "
                               "hostPort, which also captures 127.0.0.1; choose another port or SANDBOX_REAL_NODES=0")
        self.timeout = _int_env("SANDBOX_TIMEOUT", 180, minimum=5)
        # EKS's pod identity webhook, emulated (sandbox/webhook.py), on 127.0.0.1
        self.webhook_port = _int_env("SANDBOX_WEBHOOK_PORT", 9443, minimum=1)

    # paths
    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    @property
    def kwok_workdir(self) -> str:
        return self.path("kwok")

    @property
    def cluster_dir(self) -> str:
        return self.path("kwok", "clusters", self.cluster)

    @property
    def kubeconfig(self) -> str:
        return self.path("kubeconfig")

    @property
    def state_file(self) -> str:
        return self.path("sandbox.json")

    @property
    def aws_state_dir(self) -> str:
        return self.path("aws")

    @property
    def api_url(self) -> str:
        return f"https://{HOST}:{self.api_port}"

    @property
    def aws_url(self) -> str:
        return f"http://{HOST}:{self.aws_port}"

    @property
    def daemon_address(self) -> str:
        return f"{HOST}:{self.daemon_port}"

    def log(self, name: str) -> str:
        return self.path("logs", f"{name}.log")

    def pidfile(self, name: str) -> str:
        return self.path("pids", f"{name}.pid")

    def cluster_log(self, component: str) -> str:
        return os.path.join(self.cluster_dir, "logs", f"{component}.log")


def _int_env(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SandboxError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SandboxError(f"{name}={value} must be >= {minimum}")
    return value


# --- Kubernetes API (stdlib HTTPS with the admin client certificate) --------------------------------

class KubeAPI:
    def __init__(self, settings: Settings) -> None:
        pki = os.path.join(settings.cluster_dir, "pki")
        self.base = settings.api_url
        self.context = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.context.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 5.0,
                content_type: str = "application/json", accept: str = "application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", accept)
        if data is not None:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, context=self.context, timeout=timeout) as resp:
            raw = resp.read()
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    def readyz(self) -> bool:
        try:
            return self.request("GET", "/readyz", timeout=3) == "ok"
        except (OSError, urllib.error.URLError, ssl.SSLError):
            return False


def node_manifest(name: str, settings: Settings, kube_version: str, index: int) -> dict:
    zone = f"{settings.region}{'abc'[index % 3]}"
    resources = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "topology.kubernetes.io/region": settings.region,
                "topology.kubernetes.io/zone": zone,
            },
        },
        # Without a real node, no taints: every pod that the scheduler can place may land here.
        "spec": {"taints": [KWOK_TAINT]} if settings.real_nodes else {},
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "kubeletVersion": kube_version,
                "kubeProxyVersion": kube_version,
                "operatingSystem": "linux",
                "containerRuntimeVersion": "kwok",
            },
            "phase": "Running",
        },
    }


# Taints the node lifecycle controller puts on a node until it has seen it Ready (and takes off a moment later).
LIFECYCLE_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def node_is_ready(node: dict) -> bool:
    """Ready condition True and none of the lifecycle taints left: pods without tolerations can be scheduled."""
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in node.get("status", {}).get("conditions", []))
    tainted = any(t.get("key") in LIFECYCLE_TAINTS for t in node.get("spec", {}).get("taints") or [])
    return ready and not tainted


# --- the pieces ----------------------------------------------------------------------------------

def kwokctl_config(settings: Settings, issuer: str, bins: dict[str, str], versions: dict[str, str]) -> str:
    """The KwokctlConfiguration: loopback only, local binaries, kube-apiserver issuer and audiences."""
    config = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "bindAddress": HOST,
            "kubeApiserverPort": settings.api_port,
            "kubeVersion": versions["kube-apiserver"],
            "etcdVersion": versions["etcd"].lstrip("v"),
            "kubeApiserverBinary": bins["kube-apiserver"],
            "kubeControllerManagerBinary": bins["kube-controller-manager"],
            "kubeSchedulerBinary": bins["kube-scheduler"],
            "kubectlBinary": bins["kubectl"],
            "kwokControllerBinary": bins["kwok"],
            "etcdBinary": bins["etcd"],
            "quietPull": True,
            "cacheDir": settings.path("kwok", "cache"),
        },
        "componentsPatches": [
            {
                "name": "kube-apiserver",
                "extraArgs": [
                    # ServiceAccount tokens carry the sandbox EKS cluster's OIDC issuer, like IRSA on EKS.
                    {"key": "service-account-issuer", "value": issuer, "override": True},
                    {"key": "api-audiences", "value": f"{issuer},sts.amazonaws.com"},
                ],
            },
        ],
    }
    if settings.real_nodes:
        config["options"]["kubeApiserverCertSANs"] = realnode.cert_sans()
        config["componentsPatches"][0]["extraArgs"] += realnode.apiserver_args(settings.cluster_dir)
        config["componentsPatches"] += realnode.kwok_patches()
    # JSON is YAML: kwokctl reads this file as YAML.
    return json.dumps(config, indent=2) + "\n"


def start_process(settings: Settings, name: str, argv: list[str], env: dict, cwd: str) -> subprocess.Popen:
    return procs.start_process(name, argv, env, cwd, settings.log(name), settings.pidfile(name))


def clean_env() -> dict:
    """Our environment without variables that would redirect kwokctl or the AWS SDKs elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KWOK_", "AWS_"))}
    env.pop("KUBECONFIG", None)
    return env


def start_aws(settings: Settings) -> dict:
    state = settings.aws_state_dir
    aws_json = os.path.join(state, "aws.json")
    os.makedirs(state, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.remove(aws_json)
    env = clean_env()
    env.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    env["PYTHONUNBUFFERED"] = "1"
    argv = [sys.executable, "-m", AWS_SERVER_MODULE, "--host", HOST, "--port", str(settings.aws_port),
            "--region", settings.region, "--cluster-name", settings.cluster, "--state-dir", state]
    say(f"starting the AWS endpoint on {settings.aws_url} (log: {settings.log('aws')})")
    proc = start_process(settings, "aws", argv, env, cwd=REPO)

    def ready():
        if not os.path.exists(aws_json):
            return None
        with open(aws_json, encoding="utf-8") as handle:
            return json.load(handle)

    info = wait_for("AWS endpoint (aws.json)", ready, settings.timeout, settings.log("aws"),
                    alive=lambda: proc.poll() is None)
    missing = {"endpoint_url", "region", "access_key_id", "secret_access_key", "cluster_name", "oidc_issuer"} - set(info)
    if missing:
        raise SandboxError(f"AWS endpoint wrote {aws_json} without {sorted(missing)}; log: {settings.log('aws')}")
    wait_for("AWS endpoint (HTTP)", lambda: http_alive(info["endpoint_url"]), settings.timeout, settings.log("aws"),
             alive=lambda: proc.poll() is None)
    return info


def http_alive(url: str, ok_only: bool = False) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3):
            return True
    except urllib.error.HTTPError:
        return not ok_only  # it answered
    except OSError:
        return False


def check_issuer(info: dict) -> None:
    """Cross-check aws.json's issuer with the EKS cluster record (DescribeCluster) when boto3 is available."""
    try:
        import boto3  # noqa: PLC0415 - optional, from .venv
    except ImportError:
        return
    client = boto3.client("eks", endpoint_url=info["endpoint_url"], region_name=info["region"],
                          aws_access_key_id=info["access_key_id"], aws_secret_access_key=info["secret_access_key"])
    issuer = client.describe_cluster(name=info["cluster_name"])["cluster"]["identity"]["oidc"]["issuer"]
    if issuer != info["oidc_issuer"]:
        raise SandboxError(f"aws.json oidc_issuer {info['oidc_issuer']} differs from DescribeCluster's {issuer}")


def kwok_env(settings: Settings, bins: dict[str, str]) -> dict:
    env = clean_env()
    env["KWOK_WORKDIR"] = settings.kwok_workdir
    # kwokctl looks kubectl up on PATH before its configured binary: make it find ours first.
    env["PATH"] = os.path.dirname(bins["kubectl"]) + os.pathsep + env.get("PATH", "")
    return env


def kwokctl(settings: Settings, bins: dict[str, str], args: list[str], timeout: float) -> subprocess.CompletedProcess:
    argv = [bins["kwokctl"], "--name", settings.cluster, *args]
    os.makedirs(os.path.dirname(settings.log("kwokctl")), exist_ok=True)
    with open(settings.log("kwokctl"), "a", encoding="utf-8") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} $ {' '.join(argv)}\n")
        log.flush()
        return subprocess.run(argv, env=kwok_env(settings, bins), stdin=subprocess.DEVNULL, stdout=log,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False, cwd=settings.dir)


def start_cluster(settings: Settings, bins: dict[str, str], versions: dict[str, str], issuer: str) -> None:
    config_path = settings.path("kwokctl.yaml")
    with open(config_path, "w", encoding="utf-8") as handle:
        handle.write(kwokctl_config(settings, issuer, bins, versions))
    say(f"creating the Kubernetes cluster '{settings.cluster}' with kwokctl on {settings.api_url} (log: {settings.log('kwokctl')})")
    wait = max(settings.timeout, 30)
    proc = kwokctl(settings, bins, [
        "create", "cluster", "--runtime", "binary", "--config", config_path,
        "--kube-apiserver-port", str(settings.api_port),
        "--kube-apiserver-binary", bins["kube-apiserver"],
        "--kube-controller-manager-binary", bins["kube-controller-manager"],
        "--kube-scheduler-binary", bins["kube-scheduler"],
        "--kwok-controller-binary", bins["kwok"],
        "--etcd-binary", bins["etcd"],
        "--kubeconfig", settings.kubeconfig,
        "--quiet-pull",
        "--wait", f"{wait}s",
    ], timeout=wait + 120)
    if proc.returncode != 0:
        raise SandboxError(f"kwokctl create cluster failed (exit {proc.returncode}); log: {settings.log('kwokctl')}\n"
                           f"{log_tail(settings.log('kwokctl'))}\n  component logs: {os.path.join(settings.cluster_dir, 'logs')}")
    api = KubeAPI(settings)
    wait_for(f"kube-apiserver {settings.api_url}/readyz", api.readyz, settings.timeout, settings.cluster_log("kube-apiserver"))


def create_nodes(settings: Settings, kube_version: str) -> list[str]:
    api = KubeAPI(settings)
    names = [f"{NODE_PREFIX}{i}" for i in range(settings.nodes)]
    for index, name in enumerate(names):
        try:
            api.request("POST", "/api/v1/nodes", node_manifest(name, settings, kube_version, index))
        except urllib.error.HTTPError as err:
            if err.code != 409:  # already exists
                raise SandboxError(f"creating node {name} failed: HTTP {err.code} {err.read()[:300]!r}") from None
    say(f"created {len(names)} simulated node(s): {', '.join(names)}; waiting for Ready")

    def all_ready():
        items = api.request("GET", "/api/v1/nodes?labelSelector=type%3Dkwok")["items"]
        ready = {n["metadata"]["name"] for n in items if node_is_ready(n)}
        return set(names) <= ready

    wait_for(f"{len(names)} kwok nodes Ready", all_ready, settings.timeout, settings.cluster_log("kwok-controller"), interval=1)
    return names


def daemon_config(settings: Settings, endpoint_url: str) -> str:
    return (
        "# X-Ray daemon configuration written by sandbox/sandbox.py (config format version 2).\n"
        "Version: 2\n"
        f"Region: {settings.region}\n"
        f"Endpoint: {endpoint_url}\n"
        "TotalBufferSizeMB: 16\n"
        "Socket:\n"
        f"  UDPAddress: {settings.daemon_address}\n"
        f"  TCPAddress: {settings.daemon_address}\n"
        "Logging:\n"
        "  LogRotation: false\n"
        "  LogLevel: info\n"
        "LocalMode: true\n"
    )


def start_daemon(settings: Settings, bins: dict[str, str], info: dict) -> None:
    cfg = settings.path("xray", "cfg.yaml")
    os.makedirs(os.path.dirname(cfg), exist_ok=True)
    with open(cfg, "w", encoding="utf-8") as handle:
        handle.write(daemon_config(settings, info["endpoint_url"]))
    env = clean_env()
    env.update(AWS_ACCESS_KEY_ID=info["access_key_id"], AWS_SECRET_ACCESS_KEY=info["secret_access_key"],
               AWS_REGION=settings.region, AWS_EC2_METADATA_DISABLED="true")
    argv = [bins["xray"], "-o", "-n", settings.region, "-c", cfg, "-b", settings.daemon_address, "-t", settings.daemon_address]
    say(f"starting the X-Ray daemon on udp/tcp {settings.daemon_address} (log: {settings.log('xray')})")
    proc = start_process(settings, "xray", argv, env, cwd=settings.path("xray"))
    wait_for(f"X-Ray daemon (udp+tcp {settings.daemon_address})", lambda: daemon_listening(settings, proc.pid),
             settings.timeout, settings.log("xray"), alive=lambda: proc.poll() is None, interval=0.2)


WEBHOOK_CONFIGURATION = "tracing-xray-sandbox-pod-identity-webhook"


def publish_jwks(settings: Settings, api: KubeAPI, info: dict) -> None:
    """Publish the API server's ServiceAccount signing keys for the cluster's issuer to the AWS endpoint, as EKS
    publishes them at the issuer URL: its (EMULATED) STS then verifies token signatures against them."""
    jwks = api.request("GET", "/openid/v1/jwks", accept="application/jwk-set+json")
    body = json.dumps({"issuer": info["oidc_issuer"], "jwks": jwks}).encode()
    req = urllib.request.Request(info["endpoint_url"] + "/_sandbox/oidc/jwks", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer = json.loads(resp.read())
    say(f"published {answer.get('keys')} ServiceAccount signing key(s) of the API server for {info['oidc_issuer']}")


def start_webhook(settings: Settings) -> dict:
    """EKS's pod identity webhook (EMULATION, sandbox/webhook.py): started, healthy, then registered (failurePolicy
    Fail: a dead webhook must not silently give pods no credentials; see sandbox/README.md)."""
    import webhook  # noqa: PLC0415 - needs `cryptography` (the .venv has it)

    cert_dir = settings.path("pki")
    ca_pem, _, _ = webhook.make_certs(cert_dir)
    # pods get the CA certificate alone (never the CA key): a directory of its own, mounted by the webhook
    public_ca = os.path.join(settings.path("pki-public"), "ca.crt")
    os.makedirs(os.path.dirname(public_ca), exist_ok=True)
    with open(public_ca, "w", encoding="ascii") as handle:
        handle.write(ca_pem)
    argv = [sys.executable, os.path.join(HERE, "webhook.py"), "--port", str(settings.webhook_port),
            "--kubeconfig", settings.kubeconfig, "--region", settings.region, "--cert-dir", cert_dir]
    if settings.real_nodes:
        argv += ["--ca-bundle-host-path", public_ca]
    # EKS Pod Identity: pods of a ServiceAccount with an association get the agent's container credentials
    argv += ["--pod-identity-endpoint", settings.aws_url, "--cluster", settings.cluster]
    say(f"starting the pod identity webhook (EMULATION) on https://{HOST}:{settings.webhook_port} (log: {settings.log('webhook')})")
    proc = start_process(settings, "webhook", argv, clean_env(), cwd=REPO)
    context = ssl.create_default_context(cafile=os.path.join(cert_dir, "ca.crt"))

    def healthy():
        with urllib.request.urlopen(f"https://{HOST}:{settings.webhook_port}/healthz", context=context, timeout=3) as resp:
            return resp.status == 200

    wait_for("pod identity webhook /healthz", healthy, settings.timeout, settings.log("webhook"),
             alive=lambda: proc.poll() is None)
    body = webhook.webhook_configuration(WEBHOOK_CONFIGURATION, ca_pem, f"https://{HOST}:{settings.webhook_port}/mutate")
    api = KubeAPI(settings)
    path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
    try:
        api.request("POST", path, body)
    except urllib.error.HTTPError as err:
        if err.code != 409:
            raise SandboxError(f"registering the webhook failed: HTTP {err.code} {err.read()[:300]!r}") from None
        current = api.request("GET", f"{path}/{WEBHOOK_CONFIGURATION}")
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        api.request("PUT", f"{path}/{WEBHOOK_CONFIGURATION}", body)
    return {"pod_identity_webhook": f"https://{HOST}:{settings.webhook_port}/mutate",
            "pod_identity_webhook_failure_policy": body["webhooks"][0]["failurePolicy"], "sandbox_ca": public_ca}


def start_real_node(settings: Settings, bins: dict[str, str], info: dict) -> dict:
    """containerd, the sandbox images, the kubelet, kube-proxy and CoreDNS; waits until the node is Ready."""
    realnode.ensure_packages(say)
    relays = {"relay-api": settings.api_port, "relay-aws": settings.aws_port}
    started = realnode.start(settings, bins, relays, say)
    built = images.build(log=say)
    names = images.import_images("ctr", started["paths"].socket, log=say)
    realnode.start_node(settings, bins, started, info, say)
    api = KubeAPI(settings)

    def node_ready():
        try:
            node = api.request("GET", f"/api/v1/nodes/{realnode.NODE_NAME}")
        except urllib.error.HTTPError:
            return False
        return realnode.node_health(node) is None and node_is_ready(node)

    wait_for(f"real node {realnode.NODE_NAME} Ready", node_ready, settings.timeout, settings.log("kubelet"), interval=0.5)
    wait_for("CoreDNS ready", lambda: http_alive("http://127.0.0.1:18181/ready", ok_only=True), settings.timeout,
             settings.log("coredns"), interval=0.5)
    realnode.guard_first()
    say(f"real node {realnode.NODE_NAME} Ready on {realnode.NODE_IP} with {len(names)} image(s) from {len(built)} archive(s)")
    return {
        "node_ip": realnode.NODE_IP,
        "pod_cidr": realnode.NODE_CIDR,
        "service_cidr": realnode.SERVICE_CIDR,
        "cluster_dns": realnode.NODE_IP,
        # what a pod uses to reach the loopback-only endpoints (socat relays on the bridge address)
        "pod_aws_endpoint_url": f"http://{realnode.NODE_IP}:{settings.aws_port}",
        "pod_apiserver_url": f"https://{realnode.NODE_IP}:{settings.api_port}",
        "node_daemon_address": f"{realnode.NODE_IP}:{REAL_NODE_DAEMON_PORT}",
        "containerd_socket": started["paths"].socket,
        "images": names,
    }


def daemon_listening(settings: Settings, pid: int | None) -> bool:
    if not pid_alive(pid):
        return False
    udp = any(holder == pid for holder, _ in port_holders("udp", settings.daemon_port))
    return udp and tcp_open(settings.daemon_port)


# --- state -----------------------------------------------------------------------------------------

def load_state(settings: Settings) -> dict | None:
    try:
        with open(settings.state_file, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_state(settings: Settings, state: dict) -> None:
    tmp = settings.state_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, settings.state_file)


def cluster_pids(settings: Settings) -> dict[str, int]:
    """kwokctl's component pid files (binary runtime): component -> pid."""
    pids = {}
    pid_dir = os.path.join(settings.cluster_dir, "pids")
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(pid_dir)):
            if entry.endswith(".pid"):
                pid = read_pid(os.path.join(pid_dir, entry))
                if pid:
                    pids[entry[:-4]] = pid
    return pids


def all_pids(settings: Settings) -> dict[str, int]:
    pids = cluster_pids(settings)
    for name in ("aws", "xray", "webhook"):
        pid = read_pid(settings.pidfile(name))
        if pid:
            pids[name] = pid
    pids.update(realnode.pids(settings))
    return pids


def cluster_ports(settings: Settings) -> dict[str, int]:
    """Ports kwokctl chose (from the cluster's kwok.yaml, JSON-compatible keys read with a tiny parser)."""
    ports = {}
    keys = {"etcdPort": "etcd", "etcdPeerPort": "etcd-peer", "kubeApiserverPort": "kube-apiserver",
            "kwokControllerPort": "kwok-controller", "kubeControllerManagerPort": "kube-controller-manager",
            "kubeSchedulerPort": "kube-scheduler"}
    with contextlib.suppress(OSError):
        with open(os.path.join(settings.cluster_dir, "kwok.yaml"), encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.strip().partition(":")
                if key in keys and value.strip().isdigit():
                    ports[keys[key]] = int(value.strip())
    return ports


def health(settings: Settings, state: dict | None) -> list[str]:
    """Problems of a running sandbox (empty: healthy). Takes a few seconds at most."""
    if not state:
        return ["not up (no sandbox.json)"]
    problems = []
    pids = all_pids(settings)
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller", "aws", "xray", "webhook"):
        if not pid_alive(pids.get(name)):
            problems.append(f"{name} is not running")
    try:
        api = KubeAPI(settings)
        if not api.readyz():
            problems.append(f"kube-apiserver {settings.api_url}/readyz is not ok")
        else:
            items = api.request("GET", "/api/v1/nodes?labelSelector=type%3Dkwok")["items"]
            ready = sum(1 for node in items if node_is_ready(node))
            if ready < state.get("nodes", settings.nodes):
                problems.append(f"{ready} of {state.get('nodes', settings.nodes)} kwok nodes Ready")
    except (OSError, ssl.SSLError, urllib.error.URLError, ValueError, KeyError) as err:
        problems.append(f"kube-apiserver: {err}")
    if not http_alive(state.get("aws_endpoint_url", settings.aws_url)):
        problems.append(f"AWS endpoint {state.get('aws_endpoint_url')} does not answer")
    if not daemon_listening(settings, pids.get("xray")):
        problems.append(f"X-Ray daemon is not listening on udp+tcp {settings.daemon_address}")
    if state.get("real_nodes"):
        for name in realnode.PROCESSES:
            if not pid_alive(pids.get(name)):
                problems.append(f"{name} (real node) is not running")
        with contextlib.suppress(Exception):
            problem = realnode.node_health(KubeAPI(settings).request("GET", f"/api/v1/nodes/{realnode.NODE_NAME}"))
            if problem:
                problems.append(problem)
    return problems


# --- commands ----------------------------------------------------------------------------------------

def cmd_build(args) -> int:
    start = time.monotonic()
    paths = gobuild.build(args.components or None, force=args.force, log=say)
    for name, path in paths.items():
        print(f"{name}: {path}")
    say(f"build done in {time.monotonic() - start:.1f}s")
    return 0


def required_ports(settings: Settings) -> list[tuple[str, int, str]]:
    return [
        ("tcp", settings.api_port, "kube-apiserver (SANDBOX_API_PORT)"),
        ("tcp", settings.aws_port, "AWS endpoint (SANDBOX_AWS_PORT)"),
        ("tcp", settings.daemon_port, "X-Ray daemon TCP (SANDBOX_DAEMON_PORT)"),
        ("udp", settings.daemon_port, "X-Ray daemon UDP (SANDBOX_DAEMON_PORT)"),
        ("tcp", settings.webhook_port, "pod identity webhook (SANDBOX_WEBHOOK_PORT)"),
    ]


def cmd_up(args) -> int:
    settings = Settings()
    started = time.monotonic()
    state = load_state(settings)
    if state:
        problems = health(settings, state)
        if not problems:
            say(f"already up and healthy ({settings.api_url}, {state['aws_endpoint_url']}, daemon {settings.daemon_address}); "
                f"checked in {time.monotonic() - started:.1f}s")
            return 0
        say("a previous sandbox is not healthy (" + "; ".join(problems) + "): stopping it first")
    if state or any(pid_alive(p) for p in all_pids(settings).values()) or os.path.isdir(settings.cluster_dir):
        down(settings, quiet=True)

    busy = [f"{proto}/{port} for {what} is in use by {describe_holders(proto, port)}"
            for proto, port, what in required_ports(settings) if port_in_use(proto, port)]
    if busy:
        raise SandboxError("ports needed by the sandbox are taken:\n  " + "\n  ".join(busy) +
                           "\n  free them or choose others with SANDBOX_API_PORT / SANDBOX_AWS_PORT / SANDBOX_DAEMON_PORT")

    os.makedirs(settings.dir, exist_ok=True)
    bins = gobuild.build(log=say)
    versions = gobuild.versions()
    try:
        info = start_aws(settings)
        check_issuer(info)
        issuer = info["oidc_issuer"]
        say(f"EKS cluster '{info['cluster_name']}' OIDC issuer: {issuer}")
        start_cluster(settings, bins, versions, issuer)
        api = KubeAPI(settings)
        server_version = api.request("GET", "/version")["gitVersion"]
        publish_jwks(settings, api, info)
        create_nodes(settings, server_version)
        start_daemon(settings, bins, info)
        real = start_real_node(settings, bins, info) if settings.real_nodes else {}
        real.update(start_webhook(settings))
        versions = component_versions(versions, server_version)
        state = {
            "cluster_name": settings.cluster,
            "region": settings.region,
            "kubeconfig": settings.kubeconfig,
            "kube_context": f"kwok-{settings.cluster}",
            "apiserver_url": settings.api_url,
            "aws_endpoint_url": info["endpoint_url"],
            "aws_access_key_id": info["access_key_id"],
            "aws_secret_access_key": info["secret_access_key"],
            "oidc_issuer": issuer,
            "service_account_issuer": issuer,
            "daemon_address": settings.daemon_address,
            "daemon_udp_address": settings.daemon_address,
            "daemon_tcp_address": settings.daemon_address,
            "nodes": settings.nodes,
            "node_names": [f"{NODE_PREFIX}{i}" for i in range(settings.nodes)],
            "kwok_taint": KWOK_TAINT if settings.real_nodes else None,
            "real_nodes": settings.real_nodes,
            "real_node_names": [realnode.NODE_NAME] if settings.real_nodes else [],
            **real,
            "versions": versions,
            "binaries": bins,
            "kubectl": bins["kubectl"],
            "sandbox_dir": settings.dir,
            "logs": {
                "aws": settings.log("aws"),
                "xray": settings.log("xray"),
                "kwokctl": settings.log("kwokctl"),
                "cluster": os.path.join(settings.cluster_dir, "logs"),
            },
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_state(settings, state)
        problems = health(settings, state)
        if problems:
            raise SandboxError("sandbox started but is not healthy: " + "; ".join(problems))
    except BaseException:
        if os.environ.get("SANDBOX_KEEP_ON_FAILURE") != "1":
            say("start failed: stopping what was started (logs are kept; SANDBOX_KEEP_ON_FAILURE=1 keeps processes)")
            with contextlib.suppress(Exception):
                down(settings, quiet=True)
        raise
    say(f"up in {time.monotonic() - started:.1f}s: kubeconfig {settings.kubeconfig}, API {settings.api_url}, "
        f"AWS {info['endpoint_url']} ({settings.region}), daemon udp/tcp {settings.daemon_address}; state {settings.state_file}")
    return 0


def component_versions(built: dict[str, str], server_version: str | None = None) -> dict[str, str]:
    """One version per component (Kubernetes as its API server reports it, when known)."""
    return {
        "kubernetes": server_version or built["kube-apiserver"],
        "etcd": built["etcd"],
        "kwok": built["kwok"],
        "kwokctl": built["kwokctl"],
        "xray-daemon": built["xray"],
        "moto": _moto_version(),
    }


def _moto_version() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version("moto")
    except Exception:  # noqa: BLE001
        return "unknown"


def down(settings: Settings, quiet: bool = False) -> list[str]:
    """Stop everything; returns what is left (empty when clean)."""
    pids = all_pids(settings)
    ports = cluster_ports(settings)
    bins = gobuild.binaries()
    if os.path.isdir(settings.cluster_dir):
        # keep the component logs of the last cluster for troubleshooting (kwokctl deletes its workdir)
        logs = os.path.join(settings.cluster_dir, "logs")
        if os.path.isdir(logs):
            dest = settings.path("logs", "cluster")
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(logs, dest, dirs_exist_ok=True)
        if os.access(bins["kwokctl"], os.X_OK):
            if not quiet:
                say(f"deleting the Kubernetes cluster '{settings.cluster}' (log: {settings.log('kwokctl')})")
            try:
                proc = kwokctl(settings, bins, ["delete", "cluster"], timeout=120)
                if proc.returncode != 0:
                    say(f"kwokctl delete cluster exited {proc.returncode}; stopping its processes by pid")
            except subprocess.TimeoutExpired:
                say("kwokctl delete cluster timed out; stopping its processes by pid")
    left_node = realnode.down(settings, quiet) if os.path.isdir(realnode.Paths(settings.dir).root) or \
        any(name in pids for name in realnode.PROCESSES) else []
    for name in ("webhook", "xray", "aws"):
        if pid_alive(pids.get(name)) and not quiet:
            say(f"stopping {name} (pid {pids[name]})")
        stop_pid(pids.get(name), name)
    for name, pid in pids.items():  # anything kwokctl did not stop
        stop_pid(pid, name, grace=5)
    shutil.rmtree(settings.cluster_dir, ignore_errors=True)
    for name in ("pki", "pki-public"):  # the sandbox CA: a new one with every `up`
        shutil.rmtree(settings.path(name), ignore_errors=True)
    for path in (settings.state_file, settings.kubeconfig, os.path.join(settings.aws_state_dir, "aws.json"),
                 settings.pidfile("aws"), settings.pidfile("xray"), settings.pidfile("webhook")):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    left = left_node + [f"{name} pid {pid} still running" for name, pid in pids.items() if pid_alive(pid)]
    checks = [(proto, port, what) for proto, port, what in required_ports(settings)]
    checks += [("tcp", port, name) for name, port in ports.items()]
    deadline = time.monotonic() + 10
    while True:
        busy = [(proto, port, what) for proto, port, what in checks
                if any(pid in pids.values() for pid, _ in port_holders(proto, port))]
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    left += [f"{proto}/{port} ({what}) still held by {describe_holders(proto, port)}" for proto, port, what in busy]
    return left


def cmd_down(args) -> int:
    settings = Settings()
    started = time.monotonic()
    if not load_state(settings) and not any(pid_alive(p) for p in all_pids(settings).values()) \
            and not os.path.isdir(settings.cluster_dir) and not os.path.isdir(realnode.Paths(settings.dir).root):
        say("not running")
        return 0
    left = down(settings)
    if left:
        raise SandboxError("down left things behind:\n  " + "\n  ".join(left))
    say(f"down in {time.monotonic() - started:.1f}s: no sandbox process or port remains")
    return 0


def cmd_status(args) -> int:
    settings = Settings()
    state = load_state(settings)
    pids = all_pids(settings)
    report: dict = {"up": bool(state), "sandbox_dir": settings.dir}
    nodes = []
    if state:
        try:
            api = KubeAPI(settings)
            for node in api.request("GET", "/api/v1/nodes")["items"]:
                info = node.get("status", {}).get("nodeInfo", {})
                nodes.append({"name": node["metadata"]["name"], "ready": node_is_ready(node),
                              "fake": node["metadata"].get("annotations", {}).get("kwok.x-k8s.io/node") == "fake",
                              "runtime": info.get("containerRuntimeVersion"), "kubelet": info.get("kubeletVersion")})
        except (OSError, ssl.SSLError, urllib.error.URLError, ValueError, KeyError) as err:
            report["nodes_error"] = str(err)
    problems = health(settings, state)
    report.update(
        healthy=not problems,
        problems=problems,
        nodes=nodes,
        endpoints={
            "kube-apiserver": settings.api_url,
            "aws": (state or {}).get("aws_endpoint_url", settings.aws_url),
            "xray-daemon": f"udp+tcp {settings.daemon_address}",
            **({"real-node": f"{(state or {}).get('node_ip')} (kubelet, containerd {(state or {}).get('containerd_socket')})",
                "cluster-dns": f"{(state or {}).get('cluster_dns')}:53 (CoreDNS)",
                "aws-for-pods": (state or {}).get("pod_aws_endpoint_url")} if (state or {}).get("real_nodes") else {}),
        },
        kubeconfig=settings.kubeconfig if state else None,
        oidc_issuer=(state or {}).get("oidc_issuer"),
        versions=(state or {}).get("versions") or component_versions(gobuild.versions()),
        processes={name: {"pid": pid, "running": pid_alive(pid), "rss_mib": round(proc_rss_kib(pid) / 1024, 1)}
                   for name, pid in pids.items()},
    )
    report["rss_total_mib"] = round(sum(p["rss_mib"] for p in report["processes"].values() if p["running"]), 1)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0 if not problems else 1
    print(f"sandbox: {'UP, healthy' if not problems else ('UP, NOT healthy' if state else 'DOWN')}  ({settings.dir})")
    for problem in problems if state else []:
        print(f"  problem: {problem}")
    for name, url in report["endpoints"].items():
        print(f"  {name:18} {url}")
    if state:
        print(f"  {'kubeconfig':18} {settings.kubeconfig} (context {state.get('kube_context')})")
        print(f"  {'oidc issuer':18} {state.get('oidc_issuer')}")
    for node in nodes:
        kind = "simulated (kwok)" if node["fake"] else f"REAL: kubelet {node['kubelet']}, {node['runtime']}"
        print(f"  node {node['name']:13} {'Ready' if node['ready'] else 'NotReady':8} {kind}")
    print("  versions: " + ", ".join(f"{k} {v}" for k, v in sorted(report["versions"].items())))
    for name, proc in sorted(report["processes"].items()):
        print(f"  process {name:24} pid {proc['pid']:>7}  {'running' if proc['running'] else 'stopped'}  rss {proc['rss_mib']} MiB")
    if report["processes"]:
        print(f"  total rss {report['rss_total_mib']} MiB")
    return 0 if not problems else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandbox.py", description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the Go binaries into the cache (no-op when warm)")
    build.add_argument("components", nargs="*", help="only these (default: all)")
    build.add_argument("--force", action="store_true", help="rebuild even if cached")
    build.set_defaults(func=cmd_build)
    sub.add_parser("up", help="start the sandbox (idempotent)").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop the sandbox").set_defaults(func=cmd_down)
    status = sub.add_parser("status", help="nodes, endpoints, versions, pids; exit 1 when not healthy")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (SandboxError, gobuild.BuildError) as err:
        print(f"sandbox: error: {err}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("sandbox: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
