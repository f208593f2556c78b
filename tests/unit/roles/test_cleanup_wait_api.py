"""The cleanup role's waits against a fake Kubernetes API on 127.0.0.1 (an in-process HTTP server; no cluster): two
namespaces of ours that never go away. ``cleanup_wait_timeout`` is one budget on the wall clock for the whole cleanup:
the wait for the second namespace does not start a budget of its own (it used to: N namespaces waited N times the
timeout, each bounded only by its retry count)."""

from __future__ import annotations

from fake_k8s_api import FakeK8sApi
from fake_k8s_api import discovery_answer
from fake_k8s_api import role_play
from fake_k8s_api import run_play
from fake_k8s_api import status

NAMESPACES = ("it-stuck-a", "it-stuck-b")
OURS = {"app.kubernetes.io/managed-by": "tracing.xray"}

RESOURCES = {
    "/api/v1": ("v1", [("pods", "Pod"), ("services", "Service"), ("secrets", "Secret"), ("serviceaccounts", "ServiceAccount"),
                       ("configmaps", "ConfigMap"), ("persistentvolumeclaims", "PersistentVolumeClaim"),
                       ("namespaces", "Namespace")], ("namespaces",)),
    "/apis/apps/v1": ("apps/v1", [("deployments", "Deployment"), ("statefulsets", "StatefulSet"), ("daemonsets", "DaemonSet")]),
    "/apis/batch/v1": ("batch/v1", [("jobs", "Job"), ("cronjobs", "CronJob")]),
    "/apis/networking.k8s.io/v1": ("networking.k8s.io/v1", [("ingresses", "Ingress")]),
    "/apis/rbac.authorization.k8s.io/v1": ("rbac.authorization.k8s.io/v1", [("roles", "Role"), ("rolebindings", "RoleBinding")]),
}


class StuckNamespacesApi(FakeK8sApi):
    """Every collection is empty; the namespaces carry our label and, once deleted, stay in Terminating for good.
    Requests are recorded."""

    def __init__(self):
        super().__init__()
        self.requests: list[tuple[str, str]] = []
        self.deleted: set[str] = set()

    def answer(self, method, path, query):
        self.requests.append((method, path))
        if (answer := discovery_answer(path, RESOURCES)) is not None:
            return answer
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 4 and parts[3] in NAMESPACES:
            name = parts[3]
            if method == "DELETE":
                self.deleted.add(name)
            meta = {"name": name, "labels": OURS}
            if name in self.deleted:
                meta["deletionTimestamp"] = "2026-11-30T00:00:00Z"
            return 200, {"apiVersion": "v1", "kind": "Namespace", "metadata": meta, "status": {"phase": "Terminating" if name in self.deleted else "Active"}}
        collection = (parts[:2] == ["api", "v1"] and len(parts) == 5) or (parts[0] == "apis" and len(parts) == 6)
        if method == "GET" and collection and parts[-3] == "namespaces":
            return 200, {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": []}
        return 404, status(404, "NotFound", path)

    def namespace_reads_after_delete(self):
        """GETs of a namespace after it was deleted: the wait's polls."""
        reads, deleted = 0, set()
        for method, path in self.requests:
            name = path.rsplit("/", 1)[-1]
            if path.startswith("/api/v1/namespaces/") and name in NAMESPACES:
                if method == "DELETE":
                    deleted.add(name)
                elif name in deleted:
                    reads += 1
        return reads


PLAY = role_play("tracing.xray.cleanup")


def test_stuck_namespaces_share_one_wait_budget(tmp_path):
    timeout, delay = 3, 1
    with StuckNamespacesApi() as api:
        proc = run_play(tmp_path, api, PLAY, {"cleanup_roles": [], "cleanup_namespaces": list(NAMESPACES),
                                              "cleanup_wait_timeout": timeout, "cleanup_wait_delay": delay,
                                              "cleanup_verify": False}, timeout=180)
    log = proc.stdout + proc.stderr + "\n".join(map(str, api.requests))
    assert proc.returncode != 0, log  # the namespaces are still there: the cleanup fails
    assert api.deleted == set(NAMESPACES), log
    assert ("tracing.xray.cleanup: namespaces still there 3s after the cleanup began to wait: it-stuck-a, it-stuck-b."
            in proc.stdout), log
    # One budget: the first namespace polls until the deadline (at most timeout/delay + 1 reads), the second then reads
    # once. With a budget per namespace, each polled timeout/delay + 1 times.
    assert api.namespace_reads_after_delete() <= timeout // delay + 1 + 1, log
