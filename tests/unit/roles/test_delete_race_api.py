"""The apps and chaos absent paths against a fake Kubernetes API on 127.0.0.1 (an in-process HTTP server; no cluster):
a pod that the garbage collector removes between kubernetes.core's list and its delete answers 404 NotFound, and the
role lists again instead of failing. Found by the fault suite on the real-node sandbox once modules ran in the worker
(the teardown of test_aws_endpoint_then_api_server_gone... failed with "Failed to delete object ... not found").
"""

from __future__ import annotations

import pytest
from fake_k8s_api import FakeK8sApi
from fake_k8s_api import discovery_answer
from fake_k8s_api import role_play
from fake_k8s_api import run_play
from fake_k8s_api import status


NS = "it-race"

RESOURCES = {
    "/api/v1": ("v1", [("pods", "Pod"), ("services", "Service"), ("secrets", "Secret"), ("serviceaccounts", "ServiceAccount"),
                       ("configmaps", "ConfigMap")]),
    "/apis/apps/v1": ("apps/v1", [("deployments", "Deployment")]),
    "/apis/networking.k8s.io/v1": ("networking.k8s.io/v1", [("ingresses", "Ingress")]),
    "/apis/rbac.authorization.k8s.io/v1": ("rbac.authorization.k8s.io/v1", [("roles", "Role"), ("rolebindings", "RoleBinding")]),
}


class RacingApi(FakeK8sApi):
    """Every collection is empty except the pods: the first pod list has one pod, which a read still finds but whose
    delete answers 404 (the garbage collector was faster); later lists are empty. Requests are recorded."""

    def __init__(self):
        super().__init__()
        self.requests: list[tuple[str, str]] = []
        self.pod_lists = 0
        self.deleted = False

    def answer(self, method, path, query):
        self.requests.append((method, path))
        if (answer := discovery_answer(path, RESOURCES)) is not None:
            return answer
        if method == "GET" and path == f"/api/v1/namespaces/{NS}/pods":
            self.pod_lists += 1
            items = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gone-already", "namespace": NS}}] \
                if self.pod_lists == 1 else []
            return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
        if path == f"/api/v1/namespaces/{NS}/pods/gone-already":
            if method == "GET" and not self.deleted:  # kubernetes.core reads the pod before it deletes it
                return 200, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gone-already", "namespace": NS}}
            self.deleted = True  # between that read and this delete, the garbage collector removed it
            return 404, status(404, "NotFound", 'pods "gone-already" not found')
        parts = path.strip("/").split("/")
        collection = (parts[:2] == ["api", "v1"] and len(parts) == 5) or (parts[0] == "apis" and len(parts) == 6)
        if method == "GET" and collection and parts[-3] == "namespaces":
            return 200, {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": []}
        return 404, status(404, "NotFound", path)


PLAY = role_play("tracing.xray.{{ role }}", tasks_from="absent.yml")


@pytest.mark.parametrize(("role", "role_vars"), [
    ("apps", {"apps_namespace": NS, "apps_wait_delay": 1, "apps_wait_timeout": 10}),
    ("chaos", {"chaos_namespace": NS, "chaos_wait_delay": 1, "chaos_wait_timeout": 10}),
])
def test_a_pod_the_garbage_collector_removed_first_is_not_a_failure(tmp_path, role, role_vars):
    with RacingApi() as api:
        proc = run_play(tmp_path, api, PLAY, {"role": role, **role_vars}, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr + str(api.requests)
    assert ("DELETE", f"/api/v1/namespaces/{NS}/pods/gone-already") in api.requests, "\n".join(map(str, api.requests))
    assert api.pod_lists == 2  # listed again after the NotFound, and the second list was empty
