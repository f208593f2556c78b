# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: pod_problems
short_description: Why the pods of a rollout are not ready, and whether waiting can still help
version_added: 0.1.0
author: tracing.xray maintainers (@tracing-xray)
description:
  - Takes a list of Pod objects (as C(kubernetes.core.k8s_info) or the C(kubernetes.core.k8s) lookup return them)
    and returns one entry for every pod that is neither ready nor terminating.
  - Recognises real failures - a container waiting with C(CrashLoopBackOff), C(ImagePullBackOff), C(ErrImagePull),
    C(ErrImageNeverPull), C(InvalidImageName), C(CreateContainerConfigError), C(CreateContainerError) or
    C(RunContainerError); a container that terminated with a non-zero exit code, or that restarted after one; a pod
    the scheduler cannot place (condition C(PodScheduled=False), reason C(Unschedulable)); a pod in phase C(Failed).
  - Marks as C(definite) the failures that waiting does not fix - C(CrashLoopBackOff) after O(min_restarts)
    restarts, C(ImagePullBackOff), C(ErrImageNeverPull), C(InvalidImageName), C(CreateContainerConfigError), and
    C(Unschedulable) unless a terminating pod of the same list still occupies the node or a preemption is under way
    (C(status.nominatedNodeName)). A pod that is starting (C(ContainerCreating)), pulling its image for the first
    time (C(ErrImagePull)) or that restarted once is never definite.
  - The node of a pod that is not scheduled yet is read from its required node affinity (C(matchFields) on
    C(metadata.name)), where the DaemonSet controller puts it.
options:
  _input:
    description: The Pod objects.
    type: list
    elements: dict
    required: true
  generation:
    description:
      - The DaemonSet's C(metadata.generation). Only pods whose C(pod-template-generation) label equals it can be
        C(definite); pods of an older template are about to be replaced. Omit to consider every pod.
    type: int
  min_restarts:
    description: Restarts after which C(CrashLoopBackOff) is C(definite).
    type: int
    default: 2
"""

EXAMPLES = r"""
- name: Stop polling once a daemon pod cannot start without a change
  kubernetes.core.k8s_info:
    kind: DaemonSet
    name: xray-daemon
    namespace: xray-system
  register: ds
  until: >-
    query('kubernetes.core.k8s', kind='Pod', namespace='xray-system', label_selector='app=xray-daemon')
    | tracing.xray.pod_problems(generation=ds.resources[0].metadata.generation)
    | selectattr('definite') | list | length > 0
  retries: 30
  delay: 5

- name: One line per pod that is not ready
  ansible.builtin.debug:
    msg: "{{ pods.resources | tracing.xray.pod_problems | map(attribute='summary') }}"
"""

RETURN = r"""
_value:
  description: One entry per pod that is neither ready nor terminating, in input order.
  type: list
  elements: dict
  contains:
    pod:
      description: The pod's name.
      type: str
    node:
      description: The pod's node (C(spec.nodeName), else the node of its required node affinity); empty when unknown.
      type: str
    phase:
      description: The pod's phase (C(Unknown) when missing).
      type: str
    reason:
      description:
        - The failure (C(CrashLoopBackOff), C(Unschedulable), C(Error), C(OOMKilled), C(Restarted), ...) when RV(_value[].failed),
          otherwise the waiting reason of a container (e.g. C(ContainerCreating)) or empty.
      type: str
    message:
      description: The failure's message (the scheduler's, the kubelet's), whitespace collapsed; empty when none.
      type: str
    exit_code:
      description: Exit code of the container's current or last termination; V(None) when it never terminated.
      type: int
    restarts:
      description: Restart count of the container the entry is about (the highest of the pod when none failed).
      type: int
    container:
      description: Name of the container the entry is about; empty for pod-level problems.
      type: str
    failed:
      description: A real failure was recognised.
      type: bool
    definite:
      description: The failure does not go away by waiting (see the description).
      type: bool
    current:
      description: The pod runs the template generation given in O(generation) (always true without it).
      type: bool
    logs:
      description: The container logs that exist, each with C(previous) (the value for C(kubernetes.core.k8s_log)) and a C(label).
      type: list
      elements: dict
    summary:
      description: "One line, C(pod <name> is <phase>[: <reason> (<exit code>, <restarts>)][: <message>])."
      type: str
"""

# Waiting reasons of a container that are failures, and those of them that waiting does not fix.
WAITING_FAILURES = frozenset(
    (
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    )
)
DEFINITE_WAITING = frozenset(("ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError"))
TEMPLATE_GENERATION_LABEL = "pod-template-generation"


def _get(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(key)
        if obj is None:
            return default
    return obj


def _text(value):
    return " ".join(str(value or "").split())


def _node_of(pod):
    node = _get(pod, "spec", "nodeName")
    if node:
        return str(node)
    terms = _get(pod, "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms", default=[])
    for term in terms if isinstance(terms, list) else []:
        for field in _get(term, "matchFields", default=[]) or []:
            values = _get(field, "values", default=[])
            if _get(field, "key") == "metadata.name" and values:
                return str(values[0])
    return ""


def _conditions(pod):
    return [c for c in _get(pod, "status", "conditions", default=[]) or [] if isinstance(c, dict)]


def _is_ready(pod):
    return any(c.get("type") == "Ready" and str(c.get("status")) == "True" for c in _conditions(pod))


def _container_problem(status):
    """(reason, message, exit code, reason of that exit) of one container status, or None when it did not fail."""
    state = _get(status, "state", default={})
    waiting = _get(state, "waiting", default={})
    terminated = _get(state, "terminated", default={})
    last = _get(status, "lastState", "terminated", default={})
    if waiting.get("reason") in WAITING_FAILURES:
        return waiting["reason"], waiting.get("message"), last.get("exitCode"), last.get("reason")
    if terminated.get("exitCode") not in (None, 0):
        return terminated.get("reason") or "Error", terminated.get("message"), terminated["exitCode"], None
    if int(status.get("restartCount") or 0) > 0 and last.get("exitCode") not in (None, 0):
        return "Restarted", last.get("message"), last["exitCode"], last.get("reason")
    return None


def _logs(status):
    """The logs of a container that exist: the running or terminated instance, and the one before a restart."""
    state = _get(status, "state", default={})
    last = _get(status, "lastState", "terminated", default={})
    out = []
    if state.get("running") or state.get("terminated"):
        out.append({"previous": False, "label": "current container"})
    if last:
        code = f", exit code {last['exitCode']}" if last.get("exitCode") is not None else ""
        out.append({"previous": True, "label": f"previous container{code}"})
    return out


def _diagnose(pod, generation, min_restarts, busy_nodes):
    name = str(_get(pod, "metadata", "name", default=""))
    node = _node_of(pod)
    phase = str(_get(pod, "status", "phase", default="") or "Unknown")
    labels = _get(pod, "metadata", "labels", default={})
    current = generation is None or str(labels.get(TEMPLATE_GENERATION_LABEL, "")) == str(generation)
    statuses = (_get(pod, "status", "initContainerStatuses", default=[]) or []) + (_get(pod, "status", "containerStatuses", default=[]) or [])
    statuses = [s for s in statuses if isinstance(s, dict)]
    entry = {
        "pod": name,
        "node": node,
        "phase": phase,
        "reason": "",
        "message": "",
        "exit_code": None,
        "restarts": max([int(s.get("restartCount") or 0) for s in statuses] or [0]),
        "container": "",
        "failed": False,
        "definite": False,
        "current": current,
        "logs": [],
    }
    details = []
    failing = [(s, p) for s, p in ((s, _container_problem(s)) for s in statuses) if p is not None]
    unschedulable = [c for c in _conditions(pod) if c.get("type") == "PodScheduled" and str(c.get("status")) == "False" and c.get("reason") == "Unschedulable"]
    if failing:
        status, (reason, message, exit_code, exit_reason) = failing[0]
        restarts = int(status.get("restartCount") or 0)
        entry.update(reason=reason, message=_text(message), exit_code=exit_code, restarts=restarts, container=str(status.get("name", "")),
                     failed=True, logs=_logs(status))
        entry["definite"] = current and (reason in DEFINITE_WAITING or (reason == "CrashLoopBackOff" and restarts >= min_restarts))
        if exit_code is not None:
            details.append(f"exit code {exit_code}" + (f" {exit_reason}" if exit_reason and exit_reason not in ("Error", reason) else ""))
        if restarts:
            details.append(f"{restarts} restart{'s' if restarts != 1 else ''}")
    elif unschedulable:
        entry.update(reason="Unschedulable", message=_text(unschedulable[0].get("message")), failed=True)
        entry["definite"] = current and not _get(pod, "status", "nominatedNodeName") and node not in busy_nodes
    elif phase == "Failed":
        entry.update(reason=str(_get(pod, "status", "reason", default="") or "Failed"), message=_text(_get(pod, "status", "message")), failed=True)
    if entry["failed"]:
        text = entry["reason"] + (f" ({', '.join(details)})" if details else "") + (f": {entry['message']}" if entry["message"] else "")
    else:
        # Not (yet) a failure: the conditions that are not true and the containers' waiting reasons, as they are.
        waiting = [str(r) for r in (_get(s, "state", "waiting", "reason") for s in statuses) if r]
        entry["reason"] = waiting[0] if waiting else ""
        running = [s for s in statuses if _get(s, "state", "running")]
        if running:
            entry.update(container=str(running[0].get("name", "")), logs=_logs(running[0]))
        why = [_text(c.get("message")) for c in _conditions(pod) if str(c.get("status")) != "True" and c.get("message")] + waiting
        text = "; ".join(dict.fromkeys(why))
    entry["summary"] = f"pod {name} is {phase}" + (f": {text}" if text else "")
    return entry


def pod_problems(pods, generation=None, min_restarts=2):
    pods = [p for p in (pods or []) if isinstance(p, dict)]
    # Nodes on which a pod of the list is still terminating: its ports and resources are not free yet.
    busy_nodes = {_node_of(p) for p in pods if _get(p, "metadata", "deletionTimestamp")}
    return [
        _diagnose(p, generation, int(min_restarts), busy_nodes)
        for p in pods
        if not _get(p, "metadata", "deletionTimestamp") and not _is_ready(p)
    ]


class FilterModule:
    """Why the pods of a rollout are not ready."""

    def filters(self):
        return {"pod_problems": pod_problems}
