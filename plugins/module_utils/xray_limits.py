# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""X-Ray's limits and the input checks built on them, in one place.

The modules (``xray_group``, ``xray_sampling_rule``, ``xray_indexing_rule``, ``xray_resource_policy``) run these
checks before any call to AWS, and the ``tracing.xray.groups_problems`` filter runs the same checks over the groups
role's lists before the role's first change. Pure Python: no botocore, no amazon.aws, so the controller-side filter
can import it.

Every check returns an error message (naming the field and what X-Ray allows) or None; the ``*_problems``
functions return every message for one resource. Values are expected with the types the modules' argument specs
give them (the filter converts the role's data first).
"""

from __future__ import annotations

import json
import math
import re

from ansible_collections.tracing.xray.plugins.module_utils.xray_filter import filter_expression_problem

# --- limits (X-Ray API reference, botocore's service model, the X-Ray console) -----------------------------------

# Names X-Ray reserves: the default group and the default sampling rule.
XRAY_DEFAULT_GROUP = "Default"
XRAY_DEFAULT_RULE = "Default"

GROUP_NAME_MAX = 32
# CreateGroup refuses other characters ("Member must satisfy regular expression pattern: [A-Za-z0-9_.-]+").
GROUP_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
GROUP_NAME_CHARACTERS = "letters A-Z and a-z, digits and _.-"
RULE_NAME_MAX = 32

# Tags: "Maximum number of user-applied tags per resource: 50; key 1-128, value 0-256 Unicode characters; letters,
# digits, space and _ . : / = + - @; aws: is reserved".
TAGS_MAX = 50
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAG_PATTERN = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)
TAG_CHARACTERS = "letters, digits, spaces and _.:/=+-@"
TAG_RESERVED_PREFIX = "aws:"

# Sampling rules.
PRIORITY_MIN = 1
PRIORITY_MAX = 9999
FIXED_RATE_MIN = 0.0
FIXED_RATE_MAX = 1.0
RULE_VERSION = 1  # the only sampling rule format X-Ray knows
RULE_STRING_LIMITS = {
    "resource_arn": 500,
    "service_name": 64,
    "service_type": 64,
    "host": 64,
    "http_method": 10,
    "url_path": 128,
}
ATTRIBUTES_MAX = 5
ATTRIBUTE_MAX_LENGTH = 32
# Sampling rule fields: module option -> X-Ray field.
RULE_FIELDS = {
    "resource_arn": "ResourceARN",
    "priority": "Priority",
    "fixed_rate": "FixedRate",
    "reservoir_size": "ReservoirSize",
    "service_name": "ServiceName",
    "service_type": "ServiceType",
    "host": "Host",
    "http_method": "HTTPMethod",
    "url_path": "URLPath",
    "version": "Version",
    "attributes": "Attributes",
    "sampling_rate_boost": "SamplingRateBoost",
}
RULE_CREATE_REQUIRED = ("priority", "fixed_rate", "reservoir_size")
# What X-Ray lets anyone change on the built-in Default rule.
DEFAULT_RULE_UPDATABLE = ("fixed_rate", "reservoir_size")

# Transaction Search.
DESTINATIONS = ("XRay", "CloudWatchLogs")
INDEXING_RULE_NAME_MAX = 32
INDEXING_PERCENTAGE_MIN = 0.0
INDEXING_PERCENTAGE_MAX = 100.0

# PutResourcePolicy: "Each AWS account can have a maximum of 5 resource policies ... The maximum size of each
# resource policy is 5KB"; PolicyName 1-128 characters of [\w+=,.@-].
MAX_RESOURCE_POLICIES = 5
MAX_POLICY_BYTES = 5 * 1024
POLICY_NAME_MAX = 128
POLICY_NAME_PATTERN = re.compile(r"^[\w+=,.@-]+$")


# --- names and tags ---------------------------------------------------------------------------------------------


def validate_name(value, field, maximum, reserved=None, pattern=None, characters=None):
    """An error message for a bad resource name, or None."""
    if value is None or value == "":
        return f"{field} must not be empty: give 1 to {maximum} characters"
    if not isinstance(value, str):
        return f"{field} must be a string, got {type(value).__name__}"
    if len(value) > maximum:
        return f"{field} is {len(value)} characters long ({value!r}): X-Ray allows 1 to {maximum} characters"
    if pattern is not None and not pattern.match(value):
        return f"{field}={value!r} has characters X-Ray refuses: only {characters} are allowed"
    if reserved is not None and value == reserved:
        return f"{field}={value!r} is reserved by X-Ray and cannot be managed by this module: choose another name"
    return None


def validate_group_name(value, field="group_name"):
    return validate_name(value, field, GROUP_NAME_MAX, reserved=XRAY_DEFAULT_GROUP, pattern=GROUP_NAME_PATTERN, characters=GROUP_NAME_CHARACTERS)


def validate_tags(tags, field="tags"):
    """An error message for tags X-Ray would refuse (type, count, lengths, characters, reserved prefix), or None."""
    if tags is None:
        return None
    if not isinstance(tags, dict):
        return f"{field} must be a dictionary of tag keys and values, got {type(tags).__name__}"
    if len(tags) > TAGS_MAX:
        return f"{field} has {len(tags)} entries: X-Ray allows at most {TAGS_MAX} user tags per resource"
    for key, value in tags.items():
        key = str(key)
        if not key or len(key) > TAG_KEY_MAX:
            return f"{field} key {key!r} must be 1 to {TAG_KEY_MAX} characters long"
        if key.lower().startswith(TAG_RESERVED_PREFIX):
            return f"{field} key {key!r} starts with 'aws:', a prefix reserved by AWS: choose another key"
        if not TAG_PATTERN.match(key):
            return f"{field} key {key!r} has characters X-Ray refuses: only {TAG_CHARACTERS} are allowed"
        if value is None:
            return f"{field} value of {key!r} must be a string (use '' for an empty value)"
        if isinstance(value, (dict, list, tuple, set)):
            return f"{field} value of {key!r} must be a string, got a {type(value).__name__}: X-Ray tag values are text"
        if len(str(value)) > TAG_VALUE_MAX:
            return f"{field} value of {key!r} is longer than {TAG_VALUE_MAX} characters"
        if not TAG_PATTERN.match(str(value)):
            return f"{field} value of {key!r} has characters X-Ray refuses: only {TAG_CHARACTERS} are allowed"
    return None


# --- groups -----------------------------------------------------------------------------------------------------


def group_problems(params):
    """Every problem of an ``xray_group`` request (``group_name``, ``filter_expression``, ``insights_enabled``,
    ``notifications_enabled``, ``tags``; missing keys count as unset)."""
    problems = []
    problem = validate_group_name(params.get("group_name"))
    if problem:
        problems.append(problem)
    if params.get("notifications_enabled") and params.get("insights_enabled") is not True:
        problems.append(
            "notifications_enabled=true requires insights_enabled=true in the same task: "
            "X-Ray sends Insights notifications only for groups with Insights enabled"
        )
    problem = filter_expression_problem(params.get("filter_expression"))
    if problem:
        problems.append(problem)
    problem = validate_tags(params.get("tags"))
    if problem:
        problems.append(problem)
    return problems


# --- sampling rules ---------------------------------------------------------------------------------------------


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def sampling_rule_problems(params, creating=None):
    """Every problem of an ``xray_sampling_rule`` request (the module's option names; missing keys count as unset).

    ``creating=True`` also requires the fields X-Ray needs to create a rule (the groups role always creates or
    updates towards the full declaration, the module only knows once it has read the rule).
    """
    problems = []
    name = params.get("rule_name")
    problem = validate_name(name, "rule_name", RULE_NAME_MAX)
    if problem:
        problems.append(problem)
    state = params.get("state") or "present"
    if name == XRAY_DEFAULT_RULE:
        if state == "absent":
            problems.append("rule_name='Default' is X-Ray's built-in sampling rule: it can be updated but never deleted")
        fixed = [option for option in RULE_FIELDS if option not in DEFAULT_RULE_UPDATABLE and params.get(option) is not None]
        if fixed:
            problems.append(
                f"{', '.join(fixed)} cannot be set on the built-in Default sampling rule: "
                f"X-Ray only lets {' and '.join(DEFAULT_RULE_UPDATABLE)} (and tags) change on it"
            )
    elif creating:
        missing = [option for option in RULE_CREATE_REQUIRED if params.get(option) is None]
        if missing:
            problems.append(f"{', '.join(missing)} must be set to create sampling rule {name!r}")

    priority = params.get("priority")
    if priority is not None and (not _is_number(priority) or not PRIORITY_MIN <= priority <= PRIORITY_MAX):
        problems.append(f"priority={priority} is out of range: X-Ray allows {PRIORITY_MIN} to {PRIORITY_MAX}")
    fixed_rate = params.get("fixed_rate")
    if fixed_rate is not None and (not _is_number(fixed_rate) or not FIXED_RATE_MIN <= fixed_rate <= FIXED_RATE_MAX):
        problems.append(f"fixed_rate={fixed_rate} is out of range: X-Ray allows 0 to 1 (a fraction of requests)")
    reservoir = params.get("reservoir_size")
    if reservoir is not None and (not _is_number(reservoir) or reservoir < 0):
        problems.append(f"reservoir_size={reservoir} is out of range: X-Ray allows 0 or more")
    version = params.get("version")
    if version is not None and version != RULE_VERSION:
        problems.append(f"version={version} is not supported: X-Ray knows only sampling rule format version {RULE_VERSION}")
    for option, limit in RULE_STRING_LIMITS.items():
        value = params.get(option)
        if value is not None and (not isinstance(value, str) or value == "" or len(value) > limit):
            length = len(value) if isinstance(value, str) else type(value).__name__
            problems.append(f"{option} must be 1 to {limit} characters long (use '*' to match anything), got {length}")
    attributes = params.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, dict):
            problems.append(f"attributes must be a dictionary, got {type(attributes).__name__}")
        elif len(attributes) > ATTRIBUTES_MAX:
            problems.append(f"attributes has {len(attributes)} entries: X-Ray allows at most {ATTRIBUTES_MAX}")
        else:
            for key, value in attributes.items():
                if (
                    not 1 <= len(str(key)) <= ATTRIBUTE_MAX_LENGTH
                    or value is None
                    or isinstance(value, (dict, list))
                    or not 1 <= len(str(value)) <= ATTRIBUTE_MAX_LENGTH
                ):
                    problems.append(f"attributes entry {key!r}: keys and values must be 1 to {ATTRIBUTE_MAX_LENGTH} characters long")
                    break
    boost = params.get("sampling_rate_boost")
    if boost is not None:
        if not isinstance(boost, dict) or boost.get("max_rate") is None or boost.get("cooldown_window_minutes") is None:
            problems.append("sampling_rate_boost needs max_rate (0 to 1) and cooldown_window_minutes (0 or more)")
        else:
            max_rate, cooldown = boost["max_rate"], boost["cooldown_window_minutes"]
            if not _is_number(max_rate) or not 0 <= max_rate <= 1:
                problems.append(f"sampling_rate_boost.max_rate={max_rate} is out of range: X-Ray allows 0 to 1 (a sampling rate)")
            if not _is_number(cooldown) or cooldown < 0:
                problems.append(f"sampling_rate_boost.cooldown_window_minutes={cooldown} is out of range: X-Ray allows 0 or more minutes")
    problem = validate_tags(params.get("tags"))
    if problem:
        problems.append(problem)
    return problems


# --- Transaction Search -----------------------------------------------------------------------------------------


def indexing_rule_problems(name, percentage):
    problems = []
    problem = validate_name(name, "name", INDEXING_RULE_NAME_MAX)
    if problem:
        problems.append(problem)
    if not _is_number(percentage) or not INDEXING_PERCENTAGE_MIN <= percentage <= INDEXING_PERCENTAGE_MAX:
        problems.append(f"desired_sampling_percentage={percentage} is out of range: X-Ray allows 0 to 100 (percent of trace IDs)")
    return problems


# --- resource policies ------------------------------------------------------------------------------------------


def validate_policy_name(name, field="policy_name"):
    """An error message for a resource policy name X-Ray would refuse, or None."""
    if not name:
        return f"{field} must not be empty: give 1 to {POLICY_NAME_MAX} characters of letters, digits and _+=,.@-"
    if len(name) > POLICY_NAME_MAX:
        return f"{field} is {len(name)} characters long: X-Ray allows 1 to {POLICY_NAME_MAX}"
    if not POLICY_NAME_PATTERN.match(name):
        return f"{field}={name!r} has characters X-Ray refuses: only 1 to {POLICY_NAME_MAX} letters, digits and _+=,.@- are allowed"
    return None


def load_policy_document(value, field="policy_document"):
    """``(policy dict, compact JSON text to send, None)`` or ``(None, None, error message)``.

    Checks what X-Ray checks before it stores a policy: a JSON object with a non-empty ``Statement`` whose
    statements have ``Effect`` Allow or Deny, ``Action``/``NotAction`` and ``Principal``/``NotPrincipal``; at most
    5 KB as sent.
    """
    if isinstance(value, dict):
        policy = value
    else:
        try:
            policy = json.loads(value)
        except (TypeError, ValueError) as e:
            return None, None, f"{field} is not valid JSON: {e}"
    if not isinstance(policy, dict):
        return None, None, f"{field} must be a JSON object (a policy document), got {type(policy).__name__}"
    statements = policy.get("Statement")
    statements = statements if isinstance(statements, list) else [statements] if statements is not None else []
    if not statements:
        return None, None, f"{field} has no Statement: a resource policy needs at least one statement"
    for index, statement in enumerate(statements):
        where = f"{field}.Statement[{index}]"
        if not isinstance(statement, dict):
            return None, None, f"{where} must be an object"
        if statement.get("Effect") not in ("Allow", "Deny"):
            return None, None, f"{where}: Effect must be Allow or Deny, got {statement.get('Effect')!r}"
        if "Action" not in statement and "NotAction" not in statement:
            return None, None, f"{where}: Action (or NotAction) is required"
        if "Principal" not in statement and "NotPrincipal" not in statement:
            return None, None, f"{where}: Principal is required in a resource policy (who gets access to X-Ray)"
    text = json.dumps(policy, separators=(",", ":"))
    size = len(text.encode("utf-8"))
    if size > MAX_POLICY_BYTES:
        return None, None, f"{field} is {size} bytes as compact JSON: X-Ray allows at most {MAX_POLICY_BYTES} bytes (5 KB) per resource policy"
    return policy, text, None
