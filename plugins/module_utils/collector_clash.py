# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Collectors that already listen on the nodes on one of our ports (docs/adding-a-collector-flavor.md).

A DaemonSet or a bare pod that is not ours and whose pod spec holds one of our ports on the node (a container port
with that ``hostPort``, or ``hostNetwork: true`` with that ``containerPort``) collides with the collector DaemonSet:
the scheduler leaves our pods Pending on every node it covers. The EKS add-on ``amazon-cloudwatch-observability``
is the usual case (its agent holds hostPorts 4315, 4316 and 2000).

Pure functions (no client), used by the ``k8s_hostport_clash`` module and its unit tests.
"""

from __future__ import annotations


def _labels_match(labels, wanted):
    return all((labels or {}).get(key) == value for key, value in (wanted or {}).items())


def node_ports(pod_spec, ports):
    """The ``[(port, protocol)]`` of ``ports`` that ``pod_spec`` holds on its node, sorted."""
    wanted = {int(port) for port in ports}
    host_network = bool((pod_spec or {}).get("hostNetwork"))
    held = set()
    containers = list((pod_spec or {}).get("containers") or []) + list((pod_spec or {}).get("initContainers") or [])
    for container in containers:
        for port in container.get("ports") or []:
            protocol = port.get("protocol") or "TCP"
            host_port = port.get("hostPort")
            if host_port is None and host_network:
                host_port = port.get("containerPort")
            if host_port is not None and int(host_port) in wanted:
                held.add((int(host_port), protocol))
    return sorted(held)


def _images(pod_spec):
    return [c.get("image") or "" for c in (pod_spec or {}).get("containers") or []]


def find_clashes(daemon_sets, pods, ports, owner_labels, instance=None):
    """The collectors among ``daemon_sets`` and bare ``pods`` (dicts as the API returns them) that hold one of ``ports``
    on their nodes and are not ours (lack any of ``owner_labels``); sorted by kind, namespace, name.

    With ``instance`` (``{"namespace": ..., "name": ...}`` of our DaemonSet), only that DaemonSet is skipped: another
    collector of ours on the same ports (another inventory host on this cluster, or ours before a change of namespace
    or name) is a clash as well, since our new pods would stay Pending beside it."""
    found = []
    candidates = [("DaemonSet", ds, ((ds.get("spec") or {}).get("template") or {}).get("spec")) for ds in daemon_sets or []]
    # Pods that a controller made (a DaemonSet's, a ReplicaSet's, ...) are counted through that controller, or not at all.
    candidates += [("Pod", pod, pod.get("spec")) for pod in pods or []
                   if not (pod.get("metadata") or {}).get("ownerReferences")]
    for kind, obj, spec in candidates:
        meta = obj.get("metadata") or {}
        if _labels_match(meta.get("labels"), owner_labels) and (
                not instance or (kind == "DaemonSet" and meta.get("namespace") == instance.get("namespace")
                                 and meta.get("name") == instance.get("name"))):
            continue
        held = node_ports(spec, ports)
        if not held:
            continue
        found.append(dict(kind=kind, namespace=meta.get("namespace") or "", name=meta.get("name") or "",
                          images=_images(spec), host_network=bool((spec or {}).get("hostNetwork")),
                          ports=[f"{port}/{protocol}" for port, protocol in held],
                          node_selector=(spec or {}).get("nodeSelector") or {}, labels=meta.get("labels") or {}))
    return sorted(found, key=lambda c: (c["kind"], c["namespace"], c["name"]))


def clash_message(clashes, ports, service_hint=None):
    """The message that stops the run: who holds which port, and the ways out."""
    port = int(sorted(int(p) for p in ports)[0]) if ports else 2000
    holders = "; ".join(
        f"{c['kind']} {c['namespace']}/{c['name']} (image {', '.join(c['images']) or 'unknown'}; "
        f"{'host network, ' if c['host_network'] else ''}holds {', '.join(c['ports'])})"
        for c in clashes)
    example = service_hint or "<service>.<namespace>"
    return (
        f"another collector already listens on the nodes on port(s) {', '.join(str(p) for p in sorted(ports))}: {holders}. "
        "The collector DaemonSet of tracing.xray would stay Pending on every node it shares with it, so nothing was "
        "changed. Ways out: (1) use that collector and not ours: set xray_daemon_enabled: false (for tracing.xray.apps, "
        f"apps_daemon_address_mode: node already reaches it at <node IP>:{port} if it listens there on every node, "
        f"otherwise set apps_daemon_address_mode: service and apps_daemon_service_address: '{example}:{port}'); "
        "or (2) keep ours and move it: another daemon_port (and apps_daemon_port), or remove the other collector "
        "(for the EKS add-on amazon-cloudwatch-observability, remove the add-on or disable its X-Ray listener). "
        "daemon_clash_check: false skips this check."
    )
