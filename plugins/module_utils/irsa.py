# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""IAM roles for service accounts (IRSA) and EKS Pod Identity as pure functions.

Nothing here talks to AWS or Kubernetes: the functions build trust policies, normalise OIDC issuers,
derive ARNs and partitions, decode ServiceAccount token claims, and evaluate a role's trust policy
against those claims the way STS ``AssumeRoleWithWebIdentity`` does, explaining every mismatch in
plain words. The modules (``iam_oidc_provider``, ``irsa_trust_check``) and the ``irsa`` role's filter
use them; the unit tests exercise them directly.
"""

from __future__ import annotations

import base64
import json
import re
from fnmatch import fnmatchcase
from urllib.parse import unquote
from urllib.parse import urlsplit

DEFAULT_AUDIENCE = "sts.amazonaws.com"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"
POD_IDENTITY_ACTIONS = ["sts:AssumeRole", "sts:TagSession"]
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
AUDIENCE_ANNOTATION = "eks.amazonaws.com/audience"
MANAGED_BY_TAG = {"managed-by": "tracing.xray"}
SUBJECT_PREFIX = "system:serviceaccount:"
POLICY_VERSION = "2012-10-17"

# Region name prefixes of the partitions other than "aws" (longest prefixes first).
_PARTITION_PREFIXES = (
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-iso-", "aws-iso"),
    ("us-gov-", "aws-us-gov"),
    ("cn-", "aws-cn"),
)
_PARTITIONS = {"aws"} | {partition for _prefix, partition in _PARTITION_PREFIXES}
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class IrsaError(ValueError):
    """Bad input for one of the functions here; the message names the field."""


# --- identifiers -------------------------------------------------------------------------------


def partition_for_region(region: str | None) -> str:
    """The AWS partition a region belongs to (``aws``, ``aws-cn``, ``aws-us-gov``, ``aws-iso*``)."""
    if not region:
        return "aws"
    region = region.strip().lower()
    for prefix, partition in _PARTITION_PREFIXES:
        if region.startswith(prefix):
            return partition
    return "aws"


def normalize_issuer(issuer: str) -> str:
    """The issuer as IAM names it: host and path, no scheme, no trailing slash.

    Accepts ``https://oidc.eks.eu-west-1.amazonaws.com/id/ABC``, the same without ``https://``,
    and either with a trailing slash. The host is lower-cased (DNS is case-insensitive); the path is
    kept as it is (IAM compares it exactly).
    """
    if not isinstance(issuer, str) or not issuer.strip():
        raise IrsaError("issuer: an OIDC issuer URL is required, e.g. https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE")
    text = issuer.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() != "https":
        raise IrsaError(f"issuer: {issuer!r} must use https (IAM accepts only https OIDC issuers)")
    if not parts.hostname or parts.query or parts.fragment or parts.username or parts.password or " " in text:
        raise IrsaError(f"issuer: {issuer!r} is not a plain https URL (host and optional path, no query, fragment or credentials)")
    host = parts.hostname.lower()
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    return host + path


def issuer_url(issuer: str) -> str:
    """The issuer as the token's ``iss`` claim and EKS show it: ``https://`` + host/path."""
    return "https://" + normalize_issuer(issuer)


def oidc_provider_arn(account_id: str, issuer: str, partition: str = "aws") -> str:
    """The ARN IAM gives the OIDC provider of ``issuer`` in ``account_id``."""
    account_id = str(account_id)
    if not _ACCOUNT_RE.match(account_id):
        raise IrsaError(f"account_id: {account_id!r} is not a 12-digit AWS account ID")
    if partition not in _PARTITIONS:
        raise IrsaError(f"partition: {partition!r} is not one of {', '.join(sorted(_PARTITIONS))}")
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{normalize_issuer(issuer)}"


def parse_arn(arn: str) -> dict | None:
    """Split an ARN into partition, service, region, account and resource (``None`` when it is none)."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return {"partition": parts[1], "service": parts[2], "region": parts[3], "account_id": parts[4], "resource": parts[5]}


def provider_issuer_from_arn(arn: str) -> str | None:
    """The issuer host/path an ``oidc-provider`` ARN names, or ``None``."""
    parsed = parse_arn(arn)
    if not parsed or parsed["service"] != "iam" or not parsed["resource"].startswith("oidc-provider/"):
        return None
    return parsed["resource"][len("oidc-provider/"):]


def validate_k8s_name(field: str, value: str) -> str:
    """A namespace or ServiceAccount name must be a DNS label / subdomain; return it or raise."""
    if not isinstance(value, str) or not value:
        raise IrsaError(f"{field}: a name is required")
    if len(value) > 253 or not all(_DNS_LABEL_RE.match(label) for label in value.split(".")):
        raise IrsaError(f"{field}: {value!r} is not a valid Kubernetes name (lower-case letters, digits, '-' and '.')")
    return value


def service_account_subject(namespace: str, service_account: str) -> str:
    """The ``sub`` claim of a ServiceAccount token: ``system:serviceaccount:<ns>:<sa>``."""
    validate_k8s_name("namespace", namespace)
    validate_k8s_name("service_account", service_account)
    return f"{SUBJECT_PREFIX}{namespace}:{service_account}"


def split_subject(subject: str) -> tuple[str, str] | None:
    """``system:serviceaccount:<ns>:<sa>`` -> ``(ns, sa)``; ``None`` for any other shape."""
    if not isinstance(subject, str) or not subject.startswith(SUBJECT_PREFIX):
        return None
    rest = subject[len(SUBJECT_PREFIX):]
    if rest.count(":") != 1:
        return None
    namespace, name = rest.split(":")
    return namespace, name


# --- trust policies ----------------------------------------------------------------------------


def irsa_trust_policy(
    issuer: str,
    namespace: str,
    service_account: str,
    provider_arn: str | None = None,
    account_id: str | None = None,
    partition: str | None = None,
    region: str | None = None,
    audience: str = DEFAULT_AUDIENCE,
    subject_pattern: str | None = None,
) -> dict:
    """The trust policy that lets exactly one ServiceAccount assume a role through IRSA.

    ``provider_arn`` is used as given (it must name ``issuer``); without it the ARN is derived from
    ``account_id`` and ``partition`` (or the partition of ``region``). ``subject_pattern`` switches the
    subject condition to ``StringLike`` with that pattern (e.g. ``system:serviceaccount:xray-*:*``);
    by default the subject is matched exactly with ``StringEquals``.
    """
    host_path = normalize_issuer(issuer)
    if provider_arn:
        named = provider_issuer_from_arn(provider_arn)
        if named is None:
            raise IrsaError(f"provider_arn: {provider_arn!r} is not an IAM OIDC provider ARN (arn:<partition>:iam::<account>:oidc-provider/<issuer>)")
        if named != host_path:
            raise IrsaError(f"provider_arn: {provider_arn!r} is the provider of issuer {named}, not of {host_path}")
    else:
        if not account_id:
            raise IrsaError("account_id: required when provider_arn is not given")
        provider_arn = oidc_provider_arn(account_id, host_path, partition or partition_for_region(region))
    if not isinstance(audience, str) or not audience.strip():
        raise IrsaError("audience: a non-empty string is required (normally sts.amazonaws.com)")

    subject = service_account_subject(namespace, service_account)
    conditions: dict = {"StringEquals": {f"{host_path}:aud": audience}}
    if subject_pattern:
        if not subject_pattern.startswith(SUBJECT_PREFIX):
            raise IrsaError(f"subject_pattern: {subject_pattern!r} must start with {SUBJECT_PREFIX}")
        if not fnmatchcase(subject, _iam_glob(subject_pattern)):
            raise IrsaError(f"subject_pattern: {subject_pattern!r} does not match the ServiceAccount's own subject {subject}")
        conditions["StringLike"] = {f"{host_path}:sub": subject_pattern}
    else:
        conditions["StringEquals"][f"{host_path}:sub"] = subject
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": WEB_IDENTITY_ACTION,
                "Condition": conditions,
            }
        ],
    }


def pod_identity_trust_policy() -> dict:
    """The trust policy EKS Pod Identity needs: the ``pods.eks.amazonaws.com`` service principal."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
                "Action": list(POD_IDENTITY_ACTIONS),
            }
        ],
    }


def load_policy(document) -> dict:
    """A policy document as a dict, from a dict, JSON text or URL-encoded JSON (as IAM returns it)."""
    if isinstance(document, dict):
        return document
    if not isinstance(document, str):
        raise IrsaError("policy: expected a JSON document")
    text = document.strip()
    if not text.startswith("{"):
        text = unquote(text)
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise IrsaError(f"policy: not valid JSON ({exc})") from exc
    if not isinstance(policy, dict):
        raise IrsaError("policy: expected a JSON object")
    return policy


# --- tokens ------------------------------------------------------------------------------------


def decode_jwt_claims(token: str) -> dict:
    """The claims (payload) of a JWT, without verifying its signature."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise IrsaError("token: not a JWT (expected three dot-separated parts)")
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError) as exc:
        raise IrsaError(f"token: the payload is not base64url-encoded JSON ({exc})") from exc
    if not isinstance(claims, dict):
        raise IrsaError("token: the payload is not a JSON object")
    return claims


def token_audiences(claims: dict) -> list:
    aud = claims.get("aud")
    if aud is None:
        return []
    return [aud] if isinstance(aud, str) else list(aud)


def public_claims(claims: dict) -> dict:
    """The claims worth showing: issuer, subject, audience, times, and the Kubernetes object names."""
    keep = {key: claims[key] for key in ("iss", "sub", "aud", "exp", "iat", "nbf") if key in claims}
    k8s = claims.get("kubernetes.io")
    if isinstance(k8s, dict):
        keep["kubernetes.io"] = {
            "namespace": k8s.get("namespace"),
            "serviceaccount": (k8s.get("serviceaccount") or {}).get("name"),
        }
    return keep


# --- trust policy evaluation -------------------------------------------------------------------


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _iam_glob(pattern: str) -> str:
    """IAM wildcards (``*``, ``?``) as an fnmatch pattern (``[`` has no meaning in IAM)."""
    return pattern.replace("[", "[[]")


def _action_matches(patterns, action: str) -> bool:
    return any(p == "*" or fnmatchcase(action.lower(), _iam_glob(str(p).lower())) for p in _as_list(patterns))


def _statement_actions_match(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not _action_matches(statement["NotAction"], action)
    return _action_matches(statement.get("Action"), action)


def _principal_matches(principal, kind: str, value: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if _as_list(principal.get("AWS")) == ["*"]:
        return True
    return value in _as_list(principal.get(kind))


_STRING_OPERATORS = {
    "StringEquals": (lambda actual, expected: actual == expected, False),
    "StringNotEquals": (lambda actual, expected: actual == expected, True),
    "StringEqualsIgnoreCase": (lambda actual, expected: actual.lower() == expected.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda actual, expected: actual.lower() == expected.lower(), True),
    "StringLike": (lambda actual, expected: fnmatchcase(actual, _iam_glob(expected)), False),
    "StringNotLike": (lambda actual, expected: fnmatchcase(actual, _iam_glob(expected)), True),
}


def _split_operator(operator: str) -> tuple[str | None, str, bool]:
    set_op = None
    if ":" in operator:
        set_op, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    return set_op, operator, if_exists


def _condition_holds(operator: str, key: str, expected, context: dict) -> bool | None:
    """One condition key under one operator, IAM semantics. ``None``: the operator is not supported."""
    set_op, base, if_exists = _split_operator(operator)
    actual = context.get(key.lower())
    expected_values = [str(v) for v in _as_list(expected)]
    if base == "Null":
        wants_null = str(_as_list(expected)[0]).lower() == "true" if expected_values else True
        return (actual is None) == wants_null
    if base not in _STRING_OPERATORS:
        return None
    compare, negated = _STRING_OPERATORS[base]
    if actual is None:
        if if_exists:
            return True
        return set_op == "ForAllValues" or negated
    actual_values = [str(v) for v in _as_list(actual)]

    def value_holds(one: str) -> bool:
        hit = any(compare(one, exp) for exp in expected_values)
        return not hit if negated else hit

    if set_op == "ForAllValues":
        return all(value_holds(v) for v in actual_values)
    if set_op == "ForAnyValue":
        return any(value_holds(v) for v in actual_values)
    # single-valued operator on a (possibly) multi-valued key: the request value is the first one
    return value_holds(actual_values[0])


def _describe_values(values) -> str:
    values = [str(v) for v in _as_list(values)]
    if len(values) == 1:
        return values[0]
    return "one of " + ", ".join(values)


def _subject_mismatch(expected, actual_subject: str, like: bool) -> list:
    """Plain-words reasons why a subject condition does not admit ``actual_subject``."""
    actual = split_subject(actual_subject)
    wanted = [split_subject(str(v)) for v in _as_list(expected)]
    if actual is None or not wanted or any(w is None for w in wanted):
        return [f"trust policy expects subject {_describe_values(expected)}, the token's subject is {actual_subject}"]
    namespaces = sorted({w[0] for w in wanted})
    names = sorted({w[1] for w in wanted})

    def match(pattern: str, value: str) -> bool:
        return fnmatchcase(value, _iam_glob(pattern)) if like else pattern == value

    reasons = []
    ns, sa = actual
    word = "matching " if like else ""
    if not any(match(n, ns) for n in namespaces):
        reasons.append(f"trust policy expects namespace {word}{_describe_values(namespaces)}, the ServiceAccount is in {ns}")
    if not any(match(n, sa) for n in names):
        reasons.append(f"trust policy expects ServiceAccount {word}{_describe_values(names)}, the ServiceAccount is named {sa}")
    if not reasons:
        reasons.append(
            f"trust policy expects subject {word}{_describe_values(expected)}, the token's subject is {actual_subject} "
            "(namespace and name match separately, but not as a pair)"
        )
    return reasons


def _explain_condition(operator: str, key: str, expected, context: dict, host_path: str) -> list:
    set_op, base, _if_exists = _split_operator(operator)
    key_l = key.lower()
    prefix, _sep, claim = key.rpartition(":")
    actual = context.get(key_l)
    if actual is None and claim in ("sub", "aud", "amr") and prefix:
        stripped = prefix.split("://", 1)[1] if "://" in prefix else prefix
        if stripped.lower() == host_path.lower():
            return [f"condition key {key} starts with a URL scheme; IAM condition keys name the issuer without https://, so this key never matches"]
        return [
            f"condition key {key} refers to issuer https://{prefix}, the ServiceAccount token is issued by https://{host_path}: "
            f"{operator} on a key the request does not carry fails"
        ]
    if base in ("StringEquals", "StringLike", "StringEqualsIgnoreCase") and actual is not None and key_l == f"{host_path}:sub".lower():
        return _subject_mismatch(expected, str(_as_list(actual)[0]), like=base == "StringLike")
    if key_l == f"{host_path}:aud".lower() and actual is not None and not base.startswith("StringNot"):
        return [f"trust policy expects audience {_describe_values(expected)}, the token's audience is {_describe_values(actual)}"]
    if actual is None:
        return [f"condition {operator} on {key} expects {_describe_values(expected)}, the request carries no value for {key}"]
    return [f"condition {operator} on {key} ({_describe_values(expected)}) does not admit {_describe_values(actual)}"]


UNEVALUATED = "is not evaluated by this check"


def _evaluate_conditions(conditions, context: dict, host_path: str, explain: bool) -> tuple[bool, list, list]:
    """(all hold, reasons for those that do not, operators the evaluator cannot judge)."""
    holds = True
    reasons: list = []
    unsupported: list = []
    if not conditions:
        return True, reasons, unsupported
    if not isinstance(conditions, dict):
        return False, ["the statement's Condition is not a JSON object"], unsupported
    for operator, block in conditions.items():
        if not isinstance(block, dict):
            holds = False
            reasons.append(f"condition {operator} is not a JSON object")
            continue
        for key, expected in block.items():
            result = _condition_holds(operator, key, expected, context)
            if result is None:
                unsupported.append(operator)
                holds = False
                reasons.append(f"condition operator {operator} (on {key}) {UNEVALUATED}; verify it by hand")
            elif not result:
                holds = False
                if explain:
                    reasons.extend(_explain_condition(operator, key, expected, context, host_path))
    return holds, reasons, unsupported


def _explain_principal(principal, provider_arn: str, host_path: str) -> list:
    federated = _as_list(principal.get("Federated")) if isinstance(principal, dict) else []
    if not federated:
        return [f"trust policy statement has no Federated principal; expected {provider_arn}"]
    wanted = parse_arn(provider_arn) or {}
    reasons = []
    for arn in federated:
        parsed = parse_arn(str(arn))
        named = provider_issuer_from_arn(str(arn))
        if parsed is None or named is None:
            reasons.append(f"trust policy's Federated principal {arn} is not an IAM OIDC provider ARN")
            continue
        details = []
        if named != host_path:
            details.append(f"trusts the OIDC provider of issuer https://{named}, the ServiceAccount token is issued by https://{host_path}")
        if parsed["account_id"] != wanted.get("account_id"):
            details.append(f"trusts an OIDC provider in account {parsed['account_id']}, the role is in account {wanted.get('account_id')}")
        if parsed["partition"] != wanted.get("partition"):
            details.append(f"names partition {parsed['partition']}, the role is in partition {wanted.get('partition')}")
        if not details:
            details.append(f"names {arn}, expected exactly {provider_arn}")
        reasons.extend("trust policy " + d for d in details)
    return reasons


def evaluate_web_identity_trust(policy, claims: dict, role_arn: str, audience: str | None = None) -> dict:
    """Would STS let this ServiceAccount token assume the role? Evaluated like ``AssumeRoleWithWebIdentity``.

    ``policy``: the role's trust policy (dict, JSON or URL-encoded JSON); ``claims``: the token's
    claims; ``role_arn``: the role (its account and partition determine the OIDC provider ARN STS
    uses for the token's issuer); ``audience``: the token audience matched against the provider's
    client IDs (default: the token's first ``aud``).

    Returns ``{"allowed", "problems", "warnings", "provider_arn", "matched_statement", "context"}``;
    ``problems`` explains in plain words why the policy does not admit the token (empty when allowed).
    """
    policy = load_policy(policy)
    role = parse_arn(role_arn)
    if not role or role["service"] != "iam" or not role["resource"].startswith("role/"):
        raise IrsaError(f"role_arn: {role_arn!r} is not an IAM role ARN")
    issuer = claims.get("iss")
    if not issuer:
        raise IrsaError("claims: the token has no iss (issuer) claim")
    host_path = normalize_issuer(str(issuer))
    provider_arn = oidc_provider_arn(role["account_id"], host_path, role["partition"])
    audiences = token_audiences(claims)
    aud = audience or (audiences[0] if audiences else None)
    context = {f"{host_path}:sub".lower(): claims.get("sub"), "aws:federatedprovider": provider_arn}
    if aud is not None:
        context[f"{host_path}:aud".lower()] = aud
    if claims.get("amr") is not None:
        context[f"{host_path}:amr".lower()] = claims.get("amr")
    context = {k: v for k, v in context.items() if v is not None}

    statements = _as_list(policy.get("Statement"))
    result = {"allowed": False, "problems": [], "warnings": [], "provider_arn": provider_arn, "matched_statement": None,
              "context": {"sub": claims.get("sub"), "aud": aud, "iss": issuer}}
    candidates = []
    allowed_index = None
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            continue
        label = statement.get("Sid") or f"#{index + 1}"
        if "NotPrincipal" in statement:
            result["warnings"].append(f"statement {label} uses NotPrincipal, which this check does not evaluate")
            continue
        action_ok = _statement_actions_match(statement, WEB_IDENTITY_ACTION)
        principal_ok = _principal_matches(statement.get("Principal"), "Federated", provider_arn)
        conditions_ok, reasons, unsupported = _evaluate_conditions(statement.get("Condition"), context, host_path, explain=True)
        effect = statement.get("Effect")
        if effect == "Deny":
            if action_ok and principal_ok and conditions_ok:
                result["problems"].append(f"trust policy statement {label} denies {WEB_IDENTITY_ACTION} to this token")
            elif action_ok and principal_ok and unsupported and all(UNEVALUATED in reason for reason in reasons):
                # STS evaluates what this check cannot: the Deny may apply, so the role is not reported admitted
                result["problems"].append(f"trust policy statement {label} may deny {WEB_IDENTITY_ACTION} to this token: "
                                          f"its condition operator {', '.join(sorted(set(unsupported)))} {UNEVALUATED}; verify it by hand")
            continue
        if effect != "Allow":
            continue
        if action_ok and principal_ok and conditions_ok:
            if allowed_index is None:
                allowed_index = index
            continue
        federated = isinstance(statement.get("Principal"), dict) and "Federated" in statement["Principal"]
        if not (action_ok or federated):
            continue
        why = []
        if not principal_ok:
            why.extend(_explain_principal(statement.get("Principal"), provider_arn, host_path))
        if not action_ok:
            why.append(f"trust policy statement {label} allows {_describe_values(statement.get('Action', statement.get('NotAction')))}, "
                       f"not {WEB_IDENTITY_ACTION}")
        why.extend(reasons)
        candidates.append((len(why), index, why))

    if allowed_index is not None and not result["problems"]:
        result["allowed"] = True
        statement = statements[allowed_index]
        result["matched_statement"] = statement.get("Sid") or allowed_index
        condition_keys = {
            key.lower() for block in (statement.get("Condition") or {}).values() if isinstance(block, dict) for key in block
        }
        if f"{host_path}:sub".lower() not in condition_keys:
            result["warnings"].append(
                f"trust policy does not restrict {host_path}:sub: any ServiceAccount of this cluster can assume the role"
            )
        if f"{host_path}:aud".lower() not in condition_keys:
            result["warnings"].append(f"trust policy does not check {host_path}:aud (expected {aud or DEFAULT_AUDIENCE})")
        return result
    if result["problems"]:
        return result
    if not candidates:
        result["problems"].append(
            f"trust policy has no statement that allows {WEB_IDENTITY_ACTION} for a Federated OIDC provider; "
            f"expected one trusting {provider_arn}"
        )
        return result
    candidates.sort(key=lambda c: (c[0], c[1]))
    result["problems"].extend(candidates[0][2])
    return result


def evaluate_pod_identity_trust(policy) -> dict:
    """Does the trust policy let EKS Pod Identity assume the role (``sts:AssumeRole`` and ``sts:TagSession``)?"""
    policy = load_policy(policy)
    result = {"allowed": False, "problems": [], "warnings": []}
    missing = set(POD_IDENTITY_ACTIONS)
    denied = []
    for index, statement in enumerate(_as_list(policy.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            continue
        if not _principal_matches(statement.get("Principal"), "Service", POD_IDENTITY_PRINCIPAL):
            continue
        if statement["Effect"] == "Deny":
            # a Deny wins; its conditions (request tags, ...) are not evaluated here, so one with conditions may apply
            label = statement.get("Sid") or f"#{index + 1}"
            for action in POD_IDENTITY_ACTIONS:
                if _statement_actions_match(statement, action):
                    verb = "may deny" if statement.get("Condition") else "denies"
                    denied.append(f"trust policy statement {label} {verb} {action} to {POD_IDENTITY_PRINCIPAL} (EKS Pod Identity)"
                                  + ("; its conditions are not evaluated by this check, verify them by hand" if statement.get("Condition") else ""))
            continue
        if statement.get("Condition"):
            result["warnings"].append("trust policy statement for pods.eks.amazonaws.com has conditions; this check does not evaluate them")
        missing -= {a for a in POD_IDENTITY_ACTIONS if _statement_actions_match(statement, a)}
    if missing == set(POD_IDENTITY_ACTIONS):
        result["problems"].append(f"trust policy does not trust the service principal {POD_IDENTITY_PRINCIPAL} (EKS Pod Identity)")
    elif missing:
        result["problems"].append(f"trust policy trusts {POD_IDENTITY_PRINCIPAL} but does not allow {', '.join(sorted(missing))}")
    result["problems"].extend(denied)
    result["allowed"] = not result["problems"]
    return result


def check_role_annotation(annotations: dict | None, role_arn: str) -> list:
    """Problems with the ServiceAccount's ``eks.amazonaws.com/role-arn`` annotation."""
    value = (annotations or {}).get(ROLE_ARN_ANNOTATION)
    if not value:
        return [f"the ServiceAccount has no {ROLE_ARN_ANNOTATION} annotation; pods using it get no IRSA credentials (expected {role_arn})"]
    if value != role_arn:
        return [f"the ServiceAccount's {ROLE_ARN_ANNOTATION} annotation points at {value}, the role is {role_arn}"]
    return []


def check_provider_audience(client_ids, audience: str, provider_arn: str) -> list:
    """Problems with the OIDC provider's client ID list for the token's audience."""
    client_ids = _as_list(client_ids)
    if audience not in client_ids:
        return [f"the IAM OIDC provider {provider_arn} does not list the audience {audience} among its client IDs "
                f"({', '.join(client_ids) or 'none'})"]
    return []


def has_tags(tags: dict | None, required: dict | None) -> bool:
    """True when ``tags`` carries every key/value of ``required``."""
    tags = tags or {}
    return all(tags.get(key) == value for key, value in (required or {}).items())
