"""EMULATION: the OIDC discovery side of an EKS cluster, as the sandbox's STS and EKS Auth see it.

On AWS, STS fetches ``<issuer>/.well-known/openid-configuration`` and the JWKS it names to verify a
ServiceAccount token. The sandbox's issuer (``https://oidc.eks.<region>.amazonaws.com/id/<ID>``) cannot be
fetched here, so the keys are PUBLISHED to the emulation instead: ``register_jwks(issuer, jwks)`` or the admin
hook ``POST /_sandbox/oidc/jwks`` (see ``middleware.py`` and README.md). ``sandbox up`` reads the JWKS from the
kube-apiserver (``GET /openid/v1/jwks``) and posts it.

``verify_token`` checks a compact JWS (RS256, or ES256) against the keys registered for its ``iss`` and the
time claims. Audience, issuer-to-provider mapping and trust policies are checked by the callers
(``sts_web_identity.py``, ``eks_pod_identity.py``), because STS and EKS Auth treat them differently.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import threading
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# Seconds of clock skew tolerated for exp, nbf and iat (AWS does not document its own; kube-apiserver
# issues tokens with iat = nbf = now, so a pod on another clock must not fail).
LEEWAY_SECONDS = 60
SUPPORTED_ALGORITHMS = ("RS256", "ES256")

_LOCK = threading.Lock()
_JWKS: dict[str, dict[str, Any]] = {}  # normalised issuer URL -> {"keys": [public JWKs as given]}


class TokenError(Exception):
    """Why a token is rejected. ``kind``: malformed, no_keys, unknown_key, bad_signature, expired, not_yet_valid."""

    def __init__(self, kind: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details


class JwksError(ValueError):
    """A JWKS that cannot be registered; the message says why."""


def normalize_issuer(issuer: str) -> str:
    """``https://host/path`` without a trailing slash; the host lower-cased (as IAM and EKS compare it)."""
    if not isinstance(issuer, str) or not issuer.startswith("https://"):
        raise JwksError(f"issuer: {issuer!r} must be an https:// URL (the token's iss claim)")
    rest = issuer[len("https://"):].rstrip("/")
    host, sep, path = rest.partition("/")
    if not host or any(c in rest for c in " ?#@"):
        raise JwksError(f"issuer: {issuer!r} is not a plain https URL (host and optional path)")
    return "https://" + host.lower() + sep + path


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64url: {exc}") from None


def _b64url_int(jwk: dict[str, Any], member: str) -> int:
    value = jwk.get(member)
    if not isinstance(value, str) or not value:
        raise JwksError(f"JWK {jwk.get('kid', '?')}: member {member!r} is missing")
    try:
        return int.from_bytes(b64url_decode(value), "big")
    except ValueError as exc:
        raise JwksError(f"JWK {jwk.get('kid', '?')}: member {member!r} is {exc}") from None


def public_key(jwk: dict[str, Any]) -> Any:
    """A ``cryptography`` public key from a JWK (RSA: n, e; EC P-256: x, y). Private members are refused."""
    if not isinstance(jwk, dict):
        raise JwksError("a JWK must be a JSON object")
    if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi")):
        raise JwksError(f"JWK {jwk.get('kid', '?')}: contains private key material; publish the public key only")
    kty = jwk.get("kty")
    if kty == "RSA":
        n, e = _b64url_int(jwk, "n"), _b64url_int(jwk, "e")
        if n.bit_length() < 2048:
            raise JwksError(f"JWK {jwk.get('kid', '?')}: RSA modulus of {n.bit_length()} bits; at least 2048 required")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if kty == "EC":
        if jwk.get("crv") != "P-256":
            raise JwksError(f"JWK {jwk.get('kid', '?')}: curve {jwk.get('crv')!r} not supported (P-256 only)")
        try:
            return ec.EllipticCurvePublicNumbers(_b64url_int(jwk, "x"), _b64url_int(jwk, "y"), ec.SECP256R1()).public_key()
        except ValueError as exc:
            raise JwksError(f"JWK {jwk.get('kid', '?')}: {exc}") from None
    raise JwksError(f"JWK {jwk.get('kid', '?')}: key type {kty!r} not supported (RSA or EC)")


def register_jwks(issuer: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Publish (replace) the signing keys of ``issuer``. Returns ``{"issuer", "kids", "keys"}``."""
    name = normalize_issuer(issuer)
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise JwksError('jwks: expected {"keys": [<JWK>, ...]} with at least one key (the body of /openid/v1/jwks)')
    keys = []
    for jwk in jwks["keys"]:
        public_key(jwk)  # validates
        if jwk.get("use") not in (None, "sig"):
            raise JwksError(f"JWK {jwk.get('kid', '?')}: use {jwk.get('use')!r}; signing keys have use 'sig'")
        keys.append(copy.deepcopy(jwk))
    with _LOCK:
        _JWKS[name] = {"keys": keys}
    return {"issuer": name, "kids": [k.get("kid") for k in keys], "keys": len(keys)}


def unregister_jwks(issuer: str) -> bool:
    with _LOCK:
        return _JWKS.pop(normalize_issuer(issuer), None) is not None


def registered_jwks() -> dict[str, dict[str, Any]]:
    with _LOCK:
        return copy.deepcopy(_JWKS)


def clear_jwks() -> None:
    with _LOCK:
        _JWKS.clear()


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS, or TokenError(malformed)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise TokenError("malformed", "the token is not a JWT (three base64url parts separated by dots)")
    head, body, sig = token.split(".")
    try:
        header = json.loads(b64url_decode(head))
        claims = json.loads(b64url_decode(body))
        signature = b64url_decode(sig)
    except ValueError as exc:
        raise TokenError("malformed", f"the token is not a JWT ({exc})") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("malformed", "the token's header or payload is not a JSON object")
    return header, claims, f"{head}.{body}".encode("ascii"), signature


def _verify_with(key: Any, alg: str, signing_input: bytes, signature: bytes) -> bool:
    try:
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
            return True
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
            return True
    except InvalidSignature:
        return False
    return False


def verify_signature(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the signature against the keys published for the token's ``iss``; return (header, claims)."""
    header, claims, signing_input, signature = decode_unverified(token)
    alg = header.get("alg")
    if alg not in SUPPORTED_ALGORITHMS:
        raise TokenError("malformed", f"the token's signing algorithm {alg!r} is not accepted (RS256 or ES256)")
    issuer = claims.get("iss")
    try:
        name = normalize_issuer(issuer)
    except JwksError:
        raise TokenError("malformed", f"the token's iss claim {issuer!r} is not an https URL") from None
    with _LOCK:
        published = copy.deepcopy(_JWKS.get(name))
    if not published:
        raise TokenError("no_keys", f"no JWKS published to the sandbox for issuer {name}", issuer=name)
    kty = "RSA" if alg == "RS256" else "EC"
    kid = header.get("kid")
    candidates = [k for k in published["keys"] if k.get("kty") == kty and (kid is None or k.get("kid") == kid)]
    if not candidates:
        raise TokenError("unknown_key", f"issuer {name} publishes no {kty} key with kid {kid!r}", issuer=name, kid=kid)
    for jwk in candidates:
        if _verify_with(public_key(jwk), alg, signing_input, signature):
            return header, claims
    raise TokenError("bad_signature", f"the token's signature does not verify with the keys of {name}", issuer=name, kid=kid)


def _numeric(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenError("malformed", f"the token's {name} claim is not a number")
    return float(value)


def check_times(claims: dict[str, Any], now: float | None = None, leeway: float = LEEWAY_SECONDS) -> None:
    """exp required and not passed; nbf and iat not in the future (each with ``leeway`` seconds)."""
    now = time.time() if now is None else now
    exp = _numeric(claims, "exp")
    if exp is None:
        raise TokenError("malformed", "Missing a required claim: exp")
    if now > exp + leeway:
        raise TokenError("expired", f"Token expired: current date/time {int(now)} must be before the expiration date/time {int(exp)}")
    for name in ("nbf", "iat"):
        value = _numeric(claims, name)
        if value is not None and value > now + leeway:
            raise TokenError("not_yet_valid", f"the token's {name} ({int(value)}) is in the future (now {int(now)})")


def verify_token(token: str, now: float | None = None) -> dict[str, Any]:
    """Signature (published keys of ``iss``) and times; returns the claims or raises TokenError."""
    _header, claims = verify_signature(token)
    check_times(claims, now)
    return claims


def token_audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if aud is None:
        return []
    if isinstance(aud, str):
        return [aud]
    return [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []
