"""The sandbox's real node: a kubelet with containerd, runc and the CNI bridge, kube-proxy and CoreDNS,
joined to the sandbox API server beside the kwok nodes, so pods run as real containers.

What it sets up on this machine (every piece is undone by :func:`down`):

- a Linux bridge ``xrsb0`` with ``198.18.0.1/24`` (benchmarking range, never routed; only on this machine's own
  bridge, and refused when it overlaps anything of this machine). It is the node IP, the pods' gateway and the CNI
  bridge; pods get ``.16-.250``;
- containerd (own root, state, socket and CNI config; ``restrict_oom_score_adj`` because root lacks
  CAP_SYS_RESOURCE here), the kubelet (cgroupfs driver, x509 client authentication with the sandbox CA) and
  kube-proxy (iptables mode) as the node ``real-node-0``;
- CoreDNS on ``<node IP>:53`` with the ``kubernetes`` plugin: the cluster DNS that kubelet gives the pods;
- socat relays ``<node IP>:<port>`` -> ``127.0.0.1:<port>`` for the API server (the ``kubernetes`` Service points at
  the bridge address) and the AWS endpoint, which both listen on loopback only;
- a guard chain ``XRSB-GUARD`` (filter FORWARD and OUTPUT) that rejects every packet from the pods that would leave
  the bridge, and every packet to the kwok nodes' fake pod network: pod traffic never leaves this machine;
- host settings the kubelet, kube-proxy and CNI change (sysctls) are recorded on the first ``up`` and restored.

Needs root (network devices, iptables, mounts, cgroups). Debian packages: containerd, runc,
containernetworking-plugins, iptables, socat (installed by ``ensure_packages``).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import ipaddress
import os
import shlex
import shutil
import subprocess
import sys
import time

import debpkgs
import pki
import procs
from procs import SandboxError, pid_alive, read_pid, say, stop_pid, wait_for

BRIDGE = "xrsb0"
# The node's network: a /24 of 198.18.0.0/15 (reserved for network benchmarks, never routed on the internet) that
# exists only on this machine's own bridge. `up` refuses to start when any address or route of this machine
# overlaps it (this kind of machine has its own uplink in 192.0.2.0/24). SANDBOX_NODE_CIDR picks another /24.
NODE_CIDR = str(ipaddress.ip_network(os.environ.get("SANDBOX_NODE_CIDR") or "198.18.0.0/24"))
_NET = ipaddress.ip_network(NODE_CIDR)
NODE_IP = str(_NET.network_address + 1)
POD_RANGE = (str(_NET.network_address + 16), str(_NET.broadcast_address - 5))
# Pod IPs that kwok hands out to pods on its fake nodes (kwok-controller --cidr): they must never route anywhere.
KWOK_POD_CIDR = os.environ.get("SANDBOX_KWOK_POD_CIDR") or "198.18.1.0/24"
KWOK_NODE_IP = str(ipaddress.ip_network(KWOK_POD_CIDR).network_address + 1)
SERVICE_CIDR = "10.0.0.0/24"  # kube-apiserver's default (kwokctl sets none); the `kubernetes` Service is its first IP
CLUSTER_DOMAIN = "cluster.local"
NODE_NAME = "real-node-0"
CNI_NETWORK = "xray-sandbox"
GUARD_CHAIN = "XRSB-GUARD"
CNI_BIN_DIR = "/usr/lib/cni"
PACKAGES = ["containerd", "runc", "containernetworking-plugins", "iptables", "socat"]
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
# Paths outside our directories that the kubelet and containerd use whatever their flags say.
# What was there before the first `up` is recorded; `down` removes only what came after.
FIXED_PATHS = ("/var/log/containers", "/var/log/pods", "/var/lib/kubelet", "/var/lib/cni", "/run/containerd")
# Host settings the kubelet, kube-proxy and the CNI plugins change; recorded before the first start, restored on down.
HOST_SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "net/ipv4/conf/all/route_localnet",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
PROCESSES = ("containerd", "kubelet", "kube-proxy", "coredns", "relay-api", "relay-aws", "relay-sts", "pod-identity-agent")
# The EKS Pod Identity Agent's link-local address, on the node's bridge (emulated agent: sandbox/podidentity_agent.py)
POD_IDENTITY_AGENT_IP = "169.254.170.23"


def sts_names(region: str) -> list[str]:
    """The STS host names an AWS SDK resolves (regional and global): cluster DNS maps them to the node."""
    return [f"sts.{region}.amazonaws.com", "sts.amazonaws.com"]


class Paths:
    """Where the real node keeps its files: ``<sandbox dir>/node`` and a short socket directory under /run."""

    def __init__(self, sandbox_dir: str) -> None:
        self.root = os.path.join(sandbox_dir, "node")
        # unix socket paths are limited to 108 bytes: keep the sockets under /run, keyed by the sandbox directory
        key = hashlib.sha256(os.path.realpath(sandbox_dir).encode()).hexdigest()[:10]
        self.run = f"/run/tracing-xray-sandbox-{key}"

    def __call__(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def socket(self) -> str:
        return os.path.join(self.run, "containerd.sock")

    @property
    def host_settings(self) -> str:
        return self("host-settings.json")


# --- host commands -----------------------------------------------------------------------------------

def run(argv: list[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise SandboxError(f"`{' '.join(argv)}` failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[:500]}")
    return proc


def ensure_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError("the real node needs root (network devices, iptables, mounts, cgroups): run as root, "
                           "or set SANDBOX_REAL_NODES=0 for a sandbox of simulated (kwok) nodes only")


def ensure_packages(log=say) -> None:
    debpkgs.ensure(PACKAGES, log)


def read_sysctl(name: str) -> str | None:
    try:
        with open(f"/proc/sys/{name}", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    with contextlib.suppress(OSError), open(f"/proc/sys/{name}", "w", encoding="utf-8") as handle:
        handle.write(value)


def record_host_settings(paths: Paths) -> None:
    """Record the sysctls once (a second ``up`` must not record what the first one changed)."""
    if os.path.exists(paths.host_settings):
        return
    os.makedirs(paths.root, exist_ok=True)
    values = {name: read_sysctl(name) for name in HOST_SYSCTLS}
    existing = {path: sorted(os.listdir(path)) if os.path.isdir(path) else None for path in FIXED_PATHS}
    with open(paths.host_settings, "w", encoding="utf-8") as handle:
        json.dump({"sysctls": values, "paths": existing, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, handle, indent=2)


def restore_host_settings(paths: Paths) -> list[str]:
    """Write the recorded sysctls back and remove what appeared in the fixed paths; returns what still differs."""
    try:
        with open(paths.host_settings, encoding="utf-8") as handle:
            data = json.load(handle)
        recorded = data["sysctls"]
    except (OSError, ValueError, KeyError):
        return []
    left = []
    for path, before in (data.get("paths") or {}).items():
        if not os.path.isdir(path):
            continue
        if before is None:
            shutil.rmtree(path, ignore_errors=True)
        else:
            for entry in set(os.listdir(path)) - set(before):
                target = os.path.join(path, entry)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.remove(target)
        if os.path.exists(path) and before is None:
            left.append(f"{path} is still there")
    for name, value in recorded.items():
        if value is None:
            continue
        if read_sysctl(name) != value:
            write_sysctl(name, value)
            if read_sysctl(name) != value:
                left.append(f"sysctl {name} is {read_sysctl(name)}, was {value}")
    if not left:
        os.remove(paths.host_settings)
    return left


# --- network -------------------------------------------------------------------------------------------

def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def overlaps() -> list[str]:
    """This machine's addresses and routes (on devices other than our bridge) that overlap the sandbox networks."""
    ours = [ipaddress.ip_network(c) for c in (NODE_CIDR, KWOK_POD_CIDR, SERVICE_CIDR)]
    found = []
    for line in run(["ip", "-4", "-o", "addr", "show"]).stdout.splitlines():
        fields = line.split()
        dev, cidr = fields[1], fields[3]
        if dev != BRIDGE and any(ipaddress.ip_interface(cidr).network.overlaps(net) for net in ours):
            found.append(f"address {cidr} on {dev}")
    for line in run(["ip", "-4", "route", "show"]).stdout.splitlines():
        fields = line.split()
        if fields[0] == "default" or f"dev {BRIDGE}" in line:
            continue
        with contextlib.suppress(ValueError):
            if any(ipaddress.ip_network(fields[0], strict=False).overlaps(net) for net in ours):
                found.append(f"route {line.strip()}")
    return found


def setup_network() -> None:
    clash = overlaps()
    if clash:
        raise SandboxError(f"the sandbox networks (node {NODE_CIDR}, kwok pods {KWOK_POD_CIDR}, services {SERVICE_CIDR}) "
                           f"overlap this machine's own: {'; '.join(clash)}; choose free /24s with SANDBOX_NODE_CIDR "
                           "and SANDBOX_KWOK_POD_CIDR")
    if not link_exists(BRIDGE):
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    addrs = run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE]).stdout
    if f"{NODE_IP}/24" not in addrs:
        run(["ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE])
    if f"{POD_IDENTITY_AGENT_IP}/32" not in addrs:
        run(["ip", "addr", "add", f"{POD_IDENTITY_AGENT_IP}/32", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    write_sysctl("net/ipv4/ip_forward", "1")
    # bridged pod-to-pod replies must pass through conntrack, or Service (DNAT) traffic between pods breaks
    write_sysctl("net/bridge/bridge-nf-call-iptables", "1")
    ensure_guard()


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["iptables", "-w", "5", *args], check=check)


def ensure_guard() -> None:
    """Chain XRSB-GUARD, jumped to first from FORWARD and OUTPUT: nothing from the pods leaves the bridge."""
    if _iptables("-n", "-L", GUARD_CHAIN, check=False).returncode != 0:
        _iptables("-N", GUARD_CHAIN)
    _iptables("-F", GUARD_CHAIN)
    rules = [
        # pods may talk to each other and to this host (INPUT), never to anything behind another interface
        ["-i", BRIDGE, "!", "-o", BRIDGE, "-j", "REJECT"],
        # the kwok nodes' pods are fake: a Service endpoint there must not send traffic anywhere
        ["-d", KWOK_POD_CIDR, "-j", "REJECT"],
        # after kube-proxy's DNAT, a Service address that is left has no endpoint here: never route it off the machine
        ["-d", SERVICE_CIDR, "-j", "REJECT"],
    ]
    for rule in rules:
        _iptables("-A", GUARD_CHAIN, *rule)
    guard_first()


def guard_first() -> None:
    """Our jump first in FORWARD and OUTPUT (kube-proxy and the kubelet prepend theirs when they start)."""
    for chain in ("FORWARD", "OUTPUT"):
        first = _iptables("-S", chain, "1", check=False).stdout.strip()
        if first != f"-A {chain} -j {GUARD_CHAIN}":
            while _iptables("-D", chain, "-j", GUARD_CHAIN, check=False).returncode == 0:
                pass
            _iptables("-I", chain, "1", "-j", GUARD_CHAIN)


def _chains(table: str) -> list[str]:
    out = _iptables("-t", table, "-S", check=False).stdout
    return [line.split()[1] for line in out.splitlines() if line.startswith("-N ")]


def cleanup_iptables() -> None:
    """Remove our guard, and the chains kube-proxy, the kubelet and the CNI plugins made (KUBE-*, CNI-*)."""
    ours = lambda chain: chain == GUARD_CHAIN or chain.startswith(("KUBE-", "CNI-"))  # noqa: E731
    for table in ("filter", "nat", "mangle"):
        chains = [c for c in _chains(table) if ours(c)]
        if not chains:
            continue
        # first the jumps from the built-in chains (and from other chains) to ours
        for line in _iptables("-t", table, "-S", check=False).stdout.splitlines():
            parts = shlex.split(line)
            if parts[:1] == ["-A"] and "-j" in parts and parts[parts.index("-j") + 1] in chains and not ours(parts[1]):
                _iptables("-t", table, "-D", *parts[1:], check=False)
        for chain in chains:
            _iptables("-t", table, "-F", chain, check=False)
        for chain in chains:
            _iptables("-t", table, "-X", chain, check=False)


def cleanup_network() -> list[str]:
    left = []
    for netns in glob.glob("/run/netns/cni-*"):
        run(["ip", "netns", "delete", os.path.basename(netns)], check=False)
    if link_exists(BRIDGE):
        run(["ip", "link", "delete", BRIDGE], check=False)
    cleanup_iptables()
    if link_exists(BRIDGE):
        left.append(f"network device {BRIDGE} still exists")
    left += [f"network namespace {path} still exists" for path in glob.glob("/run/netns/cni-*")]
    for table in ("filter", "nat", "mangle"):
        left += [f"iptables chain {table}/{c} still exists" for c in _chains(table)
                 if c == GUARD_CHAIN or c.startswith(("KUBE-", "CNI-"))]
    return left


# --- configuration files ---------------------------------------------------------------------------------

def containerd_config(paths: Paths) -> str:
    return f"""# containerd of the sandbox's real node (written by sandbox/realnode.py)
version = 2
root = "{paths('containerd', 'root')}"
state = "{paths.run}/state"
oom_score = 0

[grpc]
  address = "{paths.socket}"

[ttrpc]
  address = "{paths.run}/ttrpc.sock"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{paths('containerd', 'opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # root lacks CAP_SYS_RESOURCE here: without this every pod sandbox fails ("can't get final child's PID")
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".registry]
    # every registry resolves to a closed loopback port: a missing image fails at once (ErrImagePull), and no
    # pull ever leaves this machine
    config_path = "{paths('containerd', 'hosts.d')}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{paths('cni', 'net.d')}"
"""


def cni_config(paths: Paths) -> dict:
    return {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": NODE_CIDR, "rangeStart": POD_RANGE[0], "rangeEnd": POD_RANGE[1],
                                 "gateway": NODE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": paths("cni", "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(paths: Paths, ca_file: str) -> dict:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                           "x509": {"clientCAFile": ca_file}},
        "authorization": {"mode": "AlwaysAllow"},
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{paths.socket}",
        "clusterDNS": [NODE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": paths("resolv.conf"),
        "failSwapOn": False,
        "protectKernelDefaults": False,
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "registerNode": True,
        "maxPods": 30,
        "podPidsLimit": 4096,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "nodeStatusUpdateFrequency": "5s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "10s",
        "shutdownGracePeriod": "0s",
        "logging": {"format": "text"},
    }


def kube_proxy_config(kubeconfig: str) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": kubeconfig},
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "mode": "iptables",
        "clusterCIDR": NODE_CIDR,
        # NodePorts only on the bridge address, never on this machine's other interfaces
        "nodePortAddresses": [f"{NODE_IP}/32"],
        # leave the host's conntrack settings alone
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False, "syncPeriod": "10s", "minSyncPeriod": "1s"},
    }


def corefile(kubeconfig: str, context: str, region: str) -> str:
    return f"""# CoreDNS of the sandbox's real node: cluster names, and the AWS STS names mapped to the node's TLS relay in
# front of the sandbox's (EMULATED) STS; nothing is forwarded off this machine.
.:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    hosts {{
        {NODE_IP} {' '.join(sts_names(region))}
        fallthrough
    }}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} {context}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }}
    cache 5
}}
"""


# containerd hosts.toml for every registry: a loopback port where nothing listens (port 9, discard).
NO_REGISTRY_HOSTS = """# written by sandbox/realnode.py: the sandbox pulls nothing; images are imported by the sandbox's build step
server = "http://127.0.0.1:9"

[host."http://127.0.0.1:9"]
  capabilities = ["pull", "resolve"]
"""


def _write(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


# --- start and stop ------------------------------------------------------------------------------------

def kwok_patches() -> list[dict]:
    """kwokctl component patches: kwok manages only its annotated nodes and hands out fake IPs that never route.

    Appended flags (kwokctl's ``override`` only rewrites a flag it already passes): the last value of a flag wins."""
    return [{
        "name": "kwok-controller",
        "extraArgs": [
            {"key": "manage-all-nodes", "value": "false"},
            {"key": "manage-nodes-with-annotation-selector", "value": "kwok.x-k8s.io/node=fake"},
            {"key": "cidr", "value": KWOK_POD_CIDR},
            {"key": "node-ip", "value": KWOK_NODE_IP},
        ],
    }]


def apiserver_args(cluster_dir: str) -> list[dict]:
    """kube-apiserver flags for a real node: the `kubernetes` Service on the bridge, kubelet access by IP."""
    pki = os.path.join(cluster_dir, "pki")
    return [
        {"key": "advertise-address", "value": NODE_IP},
        {"key": "kubelet-preferred-address-types", "value": "InternalIP,Hostname"},
        {"key": "kubelet-client-certificate", "value": os.path.join(pki, "admin.crt")},
        {"key": "kubelet-client-key", "value": os.path.join(pki, "admin.key")},
    ]


def cert_sans() -> list[str]:
    # the `kubernetes` Service IP (first address of the service range) and the bridge address
    return [str(ipaddress.ip_network(SERVICE_CIDR).network_address + 1), NODE_IP]


def start(settings, bins: dict[str, str], relay_ports: dict[str, int], log=say) -> dict:
    """Start containerd, kubelet, kube-proxy, CoreDNS and the relays; returns what sandbox.json records."""
    ensure_root()
    paths = Paths(settings.dir)
    for sub in ("containerd/root", "containerd/opt", "cni/net.d", "cni/ipam", "kubelet"):
        os.makedirs(paths(sub), exist_ok=True)
    os.makedirs(paths.run, exist_ok=True)
    record_host_settings(paths)
    setup_network()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBE"))}
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin:" + env.get("PATH", "")

    for name, port in relay_ports.items():
        argv = ["socat", f"TCP-LISTEN:{port},bind={NODE_IP},reuseaddr,fork", f"TCP:127.0.0.1:{port}"]
        procs.start_process(name, argv, env, paths.root, settings.log(name), settings.pidfile(name))
    # STS as an SDK reaches it: https://sts.<region>.amazonaws.com (cluster DNS -> this relay, TLS with the sandbox
    # CA, which pods trust through AWS_CA_BUNDLE) -> the AWS endpoint
    crt, key = pki.issue(settings.path("pki"), "sts", sts_names(settings.region))
    argv = ["socat", f"OPENSSL-LISTEN:443,bind={NODE_IP},reuseaddr,fork,cert={crt},key={key},verify=0",
            f"TCP:127.0.0.1:{settings.aws_port}"]
    procs.start_process("relay-sts", argv, env, paths.root, settings.log("relay-sts"), settings.pidfile("relay-sts"))

    cfg = _write(paths("containerd", "config.toml"), containerd_config(paths))
    _write(paths("containerd", "hosts.d", "_default", "hosts.toml"), NO_REGISTRY_HOSTS)
    _write(paths("cni", "net.d", "10-xray-sandbox.conflist"), json.dumps(cni_config(paths), indent=2) + "\n")
    log(f"starting containerd (socket {paths.socket}; log: {settings.log('containerd')})")
    containerd = procs.start_process("containerd", ["containerd", "--config", cfg], env, paths.root,
                                     settings.log("containerd"), settings.pidfile("containerd"))
    wait_for("containerd", lambda: run(["ctr", "--address", paths.socket, "version"], check=False).returncode == 0,
             settings.timeout, settings.log("containerd"), alive=lambda: containerd.poll() is None)
    return {"paths": paths, "env": env}


def start_node(settings, bins: dict[str, str], started: dict, aws_info: dict, log=say) -> None:
    """After the images are imported: the kubelet, kube-proxy and CoreDNS."""
    paths, env = started["paths"], started["env"]
    kubeconfig = settings.kubeconfig
    ca_file = os.path.join(settings.cluster_dir, "pki", "ca.crt")
    _write(paths("resolv.conf"), "# pods with dnsPolicy Default: no resolver off this machine\nnameserver 127.0.0.1\n")
    kubelet_cfg = _write(paths("kubelet-config.json"), json.dumps(kubelet_config(paths, ca_file), indent=2) + "\n")
    argv = [bins["kubelet"], "--config", kubelet_cfg, "--kubeconfig", kubeconfig,
            "--root-dir", paths("kubelet"), "--cert-dir", paths("kubelet", "pki"),
            "--hostname-override", NODE_NAME, "--node-ip", NODE_IP,
            "--node-labels", "type=real,tracing.xray.sandbox/node=real", "--v", "1"]
    log(f"starting the kubelet as node {NODE_NAME} ({NODE_IP}; log: {settings.log('kubelet')})")
    procs.start_process("kubelet", argv, env, paths.root, settings.log("kubelet"), settings.pidfile("kubelet"))
    proxy_cfg = _write(paths("kube-proxy-config.json"), json.dumps(kube_proxy_config(kubeconfig), indent=2) + "\n")
    procs.start_process("kube-proxy", [bins["kube-proxy"], "--config", proxy_cfg, "--v", "1"], env, paths.root,
                        settings.log("kube-proxy"), settings.pidfile("kube-proxy"))
    agent = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "podidentity_agent.py"),
             "--endpoint", f"http://127.0.0.1:{settings.aws_port}", "--cluster", settings.cluster,
             "--bind", POD_IDENTITY_AGENT_IP, "--port", "80", "--region", settings.region]
    agent_env = dict(env, AWS_ACCESS_KEY_ID=aws_info["access_key_id"], AWS_SECRET_ACCESS_KEY=aws_info["secret_access_key"])
    procs.start_process("pod-identity-agent", agent, agent_env, paths.root, settings.log("pod-identity-agent"),
                        settings.pidfile("pod-identity-agent"))
    context = f"kwok-{settings.cluster}"
    core = _write(paths("Corefile"), corefile(kubeconfig, context, settings.region))
    procs.start_process("coredns", [bins["coredns"], "-conf", core], env, paths.root,
                        settings.log("coredns"), settings.pidfile("coredns"))


def pids(settings) -> dict[str, int]:
    found = {}
    for name in PROCESSES:
        pid = read_pid(settings.pidfile(name))
        if pid:
            found[name] = pid
    return found


def _mounts_under(prefixes: tuple[str, ...]) -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as handle:
        points = [line.split()[1].replace("\\040", " ") for line in handle]
    return sorted((p for p in points if p.startswith(prefixes)), key=len, reverse=True)


def _kill_shims(paths: Paths) -> None:
    """containerd-shim processes of our containerd (they outlive it by design)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        cmd = procs.proc_cmdline(int(entry))
        if "containerd-shim" in cmd and paths.socket in cmd:
            stop_pid(int(entry), "containerd-shim", grace=3)


def _cgroup_dirs() -> list[str]:
    dirs = []
    for root in glob.glob("/sys/fs/cgroup/*/kubepods") + glob.glob("/sys/fs/cgroup/kubepods"):
        for current, subdirs, _ in os.walk(root):
            dirs.extend(os.path.join(current, d) for d in subdirs)
        dirs.append(root)
    return sorted(set(dirs), key=len, reverse=True)


def down(settings, quiet: bool = False) -> list[str]:
    """Stop the node's processes, then remove mounts, network, iptables, cgroups; restore the host settings."""
    paths = Paths(settings.dir)
    running = pids(settings)
    for name in ("kubelet", "kube-proxy", "coredns", "relay-api", "relay-aws", "relay-sts", "pod-identity-agent"):
        if pid_alive(running.get(name)) and not quiet:
            say(f"stopping {name} (pid {running[name]})")
        stop_pid(running.get(name), name, grace=10)
    # the containers: kill every task, then containerd and its shims
    if pid_alive(running.get("containerd")):
        out = run(["ctr", "--address", paths.socket, "-n", "k8s.io", "tasks", "ls", "-q"], check=False, timeout=20).stdout
        for task in out.split():
            run(["ctr", "--address", paths.socket, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", task],
                check=False, timeout=20)
        stop_pid(running.get("containerd"), "containerd", grace=10)
    _kill_shims(paths)
    for point in _mounts_under((paths.root + "/", paths.run + "/", "/run/containerd/", "/run/netns/cni-",
                                "/var/lib/kubelet/")):
        run(["umount", "-l", point], check=False)
    left = cleanup_network()
    for cgroup in _cgroup_dirs():
        with contextlib.suppress(OSError):
            os.rmdir(cgroup)
    left += [f"cgroup {d} still exists" for d in _cgroup_dirs()]
    left += restore_host_settings(paths)
    for name in PROCESSES:
        with contextlib.suppress(FileNotFoundError):
            os.remove(settings.pidfile(name))
    shutil.rmtree(paths.run, ignore_errors=True)
    shutil.rmtree(paths.root, ignore_errors=True)
    left += [f"{name} pid {pid} still running" for name, pid in running.items() if pid_alive(pid)]
    left += [f"mount {p} still present" for p in _mounts_under((paths.root + "/", paths.run + "/"))]
    return left


def node_health(node: dict | None) -> str | None:
    """None when the real node is Ready, else why not."""
    if not node:
        return f"node {NODE_NAME} is not registered"
    conditions = {c.get("type"): c for c in node.get("status", {}).get("conditions", [])}
    ready = conditions.get("Ready", {})
    if ready.get("status") != "True":
        return f"node {NODE_NAME} is not Ready ({ready.get('reason', 'no status')}: {ready.get('message', '')})"
    return None
