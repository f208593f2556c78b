"""Unit tests for tracing.xray.eks_cluster_info (botocore Stubber: requests validated against the EKS model)."""

from __future__ import annotations

import datetime

import irsa_testing
from irsa_testing import ACCOUNT
from irsa_testing import run_module

from ansible_collections.tracing.xray.plugins.modules import eks_cluster_info

aws = irsa_testing.aws

ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
CREATED = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.timezone.utc)


def cluster(name="observability-workshop", issuer=ISSUER, status="ACTIVE"):
    body = {
        "name": name,
        "arn": f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/{name}",
        "createdAt": CREATED,
        "version": "1.31",
        "endpoint": "https://EXAMPLE.gr7.eu-west-1.eks.amazonaws.com",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        "status": status,
        "certificateAuthority": {"data": "LS0tLS1CRUdJTi=="},
        "platformVersion": "eks.12",
        "tags": {"team": "obs"},
        "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"},
    }
    if issuer is not None:
        body["identity"] = {"oidc": {"issuer": issuer}}
    return {"cluster": body}


def test_describes_cluster(aws, capsys):
    aws["eks"].add_response("describe_cluster", cluster(), {"name": "observability-workshop"})
    result = run_module(eks_cluster_info.main, {"name": "observability-workshop"}, capsys)
    aws.assert_done()
    assert result["changed"] is False
    assert result["exists"] is True
    info = result["cluster"]
    assert info["status"] == "ACTIVE"
    assert info["endpoint"] == "https://EXAMPLE.gr7.eu-west-1.eks.amazonaws.com"
    assert info["version"] == "1.31"
    assert info["oidc_issuer"] == ISSUER
    assert info["created_at"] == CREATED.isoformat()
    assert info["access_config"] == {"authentication_mode": "API_AND_CONFIG_MAP"}
    assert info["tags"] == {"team": "obs"}


def test_check_mode_reads_the_same_and_has_no_diff(aws, capsys):
    aws["eks"].add_response("describe_cluster", cluster(status="UPDATING"), {"name": "c1"})
    result = run_module(eks_cluster_info.main, {"cluster_name": "c1"}, capsys, check_mode=True, diff=True)
    aws.assert_done()
    assert result["changed"] is False
    assert result["cluster"]["status"] == "UPDATING"
    assert "diff" not in result


def test_cluster_without_issuer(aws, capsys):
    aws["eks"].add_response("describe_cluster", cluster(issuer=None), {"name": "c1"})
    result = run_module(eks_cluster_info.main, {"name": "c1"}, capsys)
    assert result["cluster"]["oidc_issuer"] == ""


def test_missing_cluster_is_not_an_error(aws, capsys):
    aws["eks"].add_client_error("describe_cluster", service_error_code="ResourceNotFoundException", service_message="No cluster found", http_status_code=404)
    result = run_module(eks_cluster_info.main, {"name": "gone"}, capsys)
    aws.assert_done()
    assert result == {**result, "changed": False, "exists": False, "cluster": {}}
    assert "failed" not in result


def test_access_denied_fails_with_message(aws, capsys):
    aws["eks"].add_client_error("describe_cluster", service_error_code="AccessDeniedException", service_message="denied", http_status_code=403)
    result = run_module(eks_cluster_info.main, {"name": "c1"}, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("Failed to describe EKS cluster c1")


def test_empty_name_is_refused(aws, capsys):
    result = run_module(eks_cluster_info.main, {"name": "  "}, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("name:")
    assert aws.requested == []


def test_eks_throttling_is_retried(aws, capsys, monkeypatch):
    """EKS throttles with ThrottlingException (429), which amazon.aws' AWSRetry does not retry by default:
    aws_retry() (module_utils/aws.py) does."""
    from ansible_collections.amazon.aws.plugins.module_utils import cloud

    sleeps = []
    monkeypatch.setattr(cloud.time, "sleep", sleeps.append)
    aws["eks"].add_client_error("describe_cluster", service_error_code="ThrottlingException", service_message="Rate exceeded",
                                http_status_code=429)
    aws["eks"].add_response("describe_cluster", cluster(), {"name": "observability-workshop"})
    result = run_module(eks_cluster_info.main, {"name": "observability-workshop"}, capsys)
    aws.assert_done()
    assert not result.get("failed"), result
    assert len(sleeps) == 1
