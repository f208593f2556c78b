"""tracing.xray.irsa_problems: the irsa role's input checks (messages as the Jinja checks gave them, issue 15; compared
case by case through the role's validate entry point when the filter replaced them)."""

from __future__ import annotations

import pytest

from ansible_collections.tracing.xray.plugins.filter.irsa_problems import irsa_problems

GOOD = {
    "irsa_cluster_name": "c1", "irsa_issuer": "", "irsa_mode": "irsa", "_irsa_region": "eu-west-1",
    "irsa_namespace": "xray-system", "irsa_service_account_name": "xray-daemon", "irsa_role_name": "xray-daemon-c1",
    "irsa_role_path": "/", "_irsa_policy_names": ["AWSXRayDaemonWriteAccess"], "irsa_managed_policy_arns": [],
    "irsa_permissions_boundary": "", "irsa_subject_pattern": "", "irsa_audience": "sts.amazonaws.com", "irsa_tags": {},
    "irsa_oidc_thumbprints": [],
}


def test_the_defaults_pass():
    assert irsa_problems(GOOD) == []
    assert irsa_problems(GOOD | {"irsa_cluster_name": "", "_irsa_region": "", "irsa_issuer": "https://x/id"}) == []


@pytest.mark.parametrize("change, message", [
    ({"irsa_cluster_name": ""}, "irsa_cluster_name (or xray_cluster_name) or irsa_issuer is required: the role needs the "
                                "cluster's OIDC issuer."),
    ({"irsa_mode": "pod_identity", "irsa_cluster_name": "", "irsa_issuer": "https://x.y/id/1"},
     "irsa_mode=pod_identity needs irsa_cluster_name (pod identity associations belong to an EKS cluster)."),
    ({"_irsa_region": "EU"}, 'xray_region must be an AWS region such as eu-west-1; got "EU".'),
    ({"_irsa_region": ""}, "xray_region is required to reach EKS (cluster lookup, pod identity)."),
    ({"irsa_issuer": "http://x/y"}, "irsa_issuer must be an https URL such as https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE "
                                    '(https:// optional, http not allowed); got "http://x/y".'),
    ({"irsa_namespace": "A"}, 'irsa_namespace (or xray_namespace) must be a DNS-1123 label; got "A".'),
    ({"irsa_service_account_name": "-x"}, 'irsa_service_account_name must be a DNS-1123 subdomain; got "-x".'),
    ({"irsa_role_name": "r" * 65}, "irsa_role_name must be 1-64 characters of letters, digits and +=,.@_-; got \"" + "r" * 65 + '".'),
    ({"irsa_role_path": "x/"}, 'irsa_role_path must start and end with / (e.g. / or /xray/); got "x/".'),
    ({"_irsa_policy_names": ["arn:aws:iam::1:policy/x"], "irsa_managed_policy_arns": ["arn:aws:iam::1:policy/x"]},
     'irsa_managed_policy_arns entries must be IAM policy ARNs or AWS managed policy names; got ["arn:aws:iam::1:policy/x"].'),
    ({"irsa_permissions_boundary": "arn:x"}, 'irsa_permissions_boundary must be empty or a managed policy ARN; got "arn:x".'),
    ({"irsa_subject_pattern": "system:serviceaccount:a"}, "irsa_subject_pattern must be empty or system:serviceaccount:"
                                                          '<namespace pattern>:<name pattern>; got "system:serviceaccount:a".'),
    ({"irsa_audience": ""}, "irsa_audience must not be empty (EKS tokens for IRSA use sts.amazonaws.com)."),
    ({"irsa_tags": {"managed-by": "me"}}, "irsa_tags must be a mapping and must not set managed-by (the role sets managed-by=tracing.xray)."),
    ({"irsa_tags": ["x"]}, "irsa_tags must be a mapping and must not set managed-by (the role sets managed-by=tracing.xray)."),
    ({"irsa_oidc_thumbprints": ["abc"]}, 'irsa_oidc_thumbprints must hold at most 5 SHA-1 thumbprints (40 hex digits); got ["abc"].'),
])
def test_one_bad_input_gives_one_message_naming_it(change, message):
    assert irsa_problems(GOOD | change) == [message]


def test_six_thumbprints_are_too_many():
    (problem,) = irsa_problems(GOOD | {"irsa_oidc_thumbprints": ["a" * 40] * 6})
    assert problem.startswith("irsa_oidc_thumbprints must hold at most 5")


@pytest.mark.parametrize("key, shown", [("irsa_cluster_name", "irsa_cluster_name"), ("irsa_issuer", "irsa_issuer"),
                                        ("_irsa_region", "xray_region"), ("irsa_permissions_boundary", "irsa_permissions_boundary"),
                                        ("irsa_subject_pattern", "irsa_subject_pattern"), ("irsa_audience", "irsa_audience")])
def test_null_where_a_string_is_expected_is_named_before_any_change(key, shown):
    # The Jinja checks failed on null with "object of type 'NoneType' has no len()"; the role's tasks take its length.
    problems = irsa_problems(GOOD | {key: None})
    assert f"{shown} must be a string (empty for none); got null." in problems
