"""Every Kubernetes read or write in the roles names the apiVersion of a kind outside the core group. Without it the
modules take their default apiVersion, v1: kubernetes.core searches the core group first and, on each miss, throws its
discovery cache away, fetches every API group again and rewrites the cache file, shared by every module call (the
daemon's rollout wait made 32 API requests per poll instead of 1; tests/unit/roles/test_daemon_wait_api.py).

What is scanned: module tasks (in blocks, rescues and always sections too) of every role's tasks/ and of playbooks/.
Not scanned: ``query('kubernetes.core.k8s', ...)`` lookups inside templates and vars files (today each passes
``api_version`` or reads a core kind)."""

from __future__ import annotations

import glob
import os

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
K8S_MODULES = {f"{prefix}.{name}" for prefix in ("tracing.xray", "kubernetes.core")
               for name in ("k8s", "k8s_info", "k8s_log", "k8s_exec", "k8s_scale", "k8s_rollback")}
CORE_V1 = {"Pod", "Node", "Namespace", "Service", "ServiceAccount", "ConfigMap", "Secret", "Event", "Endpoints",
           "PersistentVolumeClaim", "PersistentVolume"}


def _tasks(items):
    for item in items or []:
        if isinstance(item, dict):
            yield item
            for key in ("block", "rescue", "always"):
                yield from _tasks(item.get(key))


def k8s_calls_without_api_version():
    found = []
    for path in sorted(glob.glob(os.path.join(REPO, "roles", "*", "tasks", "*.yml"))
                       + glob.glob(os.path.join(REPO, "playbooks", "*.yml"))):
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        plays = data if isinstance(data, list) else []
        tasks = [t for play in plays if isinstance(play, dict) and "hosts" in play
                 for key in ("pre_tasks", "tasks", "post_tasks") for t in _tasks(play.get(key))]
        tasks += list(_tasks([p for p in plays if isinstance(p, dict) and "hosts" not in p]))
        for task in tasks:
            for module in K8S_MODULES & set(task):
                args = task[module] if isinstance(task[module], dict) else {}
                kind = args.get("kind")
                if kind and kind not in CORE_V1 and not (args.get("api_version") or args.get("apiVersion")):
                    found.append(f"{os.path.relpath(path, REPO)}: {task.get('name')} ({module}, kind {kind})")
    return found


def test_every_k8s_call_of_a_non_core_kind_names_its_api_version():
    assert k8s_calls_without_api_version() == []


def test_the_check_sees_the_tasks_it_guards():
    # The daemon's rollout wait reads a DaemonSet: if the scan missed block tasks, the test above could not fail.
    with open(os.path.join(REPO, "roles", "daemon", "tasks", "wait.yml"), encoding="utf-8") as handle:
        tasks = list(_tasks(yaml.safe_load(handle)))
    assert any(t.get("tracing.xray.k8s_info", {}).get("kind") == "DaemonSet" for t in tasks)
