"""The apps and chaos absent paths against a fake Kubernetes API on 127.0.0.1 (an in-process HTTP server; no cluster):
a pod that the garbage collector removes between kubernetes.core's list and its delete answers 404 NotFound, and the
role lists again instead of failing. Found by the fault suite on the real-node sandbox once modules ran in the worker
(the teardown of test_aws_endpoint_then_api_server_gone... failed with "Failed to delete object ... not found").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import urlparse

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
NS = "it-race"

RESOURCES = {
    "/api/v1": ("v1", [("pods", "Pod"), ("services", "Service"), ("secrets", "Secret"), ("serviceaccounts", "ServiceAccount"),
                       ("configmaps", "ConfigMap")]),
    "/apis/apps/v1": ("apps/v1", [("deployments", "Deployment")]),
    "/apis/networking.k8s.io/v1": ("networking.k8s.io/v1", [("ingresses", "Ingress")]),
    "/apis/rbac.authorization.k8s.io/v1": ("rbac.authorization.k8s.io/v1", [("roles", "Role"), ("rolebindings", "RoleBinding")]),
}


def _resource_list(group_version, resources):
    return {"kind": "APIResourceList", "groupVersion": group_version, "resources": [
        {"name": name, "singularName": "", "namespaced": True, "kind": kind, "verbs": ["get", "list", "delete", "deletecollection"]}
        for name, kind in resources]}


def _groups():
    groups = []
    for path, (group_version, _) in RESOURCES.items():
        if path.startswith("/apis/"):
            name, version = group_version.split("/")
            entry = {"groupVersion": group_version, "version": version}
            groups.append({"name": name, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


class RacingApi:
    """Every collection is empty except the pods: the first pod list has one pod, which a read still finds but whose
    delete answers 404 (the garbage collector was faster); later lists are empty. Requests are recorded."""

    def __init__(self):
        self.requests: list[tuple[str, str]] = []
        self.pod_lists = 0
        self.deleted = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = urlparse(self.path).path
                api.requests.append((method, path))
                status, body = api.answer(method, path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer("GET")

            def do_DELETE(self):
                self._answer("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, method, path):
        if path == "/version":
            return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            return 200, _groups()
        if path in RESOURCES:
            return 200, _resource_list(*RESOURCES[path])
        if method == "GET" and path == f"/api/v1/namespaces/{NS}/pods":
            self.pod_lists += 1
            items = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gone-already", "namespace": NS}}] \
                if self.pod_lists == 1 else []
            return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
        if path == f"/api/v1/namespaces/{NS}/pods/gone-already":
            if method == "GET" and not self.deleted:  # kubernetes.core reads the pod before it deletes it
                return 200, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gone-already", "namespace": NS}}
            self.deleted = True  # between that read and this delete, the garbage collector removed it
            return 404, _status(404, "NotFound", 'pods "gone-already" not found')
        parts = path.strip("/").split("/")
        collection = (parts[:2] == ["api", "v1"] and len(parts) == 5) or (parts[0] == "apis" and len(parts) == 6)
        if method == "GET" and collection and parts[-3] == "namespaces":
            return 200, {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": []}
        return 404, _status(404, "NotFound", path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


PLAY = """
- name: A role's absent path
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/tracing.xray.k8s:
      kubeconfig: "{{ xray_kubeconfig }}"
  tasks:
    - name: The absent path
      ansible.builtin.include_role:
        name: tracing.xray.{{ role }}
        tasks_from: absent.yml
"""


@pytest.mark.parametrize(("role", "role_vars"), [
    ("apps", {"apps_namespace": NS, "apps_wait_delay": 1, "apps_wait_timeout": 10}),
    ("chaos", {"chaos_namespace": NS, "chaos_wait_delay": 1, "chaos_wait_timeout": 10}),
])
def test_a_pod_the_garbage_collector_removed_first_is_not_a_failure(tmp_path, role, role_vars):
    with RacingApi() as api:
        kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                      "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
                      "users": [{"name": "fake", "user": {"token": "t"}}],
                      "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}
        (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig), encoding="utf-8")
        (tmp_path / "play.yml").write_text(PLAY, encoding="utf-8")
        extra = {"role": role, "xray_kubeconfig": str(tmp_path / "kubeconfig"), **role_vars}
        (tmp_path / "extra.json").write_text(json.dumps(extra), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("K8S_AUTH_")}
        env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="0", KUBECONFIG=os.devnull, HOME=str(tmp_path), TMPDIR=str(tmp_path))
        proc = subprocess.run([PLAYBOOK_BIN, "-i", "localhost,", str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'extra.json'}"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr + str(api.requests)
    assert ("DELETE", f"/api/v1/namespaces/{NS}/pods/gone-already") in api.requests, "\n".join(map(str, api.requests))
    assert api.pod_lists == 2  # listed again after the NotFound, and the second list was empty
