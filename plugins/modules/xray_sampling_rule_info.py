#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_sampling_rule_info
version_added: 0.1.0
short_description: Read AWS X-Ray sampling rules
description:
  - Read every AWS X-Ray sampling rule of the account and region (all pages), or one rule by name.
  - Each rule is returned with its tags unless O(include_tags=false).
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  rule_name:
    description:
      - The name of the rule to read. When not set, every rule is returned (the built-in V(Default) rule included).
    type: str
    aliases: [name]
  match_tags:
    description:
      - Only return the rules that carry every one of these tags (same key and value), for example
        the tag C(managed-by=tracing.xray) that this collection puts on what it creates.
      - Needs the tags, so it cannot be combined with O(include_tags=false).
    type: dict
  include_tags:
    description:
      - Whether to read the tags of each rule (one C(ListTagsForResource) call per rule).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.info_module
notes:
  - A rule that does not exist gives an empty RV(sampling_rules) list, not a failure.
seealso:
  - module: tracing.xray.xray_sampling_rule
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Every sampling rule, in priority order
  tracing.xray.xray_sampling_rule_info:
  register: rules

- name: Show their names
  ansible.builtin.debug:
    msg: "{{ rules.sampling_rules | map(attribute='rule_name') }}"

- name: One rule
  tracing.xray.xray_sampling_rule_info:
    rule_name: back-end-checkout
    include_tags: false
"""

RETURN = r"""
sampling_rules:
  description: The rules found, sorted by priority then name (one or none when O(rule_name) is given).
  returned: always
  type: list
  elements: dict
  contains:
    rule_name:
      description: The name of the rule.
      returned: always
      type: str
      sample: back-end-checkout
    rule_arn:
      description: The ARN of the rule.
      returned: always
      type: str
      sample: arn:aws:xray:eu-west-1:123456789012:sampling-rule/back-end-checkout
    resource_arn:
      description: The resource ARN the rule matches.
      returned: always
      type: str
      sample: "*"
    priority:
      description: The priority of the rule (V(10000) for the built-in V(Default) rule).
      returned: always
      type: int
      sample: 100
    fixed_rate:
      description: The fixed sampling rate.
      returned: always
      type: float
      sample: 0.25
    reservoir_size:
      description: The reservoir size.
      returned: always
      type: int
      sample: 5
    service_name:
      description: The service name the rule matches.
      returned: always
      type: str
      sample: back-end
    service_type:
      description: The service type the rule matches.
      returned: always
      type: str
      sample: "*"
    host:
      description: The host the rule matches.
      returned: always
      type: str
      sample: "*"
    http_method:
      description: The HTTP method the rule matches.
      returned: always
      type: str
      sample: POST
    url_path:
      description: The URL path the rule matches.
      returned: always
      type: str
      sample: /checkout*
    version:
      description: The version of the rule format.
      returned: always
      type: int
      sample: 1
    attributes:
      description: The request attributes the rule matches.
      returned: always
      type: dict
      sample: {"tier": "gold"}
    sampling_rate_boost:
      description: The rule's sampling rate boost (C(max_rate), C(cooldown_window_minutes)).
      returned: when the rule has one
      type: dict
      sample: {"max_rate": 0.5, "cooldown_window_minutes": 10}
    created_at:
      description: When the rule was created (ISO 8601).
      returned: when X-Ray reports it
      type: str
      sample: "2026-11-21T19:40:00+00:00"
    modified_at:
      description: When the rule was last modified (ISO 8601).
      returned: when X-Ray reports it
      type: str
      sample: "2026-11-21T19:45:00+00:00"
    tags:
      description: The tags of the rule (empty when O(include_tags=false)).
      returned: always
      type: dict
      sample: {"managed-by": "tracing.xray"}
"""

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule


from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.ownership import is_owned
from ansible_collections.tracing.xray.plugins.module_utils.xray import list_sampling_rules
from ansible_collections.tracing.xray.plugins.module_utils.xray import list_tags_if_supported
from ansible_collections.tracing.xray.plugins.module_utils.xray import normalize_sampling_rule
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client


def main():
    argument_spec = dict(
        rule_name=dict(type="str", aliases=["name"]),
        include_tags=dict(type="bool", default=True),
        match_tags=dict(type="dict"),
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    name = module.params["rule_name"]
    match_tags = module.params["match_tags"]
    if name == "":
        module.fail_json(msg="rule_name must not be empty: leave it unset to list every rule")
    if match_tags is not None and not module.params["include_tags"]:
        module.fail_json(msg="match_tags needs the tags of each rule: remove include_tags=false or match_tags")

    client = xray_client(module)
    try:
        records = [
            record
            for record in list_sampling_rules(client)
            if name is None or record.get("SamplingRule", {}).get("RuleName") == name
        ]
        rules = [
            normalize_sampling_rule(record, list_tags_if_supported(client, record["SamplingRule"]["RuleARN"]) if module.params["include_tags"] else {})
            for record in records
        ]
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to read X-Ray sampling rules")

    if match_tags is not None:
        rules = [rule for rule in rules if is_owned(rule["tags"], match_tags)]
    rules.sort(key=lambda rule: (rule.get("priority", 0), rule.get("rule_name", "")))
    module.exit_json(changed=False, sampling_rules=rules)


if __name__ == "__main__":
    main()
