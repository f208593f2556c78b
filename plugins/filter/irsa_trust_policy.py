# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_trust_policy
short_description: The IAM trust policy for one ServiceAccount (IRSA) or for EKS Pod Identity
version_added: 0.1.0
author: tracing.xray maintainers (@tracing-xray)
description:
  - With O(mode=irsa), builds the trust policy that lets exactly one Kubernetes ServiceAccount assume an IAM role
    through IAM roles for service accounts - C(Federated) principal the OIDC provider ARN,
    C(sts:AssumeRoleWithWebIdentity), C(StringEquals) on C(<issuer>:sub = system:serviceaccount:<ns>:<sa>) and
    C(<issuer>:aud = sts.amazonaws.com) (C(StringLike) on the subject only when O(subject_pattern) is given).
  - The issuer is taken from the provider ARN, so the condition keys always match the principal; the partition
    (C(aws), C(aws-cn), C(aws-us-gov), ...) is the ARN's.
  - With O(mode=pod_identity), returns the trust policy EKS Pod Identity needs (service principal
    C(pods.eks.amazonaws.com), C(sts:AssumeRole) and C(sts:TagSession)); the input is ignored.
options:
  _input:
    description: The IAM OIDC provider ARN (C(arn:<partition>:iam::<account>:oidc-provider/<issuer host/path>)).
    type: str
    required: true
  namespace:
    description: The ServiceAccount's namespace (O(mode=irsa)).
    type: str
  service_account:
    description: The ServiceAccount's name (O(mode=irsa)).
    type: str
  audience:
    description: The token audience the policy requires.
    type: str
    default: sts.amazonaws.com
  subject_pattern:
    description:
      - A C(StringLike) pattern for the subject instead of the exact subject, for example C(system:serviceaccount:xray-*:*).
      - It must match the ServiceAccount's own subject.
    type: str
  mode:
    description: V(irsa) or V(pod_identity).
    type: str
    default: irsa
    choices: [irsa, pod_identity]
"""

EXAMPLES = r"""
- name: Trust policy for xray-system/xray-daemon
  ansible.builtin.set_fact:
    trust: "{{ provider.arn | tracing.xray.irsa_trust_policy(namespace='xray-system', service_account='xray-daemon') }}"

- name: Trust policy for EKS Pod Identity
  ansible.builtin.set_fact:
    trust: "{{ '' | tracing.xray.irsa_trust_policy(mode='pod_identity') }}"
"""

RETURN = r"""
_value:
  description: The trust policy document (C(Version) 2012-10-17, one C(Allow) statement).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.tracing.xray.plugins.module_utils.irsa import DEFAULT_AUDIENCE
from ansible_collections.tracing.xray.plugins.module_utils.irsa import IrsaError
from ansible_collections.tracing.xray.plugins.module_utils.irsa import irsa_trust_policy as _irsa_trust_policy
from ansible_collections.tracing.xray.plugins.module_utils.irsa import pod_identity_trust_policy
from ansible_collections.tracing.xray.plugins.module_utils.irsa import provider_issuer_from_arn


def irsa_trust_policy(provider_arn, namespace=None, service_account=None, audience=DEFAULT_AUDIENCE, subject_pattern=None, mode="irsa"):
    if mode == "pod_identity":
        return pod_identity_trust_policy()
    if mode != "irsa":
        raise AnsibleFilterError(f"irsa_trust_policy: mode must be irsa or pod_identity, not {mode!r}")
    issuer = provider_issuer_from_arn(str(provider_arn or ""))
    if issuer is None:
        raise AnsibleFilterError(
            f"irsa_trust_policy: the input {provider_arn!r} is not an IAM OIDC provider ARN "
            "(arn:<partition>:iam::<account>:oidc-provider/<issuer>)"
        )
    try:
        return _irsa_trust_policy(
            issuer, namespace, service_account, provider_arn=str(provider_arn), audience=audience or DEFAULT_AUDIENCE, subject_pattern=subject_pattern or None
        )
    except IrsaError as e:
        raise AnsibleFilterError(f"irsa_trust_policy: {e}") from e


class FilterModule:
    """The IRSA / EKS Pod Identity trust policy filter."""

    def filters(self):
        return {"irsa_trust_policy": irsa_trust_policy}
