# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Helpers the identity modules share (``iam_oidc_provider``, ``eks_pod_identity_association``,
``irsa_trust_check``).

Kept apart from ``module_utils/irsa.py``, which stays free of AWS calls and of amazon.aws imports because
the ``irsa_trust_policy`` filter uses it too.

- Ownership tags: a resource these modules create carries ``tags`` plus ``ownership_tags``; an existing one is
  reconciled towards the same, removing other tags (``purge_tags``) only when ``tags`` is given.
- ``find_pod_identity_association()``: the EKS Pod Identity association of one ServiceAccount.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags


def desired_tags(params):
    """The tags a resource should carry: the module's ``tags`` plus its ``ownership_tags``."""
    tags = dict(params["tags"] or {})
    tags.update(params["ownership_tags"] or {})
    return tags


def ownership_tag_changes(params, current_tags):
    """(tags to set, tag keys to remove) to go from ``current_tags`` to ``desired_tags(params)``.

    Nothing changes when neither ``tags`` nor ``ownership_tags`` is given; other tags are removed only when
    ``purge_tags`` is set and ``tags`` is given.
    """
    if params["tags"] is None and not params["ownership_tags"]:
        return {}, []
    purge = params["purge_tags"] and params["tags"] is not None
    return compare_aws_tags(current_tags or {}, desired_tags(params), purge_tags=purge)


def tags_after(current_tags, to_set, to_remove):
    """The tags a resource carries once ``to_remove`` are removed and ``to_set`` are set."""
    tags = dict(current_tags or {})
    for key in to_remove:
        tags.pop(key, None)
    tags.update(to_set)
    return tags


def find_pod_identity_association(client, cluster_name, namespace, service_account):
    """The EKS Pod Identity association (DescribePodIdentityAssociation) of ``namespace/service_account`` in
    ``cluster_name``, or None. botocore errors are left to the caller."""
    paginator = client.get_paginator("list_pod_identity_associations")
    summaries = paginator.paginate(clusterName=cluster_name, namespace=namespace, serviceAccount=service_account).build_full_result()["associations"]
    for summary in summaries:
        if summary.get("namespace") == namespace and summary.get("serviceAccount") == service_account:
            return client.describe_pod_identity_association(clusterName=cluster_name, associationId=summary["associationId"], aws_retry=True)["association"]
    return None
