"""EMULATION helpers for X-Ray's account-level configuration beyond groups and sampling rules.

Pure functions, no HTTP and no moto: policy documents (parsing, the lockout rule, the CloudWatch Logs
permission Transaction Search needs), the indexed share of Transaction Search, and the span documents
written to the ``aws/spans`` log group. ``xray_store`` and ``xray_responses`` use them; the rules are
listed in ``sandbox/aws/README.md`` ("Transaction Search", "Resource policies").
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from typing import Any

MAX_RESOURCE_POLICIES = 5  # per account and region (PutResourcePolicy documentation)
MAX_POLICY_BYTES = 5 * 1024  # "up to 5kb in size"
POLICY_NAME = re.compile(r"^[\w+=,.@-]+$")
POLICY_VERSIONS = ("2012-10-17", "2008-10-17")

SPANS_LOG_GROUP = "aws/spans"
SPANS_LOG_STREAM = "default"
XRAY_SERVICE_PRINCIPAL = "xray.amazonaws.com"
DEFAULT_INDEXING_PERCENTAGE = 1.0  # "By default you will also index 1% of ingested spans"


class PolicyError(ValueError):
    """A policy document that is not a well-formed resource policy (message says why)."""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def parse_policy(text: str) -> dict[str, Any]:
    """The policy as a dict; PolicyError when it is not JSON or lacks what a resource policy must have.

    Checked: a JSON object; ``Version`` (when given) 2012-10-17 or 2008-10-17; ``Statement`` an object or a
    non-empty list of objects, each with ``Effect`` Allow|Deny, ``Action`` or ``NotAction``, and ``Principal``
    or ``NotPrincipal`` (resource policies name who they apply to).
    """
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"The policy document is not valid JSON: {exc}") from None
    if not isinstance(policy, dict):
        raise PolicyError("The policy document must be a JSON object")
    version = policy.get("Version")
    if version is not None and version not in POLICY_VERSIONS:
        raise PolicyError(f"Unsupported policy Version {version!r}: use 2012-10-17")
    statements = _as_list(policy.get("Statement"))
    if not statements:
        raise PolicyError("The policy document has no Statement")
    for index, statement in enumerate(statements):
        where = f"Statement[{index}]"
        if not isinstance(statement, dict):
            raise PolicyError(f"{where} must be a JSON object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f"{where}: Effect must be Allow or Deny")
        if "Action" not in statement and "NotAction" not in statement:
            raise PolicyError(f"{where}: Action or NotAction is required")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise PolicyError(f"{where}: Principal is required in a resource policy")
    return policy


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _as_list(policy.get("Statement")) if isinstance(s, dict)]


def _matches(pattern: Any, value: str, *, case_sensitive: bool = True) -> bool:
    if not isinstance(pattern, str):
        return False
    if case_sensitive:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def action_covers(statement: dict[str, Any], action: str) -> bool:
    """Whether the statement's Action (or NotAction) applies to ``action`` (IAM actions are case-insensitive)."""
    if "Action" in statement:
        return any(_matches(p, action, case_sensitive=False) for p in _as_list(statement["Action"]))
    return not any(_matches(p, action, case_sensitive=False) for p in _as_list(statement.get("NotAction")))


def resource_covers(statement: dict[str, Any], resource: str) -> bool:
    if "Resource" in statement:
        return any(_matches(p, resource) for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(_matches(p, resource) for p in _as_list(statement["NotResource"]))
    return True  # a resource policy without Resource applies to the resource it is attached to


def principal_covers(statement: dict[str, Any], *, service: str | None = None, account_id: str | None = None) -> bool:
    """Whether ``Principal`` names everyone, the service principal ``service``, or the account ``account_id``
    (as its ID, its root ARN or any ARN in it)."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if service is not None and service in _as_list(principal.get("Service")):
        return True
    for value in _as_list(principal.get("AWS")):
        if value == "*":
            return True
        if account_id is not None and isinstance(value, str):
            if value == account_id or re.match(rf"^arn:aws[a-z-]*:(iam|sts)::{re.escape(account_id)}:", value):
                return True
    return False


def lockout_problem(policy: dict[str, Any], account_id: str) -> str | None:
    """The sandbox's lockout rule: a policy locks the caller out when one of its statements DENIES an action
    matching ``xray:PutResourcePolicy`` to a principal that covers the caller (``*``, ``{"AWS": "*"}``, the
    caller's account ID, its root ARN or an IAM/STS ARN in that account). Conditions are not evaluated."""
    for index, statement in enumerate(statements(policy)):
        if statement.get("Effect") != "Deny" or "Principal" not in statement:
            continue
        if action_covers(statement, "xray:PutResourcePolicy") and principal_covers(statement, account_id=account_id):
            return (
                f"Statement[{index}] denies xray:PutResourcePolicy to the caller (account {account_id}): the policy would "
                "prevent the caller from calling PutResourcePolicy in the future. Set BypassPolicyLockoutCheck to apply it anyway"
            )
    return None


def spans_resource(region: str, account_id: str, partition: str = "aws") -> str:
    """What X-Ray writes to: every log stream of the ``aws/spans`` log group."""
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{SPANS_LOG_GROUP}:*"


def logs_policy_problem(documents: list[tuple[str, str]], region: str, account_id: str, partition: str = "aws") -> str | None:
    """None when a CloudWatch Logs resource policy lets X-Ray write spans, else what is missing.

    Required (Enable Transaction Search, "Step 1"): a statement with Effect Allow, Principal Service
    ``xray.amazonaws.com`` (or ``*``), an action covering ``logs:PutLogEvents`` and a resource covering
    ``arn:<partition>:logs:<region>:<account>:log-group:aws/spans:*``. Conditions are not evaluated.
    """
    target = spans_resource(region, account_id, partition)
    allowing = []
    for _name, text in documents:
        try:
            policy = json.loads(text)
        except ValueError:
            continue
        if isinstance(policy, dict):
            allowing += [s for s in statements(policy) if s.get("Effect") == "Allow"]
    with_principal = [s for s in allowing if principal_covers(s, service=XRAY_SERVICE_PRINCIPAL)]
    with_action = [s for s in with_principal if action_covers(s, "logs:PutLogEvents")]
    if any(resource_covers(s, target) for s in with_action):
        return None
    names = ", ".join(name for name, _ in documents) or "none"
    if not with_principal:
        missing = f"no statement allows the principal {XRAY_SERVICE_PRINCIPAL}"
    elif not with_action:
        missing = f"no statement allows {XRAY_SERVICE_PRINCIPAL} the action logs:PutLogEvents"
    else:
        missing = f"no statement allowing {XRAY_SERVICE_PRINCIPAL} logs:PutLogEvents covers the resource {target}"
    return (
        f"X-Ray is not authorized to write spans to the CloudWatch Logs log group {SPANS_LOG_GROUP}: {missing} "
        f"(CloudWatch Logs resource policies: {names})"
    )


# --- Transaction Search -----------------------------------------------------------------------------------


def indexed(trace_id: str, percentage: float) -> bool:
    """Whether a trace falls in the indexed share: a stable hash of the trace ID below ``percentage`` %."""
    bucket = int(hashlib.sha256(trace_id.encode()).hexdigest()[:8], 16) / float(0x100000000) * 100.0
    return bucket < percentage


def otel_trace_id(xray_trace_id: str) -> str:
    """``1-5759e988-bd862e3fe1be46a994272793`` -> ``5759e988bd862e3fe1be46a994272793``."""
    parts = xray_trace_id.split("-")
    return "".join(parts[1:]) if len(parts) == 3 else xray_trace_id


def span_document(doc: dict[str, Any], trace_id: str) -> dict[str, Any]:
    """The structured-log form of a segment or subsegment in ``aws/spans`` (OpenTelemetry-like, simplified)."""
    start = float(doc.get("start_time") or 0.0)
    end = float(doc.get("end_time") or start)
    failed = doc.get("fault") is True or doc.get("error") is True
    span: dict[str, Any] = {
        "resource": {"attributes": {"service.name": str(doc.get("name", ""))}},
        "traceId": otel_trace_id(trace_id),
        "spanId": str(doc.get("id", "")),
        "parentSpanId": str(doc.get("parent_id") or ""),
        "name": str(doc.get("name", "")),
        "kind": "SERVER" if doc.get("type") != "subsegment" else "INTERNAL",
        "startTimeUnixNano": int(start * 1e9),
        "endTimeUnixNano": int(end * 1e9),
        "durationNano": int(max(0.0, end - start) * 1e9),
        "attributes": {"aws.xray.origin": doc.get("origin")} if isinstance(doc.get("origin"), str) else {},
        "status": {"code": "ERROR" if failed else "UNSET"},
    }
    return span
