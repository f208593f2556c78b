"""WSGI layer in front of moto's app: identity EMULATION, admin hooks, and a log of who called what.

``wrap(app)`` returns an app that

* answers the sandbox's admin hooks under ``/_sandbox/`` (never an AWS path):

  - ``POST /_sandbox/oidc/jwks`` ``{"issuer": "https://...", "jwks": {"keys": [...]}}`` -> 200
    ``{"issuer", "kids", "keys"}``; 400 ``{"error": ...}``. Publishes (replaces) the issuer's signing keys.
  - ``GET /_sandbox/oidc/jwks`` -> ``{"issuers": {issuer: {"keys": [...]}}}``;
    ``DELETE /_sandbox/oidc/jwks?issuer=...`` -> ``{"issuer", "removed"}``.
  - ``GET /_sandbox/calls[?action=&access_key_id=&since=]`` -> JSON list of recorded calls (oldest first);
    ``DELETE /_sandbox/calls`` -> ``{"cleared": n}``.
  - ``GET /_sandbox/sessions`` -> the sessions issued by the emulated STS / EKS Auth (no secrets).
  - ``POST /_sandbox/throttle`` ``{"services": {"xray": 3, "iam": 2}}`` -> 200 ``{"every", "seen", "throttled"}``:
    from now on every 3rd X-Ray request and every 2nd IAM request is answered with the service's real throttling
    error (``throttle.py``: X-Ray ``ThrottledException`` 429, EKS ``ThrottlingException`` 429, IAM and STS
    ``Throttling`` 400); 400 ``{"error": ...}`` for an unknown service or count. ``GET`` -> the same state (requests
    seen and throttled per service); ``DELETE`` -> turns it off and returns the last state.

* answers the share of requests the throttling switch selects with a throttling error (nothing else sees them);
* sends ``AssumeRoleWithWebIdentity`` through ``sts_web_identity.decide`` (moto only sees admitted ones);
* serves the EKS pod identity association API and ``eks-auth:AssumeRoleForPodIdentity``
  (``eks_pod_identity.py``), which moto lacks;
* records every X-Ray request (and every STS web identity / EKS Auth decision) with the access key that
  signed it and the principal behind that key, then passes it on unchanged.
"""

from __future__ import annotations

import collections
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from . import eks_pod_identity, oidc_jwks, sts_web_identity, throttle

LOG = logging.getLogger("sandbox.aws.identity")
MAX_CALLS = 20000
STATIC_ACCESS_KEY_ID = "AKIAXRAYSANDBOX00000"  # sandbox.aws.server.ACCESS_KEY_ID (not imported: no cycle)

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_CALLS_LOCK = threading.Lock()
_CALLS: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_CALLS)
_XRAY_PATHS: dict[tuple[str, str], str] = {}


def _xray_operation(method: str, path: str) -> str:
    """X-Ray operation name from botocore's model (requestUri), e.g. POST /TraceSegments -> PutTraceSegments."""
    if not _XRAY_PATHS:
        import botocore.session

        model = botocore.session.get_session().get_service_model("xray")
        for name in model.operation_names:
            http = model.operation_model(name).http
            _XRAY_PATHS[(http["method"], http["requestUri"].split("?")[0])] = name
    return _XRAY_PATHS.get((method, path.rstrip("/") or "/"), f"{method} {path}")


def parse_sigv4(environ: dict[str, Any]) -> dict[str, str] | None:
    """access key, date, region, service of a SigV4-signed request (header or presigned query), else None."""
    source = environ.get("HTTP_AUTHORIZATION") or ""
    match = _CREDENTIAL.search(source)
    if not match:
        query = parse_qs(environ.get("QUERY_STRING") or "")
        credential = (query.get("X-Amz-Credential") or [""])[0]
        match = _CREDENTIAL.search("Credential=" + credential)
    if not match:
        return None
    return {"access_key_id": match.group(1), "date": match.group(2), "region": match.group(3), "service": match.group(4)}


def principal_for(access_key_id: str | None) -> dict[str, Any]:
    """Who is behind an access key: a session of the emulated STS/EKS Auth, moto's AssumeRole, an IAM user, the static key."""
    if not access_key_id:
        return {"principal_type": "anonymous", "principal_arn": None}
    session = sts_web_identity.session_for(access_key_id)
    if session:
        return {
            "principal_type": "assumed-role",
            "principal_arn": session.get("principal_arn"),
            "role_arn": session.get("role_arn"),
            "source": session.get("source"),
            "subject": session.get("subject"),
        }
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for account_id in list(sts_backends.keys()):
        for backend in list(sts_backends[account_id].values()):
            for role in list(backend.assumed_roles):
                if role.access_key_id == access_key_id:
                    return {"principal_type": "assumed-role", "principal_arn": role.arn, "role_arn": role.role_arn, "source": "sts:AssumeRole (moto)"}
    for account_id in list(iam_backends.keys()):
        for backend in list(iam_backends[account_id].values()):
            user = backend.get_user_from_access_key_id(access_key_id)
            if user:
                return {"principal_type": "iam-user", "principal_arn": user.arn}
    if access_key_id == STATIC_ACCESS_KEY_ID:
        from moto.core import DEFAULT_ACCOUNT_ID

        # What sts get-caller-identity answers for these credentials.
        return {"principal_type": "sandbox-static", "principal_arn": f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:user/moto"}
    return {"principal_type": "unknown", "principal_arn": None}


def record_call(action: str, service: str, access_key_id: str | None, **extra: Any) -> dict[str, Any]:
    entry = {"time": time.time(), "action": action, "service": service, "access_key_id": access_key_id}
    entry.update(principal_for(access_key_id))
    entry.update({k: v for k, v in extra.items() if v is not None})
    with _CALLS_LOCK:
        _CALLS.append(entry)
    return entry


def calls(action: str | None = None, access_key_id: str | None = None, since: float | None = None) -> list[dict[str, Any]]:
    with _CALLS_LOCK:
        found = list(_CALLS)
    return [
        dict(c) for c in found
        if (action is None or c["action"] == action)
        and (access_key_id is None or c["access_key_id"] == access_key_id)
        and (since is None or c["time"] >= since)
    ]


def clear_calls() -> int:
    with _CALLS_LOCK:
        count = len(_CALLS)
        _CALLS.clear()
    return count


def _account_id(environ: dict[str, Any], access_key_id: str | None) -> str:
    """As moto decides it: MOTO_ACCOUNT_ID, the x-moto-account-id header, then the access key's account."""
    if os.environ.get("MOTO_ACCOUNT_ID"):
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key_id or "")


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back for the next app."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _respond(start_response: Callable[..., Any], status: int, headers: dict[str, str], body: str | bytes) -> list[bytes]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
              429: "Too Many Requests"}.get(status, "Error")
    head = [(k, v) for k, v in headers.items() if k.lower() != "content-length"] + [("Content-Length", str(len(data)))]
    start_response(f"{status} {reason}", head)
    return [data]


def _json(start_response: Callable[..., Any], status: int, body: Any) -> list[bytes]:
    return _respond(start_response, status, {"Content-Type": "application/json"}, json.dumps(body, indent=1, sort_keys=True))


class SandboxIdentityMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD") or "GET"
        if path.startswith("/_sandbox/"):
            return self._admin(environ, start_response, method, path)
        sig = parse_sigv4(environ)
        service = sig["service"] if sig else None
        access_key_id = sig["access_key_id"] if sig else None

        if throttle.should_throttle(service):
            status, headers, text = throttle.response(service)  # type: ignore[arg-type]
            LOG.info("EMULATION %s request throttled (%s %s)", service, method, path)
            return _respond(start_response, status, headers, text)

        if service == "eks-auth" or (method == "POST" and eks_pod_identity.is_auth_path(path) and service in (None, "eks-auth")):
            region = sig["region"] if sig else "us-east-1"
            body = _read_body(environ)
            (status, headers, text), record = eks_pod_identity.handle_eks_auth(_account_id(environ, access_key_id), region, path, body)
            record_call("AssumeRoleForPodIdentity", "eks-auth", access_key_id, status=status, **record)
            LOG.info("EMULATION eks-auth AssumeRoleForPodIdentity -> %s %s", status, record.get("error_code") or record.get("principal_arn"))
            return _respond(start_response, status, headers, text)

        if service == "eks" and (eks_pod_identity.is_association_path(path) or eks_pod_identity.association_arn_of_tags_path(path)):
            assert sig is not None
            body = _read_body(environ)
            query = parse_qs(environ.get("QUERY_STRING") or "", keep_blank_values=True)
            status, headers, text = eks_pod_identity.handle_eks(_account_id(environ, access_key_id), sig["region"], method, path, query, body)
            return _respond(start_response, status, headers, text)

        if service in (None, "sts"):
            params = self._query_params(environ, method)
            if params.get("Action") == "AssumeRoleWithWebIdentity":
                return self._web_identity(environ, start_response, params, access_key_id)

        if service == "xray":
            record_call(_xray_operation(method, path), "xray", access_key_id,
                        session_token=bool(environ.get("HTTP_X_AMZ_SECURITY_TOKEN")), user_agent=environ.get("HTTP_USER_AGENT"))
        return self.app(environ, start_response)

    @staticmethod
    def _query_params(environ: dict[str, Any], method: str) -> dict[str, str]:
        params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING") or "").items()}
        content_type = environ.get("CONTENT_TYPE") or ""
        if method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
            body = _read_body(environ)
            params.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
        return params

    def _web_identity(self, environ: dict[str, Any], start_response: Callable[..., Any], params: dict[str, str], access_key_id: str | None) -> Iterable[bytes]:
        decision = sts_web_identity.decide(params)
        claims = decision.claims or {}
        common = {"role_arn": params.get("RoleArn"), "subject": claims.get("sub"), "issuer": claims.get("iss"), "reason": decision.reason}
        if not decision.allowed:
            body, request_id = sts_web_identity.error_xml(decision.code, decision.message)
            record_call("AssumeRoleWithWebIdentity", "sts", access_key_id, status=decision.status, error_code=decision.code, **common)
            LOG.info("EMULATION sts AssumeRoleWithWebIdentity %s denied: %s %s", params.get("RoleArn"), decision.code, decision.reason)
            return _respond(start_response, decision.status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body)

        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        chunks = self.app(environ, capture)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        status_code = int(str(captured.get("status", "500")).split()[0])
        headers = {k: v for k, v in captured.get("headers", [])}
        if status_code != 200:
            record_call("AssumeRoleWithWebIdentity", "sts", access_key_id, status=status_code, error_code="moto", **common)
            return _respond(start_response, status_code, headers, data)
        text, found = sts_web_identity.amend_success(data.decode("utf-8"), decision)
        sts_web_identity.remember_session(
            found["AccessKeyId"], principal_arn=found["Arn"], role_arn=decision.role_arn, session_name=found["Arn"].rsplit("/", 1)[-1],
            source="sts:AssumeRoleWithWebIdentity", subject=claims.get("sub"), issuer=claims.get("iss"), audience=decision.audience,
            expiration=found["Expiration"],
        )
        record_call("AssumeRoleWithWebIdentity", "sts", access_key_id, status=200, issued_access_key_id=found["AccessKeyId"],
                    issued_principal_arn=found["Arn"], **common)
        LOG.info("EMULATION sts AssumeRoleWithWebIdentity %s admitted for %s", decision.role_arn, claims.get("sub"))
        return _respond(start_response, 200, headers, text)

    def _admin(self, environ: dict[str, Any], start_response: Callable[..., Any], method: str, path: str) -> Iterable[bytes]:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING") or "").items()}
        route = path.rstrip("/")
        if route == "/_sandbox/oidc/jwks":
            if method == "POST":
                try:
                    payload = json.loads(_read_body(environ) or b"null")
                    if not isinstance(payload, dict) or "issuer" not in payload or "jwks" not in payload:
                        raise oidc_jwks.JwksError('expected a JSON object {"issuer": "https://...", "jwks": {"keys": [...]}}')
                    result = oidc_jwks.register_jwks(payload["issuer"], payload["jwks"])
                except ValueError as exc:  # JwksError and JSON errors
                    return _json(start_response, 400, {"error": str(exc)})
                LOG.info("EMULATION: published %d signing key(s) for issuer %s", result["keys"], result["issuer"])
                return _json(start_response, 200, result)
            if method == "GET":
                return _json(start_response, 200, {"issuers": oidc_jwks.registered_jwks()})
            if method == "DELETE":
                try:
                    issuer = oidc_jwks.normalize_issuer(query.get("issuer", ""))
                except oidc_jwks.JwksError as exc:
                    return _json(start_response, 400, {"error": str(exc)})
                return _json(start_response, 200, {"issuer": issuer, "removed": oidc_jwks.unregister_jwks(issuer)})
        elif route == "/_sandbox/calls":
            if method == "GET":
                try:
                    since = float(query["since"]) if "since" in query else None
                except ValueError:
                    return _json(start_response, 400, {"error": "since: expected epoch seconds"})
                return _json(start_response, 200, calls(query.get("action"), query.get("access_key_id"), since))
            if method == "DELETE":
                return _json(start_response, 200, {"cleared": clear_calls()})
        elif route == "/_sandbox/pod-identity-association":
            # for the sandbox's pod identity webhook and agent (EMULATION internals): the association of a ServiceAccount
            if method == "GET":
                missing = [k for k in ("region", "cluster", "namespace", "serviceAccount") if not query.get(k)]
                if missing:
                    return _json(start_response, 400, {"error": f"missing query parameter(s): {', '.join(missing)}"})
                found = eks_pod_identity.find_association(_account_id(environ, None), query["region"], query["cluster"],
                                                          query["namespace"], query["serviceAccount"])
                if not found:
                    return _json(start_response, 404, {"error": "no pod identity association for "
                                                                f"{query['namespace']}/{query['serviceAccount']}"})
                return _json(start_response, 200, found)
        elif route == "/_sandbox/sessions":
            if method == "GET":
                return _json(start_response, 200, sts_web_identity.sessions())
        elif route == "/_sandbox/throttle":
            if method == "POST":
                try:
                    payload = json.loads(_read_body(environ) or b"null")
                    if not isinstance(payload, dict) or "services" not in payload:
                        raise throttle.ThrottleError('expected {"services": {"xray": 3, ...}} (throttle every Nth request of each service)')
                    result = throttle.configure(payload["services"])
                except ValueError as exc:  # ThrottleError and JSON errors
                    return _json(start_response, 400, {"error": str(exc)})
                LOG.info("EMULATION: throttling %s", result["every"] or "off")
                return _json(start_response, 200, result)
            if method == "GET":
                return _json(start_response, 200, throttle.state())
            if method == "DELETE":
                last = throttle.state()
                throttle.configure({})
                LOG.info("EMULATION: throttling off (throttled %s)", last["throttled"])
                return _json(start_response, 200, last)
        else:
            return _json(start_response, 404, {"error": f"no admin hook {path}"})
        return _json(start_response, 405, {"error": f"method {method} not allowed on {route}"})


def wrap(app: Callable[..., Iterable[bytes]]) -> SandboxIdentityMiddleware:
    return SandboxIdentityMiddleware(app)
