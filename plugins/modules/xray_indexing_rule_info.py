#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_indexing_rule_info
version_added: 0.1.0
short_description: Read the AWS X-Ray indexing rules (Transaction Search)
description:
  - Returns the X-Ray indexing rules (C(GetIndexingRules), all pages), or one of them by name, and the trace segment
    destination (C(GetTraceSegmentDestination)) they apply to.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  name:
    description:
      - Only the rule of this name (an empty list when there is none).
    type: str
    aliases: [rule_name]
  include_destination:
    description:
      - Also read the trace segment destination; the indexing rules only matter with V(CloudWatchLogs).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.info_module
notes:
  - Permissions - C(xray:GetIndexingRules), and C(xray:GetTraceSegmentDestination) with O(include_destination=true).
seealso:
  - module: tracing.xray.xray_indexing_rule
  - module: tracing.xray.xray_trace_segment_destination
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Read the indexing rules and the destination
  tracing.xray.xray_indexing_rule_info:
  register: indexing

- name: Say whether Transaction Search is on
  ansible.builtin.debug:
    msg: >-
      {{ indexing.trace_segment_destination.destination }}:
      {{ indexing.indexing_rules | map(attribute='desired_sampling_percentage') | first }} % indexed
"""

RETURN = r"""
indexing_rules:
  description: The indexing rules.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The rule's name.
      returned: always
      type: str
      sample: Default
    desired_sampling_percentage:
      description: The configured percentage of trace IDs to index.
      returned: always
      type: float
      sample: 1.0
    actual_sampling_percentage:
      description: The percentage X-Ray applies.
      returned: always
      type: float
      sample: 1.0
    modified_at:
      description: When the rule was last modified (ISO 8601).
      returned: always
      type: str
      sample: "2026-11-21T19:40:00+00:00"
trace_segment_destination:
  description: The trace segment destination.
  returned: when O(include_destination=true)
  type: dict
  contains:
    destination:
      description: V(XRay) or V(CloudWatchLogs).
      returned: always
      type: str
      sample: XRay
    status:
      description: V(ACTIVE) or V(PENDING).
      returned: always
      type: str
      sample: ACTIVE
"""

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule


from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import get_destination
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import list_indexing_rules
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import normalize_destination
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import normalize_indexing_rule


def main():
    argument_spec = dict(
        name=dict(type="str", aliases=["rule_name"]),
        include_destination=dict(type="bool", default=True),
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    name = module.params["name"]
    if name == "":
        module.fail_json(msg="name must not be empty: leave it unset for every indexing rule")

    client = xray_client(module)
    try:
        rules = list_indexing_rules(client)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to read the X-Ray indexing rules (GetIndexingRules)")
    result = dict(
        changed=False,
        indexing_rules=[normalize_indexing_rule(r) for r in rules if name is None or r.get("Name") == name],
    )
    if module.params["include_destination"]:
        try:
            result["trace_segment_destination"] = normalize_destination(get_destination(client))
        except (BotoCoreError, ClientError) as e:
            module.fail_json_aws(e, msg="Failed to read the X-Ray trace segment destination (GetTraceSegmentDestination)")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
