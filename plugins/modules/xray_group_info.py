#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_group_info
version_added: 0.1.0
short_description: Read AWS X-Ray groups
description:
  - Read one AWS X-Ray group by name or ARN, or every group of the account and region (all pages).
  - Each group is returned with its tags unless O(include_tags=false).
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  group_name:
    description:
      - The name of the group to read.
      - Mutually exclusive with O(group_arn). When neither is set, every group is returned.
    type: str
    aliases: [name]
  group_arn:
    description:
      - The ARN of the group to read.
      - Mutually exclusive with O(group_name).
    type: str
  match_tags:
    description:
      - Only return the groups that carry every one of these tags (same key and value), for example
        the tag C(managed-by=tracing.xray) that this collection puts on what it creates.
      - Needs the tags, so it cannot be combined with O(include_tags=false).
    type: dict
  include_tags:
    description:
      - Whether to read the tags of each group (one C(ListTagsForResource) call per group).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.info_module
notes:
  - A group that does not exist gives an empty RV(groups) list, not a failure.
seealso:
  - module: tracing.xray.xray_group
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Every X-Ray group
  tracing.xray.xray_group_info:
  register: all_groups

- name: The groups this collection manages
  ansible.builtin.debug:
    msg: "{{ all_groups.groups | selectattr('tags.managed-by', 'defined') | map(attribute='group_name') }}"

- name: One group by name
  tracing.xray.xray_group_info:
    group_name: front-end-slow
  register: one_group
"""

RETURN = r"""
groups:
  description: The groups found (one or none when a name or ARN is given).
  returned: always
  type: list
  elements: dict
  contains:
    group_name:
      description: The name of the group.
      returned: always
      type: str
      sample: front-end-slow
    group_arn:
      description: The ARN of the group.
      returned: always
      type: str
      sample: arn:aws:xray:eu-west-1:123456789012:group/front-end-slow/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567
    filter_expression:
      description: The filter expression of the group (null for the default group).
      returned: always
      type: str
      sample: service("front-end") AND responsetime > 1
    insights_configuration:
      description: The Insights configuration of the group.
      returned: always
      type: dict
      contains:
        insights_enabled:
          description: Whether X-Ray Insights is enabled.
          returned: always
          type: bool
          sample: true
        notifications_enabled:
          description: Whether Insights notifications are enabled.
          returned: always
          type: bool
          sample: false
    tags:
      description: The tags of the group (empty when O(include_tags=false)).
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
from ansible_collections.tracing.xray.plugins.module_utils.xray import get_group
from ansible_collections.tracing.xray.plugins.module_utils.xray import list_groups
from ansible_collections.tracing.xray.plugins.module_utils.xray import list_tags_if_supported
from ansible_collections.tracing.xray.plugins.module_utils.xray import normalize_group
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client


def main():
    argument_spec = dict(
        group_name=dict(type="str", aliases=["name"]),
        group_arn=dict(type="str"),
        include_tags=dict(type="bool", default=True),
        match_tags=dict(type="dict"),
    )
    module = TracingAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("group_name", "group_arn")],
        supports_check_mode=True,
    )
    name = module.params["group_name"]
    arn = module.params["group_arn"]
    match_tags = module.params["match_tags"]
    if name == "" or arn == "":
        module.fail_json(msg="group_name and group_arn must not be empty: leave both unset to list every group")
    if match_tags is not None and not module.params["include_tags"]:
        module.fail_json(msg="match_tags needs the tags of each group: remove include_tags=false or match_tags")

    client = xray_client(module)
    try:
        if name or arn:
            group = get_group(client, group_name=name, group_arn=arn)
            found = [group] if group else []
        else:
            found = list_groups(client)
        groups = [
            normalize_group(group, list_tags_if_supported(client, group["GroupARN"]) if module.params["include_tags"] else {})
            for group in found
        ]
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to read X-Ray groups")

    if match_tags is not None:
        groups = [group for group in groups if is_owned(group["tags"], match_tags)]
    module.exit_json(changed=False, groups=groups)


if __name__ == "__main__":
    main()
