"""Unit tests for the Kubernetes ownership contract (module_utils/k8s_ownership.py)."""

from __future__ import annotations

import pytest

from ansible_collections.tracing.xray.plugins.module_utils import k8s_ownership

OWNER = {"app.kubernetes.io/managed-by": "tracing.xray", "tracing.xray/cluster": "demo"}


def manifest(kind="ServiceAccount", name="xray-daemon", namespace="xray", api_version="v1"):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def live(labels=None, managers=()):
    meta = {"name": "ignored", "uid": "1234"}
    if labels is not None:
        meta["labels"] = labels
    if managers:
        meta["managedFields"] = [{"manager": m, "operation": "Apply", "apiVersion": "v1"} for m in managers]
    return {"metadata": meta}


def ref(kind="ServiceAccount", name="xray-daemon", namespace="xray", api_version="v1"):
    return {"api_version": api_version, "kind": kind, "name": name, "namespace": namespace}


# --- object_ref ---------------------------------------------------------------------------------


def test_object_ref_of_a_manifest():
    assert k8s_ownership.object_ref(manifest()) == ref()


def test_object_ref_of_a_cluster_scoped_manifest_has_an_empty_namespace():
    obj = manifest(kind="ClusterRole", name="xray-reader", namespace=None, api_version="rbac.authorization.k8s.io/v1")
    assert k8s_ownership.object_ref(obj) == ref(kind="ClusterRole", name="xray-reader", namespace="", api_version="rbac.authorization.k8s.io/v1")


def test_object_ref_of_a_reference():
    obj = {"api_version": "apps/v1", "kind": "DaemonSet", "name": "xray-daemon", "namespace": "xray"}
    assert k8s_ownership.object_ref(obj) == ref(kind="DaemonSet", api_version="apps/v1")


def test_object_ref_prefers_metadata_over_top_level_fields():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-meta", "namespace": "ns-meta"}, "name": "top", "namespace": "ns-top"}
    assert k8s_ownership.object_ref(obj) == ref(kind="ConfigMap", name="from-meta", namespace="ns-meta")


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"kind": "ConfigMap", "metadata": {"name": "cfg"}}, "ConfigMap 'cfg' lacks api_version"),
        ({"apiVersion": "v1", "metadata": {"name": "cfg"}}, "an object 'cfg' lacks kind"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "xray"}}, "ConfigMap '' lacks name"),
        ({"metadata": {}}, "an object '' lacks api_version, kind, name"),
        ({}, "an object '' lacks api_version, kind, name"),
    ],
)
def test_object_ref_names_the_missing_fields(obj, message):
    with pytest.raises(ValueError) as error:
        k8s_ownership.object_ref(obj)
    assert str(error.value) == message


@pytest.mark.parametrize("obj, type_name", [("ServiceAccount/xray", "str"), (["v1", "ConfigMap"], "list"), (None, "NoneType"), (3, "int")])
def test_object_ref_rejects_anything_but_a_mapping(obj, type_name):
    with pytest.raises(ValueError) as error:
        k8s_ownership.object_ref(obj)
    assert str(error.value) == f"each object must be a mapping, got {type_name}"


# --- adopt_entry --------------------------------------------------------------------------------


def test_adopt_entry_of_a_namespaced_object():
    assert k8s_ownership.adopt_entry(ref()) == "ServiceAccount/xray/xray-daemon"


def test_adopt_entry_of_a_cluster_scoped_object():
    assert k8s_ownership.adopt_entry(ref(kind="ClusterRole", name="xray-reader", namespace="")) == "ClusterRole/xray-reader"


def test_adopt_entry_of_object_ref_round_trips():
    assert k8s_ownership.adopt_entry(k8s_ownership.object_ref(manifest(kind="Namespace", name="xray", namespace=None))) == "Namespace/xray"


# --- describe_foreign ---------------------------------------------------------------------------


def test_describe_foreign_skips_absent_objects():
    assert k8s_ownership.describe_foreign([(ref(), None), (ref(kind="ConfigMap"), None)], OWNER, []) == ([], [], 0)


def test_describe_foreign_counts_owned_objects():
    found = [
        (ref(), live(labels={**OWNER, "app": "xray"})),
        (ref(kind="ConfigMap", name="xray-config"), live(labels=dict(OWNER))),
        (ref(kind="Service", name="xray"), None),
    ]
    assert k8s_ownership.describe_foreign(found, OWNER, []) == ([], [], 2)


def test_describe_foreign_lists_foreign_objects_with_labels_and_managers():
    found = [
        (ref(), live(labels={"app": "xray", "team": "payments"}, managers=["kubectl-client-side-apply", "helm", "helm", ""])),
        (ref(kind="ClusterRole", name="xray-reader", namespace="", api_version="rbac.authorization.k8s.io/v1"), live()),
        # right keys, wrong value: not ours either
        (ref(kind="ConfigMap", name="xray-config"), live(labels={**OWNER, "tracing.xray/cluster": "other"}, managers=["argocd-controller"])),
        (ref(kind="Service", name="xray"), live(labels=OWNER)),
    ]
    foreign, adopted, owned = k8s_ownership.describe_foreign(found, OWNER, [])
    assert owned == 1
    assert adopted == []
    assert foreign == [
        {
            "kind": "ServiceAccount",
            "namespace": "xray",
            "name": "xray-daemon",
            "labels": {"app": "xray", "team": "payments"},
            "managers": ["helm", "kubectl-client-side-apply"],
            "adopt_entry": "ServiceAccount/xray/xray-daemon",
        },
        {"kind": "ClusterRole", "namespace": "", "name": "xray-reader", "labels": {}, "managers": [], "adopt_entry": "ClusterRole/xray-reader"},
        {
            "kind": "ConfigMap",
            "namespace": "xray",
            "name": "xray-config",
            "labels": {**OWNER, "tracing.xray/cluster": "other"},
            "managers": ["argocd-controller"],
            "adopt_entry": "ConfigMap/xray/xray-config",
        },
    ]


def test_describe_foreign_skips_and_returns_adopted_entries():
    found = [
        (ref(), live(labels={"team": "payments"})),
        (ref(kind="ClusterRole", name="xray-reader", namespace=""), live(labels={"team": "payments"})),
        (ref(kind="ConfigMap", name="xray-config"), live(labels={"team": "payments"})),
        (ref(kind="Service", name="xray"), None),
    ]
    adopt = ["ServiceAccount/xray/xray-daemon", "ClusterRole/xray-reader", "Service/xray/xray", "ConfigMap/other/xray-config"]
    foreign, adopted, owned = k8s_ownership.describe_foreign(found, OWNER, adopt)
    assert adopted == ["ServiceAccount/xray/xray-daemon", "ClusterRole/xray-reader"]
    assert [item["adopt_entry"] for item in foreign] == ["ConfigMap/xray/xray-config"]  # another namespace's entry does not match
    assert owned == 0


def test_describe_foreign_adopt_entry_is_ignored_for_owned_objects():
    foreign, adopted, owned = k8s_ownership.describe_foreign([(ref(), live(labels=OWNER))], OWNER, ["ServiceAccount/xray/xray-daemon"])
    assert (foreign, adopted, owned) == ([], [], 1)


def test_describe_foreign_without_owner_labels_counts_everything_as_owned():
    assert k8s_ownership.describe_foreign([(ref(), live(labels={"team": "payments"})), (ref(kind="ConfigMap"), live())], {}, []) == ([], [], 2)


# --- foreign_message ----------------------------------------------------------------------------


def foreign_item(kind="ServiceAccount", namespace="xray", name="xray-daemon", labels=None, managers=()):
    entry = "/".join(p for p in (kind, namespace, name) if p)
    return {"kind": kind, "namespace": namespace, "name": name, "labels": labels or {}, "managers": list(managers), "adopt_entry": entry}


def test_foreign_message_for_one_object():
    item = foreign_item(labels={"team": "payments", "app": "xray"}, managers=["helm", "kubectl"])
    assert k8s_ownership.foreign_message([item], OWNER) == (
        "tracing.xray: ServiceAccount xray/xray-daemon (app=xray, team=payments; written by helm, kubectl) already exists "
        "without the labels app.kubernetes.io/managed-by=tracing.xray, tracing.xray/cluster=demo, so tracing.xray did not "
        "create it; refusing to take it over. Give ours other names (see the role's *_name and *_namespace variables), "
        "remove yours, or add 'ServiceAccount/xray/xray-daemon' to xray_adopt to let tracing.xray take it over "
        "(replacing spec and labels)."
    )


def test_foreign_message_for_several_objects_lists_every_one():
    items = [
        foreign_item(labels={"team": "payments"}, managers=["helm"]),
        foreign_item(kind="ClusterRole", namespace="", name="xray-reader"),
        foreign_item(kind="ConfigMap", name="xray-config", managers=["argocd-controller"]),
    ]
    message = k8s_ownership.foreign_message(items, OWNER, adopt_variable="irsa_adopt")
    assert message == (
        "tracing.xray: ServiceAccount xray/xray-daemon (team=payments; written by helm); "
        "ClusterRole xray-reader (no labels); "
        "ConfigMap xray/xray-config (no labels; written by argocd-controller) already exist "
        "without the labels app.kubernetes.io/managed-by=tracing.xray, tracing.xray/cluster=demo, so tracing.xray did not "
        "create them; refusing to take them over. Give ours other names (see the role's *_name and *_namespace variables), "
        "remove yours, or add 'ServiceAccount/xray/xray-daemon', 'ClusterRole/xray-reader', 'ConfigMap/xray/xray-config' "
        "to irsa_adopt to let tracing.xray take them over (replacing spec and labels)."
    )
    assert " it " not in message and "exists" not in message


def test_foreign_message_from_describe_foreign():
    namespace = k8s_ownership.object_ref(manifest(kind="Namespace", name="xray", namespace=None))
    found = [(namespace, live(labels={"owner": "platform"}, managers=["kubectl-create"]))]
    foreign, _, _ = k8s_ownership.describe_foreign(found, OWNER, [])
    message = k8s_ownership.foreign_message(foreign, OWNER)
    assert message.startswith("tracing.xray: Namespace xray (owner=platform; written by kubectl-create) already exists without the labels ")
    assert message.endswith("or add 'Namespace/xray' to xray_adopt to let tracing.xray take it over (replacing spec and labels).")


def test_connection_message_names_the_kubeconfig_the_context_and_the_variables():
    from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import connection_message

    text = connection_message({"kubeconfig": "/nonexistent/kc", "context": "prod"}, "Invalid kube-config file. No configuration found")
    assert text.startswith("Could not reach the Kubernetes API server with kubeconfig /nonexistent/kc, context prod: Invalid kube-config file")
    assert "xray_kubeconfig and xray_kube_context" in text
    assert "the default kubeconfig chain" in connection_message({"kubeconfig": None}, "x")


def test_live_summary_keeps_labels_and_selector_only():
    ds = {"metadata": {"name": "xray-daemon", "labels": {"a": "1"}, "managedFields": [{"manager": "m"}]},
          "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"spec": {}}}}
    assert k8s_ownership.live_summary(ds) == {"labels": {"a": "1"}, "match_labels": {"app": "x"}}


def test_live_summary_of_a_secret_leaves_its_data_out():
    secret = {"metadata": {"name": "db"}, "data": {"password": "c2VjcmV0"}, "stringData": {"password": "secret"}}
    summary = k8s_ownership.live_summary(secret)
    assert summary == {"labels": {}, "match_labels": {}}
    assert "secret" not in repr(summary) and "c2VjcmV0" not in repr(summary)


def test_live_summary_tolerates_a_spec_without_a_selector_mapping():
    assert k8s_ownership.live_summary({"metadata": {}, "spec": {"selector": "app=x"}}) == {"labels": {}, "match_labels": {}}


# --- module_utils/k8s_connection: a dead API server ---------------------------------------------------------------

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: one
clusters:
- {name: c1, cluster: {server: 'https://admin:pw@127.0.0.1:6443/base'}}
- {name: c2, cluster: {server: 'https://10.0.0.2:443'}}
contexts:
- {name: one, context: {cluster: c1, user: u}}
- {name: two, context: {cluster: c2, user: u}}
users: [{name: u, user: {token: t0ken}}]
"""


def _refused():
    import urllib3

    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return urllib3.exceptions.MaxRetryError(None, "/version", reason=reason)


@pytest.mark.parametrize("context, server", [(None, "https://127.0.0.1:6443"), ("two", "https://10.0.0.2:443")])
def test_api_server_comes_from_the_kubeconfig_context_without_credentials(tmp_path, context, server):
    from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import api_server

    path = tmp_path / "kc"
    path.write_text(KUBECONFIG, encoding="utf-8")
    assert api_server({"kubeconfig": str(path), "context": context}) == server
    assert api_server({"host": "https://u:p@h.example:8443/x"}) == "https://h.example:8443"
    assert api_server({"kubeconfig": str(tmp_path / "missing")}) is None


@pytest.mark.parametrize("error, words", [
    ("refused", "refused the connection"),
    ("HTTPSConnectionPool(host='x', port=1): Max retries exceeded (Caused by NameResolutionError: Failed to resolve 'x')",
     "does not resolve"),
    ("HTTPSConnectionPool(host='x', port=1): Read timed out. (read timeout=5)", "did not answer in time"),
])
def test_connection_message_for_a_dead_api_server_is_one_clean_sentence(tmp_path, error, words):
    from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import connection_message

    path = tmp_path / "kc"
    path.write_text(KUBECONFIG, encoding="utf-8")
    exc = _refused() if error == "refused" else Exception(error)
    text = connection_message({"kubeconfig": str(path)}, exc)
    assert text.startswith("The Kubernetes API server at https://127.0.0.1:6443 (from kubeconfig "), text
    assert words in text and "check xray_kubeconfig and xray_kube_context" in text
    for noise in ("urllib3", "Max retries", "NewConnectionError", "HTTPSConnectionPool", "pw", "t0ken"):
        assert noise not in text
    assert text.count(". ") == 0 and text.endswith(".")


K8S_MODULES = {
    "k8s_ownership": {"objects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "b"}}],
                      "owner_labels": {"app.kubernetes.io/managed-by": "tracing.xray"}},
    "k8s_hostport_clash": {"ports": [2000], "owner_labels": {"app.kubernetes.io/managed-by": "tracing.xray"}},
}


@pytest.mark.parametrize("name", sorted(K8S_MODULES))
def test_k8s_modules_dead_api_server(name, tmp_path, monkeypatch, capsys):
    """The Kubernetes modules against a refused API server (kubernetes.core's client raises urllib3's MaxRetryError)."""
    import importlib
    import json

    from ansible.module_utils.testing import patch_module_args

    module = importlib.import_module(f"ansible_collections.tracing.xray.plugins.modules.{name}")
    path = tmp_path / "kc"
    path.write_text(KUBECONFIG, encoding="utf-8")

    def dead(**_kwargs):
        raise _refused()

    monkeypatch.setattr(module, "get_api_client", dead)
    args = dict(K8S_MODULES[name], kubeconfig=str(path))
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"]
    assert result["msg"].startswith("The Kubernetes API server at https://127.0.0.1:6443 "), result["msg"]
    assert "urllib3" not in result["msg"] and "Max retries" not in result["msg"]


def test_first_answer_deadline_ends_a_silent_wait_with_a_clean_sentence(tmp_path):
    import time

    from ansible_collections.tracing.xray.plugins.module_utils import k8s_connection

    started = time.monotonic()
    with pytest.raises(k8s_connection.ApiServerSilent) as info:
        with k8s_connection.first_answer_deadline(1):
            time.sleep(5)
    assert time.monotonic() - started < 3
    path = tmp_path / "kc"
    path.write_text(KUBECONFIG, encoding="utf-8")
    text = k8s_connection.connection_message({"kubeconfig": str(path)}, info.value)
    assert "at https://127.0.0.1:6443" in text and "accepted the connection but gave no answer within 1 seconds" in text
    with k8s_connection.first_answer_deadline(1):
        pass
    time.sleep(1.2)  # the alarm was cancelled: nothing fires after the block


def test_first_answer_deadline_leaves_a_pending_task_timeout_alone():
    """In Ansible's worker a task ``timeout`` is a pending SIGALRM; the deadline must not cancel it."""
    import signal

    from ansible_collections.tracing.xray.plugins.module_utils import k8s_connection

    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.alarm(100)
        with k8s_connection.first_answer_deadline(1):
            pass
        assert signal.alarm(0) > 90
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- require: objects that must exist ------------------------------------------------------------

NS_MSG = "namespace xray does not exist and daemon_create_namespace is false."
SA_MSG = "ServiceAccount xray/xray-daemon does not exist."


def test_missing_required_names_every_missing_object_in_order():
    required = [(ref("Namespace", "xray", ""), NS_MSG), (ref(), SA_MSG)]
    assert k8s_ownership.missing_required(required, {"Namespace/xray": {}, "ServiceAccount/xray/xray-daemon": {}}) == []
    assert k8s_ownership.missing_required(required, {"Namespace/xray": {}}) == [SA_MSG]


def test_missing_required_skips_a_namespaced_object_whose_namespace_does_not_exist():
    # the role creates the namespace, so nothing can exist in it yet; the Namespace has no entry of its own
    assert k8s_ownership.missing_required([(ref(), SA_MSG)], {}) == []
    # ... and when the Namespace is required too, only its message is given
    assert k8s_ownership.missing_required([(ref("Namespace", "xray", ""), NS_MSG), (ref(), SA_MSG)], {}) == [NS_MSG]


def test_missing_required_of_a_cluster_scoped_object():
    assert k8s_ownership.missing_required([(ref("Namespace", "other", ""), NS_MSG)], {"Namespace/xray": {}}) == [NS_MSG]


def test_namespace_ref():
    assert k8s_ownership.namespace_ref(ref()) == ref("Namespace", "xray", "")
    assert k8s_ownership.namespace_ref(ref("Namespace", "xray", "")) is None


def test_missing_required_keeps_the_order_of_several_messages():
    other = ref(name="other")
    required = [(ref("Namespace", "xray", ""), NS_MSG), (ref(), SA_MSG), (other, "other missing.")]
    assert k8s_ownership.missing_required(required, {"Namespace/xray": {}}) == [SA_MSG, "other missing."]


def test_with_required_reads_reads_each_object_once():
    namespace = ref("Namespace", "xray", "")
    objects = [ref()]  # the ServiceAccount is applied, so it is read as one of the objects
    extra = [namespace]  # the namespace is read anyway
    required = [ref(), namespace, ref("ConfigMap", "cfg", "other")]
    assert k8s_ownership.with_required_reads(objects, extra, required) == [
        namespace, ref("ConfigMap", "cfg", "other"), ref("Namespace", "other", "")]
    assert extra == [namespace]  # not changed in place
