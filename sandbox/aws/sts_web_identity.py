"""EMULATION: an STS ``AssumeRoleWithWebIdentity`` that accepts a token only when AWS would.

moto 5.2.5 issues credentials for any token. ``middleware.py`` sends every ``AssumeRoleWithWebIdentity``
request here first; ``decide`` rejects it the way STS does, and only an admitted request reaches moto, which
issues the credentials. Checks, in this order:

1. the token is a JWT whose ``iss`` is an https URL (else ``InvalidIdentityToken``);
2. an IAM OIDC provider for that issuer exists in moto's IAM, in the role's account
   (``InvalidIdentityToken: No OpenIDConnect provider found in your account for <iss>``);
3. its RS256/ES256 signature verifies with the JWKS published for the issuer (``oidc_jwks.py``);
   none published: ``InvalidIdentityToken: Couldn't retrieve verification key ...`` (what STS says when
   it cannot fetch the keys); wrong key or signature: ``InvalidIdentityToken``;
4. ``exp`` not passed (``ExpiredTokenException``), ``nbf``/``iat`` not in the future (leeway
   ``oidc_jwks.LEEWAY_SECONDS``);
5. ``aud`` is one of the provider's client IDs (``InvalidIdentityToken: Incorrect token audience``;
   no ``aud``: ``Missing a required claim: aud``);
6. the role exists and its trust policy admits the claims - evaluated by the SAME function the doctor
   ``tracing.xray.irsa_trust_check`` uses (``plugins/module_utils/irsa.py``,
   ``evaluate_web_identity_trust``), loaded from the checkout by path. A Deny statement with a condition
   operator that function cannot judge fails closed here. Otherwise ``AccessDenied`` (HTTP 403,
   ``Not authorized to perform sts:AssumeRoleWithWebIdentity``).

Successful sessions are remembered (access key ID -> role, session, subject) so that later calls signed
with those credentials can be attributed (``middleware.py``, ``GET /_sandbox/calls``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from . import oidc_jwks

ACTION = "sts:AssumeRoleWithWebIdentity"
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
ACCESS_DENIED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
NO_KEYS = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
INVALID_TOKEN = (
    "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request."
)

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCTOR_IRSA_PATH = os.path.join(_REPO, "plugins", "module_utils", "irsa.py")
_DOCTOR_MODULE = "sandbox.aws._doctor_irsa"
_IMPORT_LOCK = threading.Lock()

# Condition operators (after an optional ForAnyValue:/ForAllValues: prefix and IfExists suffix) that the
# doctor's evaluation judges; anything else in a Deny statement makes the emulated STS deny (fail closed).
_JUDGED_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike", "Null",
}


def doctor_irsa() -> Any:
    """``plugins/module_utils/irsa.py`` of this checkout (pure Python, no Ansible import), loaded by path."""
    with _IMPORT_LOCK:
        module = sys.modules.get(_DOCTOR_MODULE)
        if module is None:
            if not os.path.isfile(DOCTOR_IRSA_PATH):
                raise ImportError(f"the sandbox's STS needs the collection's trust-policy evaluation at {DOCTOR_IRSA_PATH}")
            spec = importlib.util.spec_from_file_location(_DOCTOR_MODULE, DOCTOR_IRSA_PATH)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[_DOCTOR_MODULE] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(_DOCTOR_MODULE, None)
                raise
        return module


# --- sessions ----------------------------------------------------------------------------------------

_SESSIONS_LOCK = threading.Lock()
_SESSIONS: dict[str, dict[str, Any]] = {}


def remember_session(access_key_id: str, **record: Any) -> None:
    with _SESSIONS_LOCK:
        _SESSIONS[access_key_id] = dict(record, access_key_id=access_key_id, issued_at=time.time())


def session_for(access_key_id: str) -> dict[str, Any] | None:
    with _SESSIONS_LOCK:
        found = _SESSIONS.get(access_key_id)
        return dict(found) if found else None


def sessions() -> list[dict[str, Any]]:
    with _SESSIONS_LOCK:
        return [dict(s) for s in _SESSIONS.values()]


# --- the decision ------------------------------------------------------------------------------------


@dataclass
class Decision:
    allowed: bool
    status: int = 200
    code: str = ""
    message: str = ""
    reason: str = ""  # the sandbox's own explanation (logged and recorded; AWS does not return it)
    claims: dict[str, Any] = field(default_factory=dict)
    audience: str | None = None
    provider_arn: str | None = None
    role_arn: str | None = None
    role_id: str | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def deny(cls, status: int, code: str, message: str, reason: str = "", **kw: Any) -> Decision:
        return cls(False, status, code, message, reason or message, **kw)


def _parse_role_arn(role_arn: str) -> tuple[str, str] | None:
    match = re.fullmatch(r"arn:(aws[a-z-]*):iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?[\w+=,.@-]+", role_arn or "")
    return (match.group(1), match.group(2)) if match else None


def _iam_backend(account_id: str, partition: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id][partition]


def _find_role(iam: Any, role_arn: str) -> Any:
    for role in iam.roles.values():
        if role.arn == role_arn:
            return role
    return None


def _deny_statements_unjudged(policy: dict[str, Any], provider_arn: str) -> list[str]:
    """Deny statements for this action and provider whose conditions the doctor's evaluation cannot judge."""
    irsa = doctor_irsa()
    found = []
    for index, statement in enumerate(irsa._as_list(policy.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        if not (irsa._statement_actions_match(statement, ACTION) and irsa._principal_matches(statement.get("Principal"), "Federated", provider_arn)):
            continue
        for operator in statement.get("Condition") or {}:
            _set_op, base, _if_exists = irsa._split_operator(operator)
            if base not in _JUDGED_OPERATORS:
                found.append(f"statement {statement.get('Sid') or '#' + str(index + 1)} denies with condition operator {operator}")
    return found


def decide(params: dict[str, str], now: float | None = None) -> Decision:
    """Would STS admit this AssumeRoleWithWebIdentity request? ``params``: the query parameters."""
    token = params.get("WebIdentityToken") or ""
    role_arn = params.get("RoleArn") or ""
    try:
        _header, claims, _input, _sig = oidc_jwks.decode_unverified(token)
    except oidc_jwks.TokenError as err:
        return Decision.deny(400, "InvalidIdentityToken", INVALID_TOKEN, err.message)
    issuer = claims.get("iss")
    try:
        issuer_url = oidc_jwks.normalize_issuer(issuer)
    except oidc_jwks.JwksError:
        return Decision.deny(400, "InvalidIdentityToken", INVALID_TOKEN, f"the token's iss {issuer!r} is not an https URL", claims=claims)
    parsed = _parse_role_arn(role_arn)
    if parsed is None:
        # STS validates the ARN before looking at the token.
        return Decision.deny(400, "ValidationError", f"{role_arn} is invalid", claims=claims)
    partition, account_id = parsed
    iam = _iam_backend(account_id, partition)
    host_path = issuer_url[len("https://"):]
    provider_arn = f"arn:{partition}:iam::{account_id}:oidc-provider/{host_path}"
    provider = iam.open_id_providers.get(provider_arn)
    context = {"claims": claims, "provider_arn": provider_arn, "role_arn": role_arn}
    if provider is None:
        return Decision.deny(400, "InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {issuer_url}",
                             f"no IAM OIDC provider {provider_arn}", **context)
    try:
        oidc_jwks.verify_signature(token)
    except oidc_jwks.TokenError as err:
        message = NO_KEYS if err.kind in ("no_keys", "unknown_key") else INVALID_TOKEN
        return Decision.deny(400, "InvalidIdentityToken", message, err.message, **context)
    try:
        oidc_jwks.check_times(claims, now)
    except oidc_jwks.TokenError as err:
        if err.kind == "expired":
            return Decision.deny(400, "ExpiredTokenException", err.message, **context)
        if err.kind == "malformed" and err.message.startswith("Missing a required claim"):
            return Decision.deny(400, "InvalidIdentityToken", err.message, **context)
        return Decision.deny(400, "InvalidIdentityToken", INVALID_TOKEN, err.message, **context)
    audiences = oidc_jwks.token_audiences(claims)
    if not audiences:
        return Decision.deny(400, "InvalidIdentityToken", "Missing a required claim: aud", **context)
    matched = next((a for a in audiences if a in provider.client_id_list), None)
    if matched is None:
        return Decision.deny(400, "InvalidIdentityToken", "Incorrect token audience",
                             f"token audience {audiences} not among the client IDs {provider.client_id_list} of {provider_arn}", **context)
    context["audience"] = matched
    role = _find_role(iam, role_arn)
    if role is None:
        return Decision.deny(403, "AccessDenied", ACCESS_DENIED, f"role {role_arn} does not exist", **context)
    irsa = doctor_irsa()
    policy = irsa.load_policy(role.assume_role_policy_document)
    evaluation = irsa.evaluate_web_identity_trust(policy, claims, role_arn, audience=matched)
    unjudged = _deny_statements_unjudged(policy, provider_arn)
    if not evaluation["allowed"] or unjudged:
        problems = list(evaluation["problems"]) + [f"{u} (not evaluated by the sandbox: fails closed)" for u in unjudged]
        return Decision.deny(403, "AccessDenied", ACCESS_DENIED, "; ".join(problems), problems=problems, role_id=role.id, **context)
    return Decision(True, claims=claims, audience=matched, provider_arn=provider_arn, role_arn=role_arn, role_id=role.id,
                    reason=f"statement {evaluation['matched_statement']} admits {claims.get('sub')}")


def error_xml(code: str, message: str, request_id: str | None = None, sender: bool = True) -> tuple[str, str]:
    """(body, request id) in STS's error shape (awsQuery)."""
    request_id = request_id or str(uuid.uuid4())
    body = (
        f'<ErrorResponse xmlns="{STS_NAMESPACE}">\n'
        "  <Error>\n"
        f"    <Type>{'Sender' if sender else 'Receiver'}</Type>\n"
        f"    <Code>{escape(code)}</Code>\n"
        f"    <Message>{escape(message)}</Message>\n"
        "  </Error>\n"
        f"  <RequestId>{request_id}</RequestId>\n"
        "</ErrorResponse>\n"
    )
    return body, request_id


def amend_success(body: str, decision: Decision) -> tuple[str, dict[str, str]]:
    """Complete moto's success response like STS's, and return the session it describes.

    moto omits SubjectFromWebIdentityToken, Audience and Provider and uses a fixed AssumedRoleId prefix;
    STS returns the role's ID (``AROA...``) + ``:`` + the session name.
    """
    found = {}
    for tag in ("AccessKeyId", "Arn", "AssumedRoleId", "Expiration"):
        match = re.search(rf"<{tag}>([^<]*)</{tag}>", body)
        found[tag] = match.group(1) if match else ""
    if decision.role_id and ":" in found["AssumedRoleId"]:
        session_name = found["AssumedRoleId"].split(":", 1)[1]
        found["AssumedRoleId"] = f"{decision.role_id}:{session_name}"
        body = re.sub(r"<AssumedRoleId>[^<]*</AssumedRoleId>", f"<AssumedRoleId>{escape(found['AssumedRoleId'])}</AssumedRoleId>", body, count=1)
    extra = ""
    if decision.claims.get("sub") is not None:
        extra += f"<SubjectFromWebIdentityToken>{escape(str(decision.claims['sub']))}</SubjectFromWebIdentityToken>"
    if decision.audience:
        extra += f"<Audience>{escape(decision.audience)}</Audience>"
    if decision.provider_arn:
        extra += f"<Provider>{escape(decision.provider_arn)}</Provider>"
    if extra and "SubjectFromWebIdentityToken" not in body:
        body = body.replace("</AssumeRoleWithWebIdentityResult>", extra + "</AssumeRoleWithWebIdentityResult>", 1)
    return body, found
