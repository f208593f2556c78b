"""The sandbox's STS AssumeRoleWithWebIdentity (EMULATION) admits a token only when AWS would, and agrees with
the doctor (tracing.xray.irsa_trust_check's evaluation in plugins/module_utils/irsa.py) on every case the doctor
can judge. Real boto3 clients against the in-process endpoint; tokens signed here with keys whose JWKS is
published through the admin hook."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from ansible_collections.tracing.xray.plugins.module_utils import irsa as doctor
from botocore.exceptions import ClientError
from identity_tokens import SigningKey, admin, attach_shape_check, client, publish, sa_claims, tamper

from sandbox.aws import oidc_jwks, sts_web_identity

AUD = "sts.amazonaws.com"
NS, SA = "xray-system", "xray-daemon"


@dataclass
class Env:
    info: dict[str, Any]
    issuer: str
    host_path: str
    provider_arn: str
    key: SigningKey
    other_issuer: str
    other_provider_arn: str
    other_key: SigningKey
    unregistered_issuer: str
    unpublished_issuer: str
    account_id: str


def _ensure_provider(iam: Any, issuer: str, client_ids: list[str]) -> str:
    """A fresh IAM OIDC provider for ``issuer`` (moto's state is process-wide: replace one left by another test)."""
    for existing in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        if existing["Arn"].endswith(":oidc-provider/" + issuer[8:]):
            iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=existing["Arn"])
    created = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=client_ids, ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    return created["OpenIDConnectProviderArn"]


@pytest.fixture(scope="module")
def env(sandbox: dict[str, Any]) -> Env:
    iam = client(sandbox, "iam")
    issuer = sandbox["oidc_issuer"]
    region = sandbox["region"]
    key, other_key = SigningKey("sa-key-1"), SigningKey("other-cluster-key")
    other = f"https://oidc.eks.{region}.amazonaws.com/id/0THERC1USTER0000000000000000000A"
    unregistered = f"https://oidc.eks.{region}.amazonaws.com/id/UNREG1STERED00000000000000000000"
    unpublished = f"https://oidc.eks.{region}.amazonaws.com/id/N0JWKSPUB11SHED0000000000000000"
    publish(sandbox, issuer, key)
    publish(sandbox, other, other_key)
    publish(sandbox, unregistered, key)
    _ensure_provider(iam, unpublished, [AUD])  # a provider, but no JWKS published for it
    return Env(
        info=sandbox,
        issuer=issuer,
        host_path=issuer[len("https://"):],
        provider_arn=_ensure_provider(iam, issuer, [AUD]),
        key=key,
        other_issuer=other,
        other_provider_arn=_ensure_provider(iam, other, [AUD]),
        other_key=other_key,
        unregistered_issuer=unregistered,
        unpublished_issuer=unpublished,
        account_id=sandbox["account_id"],
    )


def _trust(env: Env, sub: str | None = f"system:serviceaccount:{NS}:{SA}", aud: Any = AUD, like: bool = False,
           federated: str | None = None, extra: list[dict[str, Any]] | None = None, aud_operator: str = "StringEquals",
           host_path: str | None = None) -> dict[str, Any]:
    """The trust policy irsa_trust_policy() writes, with the variations of the table."""
    host_path = host_path or env.host_path
    conditions: dict[str, dict[str, Any]] = {}
    if aud is not None:
        conditions.setdefault(aud_operator, {})[f"{host_path}:aud"] = aud
    if sub is not None:
        conditions.setdefault("StringLike" if like else "StringEquals", {})[f"{host_path}:sub"] = sub
    statement = {"Effect": "Allow", "Principal": {"Federated": federated or env.provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity"}
    if conditions:
        statement["Condition"] = conditions
    return {"Version": "2012-10-17", "Statement": [statement] + (extra or [])}


def _token(env: Env, ns: str = NS, sa: str = SA, **kw: Any) -> str:
    return env.key.sign(sa_claims(env.issuer, ns, sa, **kw))


_roles = iter(range(1, 10_000))


def _role(env: Env, policy: dict[str, Any], name: str) -> str:
    iam = client(env.info, "iam")
    role_name = f"irsa-{name}-{next(_roles)}"[:64]
    return iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"]


def _assume(env: Env, role_arn: str, token: str, problems: list[str] | None = None) -> dict[str, Any]:
    sts = client(env.info, "sts")
    if problems is not None:
        attach_shape_check(sts, problems)
    return sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="sandbox-test", WebIdentityToken=token)


def _sts_outcome(env: Env, role_arn: str, token: str) -> tuple[str, int, str]:
    try:
        _assume(env, role_arn, token)
    except ClientError as err:
        return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Message"]
    return "allowed", 200, ""


def doctor_verdict(env: Env, policy: dict[str, Any], token: str, role_arn: str, audience: str = AUD) -> tuple[bool, list[str]]:
    """What irsa_trust_check (check_irsa) concludes from the same data: token audience, provider, client IDs, trust."""
    claims = doctor.decode_jwt_claims(token)
    problems = []
    if audience not in doctor.token_audiences(claims):
        problems.append(f"token audience {doctor.token_audiences(claims)}, requested {audience}")
    evaluation = doctor.evaluate_web_identity_trust(policy, claims, role_arn, audience=audience)
    iam = client(env.info, "iam")
    try:
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=evaluation["provider_arn"])
    except ClientError:
        provider = None
    if provider is None:
        problems.append(f"no IAM OIDC provider {evaluation['provider_arn']}")
    else:
        problems += doctor.check_provider_audience(provider.get("ClientIDList"), audience, evaluation["provider_arn"])
    problems += evaluation["problems"]
    return not problems, problems


@dataclass
class Case:
    id: str
    policy: Callable[[Env], dict[str, Any]]
    token: Callable[[Env], str]
    sts: str  # "allowed" or the STS error code
    doctor: bool  # the doctor's verdict (True = admits)
    doctor_judges: bool = True  # False: the doctor cannot judge what decides this case (then it is shown, not compared)
    why: str = ""
    message: str = ""  # expected substring of the STS error message
    audience: str = AUD  # the audience the doctor requests the token for


NOW = time.time


CASES = [
    Case("exact-match", _trust, _token, "allowed", True),
    Case("wrong-namespace", _trust, lambda e: _token(e, ns="default"), "AccessDenied", False,
         message="Not authorized to perform sts:AssumeRoleWithWebIdentity"),
    Case("wrong-service-account", _trust, lambda e: _token(e, sa="default"), "AccessDenied", False),
    Case("wrong-aud-condition", lambda e: _trust(e, aud="sts.amazonaws.com.cn"), _token, "AccessDenied", False),
    Case("missing-aud-condition", lambda e: _trust(e, aud=None), _token, "allowed", True,
         why="aud is still checked against the provider's client IDs; the doctor warns"),
    Case("foranyvalue-aud-condition", lambda e: _trust(e, aud=[AUD, "other"], aud_operator="ForAnyValue:StringEquals"),
         _token, "allowed", True),
    Case("wrong-provider", lambda e: _trust(e, federated=e.other_provider_arn), _token, "AccessDenied", False,
         why="Federated principal is the provider of another issuer"),
    Case("provider-of-other-account", lambda e: _trust(e, federated=e.provider_arn.replace(e.account_id, "111122223333")),
         _token, "AccessDenied", False),
    Case("token-of-other-issuer", _trust, lambda e: e.other_key.sign(sa_claims(e.other_issuer, NS, SA)), "AccessDenied", False,
         why="the other issuer's provider exists, but the role trusts this cluster's"),
    Case("stringlike-match", lambda e: _trust(e, sub="system:serviceaccount:xray-*:*", like=True), _token, "allowed", True),
    Case("stringlike-no-match", lambda e: _trust(e, sub="system:serviceaccount:xray-*:*", like=True), lambda e: _token(e, ns="default"),
         "AccessDenied", False),
    Case("deny-statement-wins", lambda e: _trust(e, extra=[{
        "Effect": "Deny", "Principal": {"Federated": e.provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {f"{e.host_path}:sub": "system:serviceaccount:xray-system:*"}}}]),
        _token, "AccessDenied", False),
    Case("expired-token", _trust, lambda e: _token(e, exp=int(NOW()) - 3600, iat=int(NOW()) - 7200, nbf=int(NOW()) - 7200),
         "ExpiredTokenException", True, doctor_judges=False, why="the doctor does not judge exp (it requests a fresh token)",
         message="Token expired: current date/time"),
    Case("not-yet-valid", _trust, lambda e: _token(e, nbf=int(NOW()) + 3600, iat=int(NOW()) + 3600),
         "InvalidIdentityToken", True, doctor_judges=False, why="the doctor does not judge nbf/iat"),
    Case("tampered-signature", _trust,
         lambda e: tamper(_token(e, ns="default"), sub=f"system:serviceaccount:{NS}:{SA}", **{"kubernetes.io": {"namespace": NS}}),
         "InvalidIdentityToken", True, doctor_judges=False, why="the doctor does not verify signatures (it would admit the forged claims)"),
    Case("unknown-signing-key", _trust, lambda e: SigningKey("rotated-away").sign(sa_claims(e.issuer, NS, SA)),
         "InvalidIdentityToken", True, doctor_judges=False, why="signed by a key the issuer does not publish", message="Couldn't retrieve verification key"),
    Case("keys-not-published", lambda e: _trust(e, federated=f"arn:aws:iam::{e.account_id}:oidc-provider/{e.unpublished_issuer[8:]}",
                                                host_path=e.unpublished_issuer[8:]),
         lambda e: e.key.sign(sa_claims(e.unpublished_issuer, NS, SA)), "InvalidIdentityToken", True, doctor_judges=False,
         why="the issuer's JWKS cannot be fetched: signature not verifiable", message="Couldn't retrieve verification key"),
    Case("unregistered-issuer", _trust, lambda e: e.key.sign(sa_claims(e.unregistered_issuer, NS, SA)),
         "InvalidIdentityToken", False, message="No OpenIDConnect provider found in your account for https://"),
    Case("aud-not-a-client-id", lambda e: _trust(e, aud="vault"), lambda e: _token(e, audience="vault"),
         "InvalidIdentityToken", False, message="Incorrect token audience", audience="vault"),
    Case("aud-claim-missing", lambda e: _trust(e, aud=None), lambda e: _token(e, audience=None),
         "InvalidIdentityToken", False, message="Missing a required claim: aud"),
    Case("deny-with-unjudged-operator", lambda e: _trust(e, extra=[{
        "Effect": "Deny", "Principal": {"Federated": e.provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}}]),
        _token, "AccessDenied", False,
        why="the doctor cannot evaluate DateGreaterThan: a Deny that may apply is reported as a problem (the STS fails closed)"),
]

_RESULTS: list[tuple[str, str, str, str]] = []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sts_and_doctor_decide_the_same(env: Env, case: Case) -> None:
    policy = case.policy(env)
    token = case.token(env)
    role_arn = _role(env, policy, case.id)
    outcome, status, message = _sts_outcome(env, role_arn, token)
    admits, problems = doctor_verdict(env, policy, token, role_arn, case.audience)
    _RESULTS.append((case.id, f"{outcome} ({status})", ("admits" if admits else "rejects") + ("" if case.doctor_judges else " [cannot judge]"),
                     case.why or "; ".join(problems)[:100]))
    assert outcome == case.sts, (message, problems)
    assert case.message in message
    assert status == {"allowed": 200, "AccessDenied": 403}.get(outcome, 400)
    assert admits == case.doctor, problems
    if case.doctor_judges:
        assert admits == (outcome == "allowed"), "the emulated STS and the doctor disagree"


def test_print_decision_table() -> None:
    """Shown with -s; README.md carries the same table."""
    if _RESULTS:
        width = max(len(r[0]) for r in _RESULTS)
        print("\n" + "\n".join(f"{r[0]:<{width}}  {r[1]:<28}  {r[2]:<24}  {r[3]}" for r in _RESULTS))


def test_emulation_uses_the_doctors_evaluation() -> None:
    assert os.path.realpath(sts_web_identity.doctor_irsa().__file__) == os.path.realpath(doctor.__file__)


def test_success_response_and_credentials(env: Env) -> None:
    role_arn = _role(env, _trust(env), "positive")
    problems: list[str] = []
    token = _token(env)
    result = _assume(env, role_arn, token, problems)
    assert not problems, problems
    assert result["SubjectFromWebIdentityToken"] == f"system:serviceaccount:{NS}:{SA}"
    assert result["Audience"] == AUD
    assert result["Provider"] == env.provider_arn
    role_id = client(env.info, "iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]["RoleId"]
    assert result["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:sandbox-test"
    assumed_arn = result["AssumedRoleUser"]["Arn"]
    assert assumed_arn == f"arn:aws:sts::{env.account_id}:assumed-role/{role_arn.rsplit('/', 1)[1]}/sandbox-test"
    creds = result["Credentials"]
    assert client(env.info, "sts", creds).get_caller_identity()["Arn"] == assumed_arn

    # Segments sent with these credentials are attributed to the role session; with the static key, to the static user.
    since = time.time()
    xray = client(env.info, "xray", creds)
    segment = {"name": "irsa-probe", "id": "70de5b6f19ff9a0a", "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
               "start_time": time.time() - 1, "end_time": time.time()}
    assert xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(segment)])["UnprocessedTraceSegments"] == []
    client(env.info, "xray").put_trace_segments(TraceSegmentDocuments=[json.dumps(dict(segment, id="70de5b6f19ff9a0b"))])
    status, calls = admin(env.info, "GET", f"/_sandbox/calls?action=PutTraceSegments&since={since}")
    assert status == 200
    mine = [c for c in calls if c["access_key_id"] == creds["AccessKeyId"]]
    assert len(mine) == 1
    assert mine[0]["principal_arn"] == assumed_arn
    assert mine[0]["principal_type"] == "assumed-role"
    assert mine[0]["source"] == "sts:AssumeRoleWithWebIdentity"
    assert mine[0]["subject"] == f"system:serviceaccount:{NS}:{SA}"
    assert mine[0]["session_token"] is True
    assert set(mine[0]) >= {"time", "access_key_id", "principal_arn"}
    static = [c for c in calls if c["access_key_id"] == env.info["access_key_id"]]
    assert static and static[0]["principal_type"] == "sandbox-static"
    assert static[0]["principal_arn"] == f"arn:aws:sts::{env.account_id}:user/moto"
    status, by_key = admin(env.info, "GET", f"/_sandbox/calls?access_key_id={creds['AccessKeyId']}")
    assert status == 200 and [c["action"] for c in by_key] == ["PutTraceSegments"]  # GetCallerIdentity (STS) is not recorded
    status, sessions = admin(env.info, "GET", "/_sandbox/sessions")
    assert any(s["access_key_id"] == creds["AccessKeyId"] and s["principal_arn"] == assumed_arn for s in sessions)
    assert all("secret" not in json.dumps(s).lower() for s in sessions)


def test_error_is_stss_xml_shape(env: Env) -> None:
    """Raw HTTP, as the Go SDK sees it: 403, text/xml, ErrorResponse/Error/{Type,Code,Message} + RequestId."""
    role_arn = _role(env, _trust(env), "xml")
    body = urllib.parse.urlencode({
        "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": role_arn,
        "RoleSessionName": "raw", "WebIdentityToken": _token(env, ns="default"),
    }).encode()
    request = urllib.request.Request(env.info["endpoint_url"] + "/", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 403
    assert err.value.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(err.value.read())
    ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
    assert root.tag == f"{ns}ErrorResponse"
    assert [c.tag for c in root] == [f"{ns}Error", f"{ns}RequestId"]
    error = root.find(f"{ns}Error")
    assert [(c.tag[len(ns):], c.text) for c in error] == [
        ("Type", "Sender"), ("Code", "AccessDenied"), ("Message", "Not authorized to perform sts:AssumeRoleWithWebIdentity")]
    assert root.find(f"{ns}RequestId").text
    assert err.value.headers["x-amzn-RequestId"] == root.find(f"{ns}RequestId").text


def test_decisions_are_logged(env: Env) -> None:
    since = time.time()
    role_arn = _role(env, _trust(env), "log")
    with pytest.raises(ClientError):
        _assume(env, role_arn, _token(env, ns="default"))
    status, calls = admin(env.info, "GET", f"/_sandbox/calls?action=AssumeRoleWithWebIdentity&since={since}")
    assert status == 200 and len(calls) == 1
    assert calls[0]["error_code"] == "AccessDenied" and calls[0]["status"] == 403
    assert calls[0]["reason"] == "trust policy expects namespace xray-system, the ServiceAccount is in default"


def test_es256_tokens(env: Env) -> None:
    region = env.info["region"]
    issuer = f"https://oidc.eks.{region}.amazonaws.com/id/EC256C1USTER00000000000000000000"
    key = SigningKey("ec-1", alg="ES256")
    publish(env.info, issuer, key)
    provider = _ensure_provider(client(env.info, "iam"), issuer, [AUD])
    host = issuer[8:]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
                                                      "Condition": {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{NS}:{SA}"}}}]}
    role_arn = _role(env, policy, "es256")
    assert _assume(env, role_arn, key.sign(sa_claims(issuer, NS, SA)))["Audience"] == AUD
    assert _sts_outcome(env, role_arn, tamper(key.sign(sa_claims(issuer, NS, SA)), exp=int(time.time()) + 7200))[0] == "InvalidIdentityToken"


def test_admin_hook_validation(env: Env) -> None:
    info = env.info
    assert admin(info, "POST", "/_sandbox/oidc/jwks", b"not json")[0] == 400
    status, body = admin(info, "POST", "/_sandbox/oidc/jwks", {"issuer": "http://plain", "jwks": {"keys": [env.key.jwk]}})
    assert status == 400 and "https" in body["error"]
    private = dict(env.key.jwk, d="AAAA")
    status, body = admin(info, "POST", "/_sandbox/oidc/jwks", {"issuer": "https://x.example/id/1", "jwks": {"keys": [private]}})
    assert status == 400 and "private" in body["error"]
    small = dict(env.key.jwk, n="AQAB")
    assert admin(info, "POST", "/_sandbox/oidc/jwks", {"issuer": "https://x.example/id/1", "jwks": {"keys": [small]}})[0] == 400
    assert admin(info, "POST", "/_sandbox/oidc/jwks", {"issuer": "https://x.example/id/1", "jwks": {"keys": []}})[0] == 400
    status, body = admin(info, "POST", "/_sandbox/oidc/jwks", {"issuer": "https://X.example/id/1/", "jwks": {"keys": [env.key.jwk]}})
    assert (status, body) == (200, {"issuer": "https://x.example/id/1", "keys": 1, "kids": ["sa-key-1"]})
    status, body = admin(info, "GET", "/_sandbox/oidc/jwks")
    assert body["issuers"]["https://x.example/id/1"]["keys"] == [env.key.jwk]
    assert admin(info, "DELETE", "/_sandbox/oidc/jwks?issuer=https://x.example/id/1") == (200, {"issuer": "https://x.example/id/1", "removed": True})
    assert admin(info, "DELETE", "/_sandbox/oidc/jwks?issuer=https://x.example/id/1")[1]["removed"] is False
    assert admin(info, "GET", "/_sandbox/nothing")[0] == 404
    assert admin(info, "PUT", "/_sandbox/calls")[0] == 405


def test_jwk_conversion_and_time_checks() -> None:
    key = SigningKey("unit")
    with pytest.raises(oidc_jwks.JwksError, match="key type"):
        oidc_jwks.public_key({"kty": "oct", "k": "AAAA"})
    with pytest.raises(oidc_jwks.JwksError, match="curve"):
        oidc_jwks.public_key({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"})
    assert oidc_jwks.public_key(key.jwk).key_size == 2048
    now = time.time()
    oidc_jwks.check_times({"exp": now - oidc_jwks.LEEWAY_SECONDS + 5}, now)  # within the leeway
    with pytest.raises(oidc_jwks.TokenError) as err:
        oidc_jwks.check_times({"exp": now - oidc_jwks.LEEWAY_SECONDS - 5}, now)
    assert err.value.kind == "expired"
    with pytest.raises(oidc_jwks.TokenError, match="Missing a required claim: exp"):
        oidc_jwks.check_times({}, now)
    with pytest.raises(oidc_jwks.TokenError) as err:
        oidc_jwks.decode_unverified("a.b")
    assert err.value.kind == "malformed"
    header = oidc_jwks.b64url_decode(key.sign({"iss": "https://x"}).split(".", maxsplit=1)[0])
    assert json.loads(header)["alg"] == "RS256"
    forged = "eyJhbGciOiJub25lIn0." + key.sign({"iss": "https://x.example"}).split(".")[1] + "."
    with pytest.raises(oidc_jwks.TokenError, match="'none' is not accepted"):
        oidc_jwks.verify_signature(forged)
