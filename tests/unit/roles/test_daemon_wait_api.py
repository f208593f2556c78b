"""tasks/wait.yml as the role runs it, against a fake Kubernetes API on 127.0.0.1 (an in-process HTTP server that
answers discovery, the DaemonSet, the pod and node lists and pod logs from canned objects; no cluster is started).
What is checked here is the wiring the expression tests cannot see: the pod read in the ``until`` of the status poll
(the ``kubernetes.core.k8s`` lookup with the role's kubeconfig), the early stop, the rescue's reads and the
``kubernetes.core.k8s_log`` parameters. Real pod failures on a real node are the integration tests' subject.
"""

from __future__ import annotations

import time

import daemon_pods as pods
import pytest
from fake_k8s_api import FakeK8sApi
from fake_k8s_api import run_play


NS = pods.NAMESPACE

CORE = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["get", "list"]},
    {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node", "verbs": ["get", "list"]},
]}
APPS = {"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
    {"name": "daemonsets", "singularName": "daemonset", "namespaced": True, "kind": "DaemonSet", "verbs": ["get", "list"]},
]}
GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
    {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
]}


class FakeApi(FakeK8sApi):
    """``pods_at(n)`` gives the pod list of the n-th pod list request (0-based); every request is recorded."""

    def __init__(self, ds_status, pods_at, nodes, logs):
        super().__init__()
        self.ds_status, self.pods_at, self.nodes, self.logs = ds_status, pods_at, nodes, logs
        self.requests: list[tuple[str, dict]] = []
        self.pod_lists = 0

    def answer(self, method, path, query):
        self.requests.append((path, query))
        fixed = {"/version": {"major": "1", "minor": "33", "gitVersion": "v1.33.0"}, "/api": {"kind": "APIVersions", "versions": ["v1"]},
                 "/api/v1": CORE, "/apis": GROUPS, "/apis/apps/v1": APPS}
        if path in fixed:
            return 200, fixed[path]
        if path == f"/apis/apps/v1/namespaces/{NS}/daemonsets/xray-daemon":
            return 200, {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "xray-daemon", "namespace": NS, "generation": pods.GENERATION},
                         "status": dict(self.ds_status, observedGeneration=pods.GENERATION)}
        if path == f"/api/v1/namespaces/{NS}/pods":
            items = self.pods_at(self.pod_lists)
            self.pod_lists += 1
            return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
        if path == "/api/v1/nodes":
            return 200, {"apiVersion": "v1", "kind": "NodeList", "metadata": {},
                         "items": [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}} for n in self.nodes]}
        if path.startswith(f"/api/v1/namespaces/{NS}/pods/") and path.endswith("/log"):
            key = (path.split("/")[-2], query.get("previous") == "true")
            if key in self.logs:
                return 200, self.logs[key]
            return 400, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "BadRequest", "code": 400,
                         "message": f'container "xray-daemon" in pod "{key[0]}" is waiting to start: ContainerCreating'}
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": path}


PLAY = """
- name: The daemon role's rollout wait
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Wait as the role does (module_defaults as in playbooks/site.yml)
      module_defaults:
        group/kubernetes.core.k8s:
          kubeconfig: "{{ xray_kubeconfig | default(omit, true) }}"
        group/tracing.xray.k8s:
          kubeconfig: "{{ xray_kubeconfig | default(omit, true) }}"
      block:
        - name: The role's wait
          ansible.builtin.include_role:
            name: tracing.xray.daemon
            tasks_from: wait.yml
"""


def run_wait(tmp_path, api, timeout=60):
    extra = {"daemon_region": "eu-west-1", "daemon_namespace": NS,
             "daemon_wait_timeout": timeout, "daemon_wait_delay": 1, "daemon_node_selector": {"kubernetes.io/os": "linux"},
             # what tasks/validate.yml loads from vars/flavors/xray.yml before the wait runs in the role
             "_daemon_flavor_selector_name": "aws-xray-daemon"}
    start = time.monotonic()
    proc = run_play(tmp_path, api, PLAY, extra, timeout=timeout + 120)
    return proc, time.monotonic() - start


@pytest.fixture
def api_factory():
    started = []

    def make(**kw):
        api = FakeApi(**kw).__enter__()
        started.append(api)
        return api

    yield make
    for api in started:
        api.__exit__(None, None, None)


def test_crash_loop_ends_the_wait_early_with_reason_and_logs(tmp_path, api_factory):
    # The crash loop gets definite on the second pod read (restartCount 1, then 3).
    def pods_at(n):
        return [pods.running_ready(node="node-b"), pods.crash_loop(node="node-a", restarts=1 if n < 1 else 3)]

    log = "2025-01-01T00:00:00Z [Info] Initializing AWS X-Ray daemon 3.6.6\n2025-01-01T00:00:01Z [Error] Cannot fetch region\n"
    api = api_factory(ds_status={"desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberReady": 1, "numberAvailable": 1},
                      pods_at=pods_at, nodes=["node-a", "node-b"], logs={("xray-daemon-crash", True): log})
    proc, took = run_wait(tmp_path, api, timeout=60)
    out = proc.stdout
    assert proc.returncode != 0, out
    assert took < 40, f"the wait should stop at the second poll, took {took:.0f}s"
    assert "did not become ready within 60s (desired=2, updated=2, ready=1, available=1); it failed after" in out
    assert "node-a (pod xray-daemon-crash is Running: CrashLoopBackOff (exit code 1, 3 restarts): back-off 40s" in out
    assert "Last log lines of pod xray-daemon-crash on node-a (previous container, exit code 1):" in out
    assert "[Error] Cannot fetch region" in out
    log_reads = [q for p, q in api.requests if p.endswith("/log")]
    assert log_reads == [{"container": "xray-daemon", "previous": "true", "tailLines": "20"}]
    # One pod read per poll (the lookup in `until`) while not rolled out, then the rescue's own read.
    ds_reads = [path for path, query in api.requests if path.endswith("/daemonsets/xray-daemon")]
    assert api.pod_lists == len(ds_reads) + 1 == 3


def test_a_merely_restarting_pod_waits_until_the_deadline(tmp_path, api_factory):
    api = api_factory(ds_status={"desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberReady": 1, "numberAvailable": 1},
                      pods_at=lambda n: [pods.running_ready(node="node-b"), pods.restarted_once(node="node-a")],
                      nodes=["node-a", "node-b"], logs={("xray-daemon-again", False): "started again\n", ("xray-daemon-again", True): "crashed\n"})
    proc, took = run_wait(tmp_path, api, timeout=3)
    out = proc.stdout
    assert proc.returncode != 0 and took >= 3, out
    assert "did not become ready within 3s (desired=2, updated=2, ready=1, available=1). Nodes without a ready daemon pod: " in out
    assert "node-a (pod xray-daemon-again is Running: Restarted (exit code 2, 1 restart))." in out
    assert "Last log lines of pod xray-daemon-again on node-a (current container):\n            started again\n" in out
    assert "Last log lines of pod xray-daemon-again on node-a (previous container, exit code 2):\n            crashed" in out


def test_a_finished_rollout_reads_no_pod(tmp_path, api_factory):
    api = api_factory(ds_status={"desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberReady": 2, "numberAvailable": 2},
                      pods_at=lambda n: [], nodes=["node-a", "node-b"], logs={})
    proc = run_wait(tmp_path, api)[0]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert api.pod_lists == 0
    # The DaemonSet is read by its apiVersion: discovery once, then one GET. Read by kind alone (the modules' default
    # apiVersion is v1), kubernetes.core searched the core group first and, on each miss, threw the discovery cache
    # away, fetched every API group again and rewrote the cache file (here 5 group-list fetches instead of 1; on the
    # sandbox 32 requests per read instead of 1).
    paths = [path for path, query in api.requests]
    assert paths.count("/apis") == 1 and paths.count("/apis/apps/v1") == 1, paths
    assert paths.count(f"/apis/apps/v1/namespaces/{NS}/daemonsets/xray-daemon") == 1, paths
