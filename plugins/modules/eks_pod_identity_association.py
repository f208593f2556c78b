#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_pod_identity_association
version_added: 0.1.0
short_description: Manage EKS Pod Identity associations
description:
  - Creates, updates and deletes the EKS Pod Identity association of one ServiceAccount, which lets pods
    using that ServiceAccount receive credentials for an IAM role (trusting C(pods.eks.amazonaws.com)).
  - EKS allows one association per cluster, namespace and ServiceAccount; that triple identifies it.
  - Idempotent; supports check mode and diff mode.
  - With O(ownership_tags), an existing association is only changed or deleted when it carries those tags (or, for
    changes, with O(adopt=true)); see the options.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  cluster_name:
    description:
      - The EKS cluster.
    type: str
    required: true
  namespace:
    description:
      - The ServiceAccount's namespace.
    type: str
    required: true
  service_account:
    description:
      - The ServiceAccount's name.
    type: str
    required: true
  role_arn:
    description:
      - The IAM role the pods get credentials for. Required with O(state=present).
    type: str
  disable_session_tags:
    description:
      - Do not add the session tags EKS Pod Identity adds by default (cluster, namespace, pod and so on).
      - When omitted, an existing association keeps its setting and a new one uses the EKS default (V(false)).
    type: bool
  state:
    description:
      - Whether the association should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - tracing.xray.ownership
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.check_diff
"""

EXAMPLES = r"""
- name: Let the X-Ray daemon's pods assume the role through EKS Pod Identity
  tracing.xray.eks_pod_identity_association:
    cluster_name: observability-workshop
    namespace: xray-system
    service_account: xray-daemon
    role_arn: arn:aws:iam::123456789012:role/xray-daemon
    ownership_tags:
      managed-by: tracing.xray

- name: Remove it
  tracing.xray.eks_pod_identity_association:
    cluster_name: observability-workshop
    namespace: xray-system
    service_account: xray-daemon
    state: absent
    ownership_tags:
      managed-by: tracing.xray
"""

RETURN = r"""
association:
  description: The association (after the change; in check mode, as it would be).
  returned: when the association exists or would be created
  type: dict
  contains:
    association_id:
      description: The association's ID (absent in check mode before creation).
      type: str
      returned: when the association exists
      sample: a-abcdefghijklmnop1
    association_arn:
      description: The association's ARN.
      type: str
      returned: when the association exists
    cluster_name:
      description: The cluster.
      type: str
      returned: always
    namespace:
      description: The namespace.
      type: str
      returned: always
    service_account:
      description: The ServiceAccount.
      type: str
      returned: always
    role_arn:
      description: The IAM role.
      type: str
      returned: always
    disable_session_tags:
      description: Whether session tags are disabled.
      type: bool
      returned: when EKS returns it
    tags:
      description: The association's tags.
      type: dict
      returned: always
owned:
  description:
    - Whether the association carries all O(ownership_tags) after the task (V(true) when created, adopted, or deleted
      as ours; always V(true) for an existing association without O(ownership_tags)).
    - V(false) when no association exists, or when O(state=absent) left one that is not ours.
  returned: always
  type: bool
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.arn import validate_aws_arn

from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry
from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.aws import create_or_reread
from ansible_collections.tracing.xray.plugins.module_utils.identity import find_pod_identity_association
from ansible_collections.tracing.xray.plugins.module_utils.ownership import OWNERSHIP_OPTIONS
from ansible_collections.tracing.xray.plugins.module_utils.ownership import adopt_entry
from ansible_collections.tracing.xray.plugins.module_utils.ownership import check_absent
from ansible_collections.tracing.xray.plugins.module_utils.ownership import check_present
from ansible_collections.tracing.xray.plugins.module_utils.ownership import desired_tags
from ansible_collections.tracing.xray.plugins.module_utils.ownership import ownership_tag_changes
from ansible_collections.tracing.xray.plugins.module_utils.ownership import tags_after

KIND = "EKSPodIdentityAssociation"

_FIELDS = ("associationId", "associationArn", "clusterName", "namespace", "serviceAccount", "roleArn", "disableSessionTags", "tags")


def find_association(module, client):
    params = module.params
    try:
        return find_pod_identity_association(client, params["cluster_name"], params["namespace"], params["service_account"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to look up the pod identity association of {params['namespace']}/{params['service_account']}")


def describe(association):
    if not association:
        return {}
    kept = {key: association[key] for key in _FIELDS if key in association}
    result = camel_dict_to_snake_dict(kept, ignore_list=["tags"])
    result["tags"] = association.get("tags") or {}
    return result


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        service_account=dict(type="str", required=True),
        role_arn=dict(type="str"),
        disable_session_tags=dict(type="bool"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        **OWNERSHIP_OPTIONS,
    )
    module = TracingAWSModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ["role_arn"])],
        supports_check_mode=True,
    )
    params = module.params
    if params["state"] == "present" and not params["role_arn"]:
        module.fail_json(msg="role_arn: required with state=present (the IAM role the pods get credentials for)")
    if params["role_arn"] and not validate_aws_arn(params["role_arn"], service="iam"):
        module.fail_json(msg=f"role_arn: {params['role_arn']!r} is not an IAM role ARN")

    client = module.client("eks", retry_decorator=aws_retry())
    current = find_association(module, client)
    before = describe(current)
    result = dict(changed=False, owned=False)
    label = f"{params['cluster_name']}/{params['namespace']}/{params['service_account']}"

    if params["state"] == "absent":
        if current is None:
            module.exit_json(diff=dict(before={}, after={}), **result)
        result["association"] = before
        result["owned"] = check_absent(module, KIND, label, current.get("tags"), arn=current.get("associationArn"))
        if not result["owned"]:
            module.exit_json(diff=dict(before=before, after=before), **result)
        if not module.check_mode:
            try:
                client.delete_pod_identity_association(clusterName=params["cluster_name"], associationId=current["associationId"], aws_retry=True)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                module.fail_json_aws(e, msg=f"Failed to delete pod identity association {current['associationId']}")
        result["changed"] = True
        module.exit_json(diff=dict(before=before, after={}), **result)

    if current is None:
        request = dict(
            clusterName=params["cluster_name"], namespace=params["namespace"], serviceAccount=params["service_account"], roleArn=params["role_arn"]
        )
        tags = desired_tags(params)
        if tags:
            request["tags"] = tags
        if params["disable_session_tags"] is not None:
            request["disableSessionTags"] = params["disable_session_tags"]
        after = dict(request)
        if not module.check_mode:
            try:
                # Another run may create the association between our read and this call: then continue with that one.
                after, current = create_or_reread(lambda: client.create_pod_identity_association(aws_retry=True, **request)["association"],
                                                  lambda: find_association(module, client))
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                module.fail_json_aws(e, msg=f"Failed to create the pod identity association of {params['namespace']}/{params['service_account']}")
        if current is None:
            result.update(changed=True, owned=True, association=describe(after))
            module.exit_json(diff=dict(before={}, after=describe(after)), **result)
        before = describe(current)

    result["owned"] = check_present(module, KIND, label, current.get("tags"), arn=current.get("associationArn"),
                                    adopt_hint=adopt_entry(KIND, f"{params['namespace']}/{params['service_account']}"))
    update = {}
    if current.get("roleArn") != params["role_arn"]:
        update["roleArn"] = params["role_arn"]
    if params["disable_session_tags"] is not None and bool(current.get("disableSessionTags")) != params["disable_session_tags"]:
        update["disableSessionTags"] = params["disable_session_tags"]
    tags_to_set, tags_to_unset = ownership_tag_changes(params, current.get("tags"))

    if not (update or tags_to_set or tags_to_unset):
        result["association"] = before
        module.exit_json(diff=dict(before=before, after=before), **result)

    after = dict(current)
    after.update(update)
    after["tags"] = tags_after(current.get("tags"), tags_to_set, tags_to_unset)
    if not module.check_mode:
        arn = current["associationArn"]
        try:
            if update:
                client.update_pod_identity_association(
                    clusterName=params["cluster_name"], associationId=current["associationId"], aws_retry=True, **update
                )
            if tags_to_unset:
                client.untag_resource(resourceArn=arn, tagKeys=tags_to_unset, aws_retry=True)
            if tags_to_set:
                client.tag_resource(resourceArn=arn, tags=tags_to_set, aws_retry=True)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            module.fail_json_aws(e, msg=f"Failed to update pod identity association {current['associationId']}")
        after = find_association(module, client) or after
    result.update(changed=True, association=describe(after))
    module.exit_json(diff=dict(before=before, after=describe(after)), **result)


if __name__ == "__main__":
    main()
