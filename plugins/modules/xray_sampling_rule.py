#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_sampling_rule
version_added: 0.1.0
short_description: Manage AWS X-Ray sampling rules
description:
  - Create, update in place and delete AWS X-Ray sampling rules.
  - Only the fields that differ are sent to C(UpdateSamplingRule); tags are reconciled with
    C(TagResource) and C(UntagResource).
  - The built-in V(Default) rule may be updated (O(fixed_rate), O(reservoir_size), tags) but never deleted.
  - All input is validated before any call to AWS.
  - With O(ownership_tags), a rule that exists without all of them is someone else's and is neither changed nor
    deleted (see the options). The built-in V(Default) rule belongs to the account; manage it without
    O(ownership_tags) (with them it fails like any rule that is not ours, unless O(adopt=true)).
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  state:
    description:
      - Whether the rule should exist.
    type: str
    choices: [present, absent]
    default: present
  rule_name:
    description:
      - The name of the sampling rule, 1 to 32 characters.
      - V(Default) is X-Ray's built-in rule; it can be updated but not deleted.
    type: str
    required: true
    aliases: [name]
  priority:
    description:
      - The priority of the rule, 1 to 9999; rules are evaluated in ascending order.
      - Required to create a rule.
    type: int
  fixed_rate:
    description:
      - The fraction of matching requests to sample after the reservoir is used, 0 to 1.
      - Required to create a rule.
    type: float
  reservoir_size:
    description:
      - The number of matching requests per second to sample before O(fixed_rate) applies, 0 or more.
      - Required to create a rule.
    type: int
  resource_arn:
    description:
      - Matches the ARN of the AWS resource on which the service runs (at most 500 characters).
      - Defaults to V(*) when the rule is created; left unchanged otherwise.
    type: str
  service_name:
    description:
      - Matches the C(name) that the service uses to identify itself in segments (at most 64 characters).
      - Defaults to V(*) when the rule is created; left unchanged otherwise.
    type: str
  service_type:
    description:
      - Matches the C(origin) of the service, for example V(AWS::EKS::Container) (at most 64 characters).
      - Defaults to V(*) when the rule is created; left unchanged otherwise.
    type: str
  host:
    description:
      - Matches the hostname from a request URL (at most 64 characters).
      - Defaults to V(*) when the rule is created; left unchanged otherwise.
    type: str
  http_method:
    description:
      - Matches the HTTP method of a request (at most 10 characters).
      - Defaults to V(*) when the rule is created; left unchanged otherwise.
    type: str
  url_path:
    description:
      - Matches the path from a request URL (at most 128 characters).
      - Defaults to V(*) when the rule is created; left unchanged otherwise.
    type: str
  version:
    description:
      - The version of the sampling rule format. X-Ray knows V(1) only; any other value is refused before any call.
      - Defaults to V(1) when the rule is created.
    type: int
  attributes:
    description:
      - Matches attributes derived from the request, at most 5 entries; keys and values 1 to 32 characters.
      - The map replaces the rule's attributes; V({}) removes them all. Left unchanged when not set.
    type: dict
  sampling_rate_boost:
    description:
      - Lets X-Ray raise the sampling rate of the rule for a while when it sees anomalies (errors, high latency)
        in the sampled traffic (C(SamplingRateBoost)).
      - Compared and updated as a whole. X-Ray's C(UpdateSamplingRule) cannot remove a boost; recreate the rule to
        drop it. Not available on the built-in V(Default) rule.
    type: dict
    suboptions:
      max_rate:
        description:
          - The highest temporary sampling rate a boost may apply, 0 to 1.
        type: float
        required: true
      cooldown_window_minutes:
        description:
          - The window, in minutes (0 or more), in which at most one boost is triggered.
        type: int
        required: true
extends_documentation_fragment:
  - tracing.xray.ownership
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.check_diff
notes:
  - Supports C(check_mode) (reports what would change without calling a mutating API) and C(diff).
  - A run that changes nothing makes two API calls (C(GetSamplingRules) and C(ListTagsForResource)).
  - Tag keys starting with V(aws:) are reserved by AWS and refused.
seealso:
  - module: tracing.xray.xray_sampling_rule_info
  - name: X-Ray sampling rules
    description: Configuring sampling rules.
    link: https://docs.aws.amazon.com/xray/latest/devguide/xray-console-sampling.html
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Sample every request of the back end's checkout path
  tracing.xray.xray_sampling_rule:
    rule_name: back-end-checkout
    priority: 100
    fixed_rate: 1.0
    reservoir_size: 5
    service_name: back-end
    url_path: /checkout*
    http_method: POST
    attributes:
      tier: gold
    tags:
      managed-by: tracing.xray

- name: Lower the rate of the rule (every other field stays as it is)
  tracing.xray.xray_sampling_rule:
    rule_name: back-end-checkout
    fixed_rate: 0.25

- name: Sample up to half of the checkout requests for a while when X-Ray sees anomalies, at most once in 10 minutes
  tracing.xray.xray_sampling_rule:
    rule_name: back-end-checkout
    sampling_rate_boost:
      max_rate: 0.5
      cooldown_window_minutes: 10

- name: Tune the built-in default rule
  tracing.xray.xray_sampling_rule:
    rule_name: Default
    fixed_rate: 0.1
    reservoir_size: 2

- name: Delete the rule
  tracing.xray.xray_sampling_rule:
    rule_name: back-end-checkout
    state: absent

- name: Take over a rule someone else created (its tags are replaced by these)
  tracing.xray.xray_sampling_rule:
    rule_name: back-end-all
    priority: 100
    fixed_rate: 1.0
    reservoir_size: 5
    tags: {}
    ownership_tags:
      managed-by: tracing.xray
    adopt: true
"""

RETURN = r"""
owned:
  description:
    - Whether the rule carries all O(ownership_tags) after the task (V(true) for a rule created or adopted, or deleted
      as ours; always V(true) for an existing rule without O(ownership_tags)).
    - V(false) when the rule does not exist, or when O(state=absent) left a rule that is not ours.
  returned: always
  type: bool
  sample: true
sampling_rule:
  description:
    - The rule after the task (in check mode, what it would be).
    - Empty when O(state=absent) deleted the rule or found none; the rule as it is when O(state=absent) left a rule
      that is not ours.
  returned: always
  type: dict
  contains:
    rule_name:
      description: The name of the rule.
      returned: when the rule exists
      type: str
      sample: back-end-checkout
    rule_arn:
      description: The ARN of the rule (not known in check mode for a rule that would be created).
      returned: when the rule exists
      type: str
      sample: arn:aws:xray:eu-west-1:123456789012:sampling-rule/back-end-checkout
    resource_arn:
      description: The resource ARN the rule matches.
      returned: when the rule exists
      type: str
      sample: "*"
    priority:
      description: The priority of the rule.
      returned: when the rule exists
      type: int
      sample: 100
    fixed_rate:
      description: The fixed sampling rate.
      returned: when the rule exists
      type: float
      sample: 0.25
    reservoir_size:
      description: The reservoir size.
      returned: when the rule exists
      type: int
      sample: 5
    service_name:
      description: The service name the rule matches.
      returned: when the rule exists
      type: str
      sample: back-end
    service_type:
      description: The service type the rule matches.
      returned: when the rule exists
      type: str
      sample: "*"
    host:
      description: The host the rule matches.
      returned: when the rule exists
      type: str
      sample: "*"
    http_method:
      description: The HTTP method the rule matches.
      returned: when the rule exists
      type: str
      sample: POST
    url_path:
      description: The URL path the rule matches.
      returned: when the rule exists
      type: str
      sample: /checkout*
    version:
      description: The version of the rule format.
      returned: when the rule exists
      type: int
      sample: 1
    attributes:
      description: The request attributes the rule matches (keys as given, not converted).
      returned: when the rule exists
      type: dict
      sample: {"tier": "gold"}
    sampling_rate_boost:
      description: The rule's sampling rate boost.
      returned: when the rule has one
      type: dict
      contains:
        max_rate:
          description: The highest temporary sampling rate.
          returned: always
          type: float
          sample: 0.5
        cooldown_window_minutes:
          description: The window in which at most one boost is triggered.
          returned: always
          type: int
          sample: 10
    created_at:
      description: When the rule was created (ISO 8601).
      returned: when the rule exists and X-Ray reports it
      type: str
      sample: "2026-11-21T19:40:00+00:00"
    modified_at:
      description: When the rule was last modified (ISO 8601).
      returned: when the rule exists and X-Ray reports it
      type: str
      sample: "2026-11-21T19:45:00+00:00"
    tags:
      description: The tags of the rule.
      returned: when the rule exists
      type: dict
      sample: {"managed-by": "tracing.xray"}
"""

import copy

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule


from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.aws import create_or_reread
from ansible_collections.tracing.xray.plugins.module_utils.ownership import OWNERSHIP_OPTIONS
from ansible_collections.tracing.xray.plugins.module_utils.ownership import adopt_entry
from ansible_collections.tracing.xray.plugins.module_utils.ownership import check_absent
from ansible_collections.tracing.xray.plugins.module_utils.ownership import check_present
from ansible_collections.tracing.xray.plugins.module_utils.ownership import desired_tags
from ansible_collections.tracing.xray.plugins.module_utils.ownership import ownership_tag_changes
from ansible_collections.tracing.xray.plugins.module_utils.ownership import tags_after
from ansible_collections.tracing.xray.plugins.module_utils.xray import apply_tag_changes
from ansible_collections.tracing.xray.plugins.module_utils.xray import boto3_tags
from ansible_collections.tracing.xray.plugins.module_utils.xray import delete_if_present
from ansible_collections.tracing.xray.plugins.module_utils.xray import exit_with_diff
from ansible_collections.tracing.xray.plugins.module_utils.xray import get_sampling_rule
from ansible_collections.tracing.xray.plugins.module_utils.xray import list_tags
from ansible_collections.tracing.xray.plugins.module_utils.xray import normalize_sampling_rule
from ansible_collections.tracing.xray.plugins.module_utils.xray import rule_values_equal
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import RULE_CREATE_REQUIRED
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import RULE_FIELDS
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import RULE_VERSION
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import XRAY_DEFAULT_RULE
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import sampling_rule_problems
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import validate_tags

KIND = "XRaySamplingRule"

MATCH_DEFAULTS = {
    "resource_arn": "*",
    "service_name": "*",
    "service_type": "*",
    "host": "*",
    "http_method": "*",
    "url_path": "*",
    "version": RULE_VERSION,
}


def validate_params(module):
    """Refuse bad input before any AWS call; messages name the field and what is allowed."""
    params = module.params
    problems = sampling_rule_problems(params)
    problem = validate_tags(params["ownership_tags"], "ownership_tags") or validate_tags(desired_tags(params), "tags and ownership_tags together")
    if problem:
        problems.append(problem)
    if problems:
        module.fail_json(msg=problems[0])


def _option_value(params, option):
    value = params[option]
    if option == "attributes" and value is not None:
        return {str(k): str(v) for k, v in value.items()}
    if option == "fixed_rate" and value is not None:
        return float(value)
    if option == "sampling_rate_boost" and value is not None:
        return {"MaxRate": float(value["max_rate"]), "CooldownWindowMinutes": int(value["cooldown_window_minutes"])}
    return value


def create_rule(module, client):
    """CreateSamplingRule; returns (record, tags, None), or (None, None, the existing record) when another run created
    it first."""
    params = module.params
    missing = [option for option in RULE_CREATE_REQUIRED if params[option] is None]
    if missing:
        module.fail_json(
            msg=f"{', '.join(missing)} must be set to create sampling rule {params['rule_name']!r} (it does not exist yet)"
        )
    rule = {"RuleName": params["rule_name"]}
    for option, field in RULE_FIELDS.items():
        value = _option_value(params, option)
        if value is None:
            value = MATCH_DEFAULTS.get(option)
        if value is not None:
            rule[field] = value
    tags = desired_tags(params)
    if module.check_mode:
        return {"SamplingRule": rule}, tags, None
    request = {"SamplingRule": rule}
    if tags:
        request["Tags"] = boto3_tags(tags)
    try:
        # Another run may create the rule between our read and this call: then continue with that rule.
        record, existing = create_or_reread(lambda: client.create_sampling_rule(aws_retry=True, **request)["SamplingRuleRecord"],
                                            lambda: get_sampling_rule(client, rule_name=params["rule_name"]))
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to create X-Ray sampling rule {params['rule_name']!r}")
    return record, tags, existing


def update_rule(module, client, current, current_tags):
    """Apply what differs; returns (changed, record after, tags after)."""
    params = module.params
    rule = current.get("SamplingRule", {})
    version = params["version"]
    if version is not None and rule.get("Version") is not None and version != rule.get("Version"):
        module.fail_json(
            msg=f"version={version} differs from the rule's version {rule.get('Version')}: X-Ray cannot change the "
            "version of an existing sampling rule (delete and recreate the rule)"
        )
    update = {}
    for option, field in RULE_FIELDS.items():
        if option == "version":
            continue
        value = _option_value(params, option)
        if value is not None and not rule_values_equal(field, rule.get(field), value):
            update[field] = value
    to_set, to_remove = ownership_tag_changes(params, current_tags)

    changed = bool(update or to_set or to_remove)
    record = copy.deepcopy(current)
    record["SamplingRule"] = dict(rule, **update)
    tags = tags_after(current_tags, to_set, to_remove)
    if not changed or module.check_mode:
        return changed, record, tags

    try:
        if update:
            record = client.update_sampling_rule(
                aws_retry=True, SamplingRuleUpdate=dict(update, RuleName=params["rule_name"])
            )["SamplingRuleRecord"]
        apply_tag_changes(client, rule["RuleARN"], to_set, to_remove)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to update X-Ray sampling rule {params['rule_name']!r}")
    return changed, record, tags


def main():
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        rule_name=dict(type="str", required=True, aliases=["name"]),
        priority=dict(type="int"),
        fixed_rate=dict(type="float"),
        reservoir_size=dict(type="int"),
        resource_arn=dict(type="str"),
        service_name=dict(type="str"),
        service_type=dict(type="str"),
        host=dict(type="str"),
        http_method=dict(type="str"),
        url_path=dict(type="str"),
        version=dict(type="int"),
        attributes=dict(type="dict"),
        sampling_rate_boost=dict(
            type="dict",
            options=dict(
                max_rate=dict(type="float", required=True),
                cooldown_window_minutes=dict(type="int", required=True),
            ),
        ),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        **OWNERSHIP_OPTIONS,
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate_params(module)

    client = xray_client(module)
    name = module.params["rule_name"]
    try:
        current = get_sampling_rule(client, rule_name=name)
        current_tags = list_tags(client, current["SamplingRule"]["RuleARN"]) if current else {}
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to read X-Ray sampling rule {name!r}")

    before = normalize_sampling_rule(current, current_tags)
    if module.params["state"] == "absent":
        arn = current["SamplingRule"].get("RuleARN") if current else None
        if current is not None and not check_absent(module, KIND, name, current_tags, arn=arn):
            exit_with_diff(module, before, before, changed=False, owned=False, sampling_rule=before)
        changed = current is not None
        if changed:
            delete_if_present(module, client.delete_sampling_rule, f"Failed to delete X-Ray sampling rule {name!r}", RuleName=name)
        exit_with_diff(module, before, {}, changed=changed, owned=changed, sampling_rule={})

    if current is None:
        if name == XRAY_DEFAULT_RULE:
            module.fail_json(msg="rule_name='Default': X-Ray's built-in Default sampling rule was not found at this endpoint")
        record, tags, current = create_rule(module, client)
        changed = current is None
        if current is not None:
            try:
                current_tags = list_tags(client, current["SamplingRule"]["RuleARN"])
            except (BotoCoreError, ClientError) as e:
                module.fail_json_aws(e, msg=f"Failed to read X-Ray sampling rule {name!r}")
    if current is not None:
        check_present(module, KIND, name, current_tags, arn=current["SamplingRule"].get("RuleARN"), adopt_hint=adopt_entry(KIND, name))
        changed, record, tags = update_rule(module, client, current, current_tags)
    after = normalize_sampling_rule(record, tags)
    exit_with_diff(module, before, after, changed=changed, owned=True, sampling_rule=after)


if __name__ == "__main__":
    main()
