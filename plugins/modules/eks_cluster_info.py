#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_cluster_info
version_added: 0.1.0
short_description: Describe an EKS cluster (status, endpoint, version, OIDC issuer)
description:
  - Reads one Amazon EKS cluster with C(DescribeCluster) and returns its status, API endpoint,
    Kubernetes version and the OIDC issuer of its ServiceAccount tokens.
  - Read-only, unlike M(community.aws.eks_cluster) which needs subnets and a role even to look.
  - A cluster that does not exist is not an error; RV(exists) is then V(false) and RV(cluster) empty.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  name:
    description:
      - The cluster's name.
    type: str
    required: true
    aliases: [cluster_name]
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.info_module
"""

EXAMPLES = r"""
- name: Read the cluster's OIDC issuer
  tracing.xray.eks_cluster_info:
    name: observability-workshop
    region: eu-west-1
  register: eks

- name: Fail early when the cluster is missing or not active
  ansible.builtin.assert:
    that:
      - eks.exists
      - eks.cluster.status == 'ACTIVE'
    fail_msg: "EKS cluster observability-workshop: {{ eks.cluster.status | default('not found') }}"

- name: Show the issuer
  ansible.builtin.debug:
    msg: "{{ eks.cluster.oidc_issuer }}"
"""

RETURN = r"""
exists:
  description: Whether the cluster exists.
  returned: always
  type: bool
cluster:
  description: The cluster (empty when it does not exist).
  returned: always
  type: dict
  contains:
    name:
      description: The cluster's name.
      type: str
      returned: when the cluster exists
    arn:
      description: The cluster's ARN.
      type: str
      returned: when the cluster exists
      sample: arn:aws:eks:eu-west-1:123456789012:cluster/observability-workshop
    status:
      description: C(CREATING), C(ACTIVE), C(DELETING), C(FAILED), C(UPDATING) or C(PENDING).
      type: str
      returned: when the cluster exists
      sample: ACTIVE
    endpoint:
      description: The Kubernetes API server endpoint.
      type: str
      returned: when the cluster exists
    version:
      description: The Kubernetes version.
      type: str
      returned: when the cluster exists
      sample: "1.31"
    platform_version:
      description: The EKS platform version.
      type: str
      returned: when the cluster exists
    oidc_issuer:
      description: The issuer URL of the cluster's ServiceAccount tokens (C(identity.oidc.issuer)), empty if none.
      type: str
      returned: when the cluster exists
      sample: https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
    role_arn:
      description: The cluster's IAM role.
      type: str
      returned: when the cluster exists
    certificate_authority_data:
      description: The base64 encoded CA certificate of the API server.
      type: str
      returned: when the cluster exists
    created_at:
      description: When the cluster was created (ISO 8601).
      type: str
      returned: when the cluster exists
    tags:
      description: The cluster's tags.
      type: dict
      returned: when the cluster exists
    access_config:
      description: The cluster's access configuration (authentication mode), when EKS returns it.
      type: dict
      returned: when the cluster exists
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry
from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule


def summarize(cluster: dict) -> dict:
    """The fields callers need, in snake case."""
    created = cluster.get("createdAt")
    return {
        "name": cluster.get("name"),
        "arn": cluster.get("arn"),
        "status": cluster.get("status"),
        "endpoint": cluster.get("endpoint"),
        "version": cluster.get("version"),
        "platform_version": cluster.get("platformVersion"),
        "oidc_issuer": ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer") or "",
        "role_arn": cluster.get("roleArn"),
        "certificate_authority_data": (cluster.get("certificateAuthority") or {}).get("data"),
        "created_at": created.isoformat() if hasattr(created, "isoformat") else created,
        "tags": cluster.get("tags") or {},
        "access_config": camel_dict_to_snake_dict(cluster.get("accessConfig") or {}),
    }


def main():
    module = TracingAWSModule(
        argument_spec=dict(name=dict(type="str", required=True, aliases=["cluster_name"])),
        supports_check_mode=True,
    )
    name = module.params["name"]
    if not name.strip():
        module.fail_json(msg="name: the EKS cluster name must not be empty")
    client = module.client("eks", retry_decorator=aws_retry())
    try:
        cluster = client.describe_cluster(name=name, aws_retry=True)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        module.exit_json(changed=False, exists=False, cluster={})
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe EKS cluster {name}")
    module.exit_json(changed=False, exists=True, cluster=summarize(cluster))


if __name__ == "__main__":
    main()
