#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_resource_policy
version_added: 0.1.0
short_description: Manage AWS X-Ray resource policies
description:
  - Puts, updates and deletes an X-Ray resource-based policy, which lets AWS services and accounts call X-Ray
    (for example Amazon SNS or Amazon Bedrock AgentCore sending traces).
  - The policy document is compared with the current one as a policy, not as text (key order, the order of
    statements and of values in lists, a principal V(*) versus an AWS principal V(*), an account ID versus its
    root ARN do not count), so an identical run changes nothing.
  - Every write is atomic with X-Ray's revision ID - a new policy is put with C(PolicyRevisionId=0) (create
    only), an update with the revision the module read (or O(policy_revision_id)), so a policy changed by someone
    else in between is not overwritten.
  - X-Ray allows 5 resource policies per account and region and 5 KB per policy; both limits, the policy name and
    the document's shape are checked before the write (the size before any call).
  - Terraform's equivalent is C(aws_xray_resource_policy).
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  state:
    description:
      - Whether the policy should exist.
    type: str
    choices: [present, absent]
    default: present
  policy_name:
    description:
      - The name of the policy, 1 to 128 letters, digits and V(_+=,.@-); unique in the account.
    type: str
    required: true
    aliases: [name]
  policy_document:
    description:
      - The policy document, as a dict or a JSON string. Required with O(state=present).
      - Statements need C(Effect), C(Action) and C(Principal). At most 5 KB as compact JSON (which is what the
        module sends).
    type: json
  policy_revision_id:
    description:
      - Write (or delete) only if the policy's current revision is this one; V(0) means create only.
      - By default the module uses the revision it read, or V(0) for a new policy.
    type: str
  bypass_policy_lockout_check:
    description:
      - Let X-Ray apply a policy that would stop the caller from calling C(PutResourcePolicy) again.
      - Sent to X-Ray only when V(true). Do not set it without meaning to lock yourself out.
    type: bool
    default: false
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.check_diff
notes:
  - Supports C(check_mode) and C(diff). In check mode the revision ID and update time of a policy that would be
    written are not known (V(null)).
  - X-Ray resource policies have no tags. The P(tracing.xray.groups#role) role records ownership in the name
    (a prefix).
  - Permissions - C(xray:ListResourcePolicies), C(xray:PutResourcePolicy), C(xray:DeleteResourcePolicy).
seealso:
  - module: tracing.xray.xray_resource_policy_info
  - name: PutResourcePolicy
    description: The X-Ray API reference.
    link: https://docs.aws.amazon.com/xray/latest/api/API_PutResourcePolicy.html
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Let Amazon SNS send traces to X-Ray
  tracing.xray.xray_resource_policy:
    policy_name: sns-active-tracing
    policy_document:
      Version: "2012-10-17"
      Statement:
        - Sid: SNSAccess
          Effect: Allow
          Principal:
            Service: sns.amazonaws.com
          Action:
            - xray:PutTraceSegments
            - xray:GetSamplingRules
            - xray:GetSamplingTargets
          Resource: "*"
          Condition:
            StringEquals:
              aws:SourceAccount: "123456789012"

- name: Update it only if nobody changed it since revision 3
  tracing.xray.xray_resource_policy:
    policy_name: sns-active-tracing
    policy_document: "{{ lookup('ansible.builtin.file', 'xray-sns-policy.json') }}"
    policy_revision_id: "3"

- name: Delete it
  tracing.xray.xray_resource_policy:
    policy_name: sns-active-tracing
    state: absent
"""

RETURN = r"""
resource_policy:
  description:
    - The policy after the task (in check mode, what it would be). Empty when O(state=absent).
  returned: always
  type: dict
  contains:
    policy_name:
      description: The name of the policy.
      returned: when the policy exists
      type: str
      sample: sns-active-tracing
    policy_document:
      description: The policy document, parsed.
      returned: when the policy exists
      type: dict
    policy_revision_id:
      description: The current revision ID (null in check mode for a policy that would be written).
      returned: when the policy exists
      type: str
      sample: "4"
    last_updated_time:
      description: When the policy was last written (ISO 8601; null in check mode for a write).
      returned: when the policy exists
      type: str
      sample: "2026-11-21T19:40:00+00:00"
"""

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies

from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.xray import exit_with_diff
from ansible_collections.tracing.xray.plugins.module_utils.xray import is_not_found
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import MAX_RESOURCE_POLICIES
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import list_resource_policies
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import load_policy_document
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import normalize_resource_policy
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import parse_document
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import validate_policy_name

# Errors X-Ray answers PutResourcePolicy/DeleteResourcePolicy with -> what the user can do about them.
ERROR_HINTS = {
    "InvalidPolicyRevisionIdException": "the policy's revision is not the one expected (it changed since it was read, "
    "or policy_revision_id is stale, or 0 for a policy that exists): read it again and retry",
    "LockoutPreventionException": "the policy would stop the caller from calling xray:PutResourcePolicy again; set "
    "bypass_policy_lockout_check=true only if that is intended",
    "PolicyCountLimitExceededException": f"the account already has {MAX_RESOURCE_POLICIES} X-Ray resource policies, the maximum",
    "PolicySizeLimitExceededException": "the policy document is larger than X-Ray's 5 KB limit",
    "MalformedPolicyDocumentException": "X-Ray does not accept the policy document",
}


def validate_params(module):
    """Refuse bad input before any AWS call; returns (policy dict, text to send) for state=present."""
    params = module.params
    problem = validate_policy_name(params["policy_name"])
    if problem is None and params["policy_revision_id"] == "":
        problem = "policy_revision_id must not be empty: give a revision ID, 0 (create only), or leave it unset"
    if problem is None and params["state"] == "absent" and params["policy_document"] is not None:
        problem = "policy_document is only used with state=present: remove it to delete the policy"
    if problem:
        module.fail_json(msg=problem)
    if params["state"] == "absent":
        return None, None
    if params["policy_document"] is None:
        module.fail_json(msg="policy_document is required with state=present: give the X-Ray resource policy as a dict or JSON string")
    policy, text, problem = load_policy_document(params["policy_document"])
    if problem:
        module.fail_json(msg=problem)
    return policy, text


def fail_write(module, e, action, name):
    code = e.response.get("Error", {}).get("Code") if isinstance(e, ClientError) else None
    hint = ERROR_HINTS.get(code)
    module.fail_json_aws(e, msg=f"Failed to {action} X-Ray resource policy {name!r}" + (f": {hint}" if hint else ""))


def main():
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        policy_name=dict(type="str", required=True, aliases=["name"]),
        policy_document=dict(type="json"),
        policy_revision_id=dict(type="str"),
        bypass_policy_lockout_check=dict(type="bool", default=False),
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    policy, text = validate_params(module)
    params = module.params
    name = params["policy_name"]

    client = xray_client(module)
    try:
        policies = list_resource_policies(client)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to list the X-Ray resource policies (ListResourcePolicies)")
    current = next((p for p in policies if p.get("PolicyName") == name), None)
    before = normalize_resource_policy(current)

    if params["state"] == "absent":
        changed = current is not None
        if changed and not module.check_mode:
            request = {"PolicyName": name, "PolicyRevisionId": params["policy_revision_id"] or current.get("PolicyRevisionId")}
            try:
                client.delete_resource_policy(aws_retry=True, **{k: v for k, v in request.items() if v is not None})
            except (BotoCoreError, ClientError) as e:
                if not is_not_found(e):
                    fail_write(module, e, "delete", name)
        exit_with_diff(module, before, {}, changed=changed, resource_policy={})
        return

    changed = current is None or compare_policies(parse_document(current.get("PolicyDocument")), policy)
    after = before
    if changed:
        if current is None and len(policies) >= MAX_RESOURCE_POLICIES:
            names = ", ".join(sorted(str(p.get("PolicyName")) for p in policies))
            module.fail_json(
                msg=f"Cannot create X-Ray resource policy {name!r}: the account already has {len(policies)} resource policies "
                f"({names}) and X-Ray allows {MAX_RESOURCE_POLICIES}; delete one or put this document into one of them"
            )
        revision = params["policy_revision_id"] or ("0" if current is None else current.get("PolicyRevisionId"))
        request = {"PolicyName": name, "PolicyDocument": text}
        if revision is not None:
            request["PolicyRevisionId"] = revision
        if params["bypass_policy_lockout_check"]:
            request["BypassPolicyLockoutCheck"] = True
        if module.check_mode:
            after = {"policy_name": name, "policy_document": policy, "policy_revision_id": None, "last_updated_time": None}
        else:
            try:
                response = client.put_resource_policy(aws_retry=True, **request)
            except (BotoCoreError, ClientError) as e:
                fail_write(module, e, "create" if current is None else "update", name)
            after = normalize_resource_policy(response.get("ResourcePolicy"))
    elif params["policy_revision_id"] and params["policy_revision_id"] != current.get("PolicyRevisionId"):
        module.warn(
            f"policy_revision_id={params['policy_revision_id']} is not the current revision {current.get('PolicyRevisionId')} "
            f"of {name!r}; the document is already as wanted, so nothing was written"
        )

    exit_with_diff(module, before, after, changed=changed, resource_policy=after)


if __name__ == "__main__":
    main()
