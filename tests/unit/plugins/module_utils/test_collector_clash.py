"""module_utils/collector_clash: which DaemonSets and bare pods already hold our ports on the nodes."""

from __future__ import annotations

from ansible_collections.tracing.xray.plugins.module_utils.collector_clash import clash_message
from ansible_collections.tracing.xray.plugins.module_utils.collector_clash import find_clashes
from ansible_collections.tracing.xray.plugins.module_utils.collector_clash import node_ports

OURS = {"app.kubernetes.io/managed-by": "tracing.xray"}
CW_IMAGE = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300062.0b1304"


def daemon_set(namespace, name, ports, labels=None, host_network=False, image="img"):
    spec = {"containers": [{"name": "c", "image": image, "ports": ports}]}
    if host_network:
        spec["hostNetwork"] = True
    return {"metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
            "spec": {"template": {"spec": spec}}}


def pod(namespace, name, ports, owners=None, labels=None):
    meta = {"namespace": namespace, "name": name, "labels": labels or {}}
    if owners:
        meta["ownerReferences"] = owners
    return {"metadata": meta, "spec": {"containers": [{"name": "c", "image": "busybox", "ports": ports}]}}


# The EKS add-on amazon-cloudwatch-observability's agent: hostPorts 4315, 4316 and 2000.
ADDON = daemon_set("amazon-cloudwatch", "cloudwatch-agent", [
    {"containerPort": 4315, "hostPort": 4315, "protocol": "TCP"},
    {"containerPort": 4316, "hostPort": 4316, "protocol": "TCP"},
    {"containerPort": 2000, "hostPort": 2000, "protocol": "TCP"},
], labels={"app.kubernetes.io/name": "cloudwatch-agent"}, image=CW_IMAGE)


def test_the_cloudwatch_observability_addon_clashes_on_2000():
    clashes = find_clashes([ADDON], [], [2000], OURS)
    assert [(c["kind"], c["namespace"], c["name"], c["images"], c["ports"]) for c in clashes] == [
        ("DaemonSet", "amazon-cloudwatch", "cloudwatch-agent", [CW_IMAGE], ["2000/TCP"])]


def test_other_ports_ours_and_container_ports_without_host_port_pass():
    ours = daemon_set("xray-system", "xray-daemon", [{"containerPort": 2000, "hostPort": 2000, "protocol": "UDP"}], labels=OURS)
    no_host_port = daemon_set("monitoring", "agent", [{"containerPort": 2000, "protocol": "UDP"}])
    other_port = daemon_set("monitoring", "statsd", [{"containerPort": 8125, "hostPort": 8125, "protocol": "UDP"}])
    assert find_clashes([ours, no_host_port, other_port, ADDON], [], [2001], OURS) == []
    assert find_clashes([ours, no_host_port, other_port], [], [2000], OURS) == []


def test_host_network_with_the_container_port_clashes():
    host = daemon_set("kube-system", "xray", [{"containerPort": 2000, "protocol": "UDP"}], host_network=True)
    [clash] = find_clashes([host], [], [2000], OURS)
    assert clash["host_network"] and clash["ports"] == ["2000/UDP"]
    assert node_ports(host["spec"]["template"]["spec"], [2000, 4317]) == [(2000, "UDP")]


def test_bare_pods_clash_but_pods_of_a_controller_do_not():
    bare = pod("default", "debug-collector", [{"containerPort": 2000, "hostPort": 2000, "protocol": "UDP"}])
    owned = pod("amazon-cloudwatch", "cloudwatch-agent-x1", [{"containerPort": 2000, "hostPort": 2000}],
                owners=[{"kind": "DaemonSet", "name": "cloudwatch-agent"}])
    clashes = find_clashes([ADDON], [owned, bare], [2000], OURS)
    assert [(c["kind"], c["namespace"], c["name"]) for c in clashes] == [
        ("DaemonSet", "amazon-cloudwatch", "cloudwatch-agent"), ("Pod", "default", "debug-collector")]


def test_every_port_is_checked_and_protocol_defaults_to_tcp():
    otlp = daemon_set("otel", "collector", [{"containerPort": 4317, "hostPort": 4317}])
    [clash] = find_clashes([otlp], [], [2000, 4317, 4318], OURS)
    assert clash["ports"] == ["4317/TCP"]


def test_message_names_the_collector_and_both_ways_out():
    msg = clash_message(find_clashes([ADDON], [], [2000], OURS), [2000])
    for fragment in ("DaemonSet amazon-cloudwatch/cloudwatch-agent", CW_IMAGE, "2000/TCP", "xray_daemon_enabled: false",
                     "apps_daemon_address_mode: node", "apps_daemon_address_mode: service", "apps_daemon_service_address",
                     "daemon_port", "nothing was changed"):
        assert fragment in msg, msg


def test_with_an_instance_another_collector_of_ours_on_the_port_clashes():
    # Two inventory hosts on one cluster, each with its own namespace: the other host's DaemonSet holds 2000 too.
    port = [{"containerPort": 2000, "hostPort": 2000, "protocol": "UDP"}]
    this = daemon_set("xray-a", "xray-daemon", port, labels=OURS)
    other_namespace = daemon_set("xray-b", "xray-daemon", port, labels=OURS)
    other_name = daemon_set("xray-a", "xray-daemon-2", port, labels=OURS)
    instance = {"namespace": "xray-a", "name": "xray-daemon"}
    clashes = find_clashes([this, other_namespace, other_name], [], [2000], OURS, instance=instance)
    assert [(c["namespace"], c["name"]) for c in clashes] == [("xray-a", "xray-daemon-2"), ("xray-b", "xray-daemon")]
    # This collector alone is not a clash; a bare pod with our labels is not this DaemonSet, so it is one.
    assert find_clashes([this], [], [2000], OURS, instance=instance) == []
    bare = pod("xray-a", "xray-daemon", port, labels=OURS)
    assert [c["kind"] for c in find_clashes([this], [bare], [2000], OURS, instance=instance)] == ["Pod"]
    # Without an instance every object with our labels is skipped (the module's behaviour before `instance`).
    assert find_clashes([this, other_namespace, other_name], [bare], [2000], OURS) == []
