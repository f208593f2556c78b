#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_indexing_rule
version_added: 0.1.0
short_description: Set the share of spans AWS X-Ray indexes under Transaction Search
description:
  - Sets the probabilistic sampling percentage of an X-Ray indexing rule (C(UpdateIndexingRule)), the share of the
    spans ingested into CloudWatch Logs (Transaction Search, see M(tracing.xray.xray_trace_segment_destination))
    that X-Ray indexes as trace summaries. Accounts have one rule, V(Default).
  - Reads the rules with C(GetIndexingRules) and updates only when the percentage differs.
  - Terraform's equivalent is C(aws_xray_indexing_rule).
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  name:
    description:
      - The indexing rule, 1 to 32 characters. X-Ray creates V(Default); rules cannot be created or deleted.
    type: str
    default: Default
    aliases: [rule_name]
  desired_sampling_percentage:
    description:
      - Percentage of trace IDs to index, 0 to 100. X-Ray's default is V(1) (free of charge); X-Ray may apply less
        to keep traces complete (see RV(indexing_rule.actual_sampling_percentage)).
    type: float
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.check_diff
notes:
  - Supports C(check_mode) and C(diff).
  - The rule is an account singleton with no O(ignore:state); V(1) is the default to return to.
  - Permissions - C(xray:GetIndexingRules), C(xray:UpdateIndexingRule).
seealso:
  - module: tracing.xray.xray_indexing_rule_info
  - module: tracing.xray.xray_trace_segment_destination
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Index 5 % of the spans as trace summaries
  tracing.xray.xray_indexing_rule:
    desired_sampling_percentage: 5

- name: Back to the free 1 %
  tracing.xray.xray_indexing_rule:
    name: Default
    desired_sampling_percentage: 1
"""

RETURN = r"""
indexing_rule:
  description: The rule after the task (in check mode, what it would be).
  returned: always
  type: dict
  contains:
    name:
      description: The rule's name.
      returned: always
      type: str
      sample: Default
    desired_sampling_percentage:
      description: The configured percentage.
      returned: always
      type: float
      sample: 5.0
    actual_sampling_percentage:
      description: The percentage X-Ray applies (null in check mode for a change).
      returned: always
      type: float
      sample: 5.0
    modified_at:
      description: When the rule was last modified (ISO 8601; null in check mode for a change).
      returned: always
      type: str
      sample: "2026-11-21T19:40:00+00:00"
"""

import math

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule


from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.xray import exit_with_diff
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import validate_name
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import INDEXING_RULE_NAME_MAX
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import list_indexing_rules
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import normalize_indexing_rule


def validate_params(module):
    params = module.params
    problem = validate_name(params["name"], "name", INDEXING_RULE_NAME_MAX)
    pct = params["desired_sampling_percentage"]
    if problem is None and (not math.isfinite(pct) or not 0 <= pct <= 100):
        problem = f"desired_sampling_percentage={pct} is out of range: X-Ray allows 0 to 100 (percent of trace IDs)"
    if problem:
        module.fail_json(msg=problem)


def main():
    argument_spec = dict(
        name=dict(type="str", default="Default", aliases=["rule_name"]),
        desired_sampling_percentage=dict(type="float", required=True),
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate_params(module)
    name = module.params["name"]
    wanted = float(module.params["desired_sampling_percentage"])

    client = xray_client(module)
    try:
        rules = list_indexing_rules(client)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to read the X-Ray indexing rules (GetIndexingRules)")
    current = next((r for r in rules if r.get("Name") == name), None)
    if current is None:
        known = ", ".join(sorted(str(r.get("Name")) for r in rules)) or "none"
        module.fail_json(msg=f"name={name!r}: X-Ray has no indexing rule of that name (rules: {known}); indexing rules cannot be created")

    before = normalize_indexing_rule(current)
    desired = before["desired_sampling_percentage"]
    changed = desired is None or not math.isclose(float(desired), wanted, rel_tol=0.0, abs_tol=1e-9)
    after = before
    if changed:
        if module.check_mode:
            after = dict(before, desired_sampling_percentage=wanted, actual_sampling_percentage=None, modified_at=None)
        else:
            try:
                response = client.update_indexing_rule(aws_retry=True, Name=name, Rule={"Probabilistic": {"DesiredSamplingPercentage": wanted}})
            except (BotoCoreError, ClientError) as e:
                module.fail_json_aws(e, msg=f"Failed to set X-Ray indexing rule {name!r} to {wanted} %")
            after = normalize_indexing_rule(response.get("IndexingRule")) or dict(before, desired_sampling_percentage=wanted)

    exit_with_diff(
        module,
        {"name": name, "desired_sampling_percentage": desired},
        {"name": name, "desired_sampling_percentage": after.get("desired_sampling_percentage")},
        changed=changed,
        indexing_rule=after,
    )


if __name__ == "__main__":
    main()
