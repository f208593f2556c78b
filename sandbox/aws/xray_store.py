"""EMULATION of the AWS X-Ray control plane that moto 5.2.5 lacks.

Groups, sampling rules, tags on both, encryption configuration and sampling targets, kept in memory per
(account, region). Request/response member names, limits and error codes follow botocore's service model
``xray/2016-04-12/service-2.json`` and the X-Ray API reference; behaviour the reference leaves open is
decided here and listed in ``sandbox/aws/README.md`` ("Emulated differently from AWS").

Nothing in this module talks HTTP: ``xray_responses`` adapts it to moto's server.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import os
import math
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from .xray_account import (
    DEFAULT_INDEXING_PERCENTAGE,
    MAX_POLICY_BYTES,
    MAX_RESOURCE_POLICIES,
    POLICY_NAME,
    PolicyError,
    lockout_problem,
    logs_policy_problem,
    parse_policy,
)

# The X-Ray APIs this sandbox adds to (or replaces in) moto. Reported in aws.json as "emulated".
EMULATED_APIS = [
    "CreateGroup",
    "GetGroup",
    "GetGroups",
    "UpdateGroup",
    "DeleteGroup",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "CreateSamplingRule",
    "GetSamplingRules",
    "UpdateSamplingRule",
    "DeleteSamplingRule",
    "GetSamplingTargets",
    "PutEncryptionConfig",
    "GetEncryptionConfig",
    "GetServiceGraph",
    "GetTraceGraph",
    "GetTraceSummaries",
    "UpdateTraceSegmentDestination",
    "GetTraceSegmentDestination",
    "GetIndexingRules",
    "UpdateIndexingRule",
    "PutResourcePolicy",
    "ListResourcePolicies",
    "DeleteResourcePolicy",
    "StartTraceRetrieval",
    "ListRetrievedTraces",
    "GetRetrievedTracesGraph",
    "CancelTraceRetrieval",
]

DEFAULT_PAGE_SIZE = 5
DEFAULT_ENCRYPTION_DELAY = 1.0
DEFAULT_DESTINATION_DELAY = 1.0  # seconds UpdateTraceSegmentDestination stays PENDING
DEFAULT_RETRIEVAL_DELAY = 0.5  # seconds a trace retrieval stays RUNNING

MAX_TAGS = 50
MAX_GROUPS = 25  # user groups per region (Default not counted); AWS service quota
MAX_SAMPLING_RULES = 25  # user rules per region (Default not counted); AWS service quota
DEFAULT_NAME = "Default"

# The collection's filter expression check (plugins/module_utils/xray_filter.py: pure Python), loaded by path, so the
# emulation refuses exactly what the modules and the groups role refuse before sending.
XRAY_FILTER_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "plugins", "module_utils", "xray_filter.py")
_XRAY_FILTER_MODULE = "sandbox.aws._xray_filter"
_IMPORT_LOCK = threading.Lock()


def xray_filter() -> Any:
    """``plugins/module_utils/xray_filter.py`` of this checkout, loaded by path (once)."""
    with _IMPORT_LOCK:
        module = sys.modules.get(_XRAY_FILTER_MODULE)
        if module is None:
            spec = importlib.util.spec_from_file_location(_XRAY_FILTER_MODULE, XRAY_FILTER_PATH)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[_XRAY_FILTER_MODULE] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(_XRAY_FILTER_MODULE, None)
                raise
        return module

_TAG_CHARS = re.compile(r"^[\w\s+\-=.:/]*$")
_GROUP_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_KMS_KEY_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_KMS_ALIAS = re.compile(r"^alias/[A-Za-z0-9/_\-]{1,250}$")
_KMS_ARN = re.compile(r"^arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:(key/[0-9a-fA-F\-]{36}|alias/[A-Za-z0-9/_\-]{1,250})$")


class XRayApiError(Exception):
    """An error as X-Ray returns it: code (the modelled exception shape), message, HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, **members: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.members = members

    def body(self) -> dict[str, Any]:
        # botocore reads the code from x-amzn-ErrorType (set by the response layer) or __type, the
        # message from "message"/"Message", and modelled members (ResourceName) from the body.
        out: dict[str, Any] = {"__type": self.code, "message": self.message, "Message": self.message}
        out.update(self.members)
        return out


def invalid(message: str) -> XRayApiError:
    return XRayApiError("InvalidRequestException", message)


def _check_filter(expression: str | None) -> str | None:
    """``expression`` when it parses; InvalidRequestException as AWS sends it otherwise (CreateGroup/UpdateGroup)."""
    if expression is not None:
        problem = xray_filter().filter_expression_problem(expression, "FilterExpression")
        if problem:
            raise invalid(f"Invalid filter expression: {problem}")
    return expression


def _constraint(value: Any, path: str, constraint: str) -> XRayApiError:
    return invalid(f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: {constraint}")


# --- typed parameter access ---------------------------------------------------------------------------


def _get_str(params: dict[str, Any], key: str, path: str, *, required: bool = False, min_len: int = 0, max_len: int | None = None) -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise invalid(f"Missing required parameter: {path}")
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid type for parameter {path}: expected a string")
    if len(value) < min_len:
        raise _constraint(value, path, f"Member must have length greater than or equal to {min_len}")
    if max_len is not None and len(value) > max_len:
        raise _constraint(value, path, f"Member must have length less than or equal to {max_len}")
    return value


def _get_int(params: dict[str, Any], key: str, path: str, *, required: bool = False, minimum: int | None = None, maximum: int | None = None) -> int | None:
    value = params.get(key)
    if value is None:
        if required:
            raise invalid(f"Missing required parameter: {path}")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"Invalid type for parameter {path}: expected an integer")
    if minimum is not None and value < minimum:
        raise _constraint(value, path, f"Member must have value greater than or equal to {minimum}")
    if maximum is not None and value > maximum:
        raise _constraint(value, path, f"Member must have value less than or equal to {maximum}")
    return value


def _get_float(
    params: dict[str, Any], key: str, path: str, *, required: bool = False, minimum: float | None = None, maximum: float | None = None
) -> float | None:
    value = params.get(key)
    if value is None:
        if required:
            raise invalid(f"Missing required parameter: {path}")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(f"Invalid type for parameter {path}: expected a number")
    if minimum is not None and value < minimum:
        raise _constraint(value, path, f"Member must have value greater than or equal to {minimum}")
    if maximum is not None and value > maximum:
        raise _constraint(value, path, f"Member must have value less than or equal to {maximum}")
    return float(value)


def _get_bool(params: dict[str, Any], key: str, path: str) -> bool | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(f"Invalid type for parameter {path}: expected a boolean")
    return value


def _get_dict(params: dict[str, Any], key: str, path: str, *, required: bool = False) -> dict[str, Any] | None:
    value = params.get(key)
    if value is None:
        if required:
            raise invalid(f"Missing required parameter: {path}")
        return None
    if not isinstance(value, dict):
        raise invalid(f"Invalid type for parameter {path}: expected an object")
    return value


def _get_list(params: dict[str, Any], key: str, path: str, *, required: bool = False) -> list[Any] | None:
    value = params.get(key)
    if value is None:
        if required:
            raise invalid(f"Missing required parameter: {path}")
        return None
    if not isinstance(value, list):
        raise invalid(f"Invalid type for parameter {path}: expected a list")
    return value


# --- pagination ---------------------------------------------------------------------------------------


def _encode_token(kind: str, position: Any) -> str:
    raw = json.dumps([kind, position], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(kind: str, token: str) -> Any:
    if not isinstance(token, str) or not token:
        raise invalid("Invalid NextToken")
    try:
        token_kind, position = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid("Invalid NextToken") from None
    if token_kind != kind:
        raise invalid("Invalid NextToken")
    return position


def paginate(kind: str, items: list[Any], token: str | None, page_size: int, sort_key: Callable[[Any], Any]) -> tuple[list[Any], str | None]:
    """Key-based pages: a token names the last item returned, so deleting items between calls (e.g. while
    cleaning up page by page) neither skips nor repeats the others."""
    items = sorted(items, key=sort_key)
    if token is not None:
        position = _decode_token(kind, token)
        try:
            items = [item for item in items if list(sort_key(item)) > position]
        except TypeError:
            raise invalid("Invalid NextToken") from None
    page = items[:page_size]
    more = len(items) > page_size
    return page, (_encode_token(kind, list(sort_key(page[-1]))) if more else None)


# --- tags ------------------------------------------------------------------------------------------------


def validate_tags(tags: list[Any] | None, path: str = "tags") -> dict[str, str]:
    """Tag list -> dict, enforcing the documented restrictions (botocore checks only the minimums)."""
    out: dict[str, str] = {}
    for index, tag in enumerate(tags or [], start=1):
        member = f"{path}.{index}.member"
        if not isinstance(tag, dict):
            raise invalid(f"Invalid type for parameter {member}: expected an object")
        key = _get_str(tag, "Key", f"{member}.key", required=True, min_len=1, max_len=128)
        value = _get_str(tag, "Value", f"{member}.value", required=True, min_len=0, max_len=256)
        assert key is not None and value is not None
        if key.lower().startswith("aws:"):
            raise invalid(f"Tag key '{key}' is not allowed: the aws: prefix is reserved for AWS use")
        if not _TAG_CHARS.match(key):
            raise _constraint(key, f"{member}.key", "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-]*)$")
        if not _TAG_CHARS.match(value):
            raise _constraint(value, f"{member}.value", "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-]*)$")
        if key in out:
            raise invalid(f"Duplicate tag key '{key}'")
        out[key] = value
    return out


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


class LogsAccess(Protocol):
    """What the store needs from CloudWatch Logs (moto's logs backend, see ``xray_responses``)."""

    def resource_policies(self) -> list[tuple[str, str]]: ...  # (name, document) of every logs resource policy

    def spans_group_exists(self) -> bool: ...

    def ensure_spans_group(self, kms_key_id: str | None) -> None: ...


# --- the store ---------------------------------------------------------------------------------------------


class XRayStore:
    """X-Ray control-plane state for one account and region (EMULATION)."""

    def __init__(
        self,
        account_id: str,
        region: str,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        encryption_delay: float = DEFAULT_ENCRYPTION_DELAY,
        destination_delay: float = DEFAULT_DESTINATION_DELAY,
        retrieval_delay: float = DEFAULT_RETRIEVAL_DELAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.page_size = max(1, int(page_size))
        self.encryption_delay = max(0.0, float(encryption_delay))
        self.destination_delay = max(0.0, float(destination_delay))
        self.retrieval_delay = max(0.0, float(retrieval_delay))
        self.clock = clock
        self.lock = threading.RLock()
        now = clock()
        self.groups: dict[str, dict[str, Any]] = {
            DEFAULT_NAME: {
                "GroupName": DEFAULT_NAME,
                "GroupARN": f"arn:aws:xray:{region}:{account_id}:group/{DEFAULT_NAME}",
                "InsightsConfiguration": {"InsightsEnabled": False, "NotificationsEnabled": False},
            }
        }
        self.rules: dict[str, dict[str, Any]] = {
            DEFAULT_NAME: {
                "SamplingRule": {
                    "RuleName": DEFAULT_NAME,
                    "RuleARN": self.rule_arn(DEFAULT_NAME),
                    "ResourceARN": "*",
                    "Priority": 10000,
                    "FixedRate": 0.05,
                    "ReservoirSize": 1,
                    "ServiceName": "*",
                    "ServiceType": "*",
                    "Host": "*",
                    "HTTPMethod": "*",
                    "URLPath": "*",
                    "Version": 1,
                    "Attributes": {},
                },
                # AWS reports the built-in rule as created at the epoch.
                "CreatedAt": 0.0,
                "ModifiedAt": now,
            }
        }
        self.tags: dict[str, dict[str, str]] = {}
        self.encryption: dict[str, Any] = {"Type": "NONE", "Status": "ACTIVE", "UpdatedAt": now}
        # Transaction Search and resource policies (see the section at the end of the class).
        self.destination: dict[str, Any] = {"Destination": "XRay", "Status": "ACTIVE", "UpdatedAt": now}
        self.indexing_rules: dict[str, dict[str, Any]] = {
            DEFAULT_NAME: {"Name": DEFAULT_NAME, "ModifiedAt": now, "Percentage": DEFAULT_INDEXING_PERCENTAGE}
        }
        self.resource_policies: dict[str, dict[str, Any]] = {}
        self.policy_revisions = 0
        self.retrievals: dict[str, dict[str, Any]] = {}
        # Traces ingested while the destination was CloudWatchLogs: trace id -> in the indexed share.
        self.span_traces: dict[str, bool] = {}

    # --- ARNs -------------------------------------------------------------------------------------------
    def group_arn(self, name: str) -> str:
        suffix = base64.b32encode(uuid.uuid4().bytes).decode().rstrip("=")
        return f"arn:aws:xray:{self.region}:{self.account_id}:group/{name}/{suffix}"

    def rule_arn(self, name: str) -> str:
        return f"arn:aws:xray:{self.region}:{self.account_id}:sampling-rule/{name}"

    # --- groups -------------------------------------------------------------------------------------------
    @staticmethod
    def _public_group(group: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in group.items() if k != "InsightsConfiguration"}
        out["InsightsConfiguration"] = dict(group["InsightsConfiguration"])
        return out

    @staticmethod
    def _insights(params: dict[str, Any], current: dict[str, bool] | None) -> dict[str, bool]:
        conf = _get_dict(params, "InsightsConfiguration", "insightsConfiguration")
        result = dict(current or {"InsightsEnabled": False, "NotificationsEnabled": False})
        if conf is not None:
            insights = _get_bool(conf, "InsightsEnabled", "insightsConfiguration.insightsEnabled")
            notifications = _get_bool(conf, "NotificationsEnabled", "insightsConfiguration.notificationsEnabled")
            if insights is not None:
                result["InsightsEnabled"] = insights
            if notifications is not None:
                result["NotificationsEnabled"] = notifications
            elif insights is False:
                result["NotificationsEnabled"] = False
        if result["NotificationsEnabled"] and not result["InsightsEnabled"]:
            raise invalid("Notifications can only be enabled on a group with InsightsEnabled set to true")
        return result

    @staticmethod
    def _validate_group_name(name: str | None) -> str:
        if name is None:
            raise invalid("Missing required parameter: groupName")
        if not _GROUP_NAME.match(name):
            raise _constraint(name, "groupName", "Member must satisfy regular expression pattern: [A-Za-z0-9_.-]+")
        return name

    def find_group(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _get_str(params, "GroupName", "groupName", min_len=1, max_len=32)
        arn = _get_str(params, "GroupARN", "groupARN", min_len=1, max_len=400)
        if name is None and arn is None:
            raise invalid("Either GroupName or GroupARN must be provided")
        if arn is not None:
            group = next((g for g in self.groups.values() if g["GroupARN"] == arn), None)
            if group is None or (name is not None and group["GroupName"] != name):
                raise invalid("Group not found")
            return group
        group = self.groups.get(name)  # type: ignore[arg-type]
        if group is None:
            raise invalid("Group not found")
        return group

    def create_group(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            name = self._validate_group_name(_get_str(params, "GroupName", "groupName", required=True, min_len=1, max_len=32))
            if name == DEFAULT_NAME:
                raise invalid("Default is a reserved group name")
            if name in self.groups:
                raise invalid(f"Group {name} already exists")
            if len(self.groups) - 1 >= MAX_GROUPS:
                raise invalid(f"You have reached the maximum number of groups ({MAX_GROUPS}) in this region")
            filter_expression = _check_filter(_get_str(params, "FilterExpression", "filterExpression"))
            insights = self._insights(params, None)
            tags = validate_tags(_get_list(params, "Tags", "tags"))
            if len(tags) > MAX_TAGS:
                raise invalid(f"The number of tags exceeds the limit of {MAX_TAGS}")
            group: dict[str, Any] = {"GroupName": name, "GroupARN": self.group_arn(name)}
            if filter_expression is not None:
                group["FilterExpression"] = filter_expression
            group["InsightsConfiguration"] = insights
            self.groups[name] = group
            if tags:
                self.tags[group["GroupARN"]] = tags
            return {"Group": self._public_group(group)}

    def get_group(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return {"Group": self._public_group(self.find_group(params))}

    def get_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            token = _get_str(params, "NextToken", "nextToken", min_len=1, max_len=100)
            items = [self._public_group(g) for g in self.groups.values()]
            page, nxt = paginate("groups", items, token, self.page_size, lambda g: (g["GroupName"],))
            out: dict[str, Any] = {"Groups": page}
            if nxt:
                out["NextToken"] = nxt
            return out

    def update_group(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            group = self.find_group(params)
            filter_expression = _check_filter(_get_str(params, "FilterExpression", "filterExpression"))
            if group["GroupName"] == DEFAULT_NAME and filter_expression is not None:
                raise invalid("The filter expression of the Default group cannot be changed")
            insights = self._insights(params, group["InsightsConfiguration"])
            if filter_expression is not None:
                group["FilterExpression"] = filter_expression
            group["InsightsConfiguration"] = insights
            return {"Group": self._public_group(group)}

    def delete_group(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            group = self.find_group(params)
            if group["GroupName"] == DEFAULT_NAME:
                raise invalid("The Default group cannot be deleted")
            del self.groups[group["GroupName"]]
            self.tags.pop(group["GroupARN"], None)
            return {}

    # --- sampling rules ---------------------------------------------------------------------------------
    @staticmethod
    def _validate_attributes(rule: dict[str, Any], path: str) -> dict[str, str] | None:
        attributes = _get_dict(rule, "Attributes", f"{path}.attributes")
        if attributes is None:
            return None
        if len(attributes) > 5:
            raise _constraint(attributes, f"{path}.attributes", "Member must have length less than or equal to 5")
        for key, value in attributes.items():
            if not isinstance(value, str):
                raise invalid(f"Invalid type for parameter {path}.attributes.{key}: expected a string")
            if not 1 <= len(key) <= 32:
                raise _constraint(key, f"{path}.attributes.key", "Member must have length between 1 and 32")
            if not 1 <= len(value) <= 32:
                raise _constraint(value, f"{path}.attributes.value", "Member must have length between 1 and 32")
        return dict(attributes)

    @staticmethod
    def _validate_boost(rule: dict[str, Any], path: str) -> dict[str, Any] | None:
        boost = _get_dict(rule, "SamplingRateBoost", f"{path}.samplingRateBoost")
        if boost is None:
            return None
        max_rate = _get_float(boost, "MaxRate", f"{path}.samplingRateBoost.maxRate", required=True, minimum=0, maximum=1)
        cooldown = _get_int(boost, "CooldownWindowMinutes", f"{path}.samplingRateBoost.cooldownWindowMinutes", required=True, minimum=0)
        return {"MaxRate": max_rate, "CooldownWindowMinutes": cooldown}

    @classmethod
    def _rule_fields(cls, rule: dict[str, Any], path: str, *, required: bool) -> dict[str, Any]:
        """The matching/rate members shared by SamplingRule and SamplingRuleUpdate (None = absent)."""
        fields: dict[str, Any] = {
            "ResourceARN": _get_str(rule, "ResourceARN", f"{path}.resourceARN", required=required, max_len=500),
            "Priority": _get_int(rule, "Priority", f"{path}.priority", required=required, minimum=1, maximum=9999),
            "FixedRate": _get_float(rule, "FixedRate", f"{path}.fixedRate", required=required, minimum=0, maximum=1),
            "ReservoirSize": _get_int(rule, "ReservoirSize", f"{path}.reservoirSize", required=required, minimum=0),
            "ServiceName": _get_str(rule, "ServiceName", f"{path}.serviceName", required=required, max_len=64),
            "ServiceType": _get_str(rule, "ServiceType", f"{path}.serviceType", required=required, max_len=64),
            "Host": _get_str(rule, "Host", f"{path}.host", required=required, max_len=64),
            "HTTPMethod": _get_str(rule, "HTTPMethod", f"{path}.hTTPMethod", required=required, max_len=10),
            "URLPath": _get_str(rule, "URLPath", f"{path}.uRLPath", required=required, max_len=128),
            "Attributes": cls._validate_attributes(rule, path),
            "SamplingRateBoost": cls._validate_boost(rule, path),
        }
        return fields

    def _find_rule(self, params: dict[str, Any], path: str) -> dict[str, Any]:
        name = _get_str(params, "RuleName", f"{path}ruleName")
        arn = _get_str(params, "RuleARN", f"{path}ruleARN")
        if name is None and arn is None:
            raise invalid("Either RuleName or RuleARN must be provided")
        if name is not None and arn is not None:
            raise invalid("Specify a rule by either RuleName or RuleARN, but not both")
        if arn is not None:
            record = next((r for r in self.rules.values() if r["SamplingRule"]["RuleARN"] == arn), None)
        else:
            record = self.rules.get(name)  # type: ignore[arg-type]
        if record is None:
            raise invalid("Sampling rule does not exist")
        return record

    @staticmethod
    def _public_rule(record: dict[str, Any]) -> dict[str, Any]:
        rule = dict(record["SamplingRule"])
        rule["Attributes"] = dict(rule.get("Attributes") or {})
        if "SamplingRateBoost" in rule:
            rule["SamplingRateBoost"] = dict(rule["SamplingRateBoost"])
        return {"SamplingRule": rule, "CreatedAt": record["CreatedAt"], "ModifiedAt": record["ModifiedAt"]}

    def create_sampling_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            rule = _get_dict(params, "SamplingRule", "samplingRule", required=True)
            assert rule is not None
            name = _get_str(rule, "RuleName", "samplingRule.ruleName", min_len=1, max_len=32)
            if name is None:
                raise invalid("Missing required parameter: samplingRule.ruleName")
            fields = self._rule_fields(rule, "samplingRule", required=True)
            version = _get_int(rule, "Version", "samplingRule.version", required=True, minimum=1)
            if version != 1:
                raise invalid(f"Unsupported sampling rule version {version}: the only version is 1")
            if name == DEFAULT_NAME:
                raise invalid("Default is a reserved sampling rule name")
            if name in self.rules:
                raise invalid(f"Sampling rule {name} already exists")
            if len(self.rules) - 1 >= MAX_SAMPLING_RULES:
                raise XRayApiError("RuleLimitExceededException", f"You have reached the maximum number of sampling rules ({MAX_SAMPLING_RULES})")
            tags = validate_tags(_get_list(params, "Tags", "tags"))
            if len(tags) > MAX_TAGS:
                raise invalid(f"The number of tags exceeds the limit of {MAX_TAGS}")
            stored: dict[str, Any] = {"RuleName": name, "RuleARN": self.rule_arn(name)}
            for key, value in fields.items():
                if value is not None:
                    stored[key] = value
            stored.setdefault("Attributes", {})
            stored["Version"] = 1
            now = self.clock()
            record = {"SamplingRule": stored, "CreatedAt": now, "ModifiedAt": now}
            self.rules[name] = record
            if tags:
                self.tags[stored["RuleARN"]] = tags
            return {"SamplingRuleRecord": self._public_rule(record)}

    def get_sampling_rules(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            token = _get_str(params, "NextToken", "nextToken")
            items = [self._public_rule(r) for r in self.rules.values()]
            page, nxt = paginate("sampling-rules", items, token, self.page_size, lambda r: (r["SamplingRule"]["Priority"], r["SamplingRule"]["RuleName"]))
            out: dict[str, Any] = {"SamplingRuleRecords": page}
            if nxt:
                out["NextToken"] = nxt
            return out

    def update_sampling_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            update = _get_dict(params, "SamplingRuleUpdate", "samplingRuleUpdate", required=True)
            assert update is not None
            _get_str(update, "RuleName", "samplingRuleUpdate.ruleName", min_len=1, max_len=32)
            record = self._find_rule(update, "samplingRuleUpdate.")
            fields = self._rule_fields(update, "samplingRuleUpdate", required=False)
            rule = record["SamplingRule"]
            if rule["RuleName"] == DEFAULT_NAME:
                locked = sorted(k for k, v in fields.items() if v is not None and k not in ("FixedRate", "ReservoirSize"))
                if locked:
                    raise invalid(f"Only FixedRate and ReservoirSize can be updated on the Default sampling rule, not: {', '.join(locked)}")
            for key, value in fields.items():
                if value is not None:
                    rule[key] = value
            record["ModifiedAt"] = self.clock()
            return {"SamplingRuleRecord": self._public_rule(record)}

    def delete_sampling_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            record = self._find_rule(params, "")
            rule = record["SamplingRule"]
            if rule["RuleName"] == DEFAULT_NAME:
                raise invalid("The Default sampling rule cannot be deleted")
            del self.rules[rule["RuleName"]]
            self.tags.pop(rule["RuleARN"], None)
            return {"SamplingRuleRecord": self._public_rule(record)}

    def get_sampling_targets(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every reporting client gets the rule's whole reservoir for 10 s (AWS splits it among clients)."""
        with self.lock:
            docs = _get_list(params, "SamplingStatisticsDocuments", "samplingStatisticsDocuments", required=True)
            assert docs is not None
            if len(docs) > 25:
                raise _constraint(len(docs), "samplingStatisticsDocuments", "Member must have length less than or equal to 25")
            now = self.clock()
            targets, unprocessed = [], []
            for index, doc in enumerate(docs, start=1):
                path = f"samplingStatisticsDocuments.{index}.member"
                if not isinstance(doc, dict):
                    raise invalid(f"Invalid type for parameter {path}: expected an object")
                name = _get_str(doc, "RuleName", f"{path}.ruleName", required=True, min_len=1, max_len=32)
                _get_str(doc, "ClientID", f"{path}.clientID", required=True, min_len=24, max_len=24)
                for key in ("RequestCount", "SampledCount"):
                    _get_int(doc, key, f"{path}.{key[0].lower()}{key[1:]}", required=True, minimum=0)
                record = self.rules.get(name)  # type: ignore[arg-type]
                if record is None:
                    unprocessed.append({"RuleName": name, "ErrorCode": "400", "Message": "Unknown rule"})
                    continue
                rule = record["SamplingRule"]
                targets.append(
                    {
                        "RuleName": name,
                        "FixedRate": rule["FixedRate"],
                        "ReservoirQuota": rule["ReservoirSize"],
                        "ReservoirQuotaTTL": now + 10,
                        "Interval": 10,
                    }
                )
            last = max(r["ModifiedAt"] for r in self.rules.values())
            return {"SamplingTargetDocuments": targets, "LastRuleModification": last, "UnprocessedStatistics": unprocessed}

    # --- tags ------------------------------------------------------------------------------------------
    def _resource(self, params: dict[str, Any]) -> str:
        arn = _get_str(params, "ResourceARN", "resourceARN", required=True, min_len=1, max_len=1011)
        assert arn is not None
        known = {g["GroupARN"] for g in self.groups.values()} | {r["SamplingRule"]["RuleARN"] for r in self.rules.values()}
        if arn not in known:
            raise XRayApiError("ResourceNotFoundException", f"Resource {arn} not found", status=404, ResourceName=arn)
        return arn

    def tag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            arn = self._resource(params)
            new = validate_tags(_get_list(params, "Tags", "tags", required=True))
            merged = dict(self.tags.get(arn, {}))
            merged.update(new)
            if len(merged) > MAX_TAGS:
                raise XRayApiError(
                    "TooManyTagsException",
                    f"Tagging {arn} would exceed the limit of {MAX_TAGS} tags per resource",
                    ResourceName=arn,
                )
            self.tags[arn] = merged
            return {}

    def untag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            arn = self._resource(params)
            keys = _get_list(params, "TagKeys", "tagKeys", required=True)
            assert keys is not None
            for index, key in enumerate(keys, start=1):
                if not isinstance(key, str):
                    raise invalid(f"Invalid type for parameter tagKeys.{index}: expected a string")
                if not 1 <= len(key) <= 128:
                    raise _constraint(key, f"tagKeys.{index}.member", "Member must have length between 1 and 128")
                if key.lower().startswith("aws:"):
                    raise invalid(f"Tag key '{key}' is not allowed: the aws: prefix is reserved for AWS use")
            current = self.tags.get(arn, {})
            for key in keys:
                current.pop(key, None)
            return {}

    def list_tags_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            arn = self._resource(params)
            token = _get_str(params, "NextToken", "nextToken")
            page, nxt = paginate("tags", _tag_list(self.tags.get(arn, {})), token, MAX_TAGS, lambda t: (t["Key"],))
            out: dict[str, Any] = {"Tags": page}
            if nxt:
                out["NextToken"] = nxt
            return out

    # --- encryption ----------------------------------------------------------------------------------------
    def _encryption_view(self) -> dict[str, Any]:
        enc = self.encryption
        if enc["Status"] == "UPDATING" and self.clock() - enc["UpdatedAt"] >= self.encryption_delay:
            enc["Status"] = "ACTIVE"
        out = {"Type": enc["Type"], "Status": enc["Status"]}
        if enc.get("KeyId"):
            out["KeyId"] = enc["KeyId"]
        return out

    def put_encryption_config(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            enc_type = _get_str(params, "Type", "type", required=True)
            if enc_type not in ("NONE", "KMS"):
                raise _constraint(enc_type, "type", "Member must satisfy enum value set: [NONE, KMS]")
            key_id = _get_str(params, "KeyId", "keyId", min_len=1, max_len=3000)
            if enc_type == "NONE" and key_id is not None:
                raise invalid("KeyId must be omitted when Type is NONE")
            if enc_type == "KMS":
                if key_id is None:
                    raise invalid("KeyId is required when Type is KMS")
                if not (_KMS_KEY_ID.match(key_id) or _KMS_ALIAS.match(key_id) or _KMS_ARN.match(key_id)):
                    raise invalid(f"Invalid KeyId '{key_id}': expected a KMS key ID, key ARN, alias name (alias/...) or alias ARN")
            self.encryption = {"Type": enc_type, "KeyId": key_id, "Status": "UPDATING", "UpdatedAt": self.clock()}
            out = {"Type": enc_type, "Status": "UPDATING"}
            if key_id:
                out["KeyId"] = key_id
            return {"EncryptionConfig": out}

    def get_encryption_config(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return {"EncryptionConfig": self._encryption_view()}

    # --- Transaction Search: trace segment destination and indexing rules ------------------------------------
    def _destination_view(self) -> dict[str, Any]:
        dest = self.destination
        if dest["Status"] == "PENDING" and self.clock() - dest["UpdatedAt"] >= self.destination_delay:
            dest["Status"] = "ACTIVE"
        return {"Destination": dest["Destination"], "Status": dest["Status"]}

    def get_trace_segment_destination(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self._destination_view()

    def update_trace_segment_destination(self, params: dict[str, Any], logs: LogsAccess | None = None) -> dict[str, Any]:
        """XRay <-> CloudWatchLogs; PENDING for ``destination_delay`` seconds, then ACTIVE.

        CloudWatchLogs needs a CloudWatch Logs resource policy letting xray.amazonaws.com write ``aws/spans``
        (AccessDeniedException otherwise). A change while the previous one is PENDING is refused.
        """
        with self.lock:
            destination = _get_str(params, "Destination", "destination")
            if destination is not None and destination not in ("XRay", "CloudWatchLogs"):
                raise _constraint(destination, "destination", "Member must satisfy enum value set: [XRay, CloudWatchLogs]")
            config = _get_dict(params, "CloudWatchLogsConfiguration", "cloudWatchLogsConfiguration")
            kms_key_id = None
            if config is not None:
                kms_key_id = _get_str(config, "SpansLogGroupKmsKeyId", "cloudWatchLogsConfiguration.spansLogGroupKmsKeyId", min_len=1, max_len=256)
                if destination != "CloudWatchLogs":
                    raise invalid("CloudWatchLogsConfiguration can only be given with Destination CloudWatchLogs")
                if kms_key_id is not None and not re.match(r"^arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:key/[0-9a-fA-F\-]{36}$", kms_key_id):
                    raise invalid(f"Invalid SpansLogGroupKmsKeyId '{kms_key_id}': give the ARN of a KMS key (key IDs and alias ARNs are not supported)")
            current = self._destination_view()
            if destination is None or (destination == current["Destination"] and kms_key_id is None):
                return current
            if current["Status"] == "PENDING":
                raise invalid(f"The trace segment destination is being updated to {current['Destination']} (PENDING): retry when it is ACTIVE")
            if destination == "CloudWatchLogs":
                problem = logs_policy_problem(logs.resource_policies() if logs else [], self.region, self.account_id)
                if problem:
                    raise XRayApiError("AccessDeniedException", problem, status=403)
                if kms_key_id is not None and logs is not None and logs.spans_group_exists():
                    raise invalid("The log group aws/spans already exists: call UpdateTraceSegmentDestination without SpansLogGroupKmsKeyId")
                if logs is not None:
                    logs.ensure_spans_group(kms_key_id)
            if destination == current["Destination"]:
                return current
            self.destination = {"Destination": destination, "Status": "PENDING", "UpdatedAt": self.clock()}
            return self._destination_view()

    @property
    def spans_to_logs(self) -> bool:
        """Whether PutTraceSegments goes to CloudWatch Logs now (from the moment the update is accepted)."""
        return self.destination["Destination"] == "CloudWatchLogs"

    def indexing_percentage(self) -> float:
        return float(self.indexing_rules[DEFAULT_NAME]["Percentage"])

    @staticmethod
    def _public_indexing_rule(rule: dict[str, Any]) -> dict[str, Any]:
        pct = rule["Percentage"]
        return {
            "Name": rule["Name"],
            "ModifiedAt": rule["ModifiedAt"],
            "Rule": {"Probabilistic": {"DesiredSamplingPercentage": pct, "ActualSamplingPercentage": pct}},
        }

    def get_indexing_rules(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            token = _get_str(params, "NextToken", "nextToken")
            items = [self._public_indexing_rule(r) for r in self.indexing_rules.values()]
            page, nxt = paginate("indexing-rules", items, token, 10, lambda r: (r["Name"],))
            out: dict[str, Any] = {"IndexingRules": page}
            if nxt:
                out["NextToken"] = nxt
            return out

    def update_indexing_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            name = _get_str(params, "Name", "name", required=True)
            rule = _get_dict(params, "Rule", "rule", required=True)
            assert name is not None and rule is not None
            if set(rule) != {"Probabilistic"}:
                raise invalid("Rule must set exactly one member: Probabilistic")
            probabilistic = _get_dict(rule, "Probabilistic", "rule.probabilistic", required=True)
            assert probabilistic is not None
            pct = _get_float(probabilistic, "DesiredSamplingPercentage", "rule.probabilistic.desiredSamplingPercentage", required=True, minimum=0, maximum=100)
            stored = self.indexing_rules.get(name)
            if stored is None:
                raise XRayApiError("ResourceNotFoundException", f"Indexing rule {name} not found", status=404, ResourceName=name)
            stored["Percentage"] = pct
            stored["ModifiedAt"] = self.clock()
            return {"IndexingRule": self._public_indexing_rule(stored)}

    # --- resource policies ------------------------------------------------------------------------------------
    def put_resource_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        """Checks, in this order: name, size (PolicySizeLimitExceeded), document (MalformedPolicyDocument),
        revision (InvalidPolicyRevisionId), count (PolicyCountLimitExceeded), lockout (LockoutPrevention)."""
        with self.lock:
            name = _get_str(params, "PolicyName", "policyName", required=True, min_len=1, max_len=128)
            document = _get_str(params, "PolicyDocument", "policyDocument", required=True)
            revision = _get_str(params, "PolicyRevisionId", "policyRevisionId")
            bypass = _get_bool(params, "BypassPolicyLockoutCheck", "bypassPolicyLockoutCheck")
            assert name is not None and document is not None
            if not POLICY_NAME.match(name):
                raise _constraint(name, "policyName", "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
            size = len(document.encode("utf-8"))
            if size > MAX_POLICY_BYTES:
                raise XRayApiError("PolicySizeLimitExceededException", f"The policy document is {size} bytes: the limit is {MAX_POLICY_BYTES} bytes (5 KB)")
            try:
                policy = parse_policy(document)
            except PolicyError as exc:
                raise XRayApiError("MalformedPolicyDocumentException", str(exc)) from None
            current = self.resource_policies.get(name)
            if revision is not None:
                if revision == "0" and current is not None:
                    raise XRayApiError("InvalidPolicyRevisionIdException", f"A resource policy named {name} already exists (PolicyRevisionId 0 creates only)")
                if revision != "0" and (current is None or current["PolicyRevisionId"] != revision):
                    latest = current["PolicyRevisionId"] if current else "none"
                    raise XRayApiError(
                        "InvalidPolicyRevisionIdException", f"PolicyRevisionId {revision} does not match the latest revision of {name} ({latest})"
                    )
            if current is None and len(self.resource_policies) >= MAX_RESOURCE_POLICIES:
                raise XRayApiError(
                    "PolicyCountLimitExceededException",
                    f"The account already has {MAX_RESOURCE_POLICIES} resource policies, the maximum: delete one first",
                )
            if not bypass:
                problem = lockout_problem(policy, self.account_id)
                if problem:
                    raise XRayApiError("LockoutPreventionException", problem)
            self.policy_revisions += 1
            stored = {"PolicyName": name, "PolicyDocument": document, "PolicyRevisionId": str(self.policy_revisions), "LastUpdatedTime": self.clock()}
            self.resource_policies[name] = stored
            return {"ResourcePolicy": dict(stored)}

    def list_resource_policies(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            token = _get_str(params, "NextToken", "nextToken", min_len=1, max_len=100)
            items = [dict(p) for p in self.resource_policies.values()]
            page, nxt = paginate("resource-policies", items, token, MAX_RESOURCE_POLICIES, lambda p: (p["PolicyName"],))
            out: dict[str, Any] = {"ResourcePolicies": page}
            if nxt:
                out["NextToken"] = nxt
            return out

    def delete_resource_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            name = _get_str(params, "PolicyName", "policyName", required=True, min_len=1, max_len=128)
            revision = _get_str(params, "PolicyRevisionId", "policyRevisionId")
            current = self.resource_policies.get(name)  # type: ignore[arg-type]
            if current is None:
                raise invalid(f"Resource policy {name} not found")
            if revision is not None and revision != current["PolicyRevisionId"]:
                raise XRayApiError(
                    "InvalidPolicyRevisionIdException",
                    f"PolicyRevisionId {revision} does not match the latest revision of {name} ({current['PolicyRevisionId']})",
                )
            del self.resource_policies[name]  # type: ignore[arg-type]
            return {}

    # --- trace retrieval (Transaction Search) -------------------------------------------------------------------
    def start_trace_retrieval(self, params: dict[str, Any], start: float, end: float) -> dict[str, Any]:
        with self.lock:
            trace_ids = _get_list(params, "TraceIds", "traceIds", required=True)
            assert trace_ids is not None
            if len(trace_ids) > 100:
                raise _constraint(len(trace_ids), "traceIds", "Member must have length less than or equal to 100")
            for index, trace_id in enumerate(trace_ids, start=1):
                if not isinstance(trace_id, str) or not 1 <= len(trace_id) <= 35:
                    raise _constraint(trace_id, f"traceIds.{index}.member", "Member must have length between 1 and 35")
            if end < start:
                raise invalid("EndTime must not be earlier than StartTime")
            token = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode().rstrip("=")
            self.retrievals[token] = {
                "TraceIds": list(dict.fromkeys(trace_ids)),
                "StartTime": start,
                "EndTime": end,
                "Created": self.clock(),
                "Cancelled": False,
            }
            return {"RetrievalToken": token}

    def retrieval(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """(the retrieval named by RetrievalToken, its status); ResourceNotFoundException for an unknown token."""
        token = _get_str(params, "RetrievalToken", "retrievalToken", required=True, max_len=1020)
        record = self.retrievals.get(token)  # type: ignore[arg-type]
        if record is None:
            raise XRayApiError("ResourceNotFoundException", "Retrieval token not found", status=404, ResourceName=str(token))
        if record["Cancelled"]:
            return record, "CANCELLED"
        if self.clock() - record["Created"] < self.retrieval_delay:
            return record, "RUNNING"
        return record, "COMPLETE"

    def cancel_trace_retrieval(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            record, status = self.retrieval(params)
            if status != "COMPLETE":
                record["Cancelled"] = True
            return {}
