"""Canned daemon pods as the API server returns them (``kubernetes.core.k8s_info`` / the ``k8s`` lookup), for the
tests of ``tracing.xray.pod_problems`` and of the daemon role's wait logic.

Every pod belongs to DaemonSet ``xray-system/xray-daemon`` at generation ``GENERATION`` unless told otherwise; a pod
that is not scheduled yet names its node only in its required node affinity, as the DaemonSet controller writes it.
"""

from __future__ import annotations

import copy

NAMESPACE = "xray-system"
GENERATION = 2
IMAGE = "public.ecr.aws/xray/aws-xray-daemon:3.6.6"
T0 = "2025-01-01T00:00:00Z"
BACKOFF_MESSAGE = "back-off 40s restarting failed container=xray-daemon pod=xray-daemon-crash_xray-system(5f0e4bd8-3c0c-4d8e-9f1a-0c6b1d7e2a11)"
UNSCHEDULABLE_MESSAGE = (
    "0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. preemption: 0/3 nodes are available: "
    "1 node(s) didn't have free ports for the requested pod ports, 2 Preemption is not helpful for scheduling."
)


def _pod(name, node, phase, conditions, statuses=None, generation=GENERATION, scheduled=True, **status):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {
                "app.kubernetes.io/name": "aws-xray-daemon",
                "app.kubernetes.io/instance": "xray-daemon",
                "controller-revision-hash": "6d4f8b7c9",
                "pod-template-generation": str(generation),
            },
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "xray-daemon", "controller": True}],
        },
        "spec": {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
                    }
                }
            },
            "containers": [{"name": "xray-daemon", "image": IMAGE}],
        },
        "status": dict({"phase": phase, "conditions": conditions, "qosClass": "Burstable"}, **status),
    }
    if scheduled:
        pod["spec"]["nodeName"] = node
    if statuses is not None:
        pod["status"]["containerStatuses"] = statuses
    return pod


def _conditions(ready, scheduled=True, message="containers with unready status: [xray-daemon]"):
    out = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": T0}]
    if not scheduled:
        return out
    out += [
        {"type": "Initialized", "status": "True", "lastTransitionTime": T0},
        {"type": "Ready", "status": str(ready), "lastTransitionTime": T0},
        {"type": "ContainersReady", "status": str(ready), "lastTransitionTime": T0},
    ]
    for cond in out[2:]:
        if not ready:
            cond.update(reason="ContainersNotReady", message=message)
    return out


def _status(state, restarts=0, last=None, ready=False):
    status = {"name": "xray-daemon", "image": IMAGE, "imageID": "", "ready": ready, "restartCount": restarts, "started": ready, "state": state}
    status["lastState"] = {"terminated": last} if last else {}
    return status


def crash_loop(name="xray-daemon-crash", node="node-a", restarts=3, generation=GENERATION):
    last = {"exitCode": 1, "reason": "Error", "startedAt": T0, "finishedAt": T0, "containerID": "containerd://0a1b"}
    return _pod(name, node, "Running", _conditions(False),
                [_status({"waiting": {"reason": "CrashLoopBackOff", "message": BACKOFF_MESSAGE.replace("xray-daemon-crash", name)}}, restarts, last)],
                generation=generation)


def image_pull_back_off(name="xray-daemon-pull", node="node-b"):
    message = 'Back-off pulling image "public.ecr.aws/xray/aws-xray-daemon:9.9.9"'
    return _pod(name, node, "Pending", _conditions(False), [_status({"waiting": {"reason": "ImagePullBackOff", "message": message}})])


def unschedulable(name="xray-daemon-pending", node="node-c", **status):
    conditions = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": UNSCHEDULABLE_MESSAGE, "lastTransitionTime": T0}]
    return _pod(name, node, "Pending", conditions, scheduled=False, **status)


def running_ready(name="xray-daemon-ok", node="node-d"):
    return _pod(name, node, "Running", _conditions(True), [_status({"running": {"startedAt": T0}}, ready=True)])


def container_creating(name="xray-daemon-new", node="node-e"):
    return _pod(name, node, "Pending", _conditions(False), [_status({"waiting": {"reason": "ContainerCreating"}})])


def restarted_once(name="xray-daemon-again", node="node-f"):
    """Running again after one crash (exit code 2), not ready yet."""
    last = {"exitCode": 2, "reason": "Error", "startedAt": T0, "finishedAt": T0, "containerID": "containerd://2c3d"}
    return _pod(name, node, "Running", _conditions(False), [_status({"running": {"startedAt": T0}}, 1, last)])


def terminating(pod):
    pod = copy.deepcopy(pod)
    pod["metadata"]["deletionTimestamp"] = T0
    return pod


def the_five():
    """The five pods of the brief: CrashLoopBackOff (3 restarts, exit 1), ImagePullBackOff, Unschedulable, Running and
    ready, ContainerCreating."""
    return [crash_loop(), image_pull_back_off(), unschedulable(), running_ready(), container_creating()]
