# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared helpers for the tracing.xray X-Ray modules.

Thin on purpose: amazon.aws does the heavy lifting (connection handling, retries, tag helpers).
What lives here is what every X-Ray module needs and amazon.aws does not know:

- ``xray_client()`` / ``xray_retry()``: a boto3 X-Ray client whose calls made with ``aws_retry=True``
  are retried with jittered backoff on X-Ray's throttling codes (``ThrottledException`` from the
  X-Ray API, ``ThrottlingException`` from the AWS front end) as well as amazon.aws' defaults.
- ``xray_paginate()``: a paginated read, retried as a whole.
- ``delete_if_present()`` / ``exit_with_diff()``: the deletion and result steps the resource modules share.
- Tag helpers for X-Ray's ``[{Key, Value}]`` tag lists (input validation and X-Ray's limits: ``xray_limits``).
- Group and sampling-rule lookups and normalisation into snake_case results.
"""

from __future__ import annotations

import math

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry


def xray_retry(retries=10, delay=3, backoff=2.0, max_delay=60):
    """AWSRetry.jittered_backoff that also retries X-Ray's throttling error codes (``aws_retry()``: one list of
    throttling codes for every service, in module_utils/aws.py)."""
    return aws_retry(retries=retries, delay=delay, backoff=backoff, max_delay=max_delay)


def xray_client(module, retry_decorator=None):
    """A boto3 X-Ray client for an AnsibleAWSModule; pass ``aws_retry=True`` on calls to retry them.

    Honours the usual connection options (``endpoint_url``, ``region``, credentials, ``profile``).
    """
    return module.client("xray", retry_decorator=retry_decorator or xray_retry())


def xray_paginate(client, operation, **params):
    """The full result of a paginated X-Ray read (``build_full_result``), retried as a whole on throttling."""

    @xray_retry()
    def _run():
        return client.get_paginator(operation).paginate(**params).build_full_result()

    return _run()


def is_error_code(error, *codes):
    """True when ``error`` is a botocore ClientError with one of ``codes`` (amazon.aws' ``is_boto3_error_code``)."""
    return isinstance(error, is_boto3_error_code(list(codes), e=error))


def is_not_found(error):
    """X-Ray reports a missing group or rule as InvalidRequestException ("Group not found", "Sampling rule does
    not exist"), a missing tagged resource as ResourceNotFoundException."""
    if is_error_code(error, "ResourceNotFoundException"):
        return True
    if is_error_code(error, "InvalidRequestException"):
        message = error.response.get("Error", {}).get("Message", "").lower()
        return "not found" in message or "does not exist" in message
    return False


def delete_if_present(module, delete, msg, **params):
    """``delete(aws_retry=True, **params)``, skipped in check mode; a resource already gone is not an error.

    Any other error fails the module with ``msg``.
    """
    if module.check_mode:
        return
    try:
        delete(aws_retry=True, **params)
    except (BotoCoreError, ClientError) as e:
        if not is_not_found(e):
            module.fail_json_aws(e, msg=msg)


def exit_with_diff(module, before, after, **result):
    """Exit with ``result``, plus ``diff`` (``before``/``after``) when the task runs in diff mode."""
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


# --- tags ---------------------------------------------------------------------------------------


def list_tags(client, resource_arn):
    """Tags of an X-Ray resource as a dict (all pages)."""
    result = xray_paginate(client, "list_tags_for_resource", ResourceARN=resource_arn)
    return boto3_tag_list_to_ansible_dict(result.get("Tags", []))


def list_tags_if_supported(client, resource_arn):
    """Tags of an X-Ray resource, or {} for a resource without tag support (X-Ray's Default group and rule
    answer "not found" on some endpoints)."""
    try:
        return list_tags(client, resource_arn)
    except ClientError as e:
        if is_not_found(e):
            return {}
        raise


def apply_tag_changes(client, resource_arn, to_set, to_remove):
    """TagResource / UntagResource as needed (callers skip this in check mode)."""
    if to_remove:
        client.untag_resource(ResourceARN=resource_arn, TagKeys=list(to_remove), aws_retry=True)
    if to_set:
        client.tag_resource(ResourceARN=resource_arn, Tags=ansible_dict_to_boto3_tag_list(to_set), aws_retry=True)


def boto3_tags(tags):
    """A dict of tags as X-Ray's list of {Key, Value}."""
    return ansible_dict_to_boto3_tag_list(tags or {})


# --- groups -------------------------------------------------------------------------------------


def get_group(client, group_name=None, group_arn=None):
    """The raw X-Ray group (GetGroup), or None when it does not exist."""
    params = {"GroupARN": group_arn} if group_arn else {"GroupName": group_name}
    try:
        return client.get_group(aws_retry=True, **params).get("Group")
    except is_boto3_error_code("InvalidRequestException") as e:
        if is_not_found(e):
            return None
        raise


def list_groups(client):
    """Every X-Ray group (GetGroups, all pages), raw."""
    return xray_paginate(client, "get_groups").get("Groups", [])


def group_insights(group):
    """(insights_enabled, notifications_enabled) of a raw group, missing values as False."""
    insights = (group or {}).get("InsightsConfiguration") or {}
    return bool(insights.get("InsightsEnabled")), bool(insights.get("NotificationsEnabled"))


def normalize_group(group, tags=None):
    """A raw group plus its tags as the modules return it (snake_case, tags left as given)."""
    if not group:
        return {}
    result = camel_dict_to_snake_dict(group)
    insights_enabled, notifications_enabled = group_insights(group)
    result.setdefault("filter_expression", None)
    result["insights_configuration"] = {
        "insights_enabled": insights_enabled,
        "notifications_enabled": notifications_enabled,
    }
    result["tags"] = dict(tags or {})
    return result


# --- sampling rules -----------------------------------------------------------------------------

def list_sampling_rules(client):
    """Every sampling rule record (GetSamplingRules, all pages), raw."""
    return xray_paginate(client, "get_sampling_rules").get("SamplingRuleRecords", [])


def get_sampling_rule(client, rule_name=None, rule_arn=None):
    """The raw sampling rule record named ``rule_name`` (or with ``rule_arn``), or None."""
    for record in list_sampling_rules(client):
        rule = record.get("SamplingRule", {})
        if (rule_name and rule.get("RuleName") == rule_name) or (rule_arn and rule.get("RuleARN") == rule_arn):
            return record
    return None


def rule_values_equal(field, current, desired):
    """Compare one sampling rule field; rates are floats and compared with a tolerance."""
    if field == "FixedRate" or field == "MaxRate":
        if current is None or desired is None:
            return current is desired
        return math.isclose(float(current), float(desired), rel_tol=0.0, abs_tol=1e-9)
    if field == "Attributes":
        return dict(current or {}) == dict(desired or {})
    if field == "SamplingRateBoost":
        if not current or not desired:
            return not current and not desired
        return rule_values_equal("MaxRate", current.get("MaxRate"), desired.get("MaxRate")) and current.get(
            "CooldownWindowMinutes"
        ) == desired.get("CooldownWindowMinutes")
    return current == desired


def normalize_sampling_rule(record, tags=None):
    """A sampling rule record plus its tags as the modules return it (snake_case)."""
    if not record:
        return {}
    rule = record.get("SamplingRule", {})
    result = camel_dict_to_snake_dict(rule, ignore_list=["Attributes"])
    result.setdefault("attributes", {})
    for key, name in (("CreatedAt", "created_at"), ("ModifiedAt", "modified_at")):
        if record.get(key) is not None:
            result[name] = normalize_boto3_result({"value": record[key]})["value"]
    result["tags"] = dict(tags or {})
    return result
