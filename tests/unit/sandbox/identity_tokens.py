"""Helpers for the identity EMULATION tests: signing keys, ServiceAccount-like tokens, admin hooks, shape checks."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any

import boto3
from botocore.config import Config
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, length: int | None = None) -> str:
    return b64url(value.to_bytes(length or (value.bit_length() + 7) // 8, "big"))


class SigningKey:
    """An RSA (RS256) or EC P-256 (ES256) key as kube-apiserver's service account signer would hold it."""

    def __init__(self, kid: str, alg: str = "RS256") -> None:
        self.kid, self.alg = kid, alg
        if alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())

    @property
    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        if self.alg == "RS256":
            return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": _uint(numbers.n), "e": _uint(numbers.e)}
        return {"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid, "x": _uint(numbers.x, 32), "y": _uint(numbers.y, 32)}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        header = b64url(json.dumps({"alg": self.alg, "kid": kid or self.kid}).encode())
        payload = b64url(json.dumps(claims).encode())
        signing_input = f"{header}.{payload}".encode()
        if self.alg == "RS256":
            signature = self.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{header}.{payload}.{b64url(signature)}"


def sa_claims(issuer: str, namespace: str, service_account: str, audience: Any = "sts.amazonaws.com", lifetime: int = 3600, **overrides: Any) -> dict[str, Any]:
    """Claims of a projected ServiceAccount token, as kube-apiserver issues them."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": [audience] if isinstance(audience, str) else audience,
        "exp": now + lifetime,
        "iat": now,
        "nbf": now,
        "iss": issuer,
        "kubernetes.io": {
            "namespace": namespace,
            "pod": {"name": f"{service_account}-7d4b9c-x2x9q", "uid": "0b7f3a52-5e0c-4b3c-9d1e-2f6d1c3a9e11"},
            "serviceaccount": {"name": service_account, "uid": "c9a0d4e4-8f51-4a1c-a7c1-6c2b8e0f4d21"},
        },
        "sub": f"system:serviceaccount:{namespace}:{service_account}",
    }
    if claims["aud"] is None:
        del claims["aud"]
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def tamper(token: str, **changes: Any) -> str:
    """The same signature over changed claims."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


def admin(info: dict[str, Any], method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    request = urllib.request.Request(info["endpoint_url"] + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def publish(info: dict[str, Any], issuer: str, *keys: SigningKey) -> dict[str, Any]:
    status, body = admin(info, "POST", "/_sandbox/oidc/jwks", {"issuer": issuer, "jwks": {"keys": [k.jwk for k in keys]}})
    assert status == 200, body
    return body


def client(info: dict[str, Any], service: str, credentials: dict[str, str] | None = None) -> Any:
    if credentials is None:
        credentials = {"AccessKeyId": info["access_key_id"], "SecretAccessKey": info["secret_access_key"]}
    return boto3.client(
        service,
        endpoint_url=info["endpoint_url"],
        region_name=info["region"],
        aws_access_key_id=credentials.get("AccessKeyId") or credentials.get("accessKeyId"),
        aws_secret_access_key=credentials.get("SecretAccessKey") or credentials.get("secretAccessKey"),
        aws_session_token=credentials.get("SessionToken") or credentials.get("sessionToken"),
        config=Config(retries={"max_attempts": 1}),
    )


# --- response shape checks (botocore's parser drops unknown members silently) ------------------------


def json_shape_problems(value: Any, shape: Any, path: str = "") -> list[str]:
    """Members that are not in ``shape``, wrong JSON types, missing required members."""
    problems: list[str] = []
    path = path or shape.name
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected object, got {type(value).__name__}"]
        for key in shape.required_members:
            if key not in value:
                problems.append(f"{path}.{key}: required member missing")
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                problems += json_shape_problems(item, shape.members[key], f"{path}.{key}")
    elif kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected list"]
        for index, item in enumerate(value):
            problems += json_shape_problems(item, shape.member, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected map"]
        for key, item in value.items():
            problems += json_shape_problems(item, shape.value, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected string, got {value!r}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected integer, got {value!r}")
    elif kind in ("double", "float", "timestamp"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: expected number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected boolean, got {value!r}")
    return problems


def xml_shape_problems(element: ET.Element, shape: Any, path: str = "") -> list[str]:
    """The same for an awsQuery XML result element (names only; values are text)."""
    problems: list[str] = []
    path = path or shape.name
    if shape.type_name != "structure":
        return problems
    present = set()
    for child in element:
        name = child.tag.split("}", 1)[-1]
        present.add(name)
        if name not in shape.members:
            problems.append(f"{path}.{name}: not a member of {shape.name}")
        else:
            problems += xml_shape_problems(child, shape.members[name], f"{path}.{name}")
    problems += [f"{path}.{key}: required member missing" for key in shape.required_members if key not in present]
    return problems


def attach_shape_check(boto_client: Any, problems: list[str]) -> Any:
    """Check every successful response of ``boto_client`` against botocore's output shape."""
    service_id = boto_client.meta.service_model.service_id.hyphenize()

    def check(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict["status_code"] >= 300 or operation_model.output_shape is None:
            return
        body = response_dict["body"]
        shape = operation_model.output_shape
        if operation_model.metadata["protocol"] == "query":
            root = ET.fromstring(body)
            wrapper = operation_model.output_shape.serialization.get("resultWrapper") or f"{operation_model.name}Result"
            result = next((c for c in root if c.tag.split("}", 1)[-1] == wrapper), None)
            if result is None:
                problems.append(f"{operation_model.name}: no {wrapper} element")
            else:
                problems.extend(xml_shape_problems(result, shape, operation_model.name))
        else:
            problems.extend(json_shape_problems(json.loads(body) if body else {}, shape, operation_model.name))

    boto_client.meta.events.register(f"before-parse.{service_id}.*", check)
    return boto_client
