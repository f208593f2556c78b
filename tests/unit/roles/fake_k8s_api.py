"""What the role tests against a fake Kubernetes API share: the in-process HTTP server on 127.0.0.1 and the
ansible-playbook run that points a kubeconfig at it (no cluster is started)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs
from urllib.parse import urlparse

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


class FakeK8sApi:
    """A subclass answers ``answer(method, path, query)`` with ``(status, body)``: a dict (JSON) or a str (text)."""

    def __init__(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                url = urlparse(self.path)
                status, body = api.answer(method, url.path, {k: v[0] for k, v in parse_qs(url.query).items()})
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._reply("GET")

            def do_DELETE(self):
                self._reply("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, method, path, query):
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def resource_list(group_version, resources, cluster_scoped=()):
    """An APIResourceList of ``resources`` (plural, Kind) pairs; those named in ``cluster_scoped`` are not namespaced."""
    return {"kind": "APIResourceList", "groupVersion": group_version, "resources": [
        {"name": name, "singularName": "", "namespaced": name not in cluster_scoped, "kind": kind,
         "verbs": ["get", "list", "delete", "deletecollection"]}
        for name, kind in resources]}


def api_groups(resources):
    """The APIGroupList of a ``{path: (group_version, resources)}`` map (its /apis/... entries)."""
    groups = []
    for path, (group_version, *_) in resources.items():
        if path.startswith("/apis/"):
            name, version = group_version.split("/")
            entry = {"groupVersion": group_version, "version": version}
            groups.append({"name": name, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def discovery_answer(path, resources):
    """``(status, body)`` for a discovery request (/version, /api, /apis, or a group version of the
    ``{path: (group_version, resources[, cluster_scoped])}`` map), or None for any other path."""
    if path == "/version":
        return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"}
    if path == "/api":
        return 200, {"kind": "APIVersions", "versions": ["v1"]}
    if path == "/apis":
        return 200, api_groups(resources)
    if path in resources:
        return 200, resource_list(*resources[path])
    return None


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def role_play(role, tasks_from=None):
    """A play on localhost that includes ``tracing.xray.<role>`` (its ``tasks_from`` file, if given), with the
    Kubernetes connection of this collection's and kubernetes.core's modules pointed at ``xray_kubeconfig``."""
    include = f"        name: {role}\n" + (f"        tasks_from: {tasks_from}\n" if tasks_from else "")
    return ("- name: One role against the fake API\n"
            "  hosts: localhost\n  connection: local\n  gather_facts: false\n"
            "  vars:\n    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n"
            "  module_defaults:\n"
            "    group/tracing.xray.k8s:\n      kubeconfig: \"{{ xray_kubeconfig }}\"\n"
            "    group/kubernetes.core.k8s:\n      kubeconfig: \"{{ xray_kubeconfig }}\"\n"
            "  tasks:\n    - name: The role\n      ansible.builtin.include_role:\n" + include)


def run_play(tmp_path, api, play, extra, timeout):
    """Run ``play`` (YAML text) on localhost with ``extra`` vars and ``xray_kubeconfig`` pointing at ``api``; no other
    Kubernetes configuration of this machine reaches it."""
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                  "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
                  "users": [{"name": "fake", "user": {"token": "t"}}],
                  "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig), encoding="utf-8")
    (tmp_path / "play.yml").write_text(play, encoding="utf-8")
    (tmp_path / "extra.json").write_text(json.dumps({**extra, "xray_kubeconfig": str(tmp_path / "kubeconfig")}),
                                         encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("K8S_AUTH_")}
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", KUBECONFIG=os.devnull, HOME=str(tmp_path), TMPDIR=str(tmp_path))
    return subprocess.run([PLAYBOOK_BIN, "-i", "localhost,", str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'extra.json'}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
