"""Unit tests for tracing.xray.irsa_trust_check (the IRSA doctor).

AWS: botocore Stubber (requests validated against the IAM and EKS models). Kubernetes: a fake of the module's CoreV1
(JSON dicts in and out, as the API server's) that mints a JWT whose claims depend on the request
(issuer, ``system:serviceaccount:<ns>:<sa>``, the requested audience), as the API server's TokenRequest does.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import quote

import irsa_testing
import pytest
from irsa_testing import ACCOUNT
from irsa_testing import run_module
from kubernetes.client.exceptions import ApiException

from ansible_collections.tracing.xray.plugins.module_utils import irsa
from ansible_collections.tracing.xray.plugins.modules import irsa_trust_check

aws = irsa_testing.aws

HOST_PATH = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
ISSUER = "https://" + HOST_PATH
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/xray-daemon"
CREATED = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)


class FakeCoreV1:
    """Enough of CoreV1Api for the doctor: ServiceAccounts and TokenRequest."""

    def __init__(self, issuer=ISSUER):
        self.issuer = issuer
        self.service_accounts = {}
        self.token_requests = []
        self.minted = []

    def add_sa(self, namespace, name, annotations=None):
        metadata = {"name": name, "namespace": namespace} | ({"annotations": annotations} if annotations is not None else {})
        self.service_accounts[(namespace, name)] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}

    def read_namespaced_service_account(self, name, namespace):
        try:
            return self.service_accounts[(namespace, name)]
        except KeyError:
            raise ApiException(status=404, reason="Not Found") from None

    def create_namespaced_service_account_token(self, name, namespace, body):
        self.token_requests.append(body)
        self.read_namespaced_service_account(name, namespace)
        claims = {
            "iss": self.issuer,
            "sub": f"system:serviceaccount:{namespace}:{name}",
            "aud": list(body["spec"]["audiences"]),
            "exp": 1900000000 + body["spec"]["expirationSeconds"],
            "iat": 1900000000,
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": "0b1c"}},
        }
        segments = [base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=") for part in ({"alg": "RS256"}, claims)]
        token = ".".join(segments + ["c2lnbmF0dXJlLW5vdC1jaGVja2Vk"])
        self.minted.append(token)
        return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": body["spec"],
                "status": {"token": token, "expirationTimestamp": CREATED.isoformat()}}


@pytest.fixture
def k8s(monkeypatch):
    api = FakeCoreV1()
    monkeypatch.setattr(irsa_trust_check, "core_v1_api", lambda module: api)
    return api


def expect_role(aws, policy=None, name="xray-daemon"):
    policy = policy or irsa.irsa_trust_policy(ISSUER, "xray-system", "xray-daemon", provider_arn=PROVIDER)
    aws["iam"].add_response(
        "get_role",
        {
            "Role": {
                "Path": "/",
                "RoleName": name,
                "RoleId": "AROAEXAMPLEXRAYDAEMON",
                "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
                "CreateDate": CREATED,
                "AssumeRolePolicyDocument": quote(json.dumps(policy)),
                "Tags": [{"Key": "managed-by", "Value": "tracing.xray"}],
            }
        },
        {"RoleName": name},
    )


def expect_provider(aws, client_ids=("sts.amazonaws.com",), arn=PROVIDER):
    aws["iam"].add_response(
        "get_open_id_connect_provider",
        {"Url": HOST_PATH, "ClientIDList": list(client_ids), "ThumbprintList": [], "CreateDate": CREATED},
        {"OpenIDConnectProviderArn": arn},
    )


def expect_cluster(aws, issuer=ISSUER, name="c1"):
    aws["eks"].add_response(
        "describe_cluster",
        {"cluster": {"name": name, "arn": f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/{name}", "identity": {"oidc": {"issuer": issuer}}}},
        {"name": name},
    )


def args(**extra):
    base = dict(role_name="xray-daemon", namespace="xray-system", service_account="xray-daemon")
    base.update(extra)
    return base


def good_setup(aws, k8s, policy=None):
    expect_role(aws, policy)
    k8s.add_sa("xray-system", "xray-daemon", {irsa.ROLE_ARN_ANNOTATION: ROLE})
    expect_provider(aws)


# --- IRSA ---------------------------------------------------------------------------------------


def test_passes_for_a_correct_setup_and_never_returns_the_token(aws, k8s, capsys):
    good_setup(aws, k8s)
    expect_cluster(aws)
    result = run_module(irsa_trust_check.main, args(cluster_name="c1"), capsys)
    aws.assert_done()
    assert result["passed"] is True, result
    assert result["changed"] is False
    assert result["problems"] == []
    assert [c["name"] for c in result["checks"]] == ["role", "service_account", "annotation", "token", "issuer", "oidc_provider", "trust_policy"]
    assert all(c["passed"] for c in result["checks"])
    assert result["provider_arn"] == PROVIDER
    assert result["claims"]["sub"] == "system:serviceaccount:xray-system:xray-daemon"
    assert result["claims"]["aud"] == ["sts.amazonaws.com"]
    spec = k8s.token_requests[0]["spec"]
    assert spec == {"audiences": ["sts.amazonaws.com"], "expirationSeconds": 600}
    assert k8s.minted and k8s.minted[0] not in json.dumps(result)


def test_namespace_changed_in_trust_policy_is_named(aws, k8s, capsys):
    good_setup(aws, k8s, irsa.irsa_trust_policy(ISSUER, "default", "xray-daemon", provider_arn=PROVIDER))
    result = run_module(irsa_trust_check.main, args(), capsys)
    aws.assert_done()
    assert result["failed"] is True
    assert result["passed"] is False
    assert result["problems"] == ["trust policy expects namespace default, the ServiceAccount is in xray-system"]
    assert result["msg"] == (
        "IRSA check failed for ServiceAccount xray-system/xray-daemon and IAM role xray-daemon: "
        "trust policy expects namespace default, the ServiceAccount is in xray-system"
    )


def test_report_only_mode_does_not_fail(aws, k8s, capsys):
    good_setup(aws, k8s, irsa.irsa_trust_policy(ISSUER, "xray-system", "other", provider_arn=PROVIDER))
    result = run_module(irsa_trust_check.main, args(fail_on_problems=False), capsys)
    assert "failed" not in result
    assert result["passed"] is False
    assert result["problems"] == ["trust policy expects ServiceAccount other, the ServiceAccount is named xray-daemon"]


def test_check_mode_gives_the_same_verdict(aws, k8s, capsys):
    good_setup(aws, k8s)
    result = run_module(irsa_trust_check.main, args(), capsys, check_mode=True, diff=True)
    aws.assert_done()
    assert result["passed"] is True and result["changed"] is False
    assert "diff" not in result


@pytest.mark.parametrize(
    "annotations, message",
    [
        (None, "the ServiceAccount has no eks.amazonaws.com/role-arn annotation"),
        ({irsa.ROLE_ARN_ANNOTATION: f"arn:aws:iam::{ACCOUNT}:role/old"}, f"annotation points at arn:aws:iam::{ACCOUNT}:role/old, the role is {ROLE}"),
    ],
)
def test_annotation_problems(aws, k8s, capsys, annotations, message):
    expect_role(aws)
    k8s.add_sa("xray-system", "xray-daemon", annotations)
    expect_provider(aws)
    result = run_module(irsa_trust_check.main, args(), capsys)
    assert result["failed"] is True
    assert len(result["problems"]) == 1 and message in result["problems"][0]


def test_missing_provider_is_named(aws, k8s, capsys):
    expect_role(aws)
    k8s.add_sa("xray-system", "xray-daemon", {irsa.ROLE_ARN_ANNOTATION: ROLE})
    aws["iam"].add_client_error("get_open_id_connect_provider", service_error_code="NoSuchEntity", http_status_code=404)
    result = run_module(irsa_trust_check.main, args(), capsys)
    assert result["problems"] == [
        f"no IAM OIDC provider exists for the token's issuer {ISSUER} in account {ACCOUNT} (expected {PROVIDER}); STS rejects the token"
    ]


def test_provider_without_the_audience(aws, k8s, capsys):
    expect_role(aws)
    k8s.add_sa("xray-system", "xray-daemon", {irsa.ROLE_ARN_ANNOTATION: ROLE})
    expect_provider(aws, client_ids=["some-app"])
    result = run_module(irsa_trust_check.main, args(), capsys)
    assert result["problems"] == [f"the IAM OIDC provider {PROVIDER} does not list the audience sts.amazonaws.com among its client IDs (some-app)"]


def test_audience_comes_from_the_annotation(aws, k8s, capsys):
    policy = irsa.irsa_trust_policy(ISSUER, "xray-system", "xray-daemon", provider_arn=PROVIDER, audience="custom-aud")
    expect_role(aws, policy)
    k8s.add_sa("xray-system", "xray-daemon", {irsa.ROLE_ARN_ANNOTATION: ROLE, irsa.AUDIENCE_ANNOTATION: "custom-aud"})
    expect_provider(aws, client_ids=["custom-aud"])
    result = run_module(irsa_trust_check.main, args(), capsys)
    assert result["passed"] is True, result["problems"]
    assert k8s.token_requests[0]["spec"]["audiences"] == ["custom-aud"]


def test_token_from_another_cluster(aws, k8s, capsys):
    k8s.issuer = "https://kubernetes.default.svc"
    expect_role(aws)
    k8s.add_sa("xray-system", "xray-daemon", {irsa.ROLE_ARN_ANNOTATION: ROLE})
    expect_cluster(aws)
    aws["iam"].add_client_error("get_open_id_connect_provider", service_error_code="NoSuchEntity", http_status_code=404)
    result = run_module(irsa_trust_check.main, args(cluster_name="c1"), capsys)
    problems = result["problems"]
    assert problems[0] == (
        f"EKS cluster c1's OIDC issuer is {ISSUER}, the ServiceAccount token is issued by https://kubernetes.default.svc "
        "(does the kubeconfig point at another cluster?)"
    )
    assert any("no IAM OIDC provider exists for the token's issuer https://kubernetes.default.svc" in p for p in problems)
    assert any(f"trust policy trusts the OIDC provider of issuer {ISSUER}" in p for p in problems)


def test_expected_issuer_option(aws, k8s, capsys):
    good_setup(aws, k8s)
    result = run_module(irsa_trust_check.main, args(issuer="oidc.example.com/id/X", fail_on_problems=False), capsys)
    assert result["problems"] == [
        f"the expected issuer is https://oidc.example.com/id/X, the ServiceAccount token is issued by {ISSUER} (does the kubeconfig point at another cluster?)"
    ]


def test_missing_service_account_skips_the_token(aws, k8s, capsys):
    expect_role(aws)
    result = run_module(irsa_trust_check.main, args(), capsys)
    aws.assert_done()
    assert result["problems"] == ["ServiceAccount xray-system/xray-daemon does not exist"]
    assert k8s.token_requests == []


def test_missing_role(aws, k8s, capsys):
    aws["iam"].add_client_error("get_role", service_error_code="NoSuchEntity", http_status_code=404)
    k8s.add_sa("xray-system", "xray-daemon", {irsa.ROLE_ARN_ANNOTATION: ROLE})
    result = run_module(irsa_trust_check.main, args(role_arn=ROLE), capsys)
    aws.assert_done()
    assert result["problems"] == ["IAM role xray-daemon does not exist"]


def test_unrestricted_subject_is_a_notice(aws, k8s, capsys):
    policy = irsa.irsa_trust_policy(ISSUER, "xray-system", "xray-daemon", provider_arn=PROVIDER)
    del policy["Statement"][0]["Condition"]["StringEquals"][f"{HOST_PATH}:sub"]
    good_setup(aws, k8s, policy)
    result = run_module(irsa_trust_check.main, args(), capsys)
    assert result["passed"] is True
    assert result["notices"] == [f"trust policy does not restrict {HOST_PATH}:sub: any ServiceAccount of this cluster can assume the role"]
    assert "does not restrict" in json.dumps(result["warnings"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (dict(namespace="Bad_NS"), "namespace:"),
        (dict(service_account=""), "service_account:"),
        (dict(token_expiration=60), "token_expiration:"),
    ],
)
def test_bad_input(aws, k8s, capsys, extra, message):
    result = run_module(irsa_trust_check.main, args(**extra), capsys)
    assert result["failed"] is True and result["msg"].startswith(message)
    assert aws.requested == []


# --- EKS Pod Identity ---------------------------------------------------------------------------


def expect_association(aws, role=ROLE, found=True):
    key = {"clusterName": "c1", "namespace": "xray-system", "serviceAccount": "xray-daemon"}
    assoc_id = "a-abcdefghijklmnop1"
    summaries = [{**key, "associationId": assoc_id, "associationArn": f"arn:aws:eks:eu-west-1:{ACCOUNT}:podidentityassociation/c1/{assoc_id}"}]
    aws["eks"].add_response("list_pod_identity_associations", {"associations": summaries if found else []}, key)
    if found:
        aws["eks"].add_response(
            "describe_pod_identity_association",
            {"association": {**summaries[0], "roleArn": role}},
            {"clusterName": "c1", "associationId": assoc_id},
        )


def test_pod_identity_passes(aws, k8s, capsys):
    expect_role(aws, irsa.pod_identity_trust_policy())
    k8s.add_sa("xray-system", "xray-daemon")
    expect_association(aws)
    result = run_module(irsa_trust_check.main, args(mode="pod_identity", cluster_name="c1"), capsys)
    aws.assert_done()
    assert result["passed"] is True, result["problems"]
    assert result["association"]["role_arn"] == ROLE
    assert k8s.token_requests == []


def test_pod_identity_problems(aws, k8s, capsys):
    expect_role(aws, irsa.irsa_trust_policy(ISSUER, "xray-system", "xray-daemon", provider_arn=PROVIDER))
    k8s.add_sa("xray-system", "xray-daemon", {irsa.ROLE_ARN_ANNOTATION: ROLE})
    expect_association(aws, role=f"arn:aws:iam::{ACCOUNT}:role/other")
    result = run_module(irsa_trust_check.main, args(mode="pod_identity", cluster_name="c1"), capsys)
    assert result["failed"] is True
    assert result["problems"] == [
        "trust policy does not trust the service principal pods.eks.amazonaws.com (EKS Pod Identity)",
        f"the EKS Pod Identity association of xray-system/xray-daemon points at role arn:aws:iam::{ACCOUNT}:role/other, the role is {ROLE}",
    ]
    assert "AWS SDKs try IRSA credentials before EKS Pod Identity ones" in result["notices"][0]


def test_pod_identity_without_association(aws, k8s, capsys):
    expect_role(aws, irsa.pod_identity_trust_policy())
    k8s.add_sa("xray-system", "xray-daemon")
    expect_association(aws, found=False)
    result = run_module(irsa_trust_check.main, args(mode="pod_identity", cluster_name="c1"), capsys)
    assert result["problems"] == ["no EKS Pod Identity association maps ServiceAccount xray-system/xray-daemon in cluster c1 to a role"]


def test_pod_identity_needs_cluster_name(aws, k8s, capsys):
    result = run_module(irsa_trust_check.main, args(mode="pod_identity"), capsys)
    assert result["failed"] is True and "cluster_name" in result["msg"]


# --- Kubernetes client configuration ------------------------------------------------------------


class _Params:
    def __init__(self, **params):
        self.params = params

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs["msg"])


KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
    "users": [{"name": "u", "user": {"token": "t0ken"}}],
    "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}, {"name": "other", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "ctx",
}


def test_core_v1_api_from_kubeconfig_file_and_dict(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(KUBECONFIG))
    api = irsa_trust_check.core_v1_api(_Params(kubeconfig=str(path), context="other"))
    assert api.api_client.configuration.host == "https://127.0.0.1:6443"
    api = irsa_trust_check.core_v1_api(_Params(kubeconfig=KUBECONFIG, context=None))
    assert api.api_client.configuration.host == "https://127.0.0.1:6443"


class _CoreApi(BaseHTTPRequestHandler):
    """A local API server for CoreV1: one ServiceAccount, its TokenRequest, 404 and 403 as the API server sends them."""

    seen = []

    def log_message(self, *_args):
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.seen.append(("GET", self.path, self.headers.get("Authorization"), None))
        if self.path == "/api/v1/namespaces/xray-system/serviceaccounts/xray-daemon":
            self._send(200, {"kind": "ServiceAccount", "metadata": {"name": "xray-daemon", "annotations": {"a": "b"}}})
        else:
            self._send(404, {"kind": "Status", "reason": "NotFound", "code": 404})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(("POST", self.path, self.headers.get("Authorization"), body))
        if self.path.startswith("/api/v1/namespaces/xray-system/serviceaccounts/xray-daemon/token"):
            self._send(201, {"kind": "TokenRequest", "spec": body["spec"], "status": {"token": "jwt"}})
        else:
            self._send(403, {"kind": "Status", "message": "tokenrequests is forbidden", "code": 403})


def test_core_v1_calls_the_api_server_with_the_clients_auth_and_json(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CoreApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = json.loads(json.dumps(KUBECONFIG))
        config["clusters"][0]["cluster"] = {"server": f"http://127.0.0.1:{server.server_address[1]}"}
        api = irsa_trust_check.core_v1_api(_Params(kubeconfig=config, context=None))
        assert api.read_namespaced_service_account("xray-daemon", "xray-system")["metadata"]["annotations"] == {"a": "b"}
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": ["sts.amazonaws.com"]}}
        assert api.create_namespaced_service_account_token("xray-daemon", "xray-system", body)["status"]["token"] == "jwt"
        with pytest.raises(ApiException) as missing:
            api.read_namespaced_service_account("other", "xray-system")
        assert missing.value.status == 404
        with pytest.raises(ApiException) as forbidden:
            api.create_namespaced_service_account_token("other", "xray-system", body)
        assert forbidden.value.status == 403 and "tokenrequests is forbidden" in forbidden.value.body
    finally:
        server.shutdown()
    assert [(m, p, a) for m, p, a, _ in _CoreApi.seen[:2]] == [
        ("GET", "/api/v1/namespaces/xray-system/serviceaccounts/xray-daemon", "Bearer t0ken"),
        ("POST", "/api/v1/namespaces/xray-system/serviceaccounts/xray-daemon/token", "Bearer t0ken")]
    assert _CoreApi.seen[1][3] == body


def test_core_v1_api_reports_a_bad_kubeconfig(tmp_path):
    with pytest.raises(AssertionError, match="kubeconfig: cannot load"):
        irsa_trust_check.core_v1_api(_Params(kubeconfig=str(tmp_path / "missing"), context=None))


# --- a dead API server -----------------------------------------------------------------------------------------


def test_dead_api_server_is_one_clean_sentence(aws, k8s, capsys, tmp_path, monkeypatch):
    """The kubernetes client raises urllib3's MaxRetryError when the API server refuses: one sentence naming the
    server from the kubeconfig, no urllib3 text."""
    import urllib3

    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        "clusters: [{name: dead, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: u}}]\nusers: [{name: u, user: {token: s3cr3t}}]\n",
        encoding="utf-8",
    )
    refused = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    dead = urllib3.exceptions.MaxRetryError(None, "/api/v1/namespaces/xray-system/serviceaccounts/xray-daemon", reason=refused)

    def fail(*_args, **_kwargs):
        raise dead

    monkeypatch.setattr(k8s, "read_namespaced_service_account", fail)
    expect_role(aws)
    result = run_module(irsa_trust_check.main, args(kubeconfig=str(kubeconfig)), capsys)
    assert result["failed"]
    assert result["msg"].startswith("The Kubernetes API server at https://127.0.0.1:9 "), result["msg"]
    assert "refused the connection: check xray_kubeconfig and xray_kube_context" in result["msg"]
    for noise in ("urllib3", "NewConnectionError", "Max retries", "Traceback", "s3cr3t"):
        assert noise not in json.dumps(result)
