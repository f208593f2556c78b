#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_resource_policy_info
version_added: 0.1.0
short_description: Read the AWS X-Ray resource policies of an account
description:
  - Returns the X-Ray resource policies of the account and region (C(ListResourcePolicies), all pages), or only the
    one with a name, or those whose name starts with a prefix; documents are returned parsed.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  policy_name:
    description:
      - Only the policy of this name (an empty list when there is none).
      - Mutually exclusive with O(name_prefix).
    type: str
    aliases: [name]
  name_prefix:
    description:
      - Only the policies whose name starts with this prefix (the P(tracing.xray.groups#role) role's ownership marker).
      - Mutually exclusive with O(policy_name).
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.info_module
notes:
  - Permissions - C(xray:ListResourcePolicies).
seealso:
  - module: tracing.xray.xray_resource_policy
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Every X-Ray resource policy
  tracing.xray.xray_resource_policy_info:
  register: policies

- name: The policies the groups role made for one cluster
  tracing.xray.xray_resource_policy_info:
    name_prefix: tracing.xray-prod-
"""

RETURN = r"""
resource_policies:
  description: The policies, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    policy_name:
      description: The name of the policy.
      returned: always
      type: str
      sample: sns-active-tracing
    policy_document:
      description: The policy document, parsed (the text when it is not JSON).
      returned: always
      type: dict
    policy_revision_id:
      description: The current revision ID.
      returned: always
      type: str
      sample: "4"
    last_updated_time:
      description: When the policy was last written (ISO 8601).
      returned: always
      type: str
      sample: "2026-11-21T19:40:00+00:00"
"""

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule


from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import list_resource_policies
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import normalize_resource_policy


def main():
    argument_spec = dict(
        policy_name=dict(type="str", aliases=["name"]),
        name_prefix=dict(type="str"),
    )
    module = TracingAWSModule(argument_spec=argument_spec, mutually_exclusive=[("policy_name", "name_prefix")], supports_check_mode=True)
    name, prefix = module.params["policy_name"], module.params["name_prefix"]
    if name == "" or prefix == "":
        module.fail_json(msg="policy_name and name_prefix must not be empty: leave them unset for every policy")

    client = xray_client(module)
    try:
        policies = list_resource_policies(client)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to list the X-Ray resource policies (ListResourcePolicies)")
    selected = [
        p for p in policies if (name is None or p.get("PolicyName") == name) and (prefix is None or str(p.get("PolicyName", "")).startswith(prefix))
    ]
    selected.sort(key=lambda p: str(p.get("PolicyName")))
    module.exit_json(changed=False, resource_policies=[normalize_resource_policy(p) for p in selected])


if __name__ == "__main__":
    main()
