"""Unit tests for tracing.xray.eks_pod_identity_association.

moto (the sandbox's AWS endpoint) does not serve the EKS Pod Identity APIs, so these tests are the only
check of this module: every request and canned response is validated against botocore's EKS service model.
"""

from __future__ import annotations

import datetime
import json

import irsa_testing
from irsa_testing import ACCOUNT
from irsa_testing import run_module

from ansible_collections.tracing.xray.plugins.modules import eks_pod_identity_association as module

aws = irsa_testing.aws

CLUSTER = "observability-workshop"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/xray-daemon"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/other"
ASSOC_ID = "a-abcdefghijklmnop1"
ASSOC_ARN = f"arn:aws:eks:eu-west-1:{ACCOUNT}:podidentityassociation/{CLUSTER}/{ASSOC_ID}"
OURS = {"managed-by": "tracing.xray"}
WHEN = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
KEY = {"clusterName": CLUSTER, "namespace": "xray-system", "serviceAccount": "xray-daemon"}


def association(role=ROLE, tags=None):
    return {
        **KEY,
        "roleArn": role,
        "associationArn": ASSOC_ARN,
        "associationId": ASSOC_ID,
        "tags": OURS if tags is None else tags,
        "createdAt": WHEN,
        "modifiedAt": WHEN,
        "disableSessionTags": False,
    }


def expect_lookup(aws, found=True, **kwargs):
    summaries = [{**KEY, "associationArn": ASSOC_ARN, "associationId": ASSOC_ID}] if found else []
    aws["eks"].add_response("list_pod_identity_associations", {"associations": summaries}, dict(KEY))
    if found:
        aws["eks"].add_response(
            "describe_pod_identity_association", {"association": association(**kwargs)}, {"clusterName": CLUSTER, "associationId": ASSOC_ID}
        )


def args(**extra):
    base = dict(cluster_name=CLUSTER, namespace="xray-system", service_account="xray-daemon", role_arn=ROLE, ownership_tags=OURS)
    base.update(extra)
    return base


def test_creates_association(aws, capsys):
    expect_lookup(aws, found=False)
    aws["eks"].add_response("create_pod_identity_association", {"association": association()}, {**KEY, "roleArn": ROLE, "tags": OURS})
    result = run_module(module.main, args(), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["association"]["association_id"] == ASSOC_ID
    assert result["association"]["role_arn"] == ROLE
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["tags"] == OURS


def test_create_in_check_mode_makes_no_call(aws, capsys):
    expect_lookup(aws, found=False)
    result = run_module(module.main, args(tags={"team": "obs"}), capsys, check_mode=True, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["diff"]["after"]["role_arn"] == ROLE
    assert result["diff"]["after"]["tags"] == {"team": "obs", **OURS}


def test_second_run_is_unchanged(aws, capsys):
    expect_lookup(aws)
    result = run_module(module.main, args(), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]


def test_updates_role_and_tags(aws, capsys):
    expect_lookup(aws, role=OTHER_ROLE, tags={**OURS, "stale": "1"})
    aws["eks"].add_response(
        "update_pod_identity_association", {"association": association()}, {"clusterName": CLUSTER, "associationId": ASSOC_ID, "roleArn": ROLE}
    )
    aws["eks"].add_response("untag_resource", {}, {"resourceArn": ASSOC_ARN, "tagKeys": ["stale"]})
    aws["eks"].add_response("tag_resource", {}, {"resourceArn": ASSOC_ARN, "tags": {"team": "obs"}})
    expect_lookup(aws, tags={**OURS, "team": "obs"})
    result = run_module(module.main, args(tags={"team": "obs"}), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["diff"]["before"]["role_arn"] == OTHER_ROLE
    assert result["diff"]["after"]["role_arn"] == ROLE
    assert result["diff"]["after"]["tags"] == {**OURS, "team": "obs"}


def test_update_in_check_mode_predicts(aws, capsys):
    expect_lookup(aws, role=OTHER_ROLE)
    result = run_module(module.main, args(), capsys, check_mode=True, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["diff"]["after"]["role_arn"] == ROLE


def test_refuses_to_change_foreign_association(aws, capsys):
    expect_lookup(aws, role=OTHER_ROLE, tags={})
    result = run_module(module.main, args(), capsys)
    aws.assert_done()
    assert result["failed"] is True
    assert "is not ours" in result["msg"] and "observability-workshop/xray-system/xray-daemon" in result["msg"] and "adopt: true" in result["msg"]
    assert result["owned"] is False


def test_absent_deletes_owned(aws, capsys):
    expect_lookup(aws)
    aws["eks"].add_response("delete_pod_identity_association", {"association": association()}, {"clusterName": CLUSTER, "associationId": ASSOC_ID})
    result = run_module(module.main, args(state="absent", role_arn=None), capsys, diff=True)
    aws.assert_done()
    assert result["changed"] is True
    assert result["diff"]["after"] == {}


def test_absent_check_mode_and_foreign_and_missing(aws, capsys):
    expect_lookup(aws)
    assert run_module(module.main, args(state="absent"), capsys, check_mode=True)["changed"] is True
    expect_lookup(aws, tags={"owner": "eksctl"})
    foreign = run_module(module.main, args(state="absent"), capsys)
    assert foreign["changed"] is False and foreign["owned"] is False
    assert "not deleting it" in json.dumps(foreign["warnings"])
    expect_lookup(aws, found=False)
    assert run_module(module.main, args(state="absent"), capsys)["changed"] is False
    aws.assert_done()


def test_role_arn_required_and_validated(aws, capsys):
    no_role = args()
    del no_role["role_arn"]
    missing = run_module(module.main, no_role, capsys)
    assert missing["failed"] is True and "role_arn" in missing["msg"]
    none = run_module(module.main, args(role_arn=None), capsys)
    assert none["failed"] is True and none["msg"].startswith("role_arn: required")
    bad = run_module(module.main, args(role_arn="xray-daemon"), capsys)
    assert bad["failed"] is True and bad["msg"].startswith("role_arn:")
    assert aws.requested == []


def test_foreign_association_is_refused_even_without_other_changes(aws, capsys):
    # Same role, but not ours: taking it over would need our tags, so it is refused (nothing is changed).
    expect_lookup(aws, tags={"owner": "eksctl"})
    result = run_module(module.main, args(), capsys)
    aws.assert_done()
    assert result["failed"] is True and result["owned"] is False
    assert "owner=eksctl" in result["msg"]


def test_adopt_takes_a_foreign_association_over(aws, capsys):
    expect_lookup(aws, role=OTHER_ROLE, tags={"owner": "eksctl"})
    aws["eks"].add_response(
        "update_pod_identity_association", {"association": association()}, {"clusterName": CLUSTER, "associationId": ASSOC_ID, "roleArn": ROLE}
    )
    aws["eks"].add_response("tag_resource", {}, {"resourceArn": ASSOC_ARN, "tags": OURS})
    expect_lookup(aws, tags={"owner": "eksctl", **OURS})
    result = run_module(module.main, args(adopt=True), capsys)
    aws.assert_done()
    assert result["changed"] is True and result["owned"] is True
    assert "adopting" in json.dumps(result["warnings"])


# --- create races: another run created the association between our read and the create ----------------------------


def _create_races(aws):
    aws["eks"].add_client_error("create_pod_identity_association", service_error_code="ResourceInUseException",
                                service_message=f"Association already exists: {ASSOC_ID}", http_status_code=409)


def test_create_race_continues_with_the_association_the_other_run_created(aws, capsys):
    expect_lookup(aws, found=False)
    _create_races(aws)
    expect_lookup(aws)  # the re-read: ours, same role
    result = run_module(module.main, args(), capsys, diff=True)
    aws.assert_done()
    assert not result.get("failed"), result
    assert result["changed"] is False and result["owned"] is True
    assert result["association"]["association_id"] == ASSOC_ID


def test_create_race_updates_the_role(aws, capsys):
    expect_lookup(aws, found=False)
    _create_races(aws)
    expect_lookup(aws, role=OTHER_ROLE)
    aws["eks"].add_response(
        "update_pod_identity_association", {"association": association()}, {"clusterName": CLUSTER, "associationId": ASSOC_ID, "roleArn": ROLE}
    )
    expect_lookup(aws)
    result = run_module(module.main, args(), capsys)
    aws.assert_done()
    assert result["changed"] is True and result["association"]["role_arn"] == ROLE


def test_create_race_with_a_foreign_association_is_refused(aws, capsys):
    expect_lookup(aws, found=False)
    _create_races(aws)
    expect_lookup(aws, role=OTHER_ROLE, tags={})
    result = run_module(module.main, args(), capsys)
    aws.assert_done()
    assert result["failed"] is True and result["owned"] is False and "is not ours" in result["msg"]
