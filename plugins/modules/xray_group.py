#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_group
version_added: 0.1.0
short_description: Manage AWS X-Ray groups
description:
  - Create, update and delete AWS X-Ray groups (a filter expression that selects traces, optionally
    with X-Ray Insights and Insights notifications).
  - Only what differs is updated. X-Ray's C(UpdateGroup) cannot change tags, so tags are reconciled
    with C(TagResource) and C(UntagResource).
  - A run that changes nothing makes two API calls (C(GetGroup) and C(ListTagsForResource)).
  - All input is validated before any call to AWS.
  - With O(ownership_tags), a group that exists without all of them is someone else's - another team's or another
    cluster's - and is neither changed nor deleted (see the options); without O(ownership_tags) any group of that name
    is managed.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  state:
    description:
      - Whether the group should exist.
    type: str
    choices: [present, absent]
    default: present
  group_name:
    description:
      - The case-sensitive name of the group, 1 to 32 characters of letters, digits, V(_), V(.) and V(-) (X-Ray refuses
        others, spaces included).
      - V(Default) is reserved for X-Ray's default group and is refused.
    type: str
    required: true
    aliases: [name]
  filter_expression:
    description:
      - The filter expression that selects the traces of the group, for example V(responsetime > 1)
        or V(error = true OR fault = true).
      - When not set, the filter expression of an existing group is left unchanged.
    type: str
  insights_enabled:
    description:
      - Whether X-Ray Insights is enabled for the group.
      - When not set, an existing group keeps its setting; a new group gets X-Ray's default (disabled).
      - Disabling Insights also disables Insights notifications.
    type: bool
  notifications_enabled:
    description:
      - Whether X-Ray sends Insights notifications (through Amazon EventBridge) for the group.
      - Only valid together with O(insights_enabled=true) in the same task, because X-Ray sends
        notifications only for groups with Insights enabled.
      - When not set, an existing group keeps its setting.
    type: bool
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
  - Tag keys starting with V(aws:) are reserved by AWS and refused.
seealso:
  - module: tracing.xray.xray_group_info
  - name: X-Ray groups
    description: Configuring groups in the X-Ray console and API.
    link: https://docs.aws.amazon.com/xray/latest/devguide/xray-console-groups.html
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: A group of the front end's slow requests, with Insights and notifications
  tracing.xray.xray_group:
    group_name: front-end-slow
    filter_expression: service("front-end") AND responsetime > 1
    insights_enabled: true
    notifications_enabled: true
    tags:
      managed-by: tracing.xray

- name: Change only the filter expression (Insights and tags stay as they are)
  tracing.xray.xray_group:
    group_name: front-end-slow
    filter_expression: service("front-end") AND responsetime > 2

- name: Add a tag and keep the others
  tracing.xray.xray_group:
    group_name: front-end-slow
    tags:
      team: payments
    purge_tags: false

- name: Delete the group
  tracing.xray.xray_group:
    group_name: front-end-slow
    state: absent

- name: A group of this cluster; fails if a group of that name exists without these tags (someone else's)
  tracing.xray.xray_group:
    group_name: front-end-errors
    filter_expression: error = true OR fault = true
    ownership_tags:
      managed-by: tracing.xray
      tracing.xray/cluster: cluster-a

- name: Delete it only when it is ours (another owner's group is left, with a warning)
  tracing.xray.xray_group:
    group_name: front-end-errors
    state: absent
    ownership_tags:
      managed-by: tracing.xray
      tracing.xray/cluster: cluster-a

- name: Against a local endpoint (for example the tracing.xray sandbox)
  tracing.xray.xray_group:
    group_name: errors
    filter_expression: error = true OR fault = true
    endpoint_url: http://127.0.0.1:5000
    region: eu-west-1
"""

RETURN = r"""
owned:
  description:
    - Whether the group carries all O(ownership_tags) after the task (V(true) for a group created or adopted, or
      deleted as ours; always V(true) for an existing group without O(ownership_tags)).
    - V(false) when the group does not exist, or when O(state=absent) left a group that is not ours.
  returned: always
  type: bool
  sample: true
group:
  description:
    - The group after the task (in check mode, what it would be).
    - Empty when O(state=absent) deleted the group or found none; the group as it is when O(state=absent) left
      a group that is not ours.
  returned: always
  type: dict
  contains:
    group_name:
      description: The name of the group.
      returned: when the group exists
      type: str
      sample: front-end-slow
    group_arn:
      description: The ARN of the group (not known in check mode for a group that would be created).
      returned: when the group exists
      type: str
      sample: arn:aws:xray:eu-west-1:123456789012:group/front-end-slow/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567
    filter_expression:
      description: The filter expression of the group.
      returned: when the group exists
      type: str
      sample: service("front-end") AND responsetime > 1
    insights_configuration:
      description: The Insights configuration of the group.
      returned: when the group exists
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
      description: The tags of the group.
      returned: when the group exists
      type: dict
      sample: {"managed-by": "tracing.xray"}
"""

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
from ansible_collections.tracing.xray.plugins.module_utils.xray import get_group
from ansible_collections.tracing.xray.plugins.module_utils.xray import group_insights
from ansible_collections.tracing.xray.plugins.module_utils.xray import list_tags
from ansible_collections.tracing.xray.plugins.module_utils.xray import normalize_group
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import group_problems
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import validate_tags

KIND = "XRayGroup"


def validate_params(module):
    """Refuse bad input before any AWS call; messages name the field and what is allowed."""
    params = module.params
    problems = group_problems(params)
    problem = validate_tags(params["ownership_tags"], "ownership_tags") or validate_tags(desired_tags(params), "tags and ownership_tags together")
    if problem:
        problems.append(problem)
    if problems:
        module.fail_json(msg=problems[0])


def desired_insights(module, current):
    """The (insights_enabled, notifications_enabled) the group should have."""
    insights_enabled, notifications_enabled = group_insights(current)
    if module.params["insights_enabled"] is not None:
        insights_enabled = module.params["insights_enabled"]
    if module.params["notifications_enabled"] is not None:
        notifications_enabled = module.params["notifications_enabled"]
    if not insights_enabled:
        notifications_enabled = False
    return insights_enabled, notifications_enabled


def create_group(module, client):
    """CreateGroup; returns (group, tags, None), or (None, None, the existing group) when another run created it first."""
    params = module.params
    request = {"GroupName": params["group_name"]}
    if params["filter_expression"] is not None:
        request["FilterExpression"] = params["filter_expression"]
    if params["insights_enabled"] is not None or params["notifications_enabled"] is not None:
        insights_enabled, notifications_enabled = desired_insights(module, None)
        request["InsightsConfiguration"] = {
            "InsightsEnabled": insights_enabled,
            "NotificationsEnabled": notifications_enabled,
        }
    tags = desired_tags(params)
    if module.check_mode:
        return dict(request, GroupARN=None), tags, None
    if tags:
        request["Tags"] = boto3_tags(tags)
    try:
        # Another run may create the group between our read and this call: then continue with that group.
        group, existing = create_or_reread(lambda: client.create_group(aws_retry=True, **request)["Group"],
                                           lambda: get_group(client, group_name=params["group_name"]))
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to create X-Ray group {params['group_name']!r}")
    return group, tags, existing


def update_group(module, client, current, current_tags):
    """Apply what differs; returns (changed, group after, tags after)."""
    params = module.params
    update = {}
    if params["filter_expression"] is not None and params["filter_expression"] != current.get("FilterExpression"):
        update["FilterExpression"] = params["filter_expression"]
    wanted = desired_insights(module, current)
    if wanted != group_insights(current):
        update["InsightsConfiguration"] = {"InsightsEnabled": wanted[0], "NotificationsEnabled": wanted[1]}
    to_set, to_remove = ownership_tag_changes(params, current_tags)

    changed = bool(update or to_set or to_remove)
    group = dict(current, **update)
    tags = tags_after(current_tags, to_set, to_remove)
    if not changed or module.check_mode:
        return changed, group, tags

    arn = current["GroupARN"]
    try:
        if update:
            group = client.update_group(aws_retry=True, GroupARN=arn, **update)["Group"]
        apply_tag_changes(client, arn, to_set, to_remove)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to update X-Ray group {params['group_name']!r}")
    return changed, group, tags


def main():
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        group_name=dict(type="str", required=True, aliases=["name"]),
        filter_expression=dict(type="str"),
        insights_enabled=dict(type="bool"),
        notifications_enabled=dict(type="bool"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        **OWNERSHIP_OPTIONS,
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate_params(module)

    client = xray_client(module)
    name = module.params["group_name"]
    try:
        current = get_group(client, group_name=name)
        current_tags = list_tags(client, current["GroupARN"]) if current else {}
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to read X-Ray group {name!r}")

    before = normalize_group(current, current_tags)
    if module.params["state"] == "absent":
        if current is not None and not check_absent(module, KIND, name, current_tags, arn=current["GroupARN"]):
            exit_with_diff(module, before, before, changed=False, owned=False, group=before)
        changed = current is not None
        if changed:
            delete_if_present(module, client.delete_group, f"Failed to delete X-Ray group {name!r}", GroupARN=current["GroupARN"])
        exit_with_diff(module, before, {}, changed=changed, owned=changed, group={})

    if current is None:
        group, tags, current = create_group(module, client)
        changed = current is None
        if current is not None:
            try:
                current_tags = list_tags(client, current["GroupARN"])
            except (BotoCoreError, ClientError) as e:
                module.fail_json_aws(e, msg=f"Failed to read X-Ray group {name!r}")
    if current is not None:
        check_present(module, KIND, name, current_tags, arn=current["GroupARN"], adopt_hint=adopt_entry(KIND, name))
        changed, group, tags = update_group(module, client, current, current_tags)
    after = normalize_group(group, tags)
    exit_with_diff(module, before, after, changed=changed, owned=True, group=after)


if __name__ == "__main__":
    main()
