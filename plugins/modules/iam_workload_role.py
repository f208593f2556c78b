#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_workload_role
version_added: 0.2.0
short_description: Manage the IAM role a Kubernetes workload assumes (IRSA or EKS Pod Identity), safely
description:
  - Creates, updates and deletes one IAM role with its trust policy, managed policies, permissions boundary
    and tags, for a workload that assumes it through IRSA or EKS Pod Identity.
  - Every managed policy in O(managed_policy_arns) must exist; the module checks that first, so a typo
    never leaves an existing role with its working policies detached. New policies are attached before
    policies that are no longer wanted are detached.
  - With O(ownership_tags), an existing role that lacks any of those tags is neither changed nor deleted.
    O(state=present) then fails before any change, naming the role, its tags and the way out
    (another name, or O(adopt)); O(state=absent) leaves it in place, warns and returns RV(owned=false).
  - A role that carries C(managed-by=tracing.xray) but none of the other ownership tag keys, and already has the
    trust policy asked for, was made by an older release of this collection for the same workload; it counts as
    owned and receives the missing tags. On O(state=absent) such a role is not recognised (no trust policy is
    given) and is left in place with a warning.
  - Idempotent; supports check mode and diff mode. Unlike C(amazon.aws.iam_role) it manages no instance
    profiles and emits no deprecation warning.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  name:
    description: The role name.
    type: str
    required: true
  state:
    description: Whether the role should exist.
    type: str
    choices: [present, absent]
    default: present
  path:
    description:
      - The role path. IAM cannot change the path of an existing role; a different path is reported as an error.
    type: str
    default: /
  description:
    description: The role description.
    type: str
  assume_role_policy_document:
    description: The trust policy, as JSON text or a dict. Required with O(state=present).
    type: json
  managed_policy_arns:
    description: ARNs of the managed policies the role should have.
    type: list
    elements: str
    default: []
  purge_policies:
    description: Detach managed policies that are not in O(managed_policy_arns).
    type: bool
    default: true
  boundary:
    description: ARN of the permissions boundary. Empty removes one that is set.
    type: str
  tags:
    description: Tags of the role (besides O(ownership_tags)).
    type: dict
  purge_tags:
    description: Remove tags that are neither in O(tags) nor in O(ownership_tags).
    type: bool
    default: true
  ownership_tags:
    description:
      - Tags that mark the role as this caller's. See the module description.
    type: dict
  adopt:
    description:
      - Take over an existing role that lacks O(ownership_tags) (it then receives them).
    type: bool
    default: false
  adopt_hint:
    description:
      - The C(xray_adopt) entry of the roles that opts in to O(adopt) (C(IAMRole/<name>)), quoted in the refusal message.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.check_diff
"""

EXAMPLES = r"""
- name: The X-Ray daemon's role for IRSA
  tracing.xray.iam_workload_role:
    name: xray-daemon-demo
    assume_role_policy_document: "{{ trust_policy }}"
    managed_policy_arns: [arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess]
    ownership_tags: {managed-by: tracing.xray, tracing.xray/cluster: demo, tracing.xray/region: eu-west-1}
"""

RETURN = r"""
iam_role:
  description: The role after the run (the predicted role in check mode); empty when absent.
  returned: always
  type: dict
  contains:
    arn: {description: Role ARN., type: str, returned: when the role exists}
    role_name: {description: Role name., type: str, returned: when the role exists}
    path: {description: Role path., type: str, returned: when the role exists}
    description: {description: Role description., type: str, returned: when the role exists}
    assume_role_policy_document: {description: The trust policy., type: dict, returned: when the role exists}
    managed_policy_arns: {description: Attached managed policies in sorted order., type: list, elements: str, returned: when the role exists}
    boundary: {description: Permissions boundary ARN or empty., type: str, returned: when the role exists}
    tags: {description: Tags., type: dict, returned: when the role exists}
owned:
  description: Whether the role carries every O(ownership_tags) (always true without them, or once adopted).
  returned: when the role exists
  type: bool
in_sync:
  description:
    - Whether there was nothing to do (O(state=present) the role exists, is ours and matches; O(state=absent) it is gone
      or not ours). Also in check mode, so a run can check first and skip the real call when nothing would change.
  returned: always
  type: bool
  version_added: 0.2.0
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry
from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.aws import create_or_reread
from ansible_collections.tracing.xray.plugins.module_utils.ownership import OWNERSHIP_OPTIONS
from ansible_collections.tracing.xray.plugins.module_utils.ownership import is_owned
from ansible_collections.tracing.xray.plugins.module_utils.ownership import not_deleting_message
from ansible_collections.tracing.xray.plugins.module_utils.ownership import refusal_message


def read_role(client, name):
    """The role as this module describes it, or None."""
    try:
        role = client.get_role(RoleName=name, aws_retry=True)["Role"]
    except is_boto3_error_code("NoSuchEntity"):
        return None
    policy = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(policy, str):
        policy = json.loads(policy)
    paginator = client.get_paginator("list_attached_role_policies")
    attached = aws_retry()(lambda: paginator.paginate(RoleName=name).build_full_result())()
    return dict(
        arn=role["Arn"],
        role_name=role["RoleName"],
        path=role.get("Path", "/"),
        description=role.get("Description", ""),
        assume_role_policy_document=policy,
        managed_policy_arns=sorted(p["PolicyArn"] for p in attached.get("AttachedPolicies", [])),
        boundary=(role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn", ""),
        tags=boto3_tag_list_to_ansible_dict(role.get("Tags") or []),
    )


def missing_policies(client, arns):
    """The ARNs of ``arns`` that name no managed policy."""
    missing = []
    for arn in arns:
        try:
            client.get_policy(PolicyArn=arn, aws_retry=True)
        except is_boto3_error_code("NoSuchEntity"):
            missing.append(arn)
    return missing


def legacy_owned(current, ownership, trust_policy):
    """Made by an older release for this same workload: ``managed-by=tracing.xray``, none of the other ownership
    keys, and already the trust policy asked for (same issuer, namespace and ServiceAccount). A role of an older
    release that trusts another cluster is not taken over."""
    tags = current["tags"]
    others = [key for key in ownership if key != "managed-by"]
    return (tags.get("managed-by") == "tracing.xray" == ownership.get("managed-by") and not any(k in tags for k in others)
            and trust_policy is not None and not compare_policies(current["assume_role_policy_document"], trust_policy))


def desired(params, current):
    """The role as it should be after the run."""
    tags = dict(params["tags"] or {})
    tags.update(params["ownership_tags"] or {})
    if current:
        to_set, to_unset = compare_aws_tags(current["tags"], tags, purge_tags=params["purge_tags"])
        tags = {k: v for k, v in current["tags"].items() if k not in to_unset}
        tags.update(to_set)
    policies = set(params["managed_policy_arns"])
    if current and not params["purge_policies"]:
        policies |= set(current["managed_policy_arns"])
    return dict(
        arn=(current or {}).get("arn", ""),
        role_name=params["name"],
        path=params["path"],
        description=params["description"] if params["description"] is not None else (current or {}).get("description", ""),
        assume_role_policy_document=params["assume_role_policy_document"],
        managed_policy_arns=sorted(policies),
        boundary=params["boundary"] if params["boundary"] is not None else (current or {}).get("boundary", ""),
        tags=tags,
    )


def create(client, want):
    kwargs = dict(RoleName=want["role_name"], Path=want["path"], AssumeRolePolicyDocument=json.dumps(want["assume_role_policy_document"]),
                  Description=want["description"], Tags=ansible_dict_to_boto3_tag_list(want["tags"]))
    if want["boundary"]:
        kwargs["PermissionsBoundary"] = want["boundary"]
    client.create_role(aws_retry=True, **kwargs)
    for arn in want["managed_policy_arns"]:
        client.attach_role_policy(RoleName=want["role_name"], PolicyArn=arn, aws_retry=True)


def update(client, current, want):
    """The API calls (callables, in order) that take ``current`` to ``want``; the caller runs them unless in check mode."""
    name = want["role_name"]
    calls = []
    if compare_policies(current["assume_role_policy_document"], want["assume_role_policy_document"]):
        calls.append(lambda: client.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(want["assume_role_policy_document"]),
                                                              aws_retry=True))
    if current["description"] != want["description"]:
        calls.append(lambda: client.update_role(RoleName=name, Description=want["description"], aws_retry=True))
    if current["boundary"] != want["boundary"]:
        if want["boundary"]:
            calls.append(lambda: client.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=want["boundary"], aws_retry=True))
        else:
            calls.append(lambda: client.delete_role_permissions_boundary(RoleName=name, aws_retry=True))
    to_set, to_unset = compare_aws_tags(current["tags"], want["tags"], purge_tags=True)
    if to_set:  # sorted: the same request (and diff) on every run
        calls.append(lambda: client.tag_role(RoleName=name, Tags=ansible_dict_to_boto3_tag_list(dict(sorted(to_set.items()))), aws_retry=True))
    if to_unset:
        calls.append(lambda: client.untag_role(RoleName=name, TagKeys=sorted(to_unset), aws_retry=True))
    # Attach before detach: the role never passes through a state with fewer permissions than both ends.
    for arn in sorted(set(want["managed_policy_arns"]) - set(current["managed_policy_arns"])):
        calls.append(lambda arn=arn: client.attach_role_policy(RoleName=name, PolicyArn=arn, aws_retry=True))
    for arn in sorted(set(current["managed_policy_arns"]) - set(want["managed_policy_arns"])):
        calls.append(lambda arn=arn: client.detach_role_policy(RoleName=name, PolicyArn=arn, aws_retry=True))
    return calls


def delete(client, current):
    name = current["role_name"]
    for arn in current["managed_policy_arns"]:
        client.detach_role_policy(RoleName=name, PolicyArn=arn, aws_retry=True)
    inline = client.get_paginator("list_role_policies")
    for policy_name in aws_retry()(lambda: inline.paginate(RoleName=name).build_full_result())().get("PolicyNames", []):
        client.delete_role_policy(RoleName=name, PolicyName=policy_name, aws_retry=True)
    profiles = client.get_paginator("list_instance_profiles_for_role")
    for profile in aws_retry()(lambda: profiles.paginate(RoleName=name).build_full_result())().get("InstanceProfiles", []):
        client.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=name, aws_retry=True)
    client.delete_role(RoleName=name, aws_retry=True)


def refuse_existing(module, current, ownership, owned=None):
    """Fail when the existing role is not ours (and not adopted), or has another path; nothing is changed yet."""
    params = module.params
    if current is None:
        return
    if owned is None:
        owned = is_owned(current["tags"], ownership) or legacy_owned(current, ownership, params["assume_role_policy_document"])
    if not owned and not params["adopt"]:
        module.fail_json(msg=refusal_message("IAMRole", params["name"], current["tags"], ownership, arn=current["arn"],
                                             adopt_hint=params["adopt_hint"]), owned=False, iam_role=current)
    if current["path"] != params["path"]:
        module.fail_json(msg=f"path: IAM role {params['name']} exists with path {current['path']}; IAM cannot move a role to "
                             f"{params['path']}. Delete the role first or keep its path.")


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        path=dict(type="str", default="/"),
        description=dict(type="str"),
        assume_role_policy_document=dict(type="json"),
        managed_policy_arns=dict(type="list", elements="str", default=[]),
        purge_policies=dict(type="bool", default=True),
        boundary=dict(type="str"),
        tags=dict(type="dict"),
        purge_tags=dict(type="bool", default=True),
        adopt_hint=dict(type="str"),
        **OWNERSHIP_OPTIONS,
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              required_if=[("state", "present", ["assume_role_policy_document"])])
    params = module.params
    if params["assume_role_policy_document"] is not None:
        try:
            params["assume_role_policy_document"] = json.loads(params["assume_role_policy_document"])
        except ValueError as e:
            module.fail_json(msg=f"assume_role_policy_document: not a JSON policy document ({e})")
    ownership = params["ownership_tags"] or {}
    client = module.client("iam", retry_decorator=aws_retry())
    try:
        current = read_role(client, params["name"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to read IAM role {params['name']}")
    result = dict(changed=False, iam_role={}, in_sync=False)

    if current is not None:
        result["owned"] = is_owned(current["tags"], ownership) or legacy_owned(current, ownership, params["assume_role_policy_document"])
        result["iam_role"] = current

    if params["state"] == "absent":
        if current is None:
            result["in_sync"] = True
            module.exit_json(diff=dict(before={}, after={}), **result)
        if not result["owned"]:
            module.warn(not_deleting_message("IAMRole", params["name"], current["tags"], ownership, arn=current["arn"]) + "; left in place.")
            result["in_sync"] = True
            module.exit_json(diff=dict(before=current, after=current), **result)
        if not module.check_mode:
            try:
                delete(client, current)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                module.fail_json_aws(e, msg=f"Failed to delete IAM role {params['name']}")
        result.update(changed=True, iam_role={})
        module.exit_json(diff=dict(before=current, after={}), **result)

    # Everything that can refuse the run is checked before the first change.
    refuse_existing(module, current, ownership)
    try:
        missing = missing_policies(client, params["managed_policy_arns"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="Failed to read the managed policies to attach")
    if missing:
        module.fail_json(msg=f"managed_policy_arns: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
                             f"{'a managed policy' if len(missing) == 1 else 'managed policies'} in this account or partition; "
                             f"nothing was changed{' (the role keeps its policies)' if current else ''}. Fix the ARN or create the policy first.")

    want = desired(params, current)
    if current is None and not module.check_mode:
        try:
            # Another run may create the role between our read and CreateRole: then continue with that role.
            _created, current = create_or_reread(lambda: create(client, want), lambda: read_role(client, params["name"]))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            module.fail_json_aws(e, msg=f"Failed to create or update IAM role {params['name']}")
        if current is not None:
            result.update(owned=is_owned(current["tags"], ownership) or legacy_owned(current, ownership, params["assume_role_policy_document"]),
                          iam_role=current)
            refuse_existing(module, current, ownership, owned=result["owned"])
            want = desired(params, current)
    try:
        if current is None:
            if not module.check_mode:
                want = read_role(client, params["name"])
            result.update(changed=True, owned=True, iam_role=want)
            module.exit_json(diff=dict(before={}, after=want), **result)
        calls = update(client, current, want)
        if calls and not module.check_mode:
            for call in calls:
                call()
            want = read_role(client, params["name"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to create or update IAM role {params['name']}")
    result.update(changed=bool(calls), owned=True, iam_role=want, in_sync=not calls)
    module.exit_json(diff=dict(before=current, after=want), **result)


if __name__ == "__main__":
    main()
