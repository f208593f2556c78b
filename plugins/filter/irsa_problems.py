# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: irsa_problems
short_description: Input problems of the tracing.xray.irsa role, checked before its first change
version_added: 0.2.0
author: tracing.xray maintainers (@tracing-xray)
description:
  - Takes the variables of a play (C(vars)) and returns a list of messages, one per problem with the irsa role's inputs
    (empty when all is well). Each message names the variable and what is allowed.
  - Checks that the cluster or the issuer is given (and the cluster for Pod Identity), the region (C(xray_region)),
    C(irsa_issuer), C(irsa_namespace), C(irsa_service_account_name), C(irsa_role_name), C(irsa_role_path), the managed
    policies (ARNs or AWS managed policy names), C(irsa_permissions_boundary), C(irsa_subject_pattern),
    C(irsa_audience), C(irsa_tags) (a mapping without C(managed-by)) and C(irsa_oidc_thumbprints).
options:
  _input:
    description: The play's variables (C(vars)); only the ones named above (and the role's C(_irsa_region) and
      C(_irsa_policy_names)) are read.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the irsa inputs
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "tracing.xray.irsa: {{ problems | join(' ') }}"
  vars:
    problems: "{{ vars | tracing.xray.irsa_problems }}"
"""

RETURN = r"""
_value:
  description: One message per problem; empty when the inputs are good.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.filter.core import to_json

from ansible_collections.tracing.xray.plugins.plugin_utils.checks import DNS1123_LABEL
from ansible_collections.tracing.xray.plugins.plugin_utils.checks import REGION
from ansible_collections.tracing.xray.plugins.plugin_utils.checks import match

ISSUER = r"^(https://)?[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s?#]*)?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
ROLE_NAME = r"^[A-Za-z0-9+=,.@_-]{1,64}$"
ROLE_PATH = r"^/([!-~]*/)?$"
POLICY = r"^(arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/.+|[A-Za-z0-9+=,.@_-]+)$"
BOUNDARY = r"^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/.+$"
SUBJECT = r"^system:serviceaccount:[^:]+:[^:]+$"
THUMBPRINT = r"^[0-9A-Fa-f]{40}$"


# Inputs that must be strings (empty for "none"), by the name a user sets them with.
STRINGS = (("irsa_cluster_name", "irsa_cluster_name"), ("irsa_issuer", "irsa_issuer"), ("_irsa_region", "xray_region"),
           ("irsa_permissions_boundary", "irsa_permissions_boundary"), ("irsa_subject_pattern", "irsa_subject_pattern"),
           ("irsa_audience", "irsa_audience"))


def irsa_problems(variables):
    """Every problem of the irsa role's inputs (list of messages, empty when they are good)."""
    # null where a string is expected: named here, before any change (the role's tasks take the length of these).
    not_strings = [f"{shown} must be a string (empty for none); got {to_json(variables.get(key))}."
                   for key, shown in STRINGS if not isinstance(variables.get(key), str)]
    get = variables.get

    def text(key):
        value = variables.get(key)
        return value if isinstance(value, str) else ""

    cluster, issuer, mode, region = text("irsa_cluster_name"), text("irsa_issuer"), get("irsa_mode"), text("_irsa_region")
    tags = get("irsa_tags")
    thumbprints = get("irsa_oidc_thumbprints") or []
    checks = [
        (len(cluster) > 0 or len(issuer) > 0,
         "irsa_cluster_name (or xray_cluster_name) or irsa_issuer is required: the role needs the cluster's OIDC issuer."),
        (mode != "pod_identity" or len(cluster) > 0,
         "irsa_mode=pod_identity needs irsa_cluster_name (pod identity associations belong to an EKS cluster)."),
        (len(region) == 0 or match(REGION, region), f"xray_region must be an AWS region such as eu-west-1; got {to_json(region)}."),
        (len(region) > 0 or (len(issuer) > 0 and mode == "irsa"), "xray_region is required to reach EKS (cluster lookup, pod identity)."),
        (len(issuer) == 0 or match(ISSUER, issuer),
         "irsa_issuer must be an https URL such as https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE (https:// optional, "
         f"http not allowed); got {to_json(issuer)}."),
        (match(DNS1123_LABEL, get("irsa_namespace")),
         f"irsa_namespace (or xray_namespace) must be a DNS-1123 label; got {to_json(get('irsa_namespace'))}."),
        (match(DNS1123_SUBDOMAIN, get("irsa_service_account_name")),
         f"irsa_service_account_name must be a DNS-1123 subdomain; got {to_json(get('irsa_service_account_name'))}."),
        (match(ROLE_NAME, get("irsa_role_name")),
         f"irsa_role_name must be 1-64 characters of letters, digits and +=,.@_-; got {to_json(get('irsa_role_name'))}."),
        (match(ROLE_PATH, get("irsa_role_path")) and len(to_text(get("irsa_role_path"))) <= 512,
         f"irsa_role_path must start and end with / (e.g. / or /xray/); got {to_json(get('irsa_role_path'))}."),
        (all(match(POLICY, to_text(name)) for name in get("_irsa_policy_names") or []),
         "irsa_managed_policy_arns entries must be IAM policy ARNs or AWS managed policy names; "
         f"got {to_json(get('irsa_managed_policy_arns'))}."),
        (len(text("irsa_permissions_boundary")) == 0 or match(BOUNDARY, get("irsa_permissions_boundary")),
         f"irsa_permissions_boundary must be empty or a managed policy ARN; got {to_json(get('irsa_permissions_boundary'))}."),
        (len(text("irsa_subject_pattern")) == 0 or match(SUBJECT, get("irsa_subject_pattern")),
         "irsa_subject_pattern must be empty or system:serviceaccount:<namespace pattern>:<name pattern>; "
         f"got {to_json(get('irsa_subject_pattern'))}."),
        (len(text("irsa_audience")) > 0 or get("irsa_audience") is None, "irsa_audience must not be empty (EKS tokens for IRSA use sts.amazonaws.com)."),
        (isinstance(tags, Mapping) and tags.get("managed-by", "tracing.xray") == "tracing.xray",
         "irsa_tags must be a mapping and must not set managed-by (the role sets managed-by=tracing.xray)."),
        (all(match(THUMBPRINT, thumbprint) for thumbprint in thumbprints) and len(thumbprints) <= 5,
         f"irsa_oidc_thumbprints must hold at most 5 SHA-1 thumbprints (40 hex digits); got {to_json(get('irsa_oidc_thumbprints'))}."),
    ]
    return not_strings + [message for ok, message in checks if not ok]


class FilterModule:
    def filters(self):
        return {"irsa_problems": irsa_problems}
