"""Unit tests for plugins/module_utils/irsa.py: trust policies, issuers, partitions, claim evaluation."""

from __future__ import annotations

import base64
import copy
import json
from urllib.parse import quote

import pytest

from ansible_collections.tracing.xray.plugins.module_utils import irsa

ACCOUNT = "123456789012"
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
HOST_PATH = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/xray-daemon"


def make_token(claims: dict) -> str:
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{b64({'alg': 'RS256', 'kid': 'k'})}.{b64(claims)}.c2lnbmF0dXJl"


def claims_for(namespace="xray-system", name="xray-daemon", iss=ISSUER, aud=("sts.amazonaws.com",)):
    return {
        "iss": iss,
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "aud": list(aud),
        "exp": 1900000000,
        "iat": 1899999400,
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": "u-1"}},
    }


def policy_for(namespace="xray-system", name="xray-daemon", **kwargs):
    return irsa.irsa_trust_policy(ISSUER, namespace, name, account_id=ACCOUNT, partition="aws", **kwargs)


# --- partitions and issuers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "region, partition",
    [
        ("eu-west-1", "aws"),
        ("us-east-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-gov-east-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        (" CN-NORTH-1 ", "aws-cn"),
        (None, "aws"),
        ("", "aws"),
    ],
)
def test_partition_for_region(region, partition):
    assert irsa.partition_for_region(region) == partition


@pytest.mark.parametrize(
    "given",
    [
        ISSUER,
        ISSUER + "/",
        HOST_PATH,
        HOST_PATH + "/",
        "HTTPS://OIDC.EKS.EU-WEST-1.AMAZONAWS.COM/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
        "  " + ISSUER + "  ",
    ],
)
def test_normalize_issuer_with_and_without_scheme(given):
    assert irsa.normalize_issuer(given) == HOST_PATH
    assert irsa.issuer_url(given) == ISSUER


def test_normalize_issuer_keeps_port_and_path_case():
    assert irsa.normalize_issuer("https://127.0.0.1:4580/Issuer/ABC/") == "127.0.0.1:4580/Issuer/ABC"


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("http://oidc.example.com/id/X", "must use https"),
        ("", "required"),
        (None, "required"),
        ("https://oidc.example.com/id/X?x=1", "not a plain https URL"),
        ("https://user:pw@oidc.example.com/", "not a plain https URL"),
        ("https:///path-only", "not a plain https URL"),
    ],
)
def test_normalize_issuer_rejects(bad, fragment):
    with pytest.raises(irsa.IrsaError, match="issuer") as err:
        irsa.normalize_issuer(bad)
    assert fragment in str(err.value)


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_oidc_provider_arn(partition):
    assert irsa.oidc_provider_arn(ACCOUNT, ISSUER, partition) == f"arn:{partition}:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"


def test_oidc_provider_arn_validates_account_and_partition():
    with pytest.raises(irsa.IrsaError, match="account_id"):
        irsa.oidc_provider_arn("12345", ISSUER)
    with pytest.raises(irsa.IrsaError, match="partition"):
        irsa.oidc_provider_arn(ACCOUNT, ISSUER, "aws-mars")


def test_provider_issuer_from_arn():
    assert irsa.provider_issuer_from_arn(PROVIDER_ARN) == HOST_PATH
    assert irsa.provider_issuer_from_arn(ROLE_ARN) is None
    assert irsa.provider_issuer_from_arn("not-an-arn") is None


def test_subject_helpers():
    assert irsa.service_account_subject("xray-system", "xray-daemon") == "system:serviceaccount:xray-system:xray-daemon"
    assert irsa.split_subject("system:serviceaccount:a:b") == ("a", "b")
    assert irsa.split_subject("system:serviceaccount:a") is None
    assert irsa.split_subject("user:x") is None
    with pytest.raises(irsa.IrsaError, match="namespace"):
        irsa.service_account_subject("Bad_NS", "x")
    with pytest.raises(irsa.IrsaError, match="service_account"):
        irsa.service_account_subject("ok", "")


# --- trust policy generation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "region, partition",
    [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
@pytest.mark.parametrize("issuer", [ISSUER, HOST_PATH, ISSUER + "/"])
def test_irsa_trust_policy_partitions_and_issuer_forms(region, partition, issuer):
    policy = irsa.irsa_trust_policy(issuer, "xray-system", "xray-daemon", account_id=ACCOUNT, region=region)
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:{partition}:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{HOST_PATH}:sub": "system:serviceaccount:xray-system:xray-daemon",
                        f"{HOST_PATH}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_irsa_trust_policy_explicit_partition_and_provider_arn_agree(partition):
    by_partition = irsa.irsa_trust_policy(ISSUER, "ns", "sa", account_id=ACCOUNT, partition=partition)
    arn = f"arn:{partition}:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"
    by_arn = irsa.irsa_trust_policy(HOST_PATH, "ns", "sa", provider_arn=arn)
    assert by_partition == by_arn
    assert by_arn["Statement"][0]["Principal"]["Federated"] == arn


def test_irsa_trust_policy_subject_pattern_uses_string_like_only_when_asked():
    policy = policy_for(subject_pattern="system:serviceaccount:xray-*:*")
    conditions = policy["Statement"][0]["Condition"]
    assert conditions["StringLike"] == {f"{HOST_PATH}:sub": "system:serviceaccount:xray-*:*"}
    assert conditions["StringEquals"] == {f"{HOST_PATH}:aud": "sts.amazonaws.com"}
    assert "StringLike" not in policy_for()["Statement"][0]["Condition"]


def test_irsa_trust_policy_custom_audience():
    policy = policy_for(audience="sts.amazonaws.com.cn")
    assert policy["Statement"][0]["Condition"]["StringEquals"][f"{HOST_PATH}:aud"] == "sts.amazonaws.com.cn"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(provider_arn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/other.example.com/id/X"), "provider_arn"),
        (dict(provider_arn=ROLE_ARN), "provider_arn"),
        (dict(), "account_id"),
        (dict(account_id=ACCOUNT, subject_pattern="system:serviceaccount:other-*:*"), "subject_pattern"),
        (dict(account_id=ACCOUNT, subject_pattern="xray-*"), "subject_pattern"),
        (dict(account_id=ACCOUNT, audience=""), "audience"),
    ],
)
def test_irsa_trust_policy_rejects_bad_input(kwargs, field):
    with pytest.raises(irsa.IrsaError, match=field):
        irsa.irsa_trust_policy(ISSUER, "xray-system", "xray-daemon", **kwargs)


def test_pod_identity_trust_policy():
    assert irsa.pod_identity_trust_policy() == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
        ],
    }


def test_load_policy_forms():
    policy = policy_for()
    text = json.dumps(policy)
    assert irsa.load_policy(policy) is policy
    assert irsa.load_policy(text) == policy
    assert irsa.load_policy(quote(text)) == policy
    with pytest.raises(irsa.IrsaError):
        irsa.load_policy("{not json")
    with pytest.raises(irsa.IrsaError):
        irsa.load_policy(["x"])


# --- tokens -------------------------------------------------------------------------------------


def test_decode_jwt_claims_round_trip():
    claims = claims_for()
    assert irsa.decode_jwt_claims(make_token(claims)) == claims


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "x.!!!.y", "x." + base64.urlsafe_b64encode(b"[1]").decode() + ".y"])
def test_decode_jwt_claims_rejects(token):
    with pytest.raises(irsa.IrsaError, match="token"):
        irsa.decode_jwt_claims(token)


def test_public_claims_drops_everything_else():
    claims = claims_for()
    claims["secret"] = "x"
    shown = irsa.public_claims(claims)
    assert shown["kubernetes.io"] == {"namespace": "xray-system", "serviceaccount": "xray-daemon"}
    assert "secret" not in shown
    assert shown["sub"] == "system:serviceaccount:xray-system:xray-daemon"


# --- evaluation ---------------------------------------------------------------------------------


def test_generated_policy_admits_its_service_account():
    result = irsa.evaluate_web_identity_trust(policy_for(), claims_for(), ROLE_ARN)
    assert result["allowed"] is True
    assert result["problems"] == []
    assert result["warnings"] == []
    assert result["provider_arn"] == PROVIDER_ARN


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_evaluation_uses_the_role_partition(partition):
    policy = irsa.irsa_trust_policy(ISSUER, "xray-system", "xray-daemon", account_id=ACCOUNT, partition=partition)
    role = f"arn:{partition}:iam::{ACCOUNT}:role/xray-daemon"
    assert irsa.evaluate_web_identity_trust(policy, claims_for(), role)["allowed"] is True
    wrong = irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)
    assert wrong["allowed"] is False
    assert any(f"names partition {partition}, the role is in partition aws" in p for p in wrong["problems"])


def test_namespace_mismatch_is_named():
    result = irsa.evaluate_web_identity_trust(policy_for(namespace="xray-system"), claims_for(namespace="default"), ROLE_ARN)
    assert result["allowed"] is False
    assert result["problems"] == ["trust policy expects namespace xray-system, the ServiceAccount is in default"]


def test_service_account_name_mismatch_is_named():
    result = irsa.evaluate_web_identity_trust(policy_for(name="xray-daemon"), claims_for(name="xray-sa"), ROLE_ARN)
    assert result["problems"] == ["trust policy expects ServiceAccount xray-daemon, the ServiceAccount is named xray-sa"]


def test_both_mismatches_are_named():
    result = irsa.evaluate_web_identity_trust(policy_for(), claims_for(namespace="default", name="other"), ROLE_ARN)
    assert result["problems"] == [
        "trust policy expects namespace xray-system, the ServiceAccount is in default",
        "trust policy expects ServiceAccount xray-daemon, the ServiceAccount is named other",
    ]


def test_audience_mismatch_is_named():
    result = irsa.evaluate_web_identity_trust(policy_for(), claims_for(aud=("vault",)), ROLE_ARN)
    assert result["problems"] == ["trust policy expects audience sts.amazonaws.com, the token's audience is vault"]


def test_other_issuer_names_provider_and_keys():
    other = "https://oidc.eks.eu-west-1.amazonaws.com/id/OTHERCLUSTER"
    result = irsa.evaluate_web_identity_trust(policy_for(), claims_for(iss=other), ROLE_ARN)
    assert result["allowed"] is False
    assert result["problems"][0] == (
        f"trust policy trusts the OIDC provider of issuer https://{HOST_PATH}, the ServiceAccount token is issued by "
        "https://oidc.eks.eu-west-1.amazonaws.com/id/OTHERCLUSTER"
    )
    assert any(f"condition key {HOST_PATH}:sub refers to issuer https://{HOST_PATH}" in p for p in result["problems"])


def test_other_account_is_named():
    policy = irsa.irsa_trust_policy(ISSUER, "xray-system", "xray-daemon", account_id="210987654321", partition="aws")
    result = irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)
    assert result["problems"] == [f"trust policy trusts an OIDC provider in account 210987654321, the role is in account {ACCOUNT}"]


def test_condition_key_with_scheme_is_explained():
    policy = policy_for()
    cond = policy["Statement"][0]["Condition"]["StringEquals"]
    cond[f"https://{HOST_PATH}:sub"] = cond.pop(f"{HOST_PATH}:sub")
    result = irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)
    assert result["allowed"] is False
    assert "starts with a URL scheme" in result["problems"][0]


def test_wrong_action_is_named():
    policy = policy_for()
    policy["Statement"][0]["Action"] = "sts:AssumeRole"
    result = irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)
    assert result["problems"] == ["trust policy statement #1 allows sts:AssumeRole, not sts:AssumeRoleWithWebIdentity"]


def test_string_like_pattern_and_wildcard_actions():
    policy = policy_for(subject_pattern="system:serviceaccount:xray-*:*")
    policy["Statement"][0]["Action"] = ["sts:AssumeRoleWith*"]
    assert irsa.evaluate_web_identity_trust(policy, claims_for(namespace="xray-prod", name="any"), ROLE_ARN)["allowed"]
    result = irsa.evaluate_web_identity_trust(policy, claims_for(namespace="default"), ROLE_ARN)
    assert result["problems"] == ["trust policy expects namespace matching xray-*, the ServiceAccount is in default"]


def test_multiple_subjects_and_case_insensitive_keys():
    policy = policy_for()
    cond = policy["Statement"][0]["Condition"]["StringEquals"]
    cond.pop(f"{HOST_PATH}:sub")
    cond[f"{HOST_PATH.upper()}:SUB"] = ["system:serviceaccount:a:b", "system:serviceaccount:xray-system:xray-daemon"]
    assert irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)["allowed"]
    result = irsa.evaluate_web_identity_trust(policy, claims_for(namespace="c", name="d"), ROLE_ARN)
    assert result["problems"] == [
        "trust policy expects namespace one of a, xray-system, the ServiceAccount is in c",
        "trust policy expects ServiceAccount one of b, xray-daemon, the ServiceAccount is named d",
    ]


def test_pair_mismatch_is_explained():
    policy = policy_for()
    policy["Statement"][0]["Condition"]["StringEquals"][f"{HOST_PATH}:sub"] = ["system:serviceaccount:a:x", "system:serviceaccount:b:y"]
    result = irsa.evaluate_web_identity_trust(policy, claims_for(namespace="a", name="y"), ROLE_ARN)
    assert "not as a pair" in result["problems"][0]


def test_unrestricted_subject_warns_but_allows():
    policy = policy_for()
    del policy["Statement"][0]["Condition"]["StringEquals"][f"{HOST_PATH}:sub"]
    result = irsa.evaluate_web_identity_trust(policy, claims_for(namespace="anything"), ROLE_ARN)
    assert result["allowed"] is True
    assert result["warnings"] == [f"trust policy does not restrict {HOST_PATH}:sub: any ServiceAccount of this cluster can assume the role"]


def test_deny_statement_wins():
    policy = policy_for()
    deny = copy.deepcopy(policy["Statement"][0])
    deny.update(Effect="Deny", Sid="NoDefault")
    deny["Condition"] = {"StringEquals": {f"{HOST_PATH}:sub": "system:serviceaccount:xray-system:xray-daemon"}}
    policy["Statement"].append(deny)
    result = irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)
    assert result["allowed"] is False
    assert result["problems"] == ["trust policy statement NoDefault denies sts:AssumeRoleWithWebIdentity to this token"]


def test_deny_statement_under_a_condition_the_check_cannot_evaluate_is_a_problem():
    """STS applies a Deny whose condition it can evaluate; the doctor cannot, so it must not report the role admitted."""
    policy = policy_for()
    deny = copy.deepcopy(policy["Statement"][0])
    deny.update(Effect="Deny", Sid="NotAfterMigration")
    deny["Condition"] = {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}
    policy["Statement"].append(deny)
    result = irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)
    assert result["allowed"] is False
    assert result["problems"] == ["trust policy statement NotAfterMigration may deny sts:AssumeRoleWithWebIdentity to this token: "
                                  "its condition operator DateGreaterThan is not evaluated by this check; verify it by hand"]
    # a Deny that another, evaluated condition rules out does not apply
    deny["Condition"]["StringEquals"] = {f"{HOST_PATH}:sub": "system:serviceaccount:kube-system:default"}
    assert irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)["allowed"] is True


def test_pod_identity_deny_statement_wins():
    policy = irsa.pod_identity_trust_policy()
    policy["Statement"].append({"Sid": "NoTagging", "Effect": "Deny", "Principal": {"Service": "pods.eks.amazonaws.com"},
                                "Action": "sts:TagSession"})
    result = irsa.evaluate_pod_identity_trust(policy)
    assert result["allowed"] is False
    assert result["problems"] == ["trust policy statement NoTagging denies sts:TagSession to pods.eks.amazonaws.com (EKS Pod Identity)"]
    conditional = irsa.pod_identity_trust_policy()
    conditional["Statement"].append({"Effect": "Deny", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": "sts:AssumeRole",
                                     "Condition": {"StringEquals": {"aws:RequestTag/kubernetes-namespace": "default"}}})
    result = irsa.evaluate_pod_identity_trust(conditional)
    assert result["allowed"] is False and "may deny sts:AssumeRole" in result["problems"][0]


def test_negated_and_if_exists_operators():
    policy = policy_for()
    policy["Statement"][0]["Condition"]["StringNotEquals"] = {f"{HOST_PATH}:sub": "system:serviceaccount:kube-system:default"}
    policy["Statement"][0]["Condition"]["StringEqualsIfExists"] = {"aws:SourceIp": "10.0.0.1"}
    policy["Statement"][0]["Condition"]["ForAnyValue:StringLike"] = {f"{HOST_PATH}:aud": ["sts.*"]}
    policy["Statement"][0]["Condition"]["Null"] = {"aws:PrincipalTag/x": "true"}
    assert irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)["allowed"]


def test_missing_key_for_positive_operator_fails():
    policy = policy_for()
    policy["Statement"][0]["Condition"]["StringEquals"]["aws:SourceIp"] = "10.0.0.1"
    result = irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)
    assert result["problems"] == ["condition StringEquals on aws:SourceIp expects 10.0.0.1, the request carries no value for aws:SourceIp"]


def test_unsupported_operator_is_reported_not_guessed():
    policy = policy_for()
    policy["Statement"][0]["Condition"]["DateGreaterThan"] = {"aws:CurrentTime": "2020-01-01T00:00:00Z"}
    result = irsa.evaluate_web_identity_trust(policy, claims_for(), ROLE_ARN)
    assert result["allowed"] is False
    assert "DateGreaterThan" in result["problems"][0] and "verify it by hand" in result["problems"][0]


def test_no_web_identity_statement():
    result = irsa.evaluate_web_identity_trust(irsa.pod_identity_trust_policy(), claims_for(), ROLE_ARN)
    assert result["problems"] == [
        f"trust policy has no statement that allows sts:AssumeRoleWithWebIdentity for a Federated OIDC provider; expected one trusting {PROVIDER_ARN}"
    ]


def test_closest_statement_is_explained():
    policy = policy_for()
    far = copy.deepcopy(policy["Statement"][0])
    far["Principal"]["Federated"] = f"arn:aws:iam::{ACCOUNT}:oidc-provider/elsewhere.example.com"
    far["Condition"]["StringEquals"] = {"elsewhere.example.com:sub": "system:serviceaccount:x:y"}
    policy["Statement"].insert(0, far)
    result = irsa.evaluate_web_identity_trust(policy, claims_for(namespace="default"), ROLE_ARN)
    assert result["problems"] == ["trust policy expects namespace xray-system, the ServiceAccount is in default"]


def test_evaluate_accepts_url_encoded_policy_and_rejects_bad_role():
    encoded = quote(json.dumps(policy_for()))
    assert irsa.evaluate_web_identity_trust(encoded, claims_for(), ROLE_ARN)["allowed"]
    with pytest.raises(irsa.IrsaError, match="role_arn"):
        irsa.evaluate_web_identity_trust(policy_for(), claims_for(), PROVIDER_ARN)
    with pytest.raises(irsa.IrsaError, match="iss"):
        irsa.evaluate_web_identity_trust(policy_for(), {"sub": "x"}, ROLE_ARN)


def test_evaluate_pod_identity_trust():
    assert irsa.evaluate_pod_identity_trust(irsa.pod_identity_trust_policy())["allowed"]
    partial = irsa.pod_identity_trust_policy()
    partial["Statement"][0]["Action"] = "sts:AssumeRole"
    assert irsa.evaluate_pod_identity_trust(partial)["problems"] == [
        "trust policy trusts pods.eks.amazonaws.com but does not allow sts:TagSession"
    ]
    assert irsa.evaluate_pod_identity_trust(policy_for())["problems"] == [
        "trust policy does not trust the service principal pods.eks.amazonaws.com (EKS Pod Identity)"
    ]


def test_annotation_and_provider_checks():
    assert irsa.check_role_annotation({irsa.ROLE_ARN_ANNOTATION: ROLE_ARN}, ROLE_ARN) == []
    assert "has no eks.amazonaws.com/role-arn annotation" in irsa.check_role_annotation({}, ROLE_ARN)[0]
    other = f"arn:aws:iam::{ACCOUNT}:role/other"
    assert irsa.check_role_annotation({irsa.ROLE_ARN_ANNOTATION: other}, ROLE_ARN) == [
        f"the ServiceAccount's eks.amazonaws.com/role-arn annotation points at {other}, the role is {ROLE_ARN}"
    ]
    assert irsa.check_provider_audience(["sts.amazonaws.com"], "sts.amazonaws.com", PROVIDER_ARN) == []
    assert "does not list the audience sts.amazonaws.com" in irsa.check_provider_audience(["x"], "sts.amazonaws.com", PROVIDER_ARN)[0]


def test_has_tags():
    assert irsa.has_tags({"managed-by": "tracing.xray", "a": "b"}, irsa.MANAGED_BY_TAG)
    assert not irsa.has_tags({"managed-by": "someone"}, irsa.MANAGED_BY_TAG)
    assert not irsa.has_tags(None, irsa.MANAGED_BY_TAG)
    assert irsa.has_tags(None, None)
