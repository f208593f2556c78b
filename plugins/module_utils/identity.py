# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""AWS lookups the identity modules share (``eks_pod_identity_association``, ``irsa_trust_check``).

Kept apart from ``module_utils/irsa.py``, which stays free of AWS calls and of amazon.aws imports because
the ``irsa_trust_policy`` filter uses it too. The ownership tag helpers these modules used to share here live in
``module_utils/ownership.py`` (the ownership contract of every module).

- ``find_pod_identity_association()``: the EKS Pod Identity association of one ServiceAccount.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries


def find_pod_identity_association(client, cluster_name, namespace, service_account):
    """The EKS Pod Identity association (DescribePodIdentityAssociation) of ``namespace/service_account`` in
    ``cluster_name``, or None. The listing (all pages) is retried as a whole; botocore errors are left to the
    caller."""
    summaries = paginated_query_with_retries(
        client, "list_pod_identity_associations", clusterName=cluster_name, namespace=namespace, serviceAccount=service_account
    )["associations"]
    for summary in summaries:
        if summary.get("namespace") == namespace and summary.get("serviceAccount") == service_account:
            return client.describe_pod_identity_association(clusterName=cluster_name, associationId=summary["associationId"], aws_retry=True)["association"]
    return None
