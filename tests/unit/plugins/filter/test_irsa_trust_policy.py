"""tracing.xray.irsa_trust_policy in IRSA mode: every statement it returns carries both ``<issuer>:sub`` and
``<issuer>:aud`` conditions (the issuer of the Federated principal), for the normal input, a subject_pattern and a
custom audience; and every input that could yield a statement without them is refused (AnsibleFilterError)."""

from __future__ import annotations

import itertools

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.tracing.xray.plugins.filter.irsa_trust_policy import FilterModule
from ansible_collections.tracing.xray.plugins.filter.irsa_trust_policy import irsa_trust_policy

ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
SUBJECT = "system:serviceaccount:xray-system:xray-daemon"


def conditions_by_key(statement: dict) -> dict[str, tuple[str, object]]:
    """Condition key -> (operator, value) over every operator of the statement."""
    out = {}
    for operator, block in statement.get("Condition", {}).items():
        for key, value in block.items():
            assert key not in out, f"{key} under two operators"
            out[key] = (operator, value)
    return out


def assert_sub_and_aud(policy: dict, arn: str = ARN, issuer: str = ISSUER) -> dict[str, tuple[str, object]]:
    """Every statement: the Federated principal is the provider, and both sub and aud of its issuer are conditioned."""
    statements = policy["Statement"]
    assert statements, "no statement"
    found = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Federated": arn}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        found = conditions_by_key(statement)
        assert f"{issuer}:sub" in found, statement
        assert f"{issuer}:aud" in found, statement
        for key in (f"{issuer}:sub", f"{issuer}:aud"):
            operator, value = found[key]
            assert operator in ("StringEquals", "StringLike") and isinstance(value, str) and value.strip(), statement
        # aud is always matched exactly, never by pattern
        assert found[f"{issuer}:aud"][0] == "StringEquals"
    return found


def test_the_filter_is_registered():
    assert FilterModule().filters()["irsa_trust_policy"] is irsa_trust_policy


def test_normal_input_has_exact_sub_and_aud():
    found = assert_sub_and_aud(irsa_trust_policy(ARN, namespace="xray-system", service_account="xray-daemon"))
    assert found == {f"{ISSUER}:sub": ("StringEquals", SUBJECT), f"{ISSUER}:aud": ("StringEquals", "sts.amazonaws.com")}


def test_subject_pattern_keeps_aud_and_patterns_sub():
    found = assert_sub_and_aud(irsa_trust_policy(ARN, namespace="xray-system", service_account="xray-daemon",
                                                 subject_pattern="system:serviceaccount:xray-*:*"))
    assert found == {f"{ISSUER}:sub": ("StringLike", "system:serviceaccount:xray-*:*"), f"{ISSUER}:aud": ("StringEquals", "sts.amazonaws.com")}


def test_custom_audience_keeps_sub():
    found = assert_sub_and_aud(irsa_trust_policy(ARN, namespace="xray-system", service_account="xray-daemon", audience="my-audience"))
    assert found == {f"{ISSUER}:sub": ("StringEquals", SUBJECT), f"{ISSUER}:aud": ("StringEquals", "my-audience")}


def test_subject_pattern_and_custom_audience_together():
    found = assert_sub_and_aud(irsa_trust_policy(ARN, namespace="xray-system", service_account="xray-daemon", audience="my-audience",
                                                 subject_pattern="system:serviceaccount:xray-system:xray-?aemon"))
    assert found[f"{ISSUER}:aud"] == ("StringEquals", "my-audience")
    assert found[f"{ISSUER}:sub"] == ("StringLike", "system:serviceaccount:xray-system:xray-?aemon")


@pytest.mark.parametrize("arn, issuer", [
    ("arn:aws-cn:iam::123456789012:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC", "oidc.eks.cn-north-1.amazonaws.com.cn/id/ABC"),
    ("arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/ABC", "oidc.eks.us-gov-west-1.amazonaws.com/id/ABC"),
    ("arn:aws:iam::123456789012:oidc-provider/issuer.example.com", "issuer.example.com"),
])
def test_condition_keys_are_the_principals_issuer(arn, issuer):
    assert_sub_and_aud(irsa_trust_policy(arn, namespace="ns", service_account="sa"), arn=arn, issuer=issuer)


# default and empty audience / pattern fall back to the documented defaults (still sub and aud)
@pytest.mark.parametrize("kwargs", [{"audience": ""}, {"audience": None}, {"subject_pattern": ""}, {"subject_pattern": None}])
def test_empty_optional_inputs_fall_back_to_exact_sub_and_default_aud(kwargs):
    found = assert_sub_and_aud(irsa_trust_policy(ARN, namespace="xray-system", service_account="xray-daemon", **kwargs))
    assert found[f"{ISSUER}:aud"] == ("StringEquals", "sts.amazonaws.com")
    assert found[f"{ISSUER}:sub"] == ("StringEquals", SUBJECT)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"namespace": None}, "namespace"),
    ({"namespace": ""}, "namespace"),
    ({"service_account": None}, "service_account"),
    ({"service_account": ""}, "service_account"),
    ({"namespace": "Bad_NS"}, "namespace"),
    ({"service_account": "*"}, "service_account"),
    ({"audience": "   "}, "audience"),
    ({"audience": 42}, "audience"),
    ({"audience": ["sts.amazonaws.com"]}, "audience"),
    ({"subject_pattern": "*"}, "subject_pattern"),
    ({"subject_pattern": "system:serviceaccount:other:*"}, "subject_pattern"),
    ({"mode": "web_identity"}, "mode"),
])
def test_refuses_input_that_could_drop_sub_or_aud(kwargs, fragment):
    args = dict({"namespace": "xray-system", "service_account": "xray-daemon"}, **kwargs)
    with pytest.raises(AnsibleFilterError, match=fragment):
        irsa_trust_policy(ARN, **args)


@pytest.mark.parametrize("arn", [None, "", "not-an-arn", "arn:aws:iam::123456789012:role/xray", "arn:aws:iam::123456789012:oidc-provider/",
                                 "arn:aws:s3:::oidc-provider/bucket"])
def test_refuses_what_is_not_an_oidc_provider_arn(arn):
    with pytest.raises(AnsibleFilterError):
        irsa_trust_policy(arn, namespace="xray-system", service_account="xray-daemon")


def test_no_input_combination_yields_a_statement_without_sub_and_aud():
    """Every combination of good, empty, missing and odd values: either refused, or a policy with sub and aud."""
    values = {
        "namespace": ["xray-system", "", None, " ", "*"],
        "service_account": ["xray-daemon", "", None, "a:b"],
        "audience": ["sts.amazonaws.com", "custom", "", None, " ", 0],
        "subject_pattern": [None, "", "system:serviceaccount:xray-system:*", "system:serviceaccount:*", "*", "system:serviceaccount:"],
    }
    produced = 0
    for combo in itertools.product(*values.values()):
        kwargs = dict(zip(values, combo, strict=True))
        try:
            policy = irsa_trust_policy(ARN, **kwargs)
        except AnsibleFilterError:
            continue
        assert_sub_and_aud(policy)
        produced += 1
    assert produced >= 8
