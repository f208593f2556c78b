"""Unit tests for tracing.xray.iam_oidc_provider (botocore Stubber: requests validated against the IAM model)."""

from __future__ import annotations

import datetime
import json
from urllib.parse import quote

import irsa_testing
import pytest
from irsa_testing import ACCOUNT
from irsa_testing import run_module
from irsa_testing import sts_identity

from ansible_collections.tracing.xray.plugins.modules import iam_oidc_provider

aws = irsa_testing.aws

HOST_PATH = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
ISSUER = "https://" + HOST_PATH
ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"
OTHER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/OTHER"
OURS = {"managed-by": "tracing.xray"}
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
CREATED = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)


def tag_list(tags: dict) -> list:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def expect_listing(aws, arns=(OTHER_ARN, ARN)):
    aws["iam"].add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": a} for a in arns]}, {})


def expect_get(aws, client_ids=("sts.amazonaws.com",), thumbprints=(), tags=None):
    aws["iam"].add_response(
        "get_open_id_connect_provider",
        {
            "Url": HOST_PATH,
            "ClientIDList": list(client_ids),
            "ThumbprintList": list(thumbprints),
            "CreateDate": CREATED,
            "Tags": tag_list(OURS if tags is None else tags),
        },
        {"OpenIDConnectProviderArn": ARN},
    )


def args(**extra):
    base = dict(url=ISSUER, ownership_tags=OURS)
    base.update(extra)
    return base


# --- creation -----------------------------------------------------------------------------------


def test_creates_provider_without_thumbprints(aws, capsys):
    expect_listing(aws, arns=[OTHER_ARN])
    aws["iam"].add_response(
        "create_open_id_connect_provider",
        {"OpenIDConnectProviderArn": ARN},
        {"Url": ISSUER, "ClientIDList": ["sts.amazonaws.com"], "Tags": tag_list({"cluster": "c1", **OURS})},
    )
    expect_listing(aws)
    expect_get(aws, tags={"cluster": "c1", **OURS})
    result = run_module(iam_oidc_provider.main, args(url=HOST_PATH + "/", tags={"cluster": "c1"}), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["arn"] == ARN
    assert result["owned"] is True
    assert result["oidc_provider"]["client_id_list"] == ["sts.amazonaws.com"]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["url"] == HOST_PATH
    assert result["diff"]["after"]["tags"] == {"cluster": "c1", **OURS}


def test_create_in_check_mode_returns_would_be_arn_and_calls_nothing_mutating(aws, capsys):
    expect_listing(aws, arns=[])
    sts_identity(aws)
    result = run_module(iam_oidc_provider.main, args(thumbprints=[THUMB]), capsys, check_mode=True, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["arn"] == ARN
    assert result["diff"]["after"]["thumbprint_list"] == [THUMB]
    assert result["diff"]["after"]["tags"] == OURS


@pytest.mark.parametrize("partition, region", [("aws-cn", "cn-north-1"), ("aws-us-gov", "us-gov-west-1")])
def test_check_mode_arn_uses_the_account_partition(aws, capsys, partition, region):
    expect_listing(aws, arns=[])
    sts_identity(aws, partition=partition)
    issuer = f"https://oidc.eks.{region}.amazonaws.com/id/ABC"
    result = run_module(iam_oidc_provider.main, args(url=issuer, region=region), capsys, check_mode=True)
    assert result["arn"] == f"arn:{partition}:iam::{ACCOUNT}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/ABC"


def test_create_sends_thumbprints_when_given(aws, capsys):
    expect_listing(aws, arns=[])
    aws["iam"].add_response(
        "create_open_id_connect_provider",
        {"OpenIDConnectProviderArn": ARN},
        {"Url": ISSUER, "ClientIDList": ["a", "b"], "ThumbprintList": [THUMB], "Tags": tag_list(OURS)},
    )
    expect_listing(aws)
    expect_get(aws, client_ids=["a", "b"], thumbprints=[THUMB])
    result = run_module(iam_oidc_provider.main, args(client_id_list=["a", "b"], thumbprints=[THUMB]), capsys)
    aws.assert_done()
    assert result["changed"] is True
    assert result["oidc_provider"]["thumbprint_list"] == [THUMB]


# --- idempotence and updates --------------------------------------------------------------------


def test_second_run_changes_nothing(aws, capsys):
    expect_listing(aws)
    expect_get(aws)
    result = run_module(iam_oidc_provider.main, args(), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is False
    assert result["arn"] == ARN
    assert result["diff"]["before"] == result["diff"]["after"]


def test_update_reconciles_client_ids_thumbprints_and_tags(aws, capsys):
    expect_listing(aws)
    expect_get(aws, client_ids=["old-client"], thumbprints=[], tags={**OURS, "stale": "x"})
    iam = aws["iam"]
    iam.add_response("add_client_id_to_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "ClientID": "sts.amazonaws.com"})
    iam.add_response("remove_client_id_from_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "ClientID": "old-client"})
    iam.add_response("update_open_id_connect_provider_thumbprint", {}, {"OpenIDConnectProviderArn": ARN, "ThumbprintList": [THUMB]})
    iam.add_response("untag_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "TagKeys": ["stale"]})
    iam.add_response("tag_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "Tags": [{"Key": "cluster", "Value": "c1"}]})
    expect_listing(aws)
    expect_get(aws, thumbprints=[THUMB], tags={**OURS, "cluster": "c1"})
    result = run_module(iam_oidc_provider.main, args(thumbprints=[THUMB], tags={"cluster": "c1"}), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["diff"]["before"]["client_id_list"] == ["old-client"]
    assert result["diff"]["after"]["client_id_list"] == ["sts.amazonaws.com"]
    assert result["diff"]["after"]["tags"] == {**OURS, "cluster": "c1"}


def test_update_in_check_mode_predicts_without_calls(aws, capsys):
    expect_listing(aws)
    expect_get(aws, client_ids=["old-client"], tags={**OURS, "stale": "x"})
    result = run_module(
        iam_oidc_provider.main, args(thumbprints=[THUMB], tags={"cluster": "c1"}), capsys, check_mode=True, diff=True
    )
    aws.assert_done()
    assert result["changed"] is True
    assert result["diff"]["after"] == {
        "arn": ARN,
        "url": HOST_PATH,
        "client_id_list": ["sts.amazonaws.com"],
        "thumbprint_list": [THUMB],
        "tags": {**OURS, "cluster": "c1"},
        "create_date": CREATED.isoformat(),
    }


def test_keeps_extra_client_ids_without_purge_and_thumbprints_when_not_given(aws, capsys):
    expect_listing(aws)
    expect_get(aws, client_ids=["sts.amazonaws.com", "extra"], thumbprints=[THUMB])
    result = run_module(iam_oidc_provider.main, args(purge_client_ids=False), capsys)
    aws.assert_done()
    assert result["changed"] is False
    assert result["oidc_provider"]["client_id_list"] == ["extra", "sts.amazonaws.com"]


def test_foreign_provider_is_used_but_not_changed(aws, capsys):
    expect_listing(aws)
    expect_get(aws, client_ids=["other"], tags={})
    result = run_module(iam_oidc_provider.main, args(tags={"cluster": "c1"}), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is False
    assert result["owned"] is False
    assert result["arn"] == ARN
    assert "without the ownership tags" in json.dumps(result["warnings"])


def test_foreign_provider_is_adopted_with_adopt(aws, capsys):
    expect_listing(aws)
    expect_get(aws, tags={"made-by": "eksctl"})
    aws["iam"].add_response("untag_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "TagKeys": ["made-by"]})
    aws["iam"].add_response("tag_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN, "Tags": tag_list({"cluster": "c1", **OURS})})
    expect_listing(aws)
    expect_get(aws, tags={"cluster": "c1", **OURS})
    result = run_module(iam_oidc_provider.main, args(tags={"cluster": "c1"}, adopt=True), capsys)
    aws.assert_done()
    assert result["changed"] is True and result["owned"] is True
    assert result["oidc_provider"]["tags"] == {"cluster": "c1", **OURS}
    assert "adopting" in json.dumps(result["warnings"])


# --- deletion -----------------------------------------------------------------------------------


def test_absent_deletes_owned_provider(aws, capsys):
    expect_listing(aws)
    expect_get(aws)
    aws["iam"].add_response("delete_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN})
    result = run_module(iam_oidc_provider.main, args(state="absent"), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["diff"]["after"] == {}
    assert result["diff"]["before"]["arn"] == ARN


def test_absent_in_check_mode_does_not_delete(aws, capsys):
    expect_listing(aws)
    expect_get(aws)
    result = run_module(iam_oidc_provider.main, args(state="absent"), capsys, check_mode=True, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["diff"]["after"] == {}


def test_absent_keeps_foreign_provider(aws, capsys):
    expect_listing(aws)
    expect_get(aws, tags={"made-by": "eksctl"})
    result = run_module(iam_oidc_provider.main, args(state="absent"), capsys)
    aws.assert_done()
    assert result["changed"] is False
    assert result["owned"] is False


def role(name, federated):
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": federated}, "Action": "sts:AssumeRoleWithWebIdentity"}]}
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": "AROAEXAMPLE" + name.upper().replace("-", ""),
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "CreateDate": CREATED,
        "AssumeRolePolicyDocument": quote(json.dumps(policy)),
    }


def test_absent_keeps_provider_trusted_by_other_roles(aws, capsys):
    expect_listing(aws)
    expect_get(aws)
    aws["iam"].add_response("list_roles", {"Roles": [role("unrelated", OTHER_ARN), role("someone-else", [ARN])], "IsTruncated": False}, {})
    result = run_module(iam_oidc_provider.main, args(state="absent", keep_if_trusted=True), capsys)
    aws.assert_done()
    assert result["changed"] is False
    assert result["trusted_by"] == [f"arn:aws:iam::{ACCOUNT}:role/someone-else"]


def test_absent_deletes_provider_nobody_trusts(aws, capsys):
    expect_listing(aws)
    expect_get(aws)
    aws["iam"].add_response("list_roles", {"Roles": [role("unrelated", OTHER_ARN)], "IsTruncated": False}, {})
    aws["iam"].add_response("delete_open_id_connect_provider", {}, {"OpenIDConnectProviderArn": ARN})
    result = run_module(iam_oidc_provider.main, args(state="absent", keep_if_trusted=True), capsys)
    aws.assert_done()
    assert result["changed"] is True
    assert result["trusted_by"] == []


def test_absent_when_missing_is_unchanged(aws, capsys):
    expect_listing(aws, arns=[OTHER_ARN])
    result = run_module(iam_oidc_provider.main, args(state="absent"), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is False
    assert result["diff"] == {"before": {}, "after": {}}


# --- validation and errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, message",
    [
        (dict(url="http://insecure.example.com"), "url: 'http://insecure.example.com' must use https"),
        (dict(thumbprints=["abc"]), "thumbprints: 'abc' is not a SHA-1 thumbprint"),
        (dict(thumbprints=[THUMB] * 6), "thumbprints: IAM accepts at most 5"),
        (dict(client_id_list=[]), "client_id_list: at least one client ID"),
    ],
)
def test_bad_input_fails_before_any_call(aws, capsys, extra, message):
    result = run_module(iam_oidc_provider.main, args(**extra), capsys)
    aws.assert_done()
    assert result["failed"] is True
    assert result["msg"].startswith(message)
    assert aws.requested == []


def test_aws_error_is_reported(aws, capsys):
    aws["iam"].add_client_error("list_open_id_connect_providers", service_error_code="AccessDenied", service_message="no", http_status_code=403)
    result = run_module(iam_oidc_provider.main, args(), capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("Failed to list IAM OIDC providers")


# --- create races: another run registered the provider between our read and the create ----------------------------


def _create_races(aws):
    aws["iam"].add_client_error("create_open_id_connect_provider", service_error_code="EntityAlreadyExists",
                                service_message=f"Provider with url {ISSUER} already exists.", http_status_code=409)


def test_create_race_continues_with_the_provider_the_other_run_created(aws, capsys):
    expect_listing(aws, arns=[OTHER_ARN])
    _create_races(aws)
    expect_listing(aws)
    expect_get(aws)  # the re-read: ours, same client IDs
    result = run_module(iam_oidc_provider.main, args(), capsys)
    aws.assert_done()
    assert not result.get("failed"), result
    assert result["changed"] is False and result["owned"] is True and result["arn"] == ARN


def test_create_race_with_a_foreign_provider_uses_it_as_it_is(aws, capsys):
    """The usual rule for a foreign provider (shared per issuer): used as it is, with a warning."""
    expect_listing(aws, arns=[OTHER_ARN])
    _create_races(aws)
    expect_listing(aws)
    expect_get(aws, tags={"team": "platform"})
    result = run_module(iam_oidc_provider.main, args(), capsys)
    aws.assert_done()
    assert not result.get("failed"), result
    assert result["changed"] is False and result["owned"] is False
    assert "using it as it is" in json.dumps(result.get("warnings"))
