"""Unit tests of the real node's pure parts (sandbox/realnode.py) and the sandbox settings that depend on it."""

from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest

from sandbox import sandbox as cli

realnode = cli.realnode  # the module object sandbox.py itself uses (the sandbox scripts import their siblings by name)


class FakeSettings:
    dir = "/tmp/sbx"
    cluster = "xray-sandbox"


def test_node_network_is_consistent():
    net = ipaddress.ip_network(realnode.NODE_CIDR)
    assert ipaddress.ip_address(realnode.NODE_IP) in net
    assert all(ipaddress.ip_address(a) in net for a in realnode.POD_RANGE)
    assert realnode.NODE_IP not in realnode.POD_RANGE
    for other in (realnode.KWOK_POD_CIDR, realnode.SERVICE_CIDR):
        assert not net.overlaps(ipaddress.ip_network(other))
    # the `kubernetes` Service IP and the bridge address are in the API server certificate
    assert realnode.cert_sans() == ["10.0.0.1", realnode.NODE_IP]


def test_cni_config_bridges_the_node_and_maps_host_ports():
    conf = realnode.cni_config(realnode.Paths("/tmp/sbx"))
    bridge, portmap = conf["plugins"]
    assert bridge["bridge"] == realnode.BRIDGE and bridge["isGateway"] and not bridge["ipMasq"]
    ranges = bridge["ipam"]["ranges"][0][0]
    assert ranges["gateway"] == realnode.NODE_IP and ranges["subnet"] == realnode.NODE_CIDR
    assert bridge["ipam"]["dataDir"].startswith("/tmp/sbx/node/")  # not /var/lib/cni
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}


def test_kubelet_is_not_anonymous_and_uses_the_node_ip_and_cluster_dns():
    conf = realnode.kubelet_config(realnode.Paths("/tmp/sbx"), "/ca.crt")
    assert conf["authentication"]["anonymous"]["enabled"] is False
    assert conf["authentication"]["x509"]["clientCAFile"] == "/ca.crt"
    assert conf["address"] == realnode.NODE_IP and conf["clusterDNS"] == [realnode.NODE_IP]
    assert conf["readOnlyPort"] == 0 and conf["cgroupDriver"] == "cgroupfs"
    assert conf["containerRuntimeEndpoint"].startswith("unix:///run/tracing-xray-sandbox-")


def test_socket_directory_is_short_and_stable():
    one, two = realnode.Paths("/a/very/long/checkout/path" * 3), realnode.Paths("/a/very/long/checkout/path" * 3)
    assert one.socket == two.socket and len(one.socket) < 100
    assert realnode.Paths("/x").socket != one.socket


def test_containerd_never_pulls_from_off_the_machine():
    paths = realnode.Paths("/tmp/sbx")
    text = realnode.containerd_config(paths)
    assert "restrict_oom_score_adj = true" in text and f'sandbox_image = "{realnode.PAUSE_IMAGE}"' in text
    assert 'config_path = "/tmp/sbx/node/containerd/hosts.d"' in text
    assert 'server = "http://127.0.0.1:9"' in realnode.NO_REGISTRY_HOSTS


def test_kwok_patches_are_appended_flags_that_limit_kwok_to_its_nodes():
    (patch,) = realnode.kwok_patches()
    args = {a["key"]: a["value"] for a in patch["extraArgs"]}
    assert patch["name"] == "kwok-controller"
    assert args["manage-all-nodes"] == "false"
    assert args["manage-nodes-with-annotation-selector"] == "kwok.x-k8s.io/node=fake"
    assert args["cidr"] == realnode.KWOK_POD_CIDR
    # kwokctl's `override` only rewrites flags it already passes: ours are appended (the last one wins)
    assert not any(a.get("override") for a in patch["extraArgs"])
    assert not any(a.get("override") for a in realnode.apiserver_args("/c"))


def fake_ip(addresses: str, routes: str):
    def run(argv, check=True, timeout=60):
        out = addresses if "addr" in argv else routes
        return subprocess.CompletedProcess(argv, 0, out, "")
    return run


def test_overlapping_host_networks_are_named(monkeypatch):
    monkeypatch.setattr(realnode, "run", fake_ip(
        "2: eth0    inet 198.18.0.7/24 brd 198.18.0.255 scope global eth0\n1: lo    inet 127.0.0.1/8 scope host lo\n",
        "default via 198.18.0.1 dev eth0\n10.0.0.0/16 dev tun0 scope link\n"))
    found = realnode.overlaps()
    assert any("198.18.0.7/24 on eth0" in item for item in found)
    assert any("10.0.0.0/16" in item for item in found)
    with pytest.raises(realnode.SandboxError, match="SANDBOX_NODE_CIDR"):
        realnode.setup_network()


def test_this_kind_of_machine_uplink_does_not_overlap(monkeypatch):
    # the machine's own uplink is 192.0.2.2/24 with its gateway at 192.0.2.1: the reason the node is not there
    monkeypatch.setattr(realnode, "run", fake_ip(
        "2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\n",
        "default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2\n"
        f"{realnode.NODE_CIDR} dev {realnode.BRIDGE} proto kernel scope link src {realnode.NODE_IP}\n"))
    assert realnode.overlaps() == []


def test_host_settings_are_recorded_once_and_restored(tmp_path, monkeypatch):
    values = {name: "0" for name in realnode.HOST_SYSCTLS}
    monkeypatch.setattr(realnode, "read_sysctl", values.get)
    monkeypatch.setattr(realnode, "write_sysctl", values.__setitem__)
    monkeypatch.setattr(realnode, "FIXED_PATHS", (str(tmp_path / "fixed"),))
    (tmp_path / "fixed").mkdir()
    (tmp_path / "fixed" / "theirs").write_text("x")
    paths = realnode.Paths(str(tmp_path))
    realnode.record_host_settings(paths)
    values["net/ipv4/ip_forward"] = "1"
    realnode.record_host_settings(paths)  # a second `up` must not record what the first one changed
    (tmp_path / "fixed" / "ours").mkdir()
    assert realnode.restore_host_settings(paths) == []
    assert values["net/ipv4/ip_forward"] == "0"
    assert sorted(p.name for p in (tmp_path / "fixed").iterdir()) == ["theirs"]
    assert not (tmp_path / "node" / "host-settings.json").exists()


def test_real_node_settings(monkeypatch):
    monkeypatch.delenv("SANDBOX_DAEMON_PORT", raising=False)
    monkeypatch.setenv("SANDBOX_REAL_NODES", "1")
    assert cli.Settings().daemon_port == 2001, "2000 belongs to the daemon pod's hostPort"
    monkeypatch.setenv("SANDBOX_REAL_NODES", "0")
    assert cli.Settings().daemon_port == 2000
    monkeypatch.setenv("SANDBOX_REAL_NODES", "2")
    with pytest.raises(cli.SandboxError, match="at most 1 real node"):
        cli.Settings()
    monkeypatch.setenv("SANDBOX_REAL_NODES", "1")
    monkeypatch.setenv("SANDBOX_DAEMON_PORT", "2000")
    with pytest.raises(cli.SandboxError, match="hostPort"):
        cli.Settings()


def test_kwok_nodes_are_tainted_only_beside_a_real_node(monkeypatch):
    monkeypatch.delenv("SANDBOX_DAEMON_PORT", raising=False)
    monkeypatch.setenv("SANDBOX_REAL_NODES", "1")
    assert cli.node_manifest("kwok-node-0", cli.Settings(), "v1.33.13", 0)["spec"] == {"taints": [cli.KWOK_TAINT]}
    monkeypatch.setenv("SANDBOX_REAL_NODES", "0")
    assert cli.node_manifest("kwok-node-0", cli.Settings(), "v1.33.13", 0)["spec"] == {}


def test_kwokctl_config_carries_the_real_node_flags(monkeypatch):
    monkeypatch.delenv("SANDBOX_DAEMON_PORT", raising=False)
    monkeypatch.setenv("SANDBOX_REAL_NODES", "1")
    bins = {name: f"/bin/{name}" for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "etcd")}
    versions = {"kube-apiserver": "v1.33.13", "etcd": "v3.5.35"}
    config = json.loads(cli.kwokctl_config(cli.Settings(), "https://issuer", bins, versions))
    assert config["options"]["kubeApiserverCertSANs"] == realnode.cert_sans()
    apiserver = {a["key"]: a["value"] for a in config["componentsPatches"][0]["extraArgs"]}
    assert apiserver["advertise-address"] == realnode.NODE_IP
    assert apiserver["kubelet-preferred-address-types"] == "InternalIP,Hostname"
    assert apiserver["service-account-issuer"] == "https://issuer"
    assert [p["name"] for p in config["componentsPatches"]] == ["kube-apiserver", "kwok-controller"]
    monkeypatch.setenv("SANDBOX_REAL_NODES", "0")
    config = json.loads(cli.kwokctl_config(cli.Settings(), "https://issuer", bins, versions))
    assert "kubeApiserverCertSANs" not in config["options"] and len(config["componentsPatches"]) == 1


def test_node_health_names_the_reason():
    assert "not registered" in realnode.node_health(None)
    node = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "cni"}]}}
    assert "KubeletNotReady" in realnode.node_health(node)
    assert realnode.node_health({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}) is None
