"""Unit tests for tracing.xray.iam_workload_role (botocore Stubber: requests validated against the IAM model).

The Stubber answers the calls in the order they were queued and fails on any call that was not queued, so every
test states the exact sequence of IAM calls; ``ops`` additionally records every call the module attempted
(including ones the Stubber refused), so "no mutating call" is asserted explicitly.
"""

from __future__ import annotations

import datetime
import json
from urllib.parse import quote

import irsa_testing
import pytest
from irsa_testing import ACCOUNT
from irsa_testing import run_module

from ansible_collections.tracing.xray.plugins.modules import iam_workload_role

aws = irsa_testing.aws

NAME = "xray-daemon-demo"
ARN = f"arn:aws:iam::{ACCOUNT}:role/{NAME}"
ROLE_ID = "AROAEXAMPLEXRAYDAEMON1"
CREATED = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
OWNERSHIP = {"managed-by": "tracing.xray", "tracing.xray/cluster": "demo", "tracing.xray/region": "eu-west-1"}
LEGACY_TAGS = {"managed-by": "tracing.xray"}
XRAY = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
CLOUDWATCH = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
TYPO = f"arn:aws:iam::{ACCOUNT}:policy/does-not-exist"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/workload-boundary"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
OTHER_ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/OTHERCLUSTER"
ADOPT_HINT = f"IAMRole/{NAME}"

MUTATING = {
    "CreateRole",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "UpdateAssumeRolePolicy",
    "UpdateRole",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "TagRole",
    "UntagRole",
    "DeleteRolePolicy",
    "RemoveRoleFromInstanceProfile",
    "DeleteRole",
}
READ = ["GetRole", "ListAttachedRolePolicies"]


def trust_policy(issuer=ISSUER, service_account="system:serviceaccount:xray:xray-daemon"):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{issuer}:sub": service_account, f"{issuer}:aud": "sts.amazonaws.com"}},
            }
        ],
    }


TRUST = trust_policy()
OTHER_TRUST = trust_policy(issuer=OTHER_ISSUER)


def tag_list(tags: dict) -> list:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class Unordered:
    """Matches a list with the same items in any order (``compare_aws_tags`` builds its result from a set)."""

    def __init__(self, items):
        self.items = list(items)

    @staticmethod
    def _sorted(items):
        return sorted(json.dumps(item, sort_keys=True) for item in items)

    def __eq__(self, other):
        return isinstance(other, list) and self._sorted(other) == self._sorted(self.items)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None

    def __repr__(self):
        return f"Unordered({self.items!r})"


class JsonDocument:
    """Matches a JSON text that parses to ``document``."""

    def __init__(self, document):
        self.document = document

    def __eq__(self, other):
        return isinstance(other, str) and json.loads(other) == self.document

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None

    def __repr__(self):
        return f"JsonDocument({self.document!r})"


@pytest.fixture
def ops(aws):
    """The names of all IAM operations the module attempted, in order (recorded before the Stubber checks them)."""
    calls = []
    aws["iam"]  # create the stubbed client
    # provide-client-params is emitted before before-parameter-build, where the Stubber checks (and refuses) calls.
    aws.clients["iam"].meta.events.register("provide-client-params.iam", lambda model, **kw: calls.append(model.name))
    return calls


def role_response(tags, trust=None, path="/", description=None, boundary=None):
    role = {
        "Path": path,
        "RoleName": NAME,
        "RoleId": ROLE_ID,
        "Arn": ARN,
        "CreateDate": CREATED,
        "AssumeRolePolicyDocument": quote(json.dumps(TRUST if trust is None else trust)),
        "Tags": tag_list(tags),
    }
    if description is not None:
        role["Description"] = description
    if boundary:
        role["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
    return {"Role": role}


def expect_role(aws, tags=None, policies=(XRAY,), **role):
    """get_role plus the paginated list_attached_role_policies of ``read_role``."""
    iam = aws["iam"]
    iam.add_response("get_role", role_response(OWNERSHIP if tags is None else tags, **role), {"RoleName": NAME})
    iam.add_response(
        "list_attached_role_policies",
        {"AttachedPolicies": [{"PolicyName": arn.rsplit("/", 1)[1], "PolicyArn": arn} for arn in policies], "IsTruncated": False},
        {"RoleName": NAME},
    )


def expect_no_role(aws):
    aws["iam"].add_client_error(
        "get_role", service_error_code="NoSuchEntity", service_message=f"The role with name {NAME} cannot be found.",
        http_status_code=404, expected_params={"RoleName": NAME},
    )


def expect_policies(aws, *arns, missing=()):
    for arn in arns:
        if arn in missing:
            aws["iam"].add_client_error(
                "get_policy", service_error_code="NoSuchEntity", service_message=f"Policy {arn} does not exist.",
                http_status_code=404, expected_params={"PolicyArn": arn},
            )
        else:
            aws["iam"].add_response(
                "get_policy", {"Policy": {"PolicyName": arn.rsplit("/", 1)[1], "Arn": arn, "AttachmentCount": 1}}, {"PolicyArn": arn}
            )


def args(**extra):
    base = dict(name=NAME, assume_role_policy_document=TRUST, managed_policy_arns=[XRAY], ownership_tags=OWNERSHIP, adopt_hint=ADOPT_HINT)
    base.update(extra)
    return base


def role_view(tags=None, policies=(XRAY,), trust=None, path="/", description="", boundary="", arn=ARN):
    """The ``iam_role`` return value of the module."""
    return {
        "arn": arn,
        "role_name": NAME,
        "path": path,
        "description": description,
        "assume_role_policy_document": TRUST if trust is None else trust,
        "managed_policy_arns": sorted(policies),
        "boundary": boundary,
        "tags": OWNERSHIP if tags is None else tags,
    }


def warnings(result):
    """The warning texts of a result (ansible-core 2.19 returns them as WarningSummary objects)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def mutating(ops):
    return [op for op in ops if op in MUTATING]


# --- creation -----------------------------------------------------------------------------------


def test_create_role_then_attach_policies_in_order_with_ownership_tags(aws, ops, capsys):
    expect_no_role(aws)
    expect_policies(aws, XRAY, CLOUDWATCH)
    iam = aws["iam"]
    iam.add_response(
        "create_role",
        role_response({"team": "obs", **OWNERSHIP}),
        {
            "RoleName": NAME,
            "Path": "/",
            "AssumeRolePolicyDocument": JsonDocument(TRUST),
            "Description": "X-Ray daemon",
            "Tags": tag_list({"team": "obs", **OWNERSHIP}),
            "PermissionsBoundary": BOUNDARY,
        },
    )
    # sorted: AWSXRay... before CloudWatch...
    iam.add_response("attach_role_policy", {}, {"RoleName": NAME, "PolicyArn": XRAY})
    iam.add_response("attach_role_policy", {}, {"RoleName": NAME, "PolicyArn": CLOUDWATCH})
    expect_role(aws, tags={"team": "obs", **OWNERSHIP}, policies=(XRAY, CLOUDWATCH), description="X-Ray daemon", boundary=BOUNDARY)
    result = run_module(
        iam_workload_role.main,
        args(managed_policy_arns=[XRAY, CLOUDWATCH], description="X-Ray daemon", boundary=BOUNDARY, tags={"team": "obs"}),
        capsys,
        diff=True,
    )
    aws.assert_done()
    assert ops == ["GetRole", "GetPolicy", "GetPolicy", "CreateRole", "AttachRolePolicy", "AttachRolePolicy", *READ]
    assert result["changed"] is True
    assert result["owned"] is True
    expected = role_view(tags={"team": "obs", **OWNERSHIP}, policies=[CLOUDWATCH, XRAY], description="X-Ray daemon", boundary=BOUNDARY)
    assert result["iam_role"] == expected
    assert result["diff"] == {"before": {}, "after": expected}


def test_create_accepts_trust_policy_as_json_text_and_omits_an_empty_boundary(aws, ops, capsys):
    expect_no_role(aws)
    expect_policies(aws, XRAY)
    aws["iam"].add_response(
        "create_role",
        role_response(OWNERSHIP),
        {"RoleName": NAME, "Path": "/", "AssumeRolePolicyDocument": JsonDocument(TRUST), "Description": "", "Tags": tag_list(OWNERSHIP)},
    )
    aws["iam"].add_response("attach_role_policy", {}, {"RoleName": NAME, "PolicyArn": XRAY})
    expect_role(aws)
    result = run_module(iam_workload_role.main, args(assume_role_policy_document=json.dumps(TRUST), boundary=""), capsys)
    aws.assert_done()
    assert result["changed"] is True
    assert result["iam_role"] == role_view()


def test_create_in_check_mode_predicts_the_role_without_mutating_calls(aws, ops, capsys):
    expect_no_role(aws)
    expect_policies(aws, XRAY)
    result = run_module(iam_workload_role.main, args(tags={"team": "obs"}, description="d"), capsys, check_mode=True, diff=True)
    aws.assert_done()
    assert ops == ["GetRole", "GetPolicy"]
    assert result["changed"] is True
    assert result["in_sync"] is False
    assert result["owned"] is True
    assert result["iam_role"] == role_view(tags={"team": "obs", **OWNERSHIP}, description="d", arn="")
    assert result["diff"]["after"] == result["iam_role"]


@pytest.mark.parametrize(
    "arns, missing, message",
    [
        ([XRAY, TYPO], [TYPO], f"managed_policy_arns: {TYPO} is not a managed policy in this account or partition; nothing was changed. "),
        (
            [TYPO, TYPO + "-2"],
            [TYPO, TYPO + "-2"],
            f"managed_policy_arns: {TYPO}, {TYPO}-2 are not managed policies in this account or partition; nothing was changed. ",
        ),
    ],
)
def test_create_with_missing_policy_fails_before_creating(aws, ops, capsys, arns, missing, message):
    expect_no_role(aws)
    expect_policies(aws, *arns, missing=missing)
    result = run_module(iam_workload_role.main, args(managed_policy_arns=arns), capsys)
    aws.assert_done()
    assert result["failed"] is True
    assert result["msg"] == message + "Fix the ARN or create the policy first."
    assert ops == ["GetRole"] + ["GetPolicy"] * len(arns)


# --- idempotence and updates --------------------------------------------------------------------


def test_owned_role_with_same_settings_is_unchanged(aws, ops, capsys):
    expect_role(aws, tags={**OWNERSHIP, "team": "obs"}, policies=(XRAY, CLOUDWATCH), description="X-Ray daemon", boundary=BOUNDARY)
    expect_policies(aws, CLOUDWATCH, XRAY)
    result = run_module(
        iam_workload_role.main,
        args(managed_policy_arns=[CLOUDWATCH, XRAY], description="X-Ray daemon", boundary=BOUNDARY, tags={"team": "obs"}),
        capsys,
        diff=True,
    )
    aws.assert_done()
    assert ops == [*READ, "GetPolicy", "GetPolicy"]
    assert result["changed"] is False
    assert result["in_sync"] is True
    assert result["owned"] is True
    assert result["iam_role"] == role_view(
        tags={**OWNERSHIP, "team": "obs"}, policies=[CLOUDWATCH, XRAY], description="X-Ray daemon", boundary=BOUNDARY
    )
    assert result["diff"]["before"] == result["diff"]["after"]


def test_trust_policy_with_other_key_order_is_unchanged(aws, ops, capsys):
    expect_role(aws)
    expect_policies(aws, XRAY)
    reordered = {"Statement": TRUST["Statement"], "Version": TRUST["Version"]}
    result = run_module(iam_workload_role.main, args(assume_role_policy_document=reordered), capsys)
    aws.assert_done()
    assert mutating(ops) == []
    assert result["changed"] is False


def test_update_trust_policy_description_boundary_and_tags(aws, ops, capsys):
    expect_role(aws, tags={**OWNERSHIP, "stale": "x"}, trust=OTHER_TRUST, description="old")
    expect_policies(aws, XRAY)
    iam = aws["iam"]
    iam.add_response("update_assume_role_policy", {}, {"RoleName": NAME, "PolicyDocument": JsonDocument(TRUST)})
    iam.add_response("update_role", {}, {"RoleName": NAME, "Description": "new"})
    iam.add_response("put_role_permissions_boundary", {}, {"RoleName": NAME, "PermissionsBoundary": BOUNDARY})
    iam.add_response("tag_role", {}, {"RoleName": NAME, "Tags": [{"Key": "team", "Value": "obs"}]})
    iam.add_response("untag_role", {}, {"RoleName": NAME, "TagKeys": ["stale"]})
    expect_role(aws, tags={**OWNERSHIP, "team": "obs"}, description="new", boundary=BOUNDARY)
    result = run_module(iam_workload_role.main, args(description="new", boundary=BOUNDARY, tags={"team": "obs"}), capsys, diff=True)
    aws.assert_done()
    assert mutating(ops) == ["UpdateAssumeRolePolicy", "UpdateRole", "PutRolePermissionsBoundary", "TagRole", "UntagRole"]
    assert result["changed"] is True
    assert result["owned"] is True
    assert result["diff"]["before"] == role_view(tags={**OWNERSHIP, "stale": "x"}, trust=OTHER_TRUST, description="old")
    assert result["iam_role"] == role_view(tags={**OWNERSHIP, "team": "obs"}, description="new", boundary=BOUNDARY)


def test_empty_boundary_removes_the_boundary(aws, ops, capsys):
    expect_role(aws, boundary=BOUNDARY)
    expect_policies(aws, XRAY)
    aws["iam"].add_response("delete_role_permissions_boundary", {}, {"RoleName": NAME})
    expect_role(aws)
    result = run_module(iam_workload_role.main, args(boundary=""), capsys)
    aws.assert_done()
    assert mutating(ops) == ["DeleteRolePermissionsBoundary"]
    assert result["changed"] is True
    assert result["iam_role"]["boundary"] == ""


def test_unset_description_and_boundary_are_kept(aws, ops, capsys):
    expect_role(aws, description="kept", boundary=BOUNDARY)
    expect_policies(aws, XRAY)
    result = run_module(iam_workload_role.main, args(), capsys)
    aws.assert_done()
    assert mutating(ops) == []
    assert result["changed"] is False
    assert result["iam_role"]["description"] == "kept"
    assert result["iam_role"]["boundary"] == BOUNDARY


def test_new_policy_is_attached_before_the_old_one_is_detached(aws, ops, capsys):
    expect_role(aws, policies=(CLOUDWATCH,))
    expect_policies(aws, XRAY)
    # Queued in the required order: the Stubber fails the run if detach_role_policy comes first.
    aws["iam"].add_response("attach_role_policy", {}, {"RoleName": NAME, "PolicyArn": XRAY})
    aws["iam"].add_response("detach_role_policy", {}, {"RoleName": NAME, "PolicyArn": CLOUDWATCH})
    expect_role(aws, policies=(XRAY,))
    result = run_module(iam_workload_role.main, args(), capsys, diff=True)
    aws.assert_done()
    assert "failed" not in result, result["msg"] if "msg" in result else result
    assert mutating(ops) == ["AttachRolePolicy", "DetachRolePolicy"]
    assert result["changed"] is True
    assert result["diff"]["before"]["managed_policy_arns"] == [CLOUDWATCH]
    assert result["iam_role"]["managed_policy_arns"] == [XRAY]


def test_detaching_first_would_be_caught_by_the_stubber(aws, ops, capsys):
    """Guards the order test above: the Stubber really rejects calls out of the queued order."""
    expect_role(aws, policies=(CLOUDWATCH,))
    expect_policies(aws, XRAY)
    aws["iam"].add_response("detach_role_policy", {}, {"RoleName": NAME, "PolicyArn": CLOUDWATCH})
    aws["iam"].add_response("attach_role_policy", {}, {"RoleName": NAME, "PolicyArn": XRAY})
    result = run_module(iam_workload_role.main, args(), capsys)
    assert result["failed"] is True
    assert result["msg"] == (
        f"Failed to create or update IAM role {NAME}: Error getting response stub for operation AttachRolePolicy: "
        "Operation mismatch: found response for DetachRolePolicy."
    )
    assert mutating(ops) == ["AttachRolePolicy"]


def test_without_purge_extra_policies_and_tags_are_kept(aws, ops, capsys):
    expect_role(aws, tags={**OWNERSHIP, "team": "obs"}, policies=(XRAY, CLOUDWATCH))
    expect_policies(aws, XRAY)
    result = run_module(iam_workload_role.main, args(purge_policies=False, purge_tags=False), capsys)
    aws.assert_done()
    assert mutating(ops) == []
    assert result["changed"] is False
    assert result["iam_role"]["managed_policy_arns"] == [XRAY, CLOUDWATCH]
    assert result["iam_role"]["tags"] == {**OWNERSHIP, "team": "obs"}


def test_missing_policy_on_existing_role_fails_without_touching_it(aws, ops, capsys):
    expect_role(aws, policies=(CLOUDWATCH,))
    expect_policies(aws, XRAY, TYPO, missing=[TYPO])
    result = run_module(iam_workload_role.main, args(managed_policy_arns=[XRAY, TYPO]), capsys)
    aws.assert_done()
    assert result["failed"] is True
    assert result["msg"] == (
        f"managed_policy_arns: {TYPO} is not a managed policy in this account or partition; nothing was changed "
        "(the role keeps its policies). Fix the ARN or create the policy first."
    )
    assert ops == [*READ, "GetPolicy", "GetPolicy"]


def test_update_in_check_mode_predicts_without_mutating_calls(aws, ops, capsys):
    expect_role(aws, tags={**OWNERSHIP, "stale": "x"}, policies=(CLOUDWATCH,), trust=OTHER_TRUST, description="old")
    expect_policies(aws, XRAY)
    result = run_module(iam_workload_role.main, args(description="new", boundary=BOUNDARY), capsys, check_mode=True, diff=True)
    aws.assert_done()
    assert ops == [*READ, "GetPolicy"]
    assert result["changed"] is True
    assert result["in_sync"] is False
    assert result["iam_role"] == role_view(description="new", boundary=BOUNDARY)
    assert result["diff"]["before"]["managed_policy_arns"] == [CLOUDWATCH]


# --- ownership ----------------------------------------------------------------------------------


def test_foreign_role_is_refused_before_any_change(aws, ops, capsys):
    expect_role(aws, tags={"team": "payments"}, policies=(CLOUDWATCH,))
    result = run_module(iam_workload_role.main, args(), capsys)
    aws.assert_done()
    assert ops == READ
    assert result["failed"] is True
    assert result["owned"] is False
    assert result["iam_role"] == role_view(tags={"team": "payments"}, policies=[CLOUDWATCH])
    msg = result["msg"]
    assert msg.startswith(f"IAM role '{NAME}' ({ARN}) already exists and is not ours")
    assert "managed-by=tracing.xray, tracing.xray/cluster=demo, tracing.xray/region=eu-west-1" in msg
    assert "(team=payments)" in msg
    assert "Nothing was changed." in msg
    assert f"add '{ADOPT_HINT}' to xray_adopt" in msg


def test_role_of_another_cluster_is_refused(aws, ops, capsys):
    other = {**OWNERSHIP, "tracing.xray/cluster": "other"}
    expect_role(aws, tags=other)
    result = run_module(iam_workload_role.main, args(), capsys)
    aws.assert_done()
    assert result["failed"] is True
    assert result["owned"] is False
    assert "lacks the ownership tags tracing.xray/cluster=demo " in result["msg"]
    assert mutating(ops) == []


def test_adopt_takes_over_a_foreign_role(aws, ops, capsys):
    expect_role(aws, tags={"team": "payments"})
    expect_policies(aws, XRAY)
    aws["iam"].add_response("tag_role", {}, {"RoleName": NAME, "Tags": Unordered(tag_list(OWNERSHIP))})
    aws["iam"].add_response("untag_role", {}, {"RoleName": NAME, "TagKeys": ["team"]})
    expect_role(aws)
    result = run_module(iam_workload_role.main, args(adopt=True), capsys, diff=True)
    aws.assert_done()
    assert mutating(ops) == ["TagRole", "UntagRole"]
    assert result["changed"] is True
    assert result["owned"] is True
    assert result["diff"]["before"]["tags"] == {"team": "payments"}
    assert result["iam_role"] == role_view()


def test_adopt_without_purge_tags_keeps_the_foreign_tags(aws, ops, capsys):
    expect_role(aws, tags={"team": "payments"})
    expect_policies(aws, XRAY)
    aws["iam"].add_response("tag_role", {}, {"RoleName": NAME, "Tags": Unordered(tag_list(OWNERSHIP))})
    expect_role(aws, tags={"team": "payments", **OWNERSHIP})
    result = run_module(iam_workload_role.main, args(adopt=True, purge_tags=False), capsys)
    aws.assert_done()
    assert mutating(ops) == ["TagRole"]
    assert result["owned"] is True
    assert result["iam_role"]["tags"] == {"team": "payments", **OWNERSHIP}


def test_legacy_role_with_the_same_trust_policy_is_owned_and_gets_the_missing_tags(aws, ops, capsys):
    expect_role(aws, tags=LEGACY_TAGS)
    expect_policies(aws, XRAY)
    missing = {k: v for k, v in OWNERSHIP.items() if k != "managed-by"}
    aws["iam"].add_response("tag_role", {}, {"RoleName": NAME, "Tags": Unordered(tag_list(missing))})
    expect_role(aws)
    result = run_module(iam_workload_role.main, args(), capsys)
    aws.assert_done()
    assert mutating(ops) == ["TagRole"]
    assert result["changed"] is True
    assert result["owned"] is True
    assert result["iam_role"]["tags"] == OWNERSHIP


def test_legacy_role_with_another_trust_policy_is_refused(aws, ops, capsys):
    expect_role(aws, tags=LEGACY_TAGS, trust=OTHER_TRUST)
    result = run_module(iam_workload_role.main, args(), capsys)
    aws.assert_done()
    assert ops == READ
    assert result["failed"] is True
    assert result["owned"] is False
    assert "lacks the ownership tags tracing.xray/cluster=demo, tracing.xray/region=eu-west-1 " in result["msg"]
    assert "(managed-by=tracing.xray)" in result["msg"]


def test_legacy_role_with_another_owner_value_is_not_legacy(aws, ops, capsys):
    expect_role(aws, tags={"managed-by": "terraform"})
    result = run_module(iam_workload_role.main, args(), capsys)
    aws.assert_done()
    assert result["failed"] is True
    assert result["owned"] is False
    assert mutating(ops) == []


def test_path_mismatch_fails(aws, ops, capsys):
    expect_role(aws)
    result = run_module(iam_workload_role.main, args(path="/workloads/"), capsys)
    aws.assert_done()
    assert ops == READ
    assert result["failed"] is True
    assert result["msg"] == (
        f"path: IAM role {NAME} exists with path /; IAM cannot move a role to /workloads/. Delete the role first or keep its path."
    )


# --- deletion -----------------------------------------------------------------------------------


def test_absent_deletes_owned_role_with_everything_attached(aws, ops, capsys):
    expect_role(aws, policies=(XRAY, CLOUDWATCH))
    iam = aws["iam"]
    iam.add_response("detach_role_policy", {}, {"RoleName": NAME, "PolicyArn": XRAY})
    iam.add_response("detach_role_policy", {}, {"RoleName": NAME, "PolicyArn": CLOUDWATCH})
    iam.add_response("list_role_policies", {"PolicyNames": ["inline-a", "inline-b"], "IsTruncated": False}, {"RoleName": NAME})
    iam.add_response("delete_role_policy", {}, {"RoleName": NAME, "PolicyName": "inline-a"})
    iam.add_response("delete_role_policy", {}, {"RoleName": NAME, "PolicyName": "inline-b"})
    profile = {
        "Path": "/",
        "InstanceProfileName": "legacy-profile",
        "InstanceProfileId": "AIPAEXAMPLEPROFILE01",
        "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/legacy-profile",
        "CreateDate": CREATED,
        "Roles": [],
    }
    iam.add_response("list_instance_profiles_for_role", {"InstanceProfiles": [profile], "IsTruncated": False}, {"RoleName": NAME})
    iam.add_response("remove_role_from_instance_profile", {}, {"InstanceProfileName": "legacy-profile", "RoleName": NAME})
    iam.add_response("delete_role", {}, {"RoleName": NAME})
    result = run_module(iam_workload_role.main, dict(name=NAME, state="absent", ownership_tags=OWNERSHIP), capsys, diff=True)
    aws.assert_done()
    assert mutating(ops) == [
        "DetachRolePolicy", "DetachRolePolicy", "DeleteRolePolicy", "DeleteRolePolicy", "RemoveRoleFromInstanceProfile", "DeleteRole",
    ]
    assert result["changed"] is True
    assert result["owned"] is True
    assert result["iam_role"] == {}
    assert result["diff"]["before"]["arn"] == ARN
    assert result["diff"]["after"] == {}


def test_absent_in_check_mode_deletes_nothing(aws, ops, capsys):
    expect_role(aws)
    result = run_module(iam_workload_role.main, dict(name=NAME, state="absent", ownership_tags=OWNERSHIP), capsys, check_mode=True)
    aws.assert_done()
    assert ops == READ
    assert result["changed"] is True
    assert result["iam_role"] == {}


def test_absent_keeps_a_foreign_role(aws, ops, capsys):
    expect_role(aws, tags={"team": "payments"})
    result = run_module(iam_workload_role.main, dict(name=NAME, state="absent", ownership_tags=OWNERSHIP), capsys)
    aws.assert_done()
    assert ops == READ
    assert result["changed"] is False
    assert result["owned"] is False
    assert result["iam_role"]["arn"] == ARN
    assert warnings(result) == [
        f"IAM role '{NAME}' ({ARN}) lacks the ownership tags managed-by=tracing.xray, tracing.xray/cluster=demo, "
        "tracing.xray/region=eu-west-1 (its tags: team=payments): not deleting it, it is not ours; left in place."
    ]


def test_absent_does_not_recognise_a_legacy_role(aws, ops, capsys):
    expect_role(aws, tags=LEGACY_TAGS)
    result = run_module(iam_workload_role.main, dict(name=NAME, state="absent", ownership_tags=OWNERSHIP), capsys)
    aws.assert_done()
    assert mutating(ops) == []
    assert result["changed"] is False
    assert result["owned"] is False


def test_absent_when_missing_is_unchanged(aws, ops, capsys):
    expect_no_role(aws)
    result = run_module(iam_workload_role.main, dict(name=NAME, state="absent", ownership_tags=OWNERSHIP), capsys, diff=True)
    aws.assert_done()
    assert ops == ["GetRole"]
    assert result["changed"] is False
    assert result["iam_role"] == {}
    assert "owned" not in result
    assert result["diff"] == {"before": {}, "after": {}}


# --- validation and errors ----------------------------------------------------------------------


def test_present_requires_a_trust_policy(aws, capsys):
    result = run_module(iam_workload_role.main, dict(name=NAME), capsys)
    assert result["failed"] is True
    assert "assume_role_policy_document" in result["msg"]
    assert aws.requested == []


def test_trust_policy_that_is_not_json_fails(aws, capsys):
    result = run_module(iam_workload_role.main, args(assume_role_policy_document="{not json"), capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("assume_role_policy_document: not a JSON policy document (")
    assert aws.requested == []


def test_aws_error_reading_the_role_is_reported(aws, ops, capsys):
    aws["iam"].add_client_error("get_role", service_error_code="AccessDenied", service_message="no", http_status_code=403)
    result = run_module(iam_workload_role.main, args(), capsys)
    assert result["failed"] is True
    assert result["msg"].startswith(f"Failed to read IAM role {NAME}")
    assert ops == ["GetRole"]


def test_check_mode_of_a_role_in_sync_says_so(aws, ops, capsys):
    """The irsa role checks first (check mode) and skips the real call when in_sync: that answer must be exact."""
    expect_role(aws, tags=OWNERSHIP, policies=(XRAY,))
    expect_policies(aws, XRAY)
    result = run_module(iam_workload_role.main, args(), capsys, check_mode=True)
    aws.assert_done()
    assert result["changed"] is False and result["in_sync"] is True


# --- create races: another run created the role between our read and CreateRole -----------------------------------


def _create_races(aws):
    aws["iam"].add_client_error("create_role", service_error_code="EntityAlreadyExists",
                                service_message=f"Role with name {NAME} already exists.", http_status_code=409)


def test_create_race_continues_with_the_role_the_other_run_created(aws, ops, capsys):
    expect_no_role(aws)
    expect_policies(aws, XRAY)
    _create_races(aws)
    expect_role(aws)  # the re-read: ours, same trust and policy -> nothing to change
    result = run_module(iam_workload_role.main, args(), capsys)
    aws.assert_done()
    assert not result.get("failed"), result
    assert mutating(ops) == ["CreateRole"]
    assert result["changed"] is False and result["owned"] is True
    assert result["iam_role"] == role_view()


def test_create_race_with_a_foreign_role_is_refused(aws, ops, capsys):
    expect_no_role(aws)
    expect_policies(aws, XRAY)
    _create_races(aws)
    expect_role(aws, tags={"team": "someone-else"})
    result = run_module(iam_workload_role.main, args(), capsys)
    aws.assert_done()
    assert result["failed"] and result["owned"] is False
    assert ADOPT_HINT in result["msg"]
    assert mutating(ops) == ["CreateRole"]
