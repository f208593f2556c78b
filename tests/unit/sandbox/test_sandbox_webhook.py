"""Unit tests of the pod identity webhook EMULATION (sandbox/webhook.py): the patch, the HTTPS round-trip against a
fake API server, the certificates, the MutatingWebhookConfiguration and the CLI."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sandbox import webhook

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = "arn:aws:iam::123456789012:role/xray-daemon"
TOKEN_FILE = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
MOUNT = {"name": "aws-iam-token", "readOnly": True, "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount"}


def sa(name="xray", annotations=None, namespace="obs"):
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}}}


def pod(containers, init=None, annotations=None, labels=None, volumes=None, node_selector=None, sa_name="xray"):
    spec = {"serviceAccountName": sa_name, "containers": containers}
    if init is not None:
        spec["initContainers"] = init
    if volumes is not None:
        spec["volumes"] = volumes
    if node_selector:
        spec["nodeSelector"] = node_selector
    meta = {"name": "p", "namespace": "obs"}
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def apply(doc, ops):
    """A JSONPatch applier for the operations the webhook uses (add to a new key, or append with '-')."""
    doc = copy.deepcopy(doc)
    for op in ops:
        assert op["op"] == "add"
        *parents, last = op["path"].lstrip("/").split("/")
        target = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if last == "-":
            target.append(op["value"])
        else:
            assert last not in target, f"{op['path']} would replace an existing value"
            target[last] = op["value"]
    return doc


def env_of(container):
    return {e["name"]: e["value"] for e in container.get("env", [])}


INJECTOR = webhook.Injector("eu-west-1")


# --- the patch ------------------------------------------------------------------------------------------

def test_exact_patch_for_a_minimal_pod():
    ops = INJECTOR.patch(pod([{"name": "app", "image": "python:3"}], volumes=[]), sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE}))
    assert ops == [
        {"op": "add", "path": "/spec/containers/0/env", "value": [
            {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
            {"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"},
            {"name": "AWS_REGION", "value": "eu-west-1"},
            {"name": "AWS_ROLE_ARN", "value": ROLE},
            {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": TOKEN_FILE},
        ]},
        {"op": "add", "path": "/spec/containers/0/volumeMounts", "value": [MOUNT]},
        {"op": "add", "path": "/spec/volumes/-", "value": {"name": "aws-iam-token", "projected": {"sources": [
            {"serviceAccountToken": {"audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}}]}}},
    ]


def test_annotated_service_account_injects_env_volume_and_mount_everywhere():
    account = sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE, webhook.AUDIENCE_ANNOTATION: "my-audience",
                              webhook.TOKEN_EXPIRATION_ANNOTATION: "3600"})
    source = pod(
        containers=[
            {"name": "app", "image": "i", "env": [{"name": "FOO", "value": "1"}],
             "volumeMounts": [{"name": "kube-api-access-x", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]},
            {"name": "own-role", "image": "i",
             "env": [{"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111111111111:role/own"}, {"name": "AWS_REGION", "value": "us-east-2"}]},
        ],
        init=[{"name": "init", "image": "i"}, {"name": "sidecar", "image": "i", "restartPolicy": "Always"}],
        volumes=[{"name": "kube-api-access-x", "projected": {"sources": []}}],
    )
    result = apply(source, INJECTOR.patch(source, account))
    spec = result["spec"]
    injected = {"AWS_STS_REGIONAL_ENDPOINTS": "regional", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1",
                "AWS_ROLE_ARN": ROLE, "AWS_WEB_IDENTITY_TOKEN_FILE": TOKEN_FILE}
    assert env_of(spec["containers"][0]) == {"FOO": "1", **injected}
    for init in spec["initContainers"]:
        assert env_of(init) == injected and init["volumeMounts"] == [MOUNT]
    assert spec["initContainers"][1]["restartPolicy"] == "Always"
    assert spec["containers"][0]["volumeMounts"][1] == MOUNT and len(spec["containers"][0]["volumeMounts"]) == 2
    # a container that sets AWS_ROLE_ARN keeps its own role (and gets no token file variable: the group is its own),
    # and its own region (neither region variable added); it still gets regional STS and the mount
    own = spec["containers"][1]
    assert own["env"][:2] == source["spec"]["containers"][1]["env"]
    assert env_of(own) == {"AWS_ROLE_ARN": "arn:aws:iam::111111111111:role/own", "AWS_REGION": "us-east-2",
                           "AWS_STS_REGIONAL_ENDPOINTS": "regional"}
    assert own["volumeMounts"] == [MOUNT]
    assert spec["volumes"][0]["name"] == "kube-api-access-x"
    assert spec["volumes"][1] == {"name": "aws-iam-token", "projected": {"sources": [
        {"serviceAccountToken": {"audience": "my-audience", "expirationSeconds": 3600, "path": "token"}}]}}
    # reinvocation (reinvocationPolicy IfNeeded): nothing more to do
    assert INJECTOR.patch(result, account) == []


def test_container_with_everything_set_is_left_untouched():
    env = [{"name": "AWS_ROLE_ARN", "value": "r"}, {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/t"},
           {"name": "AWS_DEFAULT_REGION", "value": "x"}, {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "legacy"}]
    source = pod([{"name": "done", "image": "i", "env": env}, {"name": "other", "image": "i"}], volumes=[])
    ops = INJECTOR.patch(source, sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE}))
    assert not [op for op in ops if op["path"].startswith("/spec/containers/0")]
    result = apply(source, ops)
    assert result["spec"]["containers"][0] == source["spec"]["containers"][0]
    assert env_of(result["spec"]["containers"][1])["AWS_ROLE_ARN"] == ROLE


def test_no_patch_without_the_role_annotation_or_service_account_or_when_opted_out():
    p = pod([{"name": "app", "image": "i"}])
    assert INJECTOR.patch(p, sa(annotations={webhook.AUDIENCE_ANNOTATION: "x"})) == []
    assert INJECTOR.patch(p, sa()) == []
    assert INJECTOR.patch(p, None) == []
    annotated = sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE})
    opted_out = pod([{"name": "app", "image": "i"}], labels={webhook.SKIP_POD_LABEL: "true"})
    assert INJECTOR.patch(opted_out, annotated) == []


def test_skip_containers_annotation():
    source = pod([{"name": "app", "image": "i"}, {"name": "sidecar", "image": "i"}], init=[{"name": "init-first", "image": "i"}],
                 annotations={webhook.SKIP_CONTAINERS_ANNOTATION: "init-first, sidecar"})
    result = apply(source, INJECTOR.patch(source, sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE})))
    assert "env" not in result["spec"]["initContainers"][0] and "env" not in result["spec"]["containers"][1]
    assert env_of(result["spec"]["containers"][0])["AWS_ROLE_ARN"] == ROLE
    assert result["spec"]["volumes"][0]["name"] == "aws-iam-token"


@pytest.mark.parametrize(("sa_value", "pod_value", "expected"), [
    (None, None, 86400), ("7200", None, 7200), ("7200", "900", 900), (None, "60", 600), ("bogus", None, 86400),
    ("7200", "bogus", 7200),
])
def test_token_expiration_pod_annotation_over_service_account_over_default(sa_value, pod_value, expected):
    annotations = {webhook.ROLE_ARN_ANNOTATION: ROLE}
    if sa_value is not None:
        annotations[webhook.TOKEN_EXPIRATION_ANNOTATION] = sa_value
    source = pod([{"name": "app", "image": "i"}],
                 annotations={webhook.TOKEN_EXPIRATION_ANNOTATION: pod_value} if pod_value is not None else None)
    result = apply(source, INJECTOR.patch(source, sa(annotations=annotations)))
    assert result["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == expected


def test_sts_regional_endpoints_annotation_and_default():
    source = pod([{"name": "app", "image": "i"}])
    off = sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE, webhook.REGIONAL_STS_ANNOTATION: "false"})
    assert "AWS_STS_REGIONAL_ENDPOINTS" not in env_of(apply(source, INJECTOR.patch(source, off))["spec"]["containers"][0])
    global_default = webhook.Injector("eu-west-1", regional_sts=False)
    on = sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE, webhook.REGIONAL_STS_ANNOTATION: "true"})
    assert env_of(apply(source, global_default.patch(source, on))["spec"]["containers"][0])["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
    plain = sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE})
    assert "AWS_STS_REGIONAL_ENDPOINTS" not in env_of(apply(source, global_default.patch(source, plain))["spec"]["containers"][0])


def test_extra_env_is_added_to_injected_containers_without_overwriting():
    injector = webhook.Injector("eu-west-1", extra_env={"AWS_ENDPOINT_URL_STS": "http://198.18.0.1:4580", "AWS_REGION": "nope",
                                                        "KEEP": "webhook"})
    source = pod([{"name": "app", "image": "i", "env": [{"name": "KEEP", "value": "mine"}]}, {"name": "skipped", "image": "i"}],
                 annotations={webhook.SKIP_CONTAINERS_ANNOTATION: "skipped"})
    result = apply(source, injector.patch(source, sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE})))
    env = env_of(result["spec"]["containers"][0])
    assert env["AWS_ENDPOINT_URL_STS"] == "http://198.18.0.1:4580" and env["KEEP"] == "mine" and env["AWS_REGION"] == "eu-west-1"
    assert [e["name"] for e in result["spec"]["containers"][0]["env"]].count("AWS_REGION") == 1
    assert "env" not in result["spec"]["containers"][1]


def test_sandbox_ca_bundle_is_mounted_as_aws_ca_bundle_without_the_ca_key():
    injector = webhook.Injector("eu-west-1", ca_bundle_host_path="/sbx/node/pki-public/ca.crt")
    source = pod([{"name": "app", "image": "i"}, {"name": "own", "image": "i", "env": [{"name": "AWS_CA_BUNDLE", "value": "/mine"}]}])
    result = apply(source, injector.patch(source, sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE})))
    app, own = result["spec"]["containers"]
    assert env_of(app)["AWS_CA_BUNDLE"] == "/var/run/secrets/tracing-xray-sandbox/ca.crt"
    assert env_of(own)["AWS_CA_BUNDLE"] == "/mine"
    assert {"name": "tracing-xray-sandbox-ca", "readOnly": True, "mountPath": "/var/run/secrets/tracing-xray-sandbox"} in app["volumeMounts"]
    volume = next(v for v in result["spec"]["volumes"] if v["name"] == "tracing-xray-sandbox-ca")
    assert volume == {"name": "tracing-xray-sandbox-ca", "hostPath": {"path": "/sbx/node/pki-public", "type": "Directory"}}
    # a pod of a ServiceAccount without the role annotation gets nothing
    assert injector.patch(source, sa()) == []


def test_pod_identity_association_injects_container_credentials():
    seen = []

    def lookup(namespace, service_account):
        seen.append((namespace, service_account))
        return {"associationId": "a-1"} if service_account == "xray" else None

    injector = webhook.Injector("eu-west-1", pod_identity=lookup)
    source = pod([{"name": "app", "image": "i"}])
    result = apply(source, injector.patch(source, sa()))  # no IRSA annotation, an association
    env = env_of(result["spec"]["containers"][0])
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "http://169.254.170.23/v1/credentials"
    assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
    assert "AWS_ROLE_ARN" not in env and env["AWS_REGION"] == "eu-west-1"
    volume = next(v for v in result["spec"]["volumes"] if v["name"] == "eks-pod-identity-token")
    assert volume["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "pods.eks.amazonaws.com"
    assert seen == [("obs", "xray")]
    other = pod([{"name": "app", "image": "i"}], sa_name="nobody")
    assert injector.patch(other, sa("nobody")) == []
    # IRSA's annotation wins: no association lookup then
    seen.clear()
    assert "AWS_ROLE_ARN" in env_of(apply(source, injector.patch(source, sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE})))["spec"]["containers"][0])
    assert seen == []


def test_windows_pods_get_the_windows_token_path():
    source = pod([{"name": "app", "image": "i"}], node_selector={"kubernetes.io/os": "windows"})
    result = apply(source, INJECTOR.patch(source, sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE})))
    assert env_of(result["spec"]["containers"][0])["AWS_WEB_IDENTITY_TOKEN_FILE"] == \
        "C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token"


def test_review_ignores_other_objects_and_operations():
    def lookup(ns, name):
        pytest.fail("no lookup expected")
    for request in ({"uid": "1", "kind": {"kind": "Pod"}, "operation": "UPDATE", "object": pod([])},
                    {"uid": "2", "kind": {"kind": "Service"}, "operation": "CREATE", "object": {}}):
        out = webhook.review({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}, INJECTOR, lookup)
        assert out["response"] == {"uid": request["uid"], "allowed": True}


def test_service_account_defaults_to_default():
    assert webhook.service_account_name({"spec": {}}) == "default"
    assert webhook.service_account_name({"spec": {"serviceAccount": "old"}}) == "old"


# --- kubeconfig, cache ----------------------------------------------------------------------------------------

KUBECONFIG = """apiVersion: v1
clusters:
- cluster:
    certificate-authority: pki/ca.crt
    server: https://127.0.0.1:6443
  name: kwok-xray-sandbox
- name: other
  cluster:
    server: "https://10.0.0.1"
contexts:
- context:
    cluster: kwok-xray-sandbox
    user: kwok-xray-sandbox
  name: kwok-xray-sandbox
current-context: kwok-xray-sandbox
kind: Config
preferences: {}
users:
- name: kwok-xray-sandbox
  user:
    client-certificate: /abs/admin.crt
    client-key: 'pki/admin.key'
"""


def test_kubeconfig_subset_parser_reads_kwokctl_style_files():
    config = webhook._load_simple_yaml(KUBECONFIG)
    assert config["current-context"] == "kwok-xray-sandbox" and config["preferences"] == {}
    assert config["clusters"][0] == {"cluster": {"certificate-authority": "pki/ca.crt", "server": "https://127.0.0.1:6443"},
                                     "name": "kwok-xray-sandbox"}
    assert config["clusters"][1] == {"name": "other", "cluster": {"server": "https://10.0.0.1"}}
    assert config["users"][0]["user"] == {"client-certificate": "/abs/admin.crt", "client-key": "pki/admin.key"}
    assert webhook._load_simple_yaml(json.dumps({"a": [1]})) == {"a": [1]}


def test_cache_keeps_found_service_accounts_only():
    calls = []

    def fetch(ns, name):
        calls.append(name)
        return sa(name) if name != "missing" else None

    cache = webhook.ServiceAccountCache(fetch, ttl=60)
    assert cache("obs", "xray")["metadata"]["name"] == "xray" and cache("obs", "xray")
    assert cache("obs", "missing") is None and cache("obs", "missing") is None
    assert calls == ["xray", "missing", "missing"]
    no_cache = webhook.ServiceAccountCache(fetch, ttl=0)
    no_cache("obs", "xray"), no_cache("obs", "xray")
    assert calls[-2:] == ["xray", "xray"]


# --- certificates, the configuration ---------------------------------------------------------------------------

def test_make_certs_gives_a_loopback_serving_certificate_and_reuses_it(tmp_path):
    ca_pem, cert, key = webhook.make_certs(str(tmp_path))
    assert ca_pem.startswith("-----BEGIN CERTIFICATE-----") and os.stat(key).st_mode & 0o077 == 0
    assert webhook.make_certs(str(tmp_path)) == (ca_pem, cert, key)
    ctx = ssl.create_default_context(cadata=ca_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def accept():
            conn = listener.accept()[0]
            with contextlib.suppress(OSError, ssl.SSLError):
                server_ctx.wrap_socket(conn, server_side=True).close()

        thread = threading.Thread(target=accept)
        thread.start()
        with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        thread.join(5)
    (tmp_path / "tls.crt").write_text("garbage")
    again = webhook.make_certs(str(tmp_path))
    # a broken serving certificate is replaced; the CA (what the registered configuration trusts) stays
    assert again[0] == ca_pem and (tmp_path / "tls.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")
    (tmp_path / "ca.crt").write_text("garbage")
    assert webhook.make_certs(str(tmp_path))[0] != ca_pem  # a broken CA is replaced, and its certificates with it


def test_webhook_configuration():
    config = webhook.webhook_configuration("irsa", "PEM", "https://127.0.0.1:9443/mutate", "Fail",
                                           namespace_selector={"matchLabels": {"team": "obs"}})
    assert config["apiVersion"] == "admissionregistration.k8s.io/v1" and config["kind"] == "MutatingWebhookConfiguration"
    assert config["metadata"]["name"] == "irsa"
    (hook,) = config["webhooks"]
    assert hook["clientConfig"] == {"url": "https://127.0.0.1:9443/mutate", "caBundle": base64.b64encode(b"PEM").decode()}
    assert hook["rules"] == [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                              "scope": "Namespaced"}]
    assert hook["failurePolicy"] == "Fail" and hook["sideEffects"] == "None" and hook["admissionReviewVersions"] == ["v1"]
    assert hook["reinvocationPolicy"] == "IfNeeded" and 1 <= hook["timeoutSeconds"] <= 30
    assert hook["namespaceSelector"] == {
        "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}],
        "matchLabels": {"team": "obs"}}
    assert hook["objectSelector"] == {"matchExpressions": [{"key": webhook.SKIP_POD_LABEL, "operator": "DoesNotExist"}]}
    assert len(hook["name"].split(".")) >= 3
    assert webhook.webhook_configuration("x", "PEM", "https://127.0.0.1:1/mutate")["webhooks"][0]["failurePolicy"] == "Fail"
    assert webhook.webhook_configuration("x", "PEM", "https://127.0.0.1:1/mutate", "Ignore")["webhooks"][0]["failurePolicy"] == "Ignore"
    with pytest.raises(ValueError):
        webhook.webhook_configuration("x", "PEM", "https://127.0.0.1:1/mutate", "Maybe")


# --- HTTPS round-trip with a fake API server --------------------------------------------------------------------

class FakeAPI(ThreadingHTTPServer):
    """Serves ServiceAccounts from a dict over HTTPS; checks the bearer token; 'broken' answers 500."""

    daemon_threads = True

    def __init__(self, cert_dir: str, accounts: dict) -> None:
        self.accounts, self.requests = accounts, []
        ca_pem, cert, key = webhook.make_certs(cert_dir)
        self.ca_pem = ca_pem
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                outer.requests.append(self.path)
                if self.headers.get("Authorization") != "Bearer sekrit":
                    self.send_error(401)
                    return
                parts = self.path.strip("/").split("/")  # api v1 namespaces <ns> serviceaccounts <name>
                name = parts[-1] if len(parts) == 6 and parts[4] == "serviceaccounts" else None
                if name == "broken":
                    self.send_error(500, "etcd is on fire")
                    return
                found = outer.accounts.get((parts[3], name)) if name else None
                if found is None:
                    self.send_error(404)
                    return
                body = json.dumps(found).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def kubeconfig(self, path: str) -> str:
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                  "clusters": [{"name": "fake", "cluster": {"server": f"https://127.0.0.1:{self.server_address[1]}",
                                                            "certificate-authority-data": base64.b64encode(self.ca_pem.encode()).decode()}}],
                  "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
                  "users": [{"name": "u", "user": {"token": "sekrit"}}]}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        return path


@pytest.fixture
def fake_api(tmp_path):
    accounts = {("obs", "xray"): sa(annotations={webhook.ROLE_ARN_ANNOTATION: ROLE}), ("obs", "default"): sa("default")}
    server = FakeAPI(str(tmp_path / "api-certs"), accounts)
    yield server
    server.shutdown()
    server.server_close()


def post(port: int, ca_pem: str, body, path="/mutate"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"https://127.0.0.1:{port}{path}", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ssl.create_default_context(cadata=ca_pem), timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def admission_review(uid: str, obj: dict) -> dict:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "obs",
                        "operation": "CREATE", "object": obj}}


def test_admission_review_round_trip_over_https(tmp_path, fake_api):
    client = webhook.KubeClient.from_kubeconfig(fake_api.kubeconfig(str(tmp_path / "kubeconfig")))
    ca_pem, cert, key = webhook.make_certs(str(tmp_path / "webhook-certs"))
    injector = webhook.Injector("eu-west-1", extra_env={"AWS_ENDPOINT_URL_STS": "http://198.18.0.1:4580"})
    server = webhook.WebhookServer(0, injector, webhook.ServiceAccountCache(client.service_account), cert, key)
    server.serve_in_thread()
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{server.port}/healthz",
                                    context=ssl.create_default_context(cadata=ca_pem), timeout=5) as resp:
            assert resp.read() == b"ok"
        source = pod([{"name": "app", "image": "python:3"}], volumes=[])
        del source["metadata"]["namespace"]  # as at CREATE: the namespace is in the request
        status, out = post(server.port, ca_pem, admission_review("uid-1", source))
        assert status == 200 and out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
        response = out["response"]
        assert response["uid"] == "uid-1" and response["allowed"] is True and response["patchType"] == "JSONPatch"
        result = apply(source, json.loads(base64.b64decode(response["patch"])))
        env = env_of(result["spec"]["containers"][0])
        assert env["AWS_ROLE_ARN"] == ROLE and env["AWS_ENDPOINT_URL_STS"] == "http://198.18.0.1:4580"
        assert result["spec"]["volumes"][0]["name"] == "aws-iam-token"
        assert fake_api.requests == ["/api/v1/namespaces/obs/serviceaccounts/xray"]
        # cached: a second pod of the same ServiceAccount does not ask the API again
        post(server.port, ca_pem, admission_review("uid-2", source))
        assert len(fake_api.requests) == 1

        # an SA without the annotation, and an SA that does not exist: allowed, no patch
        for sa_name in ("default", "missing"):
            status, out = post(server.port, ca_pem, admission_review("uid-3", pod([{"name": "a", "image": "i"}], sa_name=sa_name)))
            assert status == 200 and out["response"] == {"uid": "uid-3", "allowed": True}

        # the API fails: HTTP 500, so the configuration's failurePolicy decides
        with pytest.raises(urllib.error.HTTPError) as err:
            post(server.port, ca_pem, admission_review("uid-4", pod([{"name": "a", "image": "i"}], sa_name="broken")))
        assert err.value.code == 500 and b"ServiceAccount" in err.value.read()
        with pytest.raises(urllib.error.HTTPError) as err:
            post(server.port, ca_pem, b"{not json")
        assert err.value.code == 400
        # a client that does not trust the CA gets no answer
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"https://127.0.0.1:{server.port}/healthz", context=ssl.create_default_context(), timeout=5)
    finally:
        server.stop()


def test_cli_serves_until_sigterm_and_logs_to_stdout_only(tmp_path, fake_api):
    kubeconfig = fake_api.kubeconfig(str(tmp_path / "kubeconfig"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cert_dir = str(tmp_path / "certs")
    ca_pem = webhook.make_certs(cert_dir)[0]  # as the sandbox does: certificates first, the CLI reuses them
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "sandbox", "webhook.py"), "--port", str(port),
                             "--kubeconfig", kubeconfig, "--region", "eu-west-1", "--cert-dir", cert_dir,
                             "--extra-env", "AWS_ENDPOINT_URL_STS=http://198.18.0.1:4580"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, out = post(port, ca_pem, admission_review("cli", pod([{"name": "a", "image": "i"}])))
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, "webhook CLI did not start"
                time.sleep(0.1)
        assert out["response"]["patchType"] == "JSONPatch"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and stderr == ""
    assert "EMULATION" in stdout and "mutated pod obs/p" in stdout and "stopped" in stdout
