#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_oidc_provider
version_added: 0.1.0
short_description: Manage IAM OpenID Connect (OIDC) identity providers
description:
  - Creates, updates and deletes an IAM OIDC identity provider, such as the one an EKS cluster's
    ServiceAccount token issuer needs for IAM roles for service accounts (IRSA).
  - The provider is identified by its issuer O(url); IAM allows one provider per URL in an account.
  - Idempotent; supports check mode (no change is made, the would-be ARN is still returned) and diff mode.
  - With O(ownership_tags), an existing provider is only changed or deleted when it carries those tags.
    IAM allows one provider per issuer, so it is shared by whoever uses the issuer - unlike the other modules of this
    collection, O(state=present) does B(not) fail on a provider that is not ours (for example one created by
    C(eksctl utils associate-iam-oidc-provider)) - it is used as it is, unchanged, with a warning and RV(owned=false).
    With O(adopt=true) it is taken over (tagged with O(ownership_tags) and reconciled). O(state=absent) never deletes
    it.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  url:
    description:
      - The issuer URL, for example the EKS cluster's C(identity.oidc.issuer).
      - C(https://) may be omitted; a trailing slash is ignored. Only https issuers are accepted.
    type: str
    required: true
    aliases: [issuer, issuer_url]
  state:
    description:
      - Whether the provider should exist.
    type: str
    choices: [present, absent]
    default: present
  client_id_list:
    description:
      - The client IDs (audiences) the provider accepts.
      - For IRSA this is C(sts.amazonaws.com).
    type: list
    elements: str
    default: [sts.amazonaws.com]
    aliases: [client_ids, audiences]
  purge_client_ids:
    description:
      - Remove client IDs of an existing provider that are not in O(client_id_list).
    type: bool
    default: true
  thumbprints:
    description:
      - Server certificate thumbprints (SHA-1, 40 hex digits) of the issuer's TLS certificate.
      - Optional. IAM no longer uses thumbprints for issuers with certificates from trusted CAs, which
        includes every EKS issuer; when omitted they are not sent on creation and not changed on update.
    type: list
    elements: str
    aliases: [thumbprint_list]
  keep_if_trusted:
    description:
      - With O(state=absent), keep the provider while any IAM role's trust policy names it as a
        C(Federated) principal; RV(trusted_by) lists those roles.
    type: bool
    default: false
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
- name: Look up the cluster's issuer
  tracing.xray.eks_cluster_info:
    name: observability-workshop
  register: cluster

- name: Register the cluster's OIDC issuer with IAM (what eksctl utils associate-iam-oidc-provider does)
  tracing.xray.iam_oidc_provider:
    url: "{{ cluster.cluster.oidc_issuer }}"
    tags:
      cluster: observability-workshop
    ownership_tags:
      managed-by: tracing.xray
  register: provider

- name: Use the ARN
  ansible.builtin.debug:
    msg: "{{ provider.arn }}"

- name: Remove it again, unless a role still trusts it or it is not ours
  tracing.xray.iam_oidc_provider:
    url: "{{ cluster.cluster.oidc_issuer }}"
    state: absent
    ownership_tags:
      managed-by: tracing.xray
    keep_if_trusted: true
"""

RETURN = r"""
arn:
  description: The provider's ARN (with O(state=present) in check mode, the ARN it would get).
  returned: when the provider exists or would be created
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
oidc_provider:
  description: The provider as IAM describes it (after the change).
  returned: when the provider exists or would be created
  type: dict
  contains:
    arn:
      description: The provider's ARN.
      type: str
      returned: always
    url:
      description: The issuer as IAM stores it (host and path, without C(https://)).
      type: str
      returned: always
      sample: oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
    client_id_list:
      description: The accepted client IDs (audiences).
      type: list
      elements: str
      returned: always
      sample: [sts.amazonaws.com]
    thumbprint_list:
      description: The certificate thumbprints.
      type: list
      elements: str
      returned: always
    tags:
      description: The provider's tags.
      type: dict
      returned: always
      sample: {"managed-by": "tracing.xray"}
    create_date:
      description: When the provider was created.
      type: str
      returned: when the provider exists
owned:
  description:
    - Whether the provider carries all O(ownership_tags) after the task (V(true) when created, adopted or deleted as
      ours; always V(true) for an existing provider without O(ownership_tags)).
    - V(false) when no provider exists for the issuer, or when a provider that is not ours was used or left as it is.
  returned: always
  type: bool
trusted_by:
  description: ARNs of the IAM roles whose trust policy names the provider.
  returned: with O(state=absent) and O(keep_if_trusted=true) when the provider exists
  type: list
  elements: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_aws_account_info
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict

from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry
from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.aws import create_or_reread
from ansible_collections.tracing.xray.plugins.module_utils.irsa import IrsaError
from ansible_collections.tracing.xray.plugins.module_utils.irsa import load_policy
from ansible_collections.tracing.xray.plugins.module_utils.irsa import normalize_issuer
from ansible_collections.tracing.xray.plugins.module_utils.irsa import oidc_provider_arn
from ansible_collections.tracing.xray.plugins.module_utils.irsa import provider_issuer_from_arn
from ansible_collections.tracing.xray.plugins.module_utils.ownership import OWNERSHIP_OPTIONS
from ansible_collections.tracing.xray.plugins.module_utils.ownership import check_absent
from ansible_collections.tracing.xray.plugins.module_utils.ownership import desired_tags
from ansible_collections.tracing.xray.plugins.module_utils.ownership import format_tags
from ansible_collections.tracing.xray.plugins.module_utils.ownership import is_owned
from ansible_collections.tracing.xray.plugins.module_utils.ownership import missing_ownership_tags
from ansible_collections.tracing.xray.plugins.module_utils.ownership import ownership_tag_changes
from ansible_collections.tracing.xray.plugins.module_utils.ownership import tags_after

KIND = "IAMOIDCProvider"


def find_provider(module, client, host_path):
    """The provider for ``host_path`` as a dict (``Arn``, ``Url``, ``ClientIDList``, ...), or None."""
    try:
        listing = client.list_open_id_connect_providers(aws_retry=True)["OpenIDConnectProviderList"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="Failed to list IAM OIDC providers")
    for entry in listing:
        if provider_issuer_from_arn(entry["Arn"]) != host_path:
            continue
        try:
            provider = client.get_open_id_connect_provider(OpenIDConnectProviderArn=entry["Arn"], aws_retry=True)
        except is_boto3_error_code("NoSuchEntity"):
            return None
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg=f"Failed to describe IAM OIDC provider {entry['Arn']}")
        provider.pop("ResponseMetadata", None)
        provider["Arn"] = entry["Arn"]
        return provider
    return None


def describe(provider):
    """The provider as returned to the user and shown in diffs."""
    if not provider:
        return {}
    tags = provider.get("Tags")
    result = {
        "arn": provider.get("Arn"),
        "url": provider.get("Url"),
        "client_id_list": sorted(provider.get("ClientIDList") or []),
        "thumbprint_list": sorted(provider.get("ThumbprintList") or []),
        "tags": tags if isinstance(tags, dict) else boto3_tag_list_to_ansible_dict(tags or []),
    }
    if provider.get("CreateDate") is not None:
        created = provider["CreateDate"]
        result["create_date"] = created.isoformat() if hasattr(created, "isoformat") else str(created)
    return result


def roles_trusting(module, client, arn):
    """ARNs of the roles whose trust policy names ``arn`` as a Federated principal."""
    trusting = []
    try:
        roles = paginated_query_with_retries(client, "list_roles")["Roles"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="Failed to list IAM roles to find those trusting the OIDC provider")
    for role in roles:
        try:
            policy = load_policy(role.get("AssumeRolePolicyDocument") or {})
        except IrsaError:
            continue
        statements = policy.get("Statement") or []
        for statement in statements if isinstance(statements, list) else [statements]:
            principal = statement.get("Principal") if isinstance(statement, dict) else None
            federated = principal.get("Federated") if isinstance(principal, dict) else None
            if arn in (federated if isinstance(federated, list) else [federated]):
                trusting.append(role["Arn"])
                break
    return sorted(trusting)


def create_provider(module, client, host_path):
    tags = desired_tags(module.params)
    params = dict(Url="https://" + host_path, ClientIDList=module.params["client_id_list"])
    if module.params["thumbprints"] is not None:
        params["ThumbprintList"] = module.params["thumbprints"]
    if tags:
        params["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    after = {
        "Url": host_path,
        "ClientIDList": list(module.params["client_id_list"]),
        "ThumbprintList": list(module.params["thumbprints"] or []),
        "Tags": dict(tags),
    }
    if module.check_mode:
        account_id, partition = get_aws_account_info(module)
        after["Arn"] = oidc_provider_arn(account_id, host_path, partition)
        return after, None
    try:
        # Another run may register the provider between our read and this call: then continue with that provider.
        arn, existing = create_or_reread(lambda: client.create_open_id_connect_provider(aws_retry=True, **params)["OpenIDConnectProviderArn"],
                                         lambda: find_provider(module, client, host_path))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to create IAM OIDC provider for {host_path}")
    if existing is not None:
        return None, existing
    after["Arn"] = arn
    return find_provider(module, client, host_path) or after, None


def update_provider(module, client, provider):
    """Reconcile client IDs, thumbprints and tags; returns True when something changed (or would)."""
    arn = provider["Arn"]
    check = module.check_mode
    changed = False
    current_ids = list(provider.get("ClientIDList") or [])
    wanted_ids = list(module.params["client_id_list"])
    to_add = [c for c in wanted_ids if c not in current_ids]
    to_remove = [c for c in current_ids if c not in wanted_ids] if module.params["purge_client_ids"] else []
    try:
        for client_id in to_add:
            changed = True
            if not check:
                client.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id, aws_retry=True)
        for client_id in to_remove:
            changed = True
            if not check:
                client.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id, aws_retry=True)

        thumbprints = module.params["thumbprints"]
        if thumbprints is not None and sorted(thumbprints) != sorted(provider.get("ThumbprintList") or []):
            changed = True
            if not check:
                client.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=thumbprints, aws_retry=True)

        tags_to_set, tags_to_unset = ownership_tag_changes(module.params, describe(provider)["tags"])
        if tags_to_unset:
            changed = True
            if not check:
                client.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=tags_to_unset, aws_retry=True)
        if tags_to_set:
            changed = True
            if not check:
                client.tag_open_id_connect_provider(
                    OpenIDConnectProviderArn=arn, Tags=ansible_dict_to_boto3_tag_list(tags_to_set), aws_retry=True
                )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg=f"Failed to update IAM OIDC provider {arn}")
    return changed


def predicted(module, provider):
    """What the provider looks like after ``update_provider`` (for check mode and diffs)."""
    after = dict(provider)
    current_ids = list(provider.get("ClientIDList") or [])
    wanted = list(module.params["client_id_list"])
    if module.params["purge_client_ids"]:
        after["ClientIDList"] = wanted
    else:
        after["ClientIDList"] = current_ids + [c for c in wanted if c not in current_ids]
    if module.params["thumbprints"] is not None:
        after["ThumbprintList"] = list(module.params["thumbprints"])
    if module.params["tags"] is not None or module.params["ownership_tags"]:
        tags = describe(provider)["tags"]
        after["Tags"] = tags_after(tags, *ownership_tag_changes(module.params, tags))
    return after


def main():
    argument_spec = dict(
        url=dict(type="str", required=True, aliases=["issuer", "issuer_url"]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        client_id_list=dict(type="list", elements="str", default=["sts.amazonaws.com"], aliases=["client_ids", "audiences"]),
        purge_client_ids=dict(type="bool", default=True),
        thumbprints=dict(type="list", elements="str", aliases=["thumbprint_list"]),
        keep_if_trusted=dict(type="bool", default=False),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        **OWNERSHIP_OPTIONS,
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)

    try:
        host_path = normalize_issuer(module.params["url"])
    except IrsaError as e:
        module.fail_json(msg=str(e).replace("issuer:", "url:", 1))
    if module.params["state"] == "present" and not module.params["client_id_list"]:
        module.fail_json(msg="client_id_list: at least one client ID is required (for IRSA: sts.amazonaws.com)")
    for thumbprint in module.params["thumbprints"] or []:
        if len(thumbprint) != 40 or any(c not in "0123456789abcdefABCDEF" for c in thumbprint):
            module.fail_json(msg=f"thumbprints: {thumbprint!r} is not a SHA-1 thumbprint (40 hexadecimal digits)")
    if len(module.params["thumbprints"] or []) > 5:
        module.fail_json(msg="thumbprints: IAM accepts at most 5 thumbprints")

    ownership = module.params["ownership_tags"] or {}

    client = module.client("iam", retry_decorator=aws_retry())
    provider = find_provider(module, client, host_path)
    before = describe(provider)
    result = dict(changed=False, owned=False)

    if module.params["state"] == "absent":
        if provider is None:
            module.exit_json(diff=dict(before={}, after={}), **result)
        result["arn"] = provider["Arn"]
        result["oidc_provider"] = before
        result["owned"] = check_absent(module, KIND, host_path, before["tags"], arn=provider["Arn"])
        if not result["owned"]:
            module.exit_json(diff=dict(before=before, after=before), **result)
        if module.params["keep_if_trusted"]:
            result["trusted_by"] = roles_trusting(module, client, provider["Arn"])
            if result["trusted_by"]:
                module.exit_json(diff=dict(before=before, after=before), **result)
        if not module.check_mode:
            try:
                client.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"], aws_retry=True)
            except is_boto3_error_code("NoSuchEntity"):
                pass  # gone already
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
                module.fail_json_aws(e, msg=f"Failed to delete IAM OIDC provider {provider['Arn']}")
        result["changed"] = True
        module.exit_json(diff=dict(before=before, after={}), **result)

    if provider is None:
        after, provider = create_provider(module, client, host_path)
        if provider is None:
            result.update(changed=True, arn=after["Arn"], owned=True, oidc_provider=describe(after))
            module.exit_json(diff=dict(before={}, after=describe(after)), **result)
        before = describe(provider)  # created by another run meanwhile: reconciled below like one we found

    result["arn"] = provider["Arn"]
    # One provider per issuer, shared: a foreign one is used as it is (not refused), unless adopt=true.
    if not is_owned(before["tags"], ownership):
        if not module.params["adopt"]:
            module.warn(
                f"IAM OIDC provider {provider['Arn']} exists without the ownership tags {format_tags(missing_ownership_tags(before['tags'], ownership))} "
                f"(its tags: {format_tags(before['tags'])}): using it as it is, not changing it (adopt=true takes it over)"
            )
            result["oidc_provider"] = before
            module.exit_json(diff=dict(before=before, after=before), **result)
        module.warn(f"adopting IAM OIDC provider {provider['Arn']} (adopt=true): its tags were {format_tags(before['tags'])}")
    result["owned"] = True

    result["changed"] = update_provider(module, client, provider)
    if result["changed"] and not module.check_mode:
        after = describe(find_provider(module, client, host_path))
    else:
        after = describe(predicted(module, provider))
    result["oidc_provider"] = after
    module.exit_json(diff=dict(before=before, after=after), **result)


if __name__ == "__main__":
    main()
