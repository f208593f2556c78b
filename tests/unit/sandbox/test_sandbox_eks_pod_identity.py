"""EKS Pod Identity (EMULATION): the association API (eks) and AssumeRoleForPodIdentity (eks-auth), through real
boto3 clients against the in-process endpoint; every successful response is checked against botocore's output
shape, and the credentials decisions are compared with the doctor (irsa_trust_check, mode=pod_identity)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
from ansible_collections.tracing.xray.plugins.module_utils import irsa as doctor
from ansible_collections.tracing.xray.plugins.module_utils.identity import find_pod_identity_association
from botocore.exceptions import ClientError
from identity_tokens import SigningKey, admin, attach_shape_check, client, publish, sa_claims, tamper

from sandbox.aws import eks_pod_identity

CLUSTER = "xray-unit"  # conftest.py
POD_AUD = "pods.eks.amazonaws.com"
NS, SA = "xray-system", "xray-daemon"


@pytest.fixture(scope="module")
def problems() -> list[str]:
    return []


@pytest.fixture(autouse=True)
def _no_shape_problems(problems: list[str]) -> Any:
    yield
    found = list(problems)
    problems.clear()
    assert not found, f"responses not matching botocore's output shapes: {found}"


@pytest.fixture(scope="module")
def eks(sandbox: dict[str, Any], problems: list[str]) -> Any:
    return attach_shape_check(client(sandbox, "eks"), problems)


@pytest.fixture(scope="module")
def eks_auth(sandbox: dict[str, Any], problems: list[str]) -> Any:
    return attach_shape_check(client(sandbox, "eks-auth"), problems)


@pytest.fixture(scope="module")
def key(sandbox: dict[str, Any]) -> SigningKey:
    signing = SigningKey("pod-identity-key")
    publish(sandbox, sandbox["oidc_issuer"], signing)
    return signing


_names = iter(range(1, 10_000))


def _module_client(eks: Any) -> Any:
    """The client as AnsibleAWSModule.client() hands it to the collection's module_utils (aws_retry=...)."""
    return RetryingBotoClientWrapper(eks, AWSRetry.jittered_backoff(retries=1))


def _role(sandbox: dict[str, Any], trust: dict[str, Any], name: str = "podid") -> str:
    role_name = f"{name}-{next(_names)}"[:64]
    return client(sandbox, "iam").create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def _service_account(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def _delete_all(eks: Any, namespace: str | None = None) -> None:
    for page in eks.get_paginator("list_pod_identity_associations").paginate(clusterName=CLUSTER):
        for summary in page["associations"]:
            if namespace is None or summary["namespace"] == namespace:
                eks.delete_pod_identity_association(clusterName=CLUSTER, associationId=summary["associationId"])


# --- the association API -----------------------------------------------------------------------------


def test_association_lifecycle(sandbox: dict[str, Any], eks: Any) -> None:
    role = _role(sandbox, doctor.pod_identity_trust_policy())
    sa = _service_account("life")
    created = eks.create_pod_identity_association(clusterName=CLUSTER, namespace=NS, serviceAccount=sa, roleArn=role,
                                                  tags={"managed-by": "tracing.xray"})["association"]
    assoc_id = created["associationId"]
    assert created["associationArn"] == f"arn:aws:eks:{sandbox['region']}:{sandbox['account_id']}:podidentityassociation/{CLUSTER}/{assoc_id}"
    assert assoc_id.startswith("a-") and len(assoc_id) == 19
    assert (created["clusterName"], created["namespace"], created["serviceAccount"], created["roleArn"]) == (CLUSTER, NS, sa, role)
    assert created["tags"] == {"managed-by": "tracing.xray"}
    assert created["disableSessionTags"] is False
    described = eks.describe_pod_identity_association(clusterName=CLUSTER, associationId=assoc_id)["association"]
    assert described == created

    other_role = _role(sandbox, doctor.pod_identity_trust_policy())
    time.sleep(0.01)
    updated = eks.update_pod_identity_association(clusterName=CLUSTER, associationId=assoc_id, roleArn=other_role, disableSessionTags=True)["association"]
    assert updated["roleArn"] == other_role and updated["disableSessionTags"] is True
    assert updated["modifiedAt"] > updated["createdAt"]

    arn = created["associationArn"]
    eks.tag_resource(resourceArn=arn, tags={"team": "obs", "env": "sandbox"})
    eks.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"managed-by": "tracing.xray", "team": "obs"}
    assert eks.describe_pod_identity_association(clusterName=CLUSTER, associationId=assoc_id)["association"]["tags"] == {
        "managed-by": "tracing.xray", "team": "obs"}
    # moto still answers tags of other EKS resources (the cluster).
    cluster_arn = eks.describe_cluster(name=CLUSTER)["cluster"]["arn"]
    assert eks.list_tags_for_resource(resourceArn=cluster_arn)["tags"]["sandbox"] == "EMULATION"

    # The collection's lookup (used by eks_pod_identity_association and irsa_trust_check) finds it.
    found = find_pod_identity_association(_module_client(eks), CLUSTER, NS, sa)
    assert found["associationId"] == assoc_id and found["roleArn"] == other_role

    deleted = eks.delete_pod_identity_association(clusterName=CLUSTER, associationId=assoc_id)["association"]
    assert deleted["associationId"] == assoc_id
    with pytest.raises(ClientError) as err:
        eks.describe_pod_identity_association(clusterName=CLUSTER, associationId=assoc_id)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        eks.list_tags_for_resource(resourceArn=arn)
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    assert find_pod_identity_association(_module_client(eks), CLUSTER, NS, sa) is None


def test_list_filters_and_pagination(sandbox: dict[str, Any], eks: Any) -> None:
    role = _role(sandbox, doctor.pod_identity_trust_policy())
    namespace = f"paging-{next(_names)}"
    ids = [eks.create_pod_identity_association(clusterName=CLUSTER, namespace=namespace, serviceAccount=f"sa-{i}", roleArn=role)["association"]["associationId"]
           for i in range(7)]
    first = eks.list_pod_identity_associations(clusterName=CLUSTER, namespace=namespace, maxResults=3)
    assert len(first["associations"]) == 3 and "nextToken" in first
    assert set(first["associations"][0]) == {"clusterName", "namespace", "serviceAccount", "associationArn", "associationId"}
    pages = list(eks.get_paginator("list_pod_identity_associations").paginate(clusterName=CLUSTER, namespace=namespace, PaginationConfig={"PageSize": 3}))
    assert [len(p["associations"]) for p in pages] == [3, 3, 1]
    assert [a["associationId"] for p in pages for a in p["associations"]] == ids
    one = eks.list_pod_identity_associations(clusterName=CLUSTER, namespace=namespace, serviceAccount="sa-4")["associations"]
    assert [a["associationId"] for a in one] == [ids[4]]
    assert eks.list_pod_identity_associations(clusterName=CLUSTER, namespace="nobody-here")["associations"] == []
    with pytest.raises(ClientError) as err:
        eks.list_pod_identity_associations(clusterName=CLUSTER, nextToken="garbage!")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    _delete_all(eks, namespace)


def test_association_errors(sandbox: dict[str, Any], eks: Any) -> None:
    role = _role(sandbox, doctor.pod_identity_trust_policy())
    sa = _service_account("dup")
    created = eks.create_pod_identity_association(clusterName=CLUSTER, namespace=NS, serviceAccount=sa, roleArn=role)["association"]

    def code(call: Callable[[], Any]) -> tuple[str, int]:
        with pytest.raises(ClientError) as err:
            call()
        return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]

    assert code(lambda: eks.create_pod_identity_association(clusterName=CLUSTER, namespace=NS, serviceAccount=sa, roleArn=role)) == (
        "ResourceInUseException", 409)
    assert code(lambda: eks.create_pod_identity_association(clusterName="no-such-cluster", namespace=NS, serviceAccount=sa, roleArn=role)) == (
        "ResourceNotFoundException", 404)
    assert code(lambda: eks.create_pod_identity_association(clusterName=CLUSTER, namespace=NS, serviceAccount="x", roleArn="arn:aws:s3:::bucket")) == (
        "InvalidParameterException", 400)
    assert code(lambda: eks.create_pod_identity_association(clusterName=CLUSTER, namespace="Bad_NS", serviceAccount="x", roleArn=role)) == (
        "InvalidParameterException", 400)
    assert code(lambda: eks.create_pod_identity_association(clusterName=CLUSTER, namespace=NS, serviceAccount="t", roleArn=role, tags={"aws:x": "y"})) == (
        "InvalidParameterException", 400)
    assert code(lambda: eks.describe_pod_identity_association(clusterName=CLUSTER, associationId="a-00000000000000000")) == (
        "ResourceNotFoundException", 404)
    assert code(lambda: eks.update_pod_identity_association(clusterName=CLUSTER, associationId="a-00000000000000000", roleArn=role)) == (
        "ResourceNotFoundException", 404)
    assert code(lambda: eks.list_pod_identity_associations(clusterName="no-such-cluster")) == ("ResourceNotFoundException", 404)
    missing_arn = created["associationArn"][:-17] + "0" * 17
    assert code(lambda: eks.tag_resource(resourceArn=missing_arn, tags={"a": "b"})) == ("NotFoundException", 404)
    eks.delete_pod_identity_association(clusterName=CLUSTER, associationId=created["associationId"])


# --- AssumeRoleForPodIdentity ------------------------------------------------------------------------


def _associate(sandbox: dict[str, Any], eks: Any, trust: dict[str, Any], namespace: str = NS, **kw: Any) -> tuple[str, str, str]:
    sa = _service_account(kw.pop("sa_prefix", "pod"))
    role = _role(sandbox, trust)
    assoc = eks.create_pod_identity_association(clusterName=CLUSTER, namespace=namespace, serviceAccount=sa, roleArn=role, **kw)["association"]
    return sa, role, assoc["associationId"]


def test_assume_role_for_pod_identity(sandbox: dict[str, Any], eks: Any, eks_auth: Any, key: SigningKey) -> None:
    sa, role, assoc_id = _associate(sandbox, eks, doctor.pod_identity_trust_policy())
    token = key.sign(sa_claims(sandbox["oidc_issuer"], NS, sa, audience=POD_AUD))
    result = eks_auth.assume_role_for_pod_identity(clusterName=CLUSTER, token=token)
    assert result["subject"] == {"namespace": NS, "serviceAccount": sa}
    assert result["audience"] == POD_AUD
    assert result["podIdentityAssociation"]["associationId"] == assoc_id
    role_name = role.rsplit("/", 1)[1]
    arn = result["assumedRoleUser"]["arn"]
    assert arn.startswith(f"arn:aws:sts::{sandbox['account_id']}:assumed-role/{role_name}/eks-{CLUSTER}-{sa}-")
    role_id = client(sandbox, "iam").get_role(RoleName=role_name)["Role"]["RoleId"]
    assert result["assumedRoleUser"]["assumeRoleId"] == f"{role_id}:{arn.rsplit('/', 1)[1]}"
    creds = result["credentials"]
    assert creds["expiration"].timestamp() > time.time() + 3000
    assert client(sandbox, "sts", creds).get_caller_identity()["Arn"] == arn

    since = time.time()
    client(sandbox, "xray", creds).put_trace_segments(TraceSegmentDocuments=[])
    status, calls = admin(sandbox, "GET", f"/_sandbox/calls?action=PutTraceSegments&access_key_id={creds['accessKeyId']}&since={since}")
    assert status == 200 and len(calls) == 1
    assert calls[0]["principal_arn"] == arn
    assert calls[0]["source"] == "eks-auth:AssumeRoleForPodIdentity"
    assert calls[0]["subject"] == f"system:serviceaccount:{NS}:{sa}"
    _status, sessions = admin(sandbox, "GET", "/_sandbox/sessions")
    session = next(s for s in sessions if s["access_key_id"] == creds["accessKeyId"])
    assert session["session_tags"]["kubernetes-namespace"] == NS
    assert session["session_tags"]["eks-cluster-name"] == CLUSTER


def _doctor_pod_identity(eks: Any, trust: dict[str, Any], namespace: str, sa: str, role: str) -> tuple[bool, list[str]]:
    """What irsa_trust_check (check_pod_identity) concludes: trust policy, and an association for namespace/sa naming the role."""
    problems = list(doctor.evaluate_pod_identity_trust(trust)["problems"])
    association = find_pod_identity_association(_module_client(eks), CLUSTER, namespace, sa)
    if association is None:
        problems.append(f"no association for {namespace}/{sa}")
    elif association["roleArn"] != role:
        problems.append("association names another role")
    return not problems, problems


def _trust(service: str = POD_AUD, actions: Any = ("sts:AssumeRole", "sts:TagSession"), extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": list(actions)}
    return {"Version": "2012-10-17", "Statement": [statement] + (extra or [])}


@dataclass
class PodCase:
    id: str
    trust: dict[str, Any]
    token: Callable[[dict[str, Any], SigningKey, str], str]  # (sandbox, key, associated service account)
    outcome: str  # "credentials" or the eks-auth error code
    doctor: bool
    doctor_judges: bool = True
    asked: Callable[[str], tuple[str, str]] = lambda sa: (NS, sa)  # the ServiceAccount the doctor is asked about (the token's)
    why: str = ""


def _pod_token(ns: str = NS, sa: str | None = None, aud: Any = POD_AUD, issuer: str | None = None, **kw: Any) -> Callable[..., str]:
    return lambda s, k, assoc_sa: k.sign(sa_claims(issuer or s["oidc_issuer"], ns, sa or assoc_sa, audience=aud, **kw))


POD_CASES = [
    PodCase("associated-and-trusted", _trust(), _pod_token(), "credentials", True),
    PodCase("wrong-namespace", _trust(), _pod_token(ns="default"), "ResourceNotFoundException", False, asked=lambda sa: ("default", sa)),
    PodCase("wrong-service-account", _trust(), _pod_token(sa="default"), "ResourceNotFoundException", False, asked=lambda sa: (NS, "default")),
    PodCase("trust-lacks-tagsession", _trust(actions=["sts:AssumeRole"]), _pod_token(), "AccessDeniedException", False),
    PodCase("trust-other-service", _trust(service="ec2.amazonaws.com"), _pod_token(), "AccessDeniedException", False),
    PodCase("trust-irsa-only", doctor.irsa_trust_policy("https://oidc.eks.us-west-2.amazonaws.com/id/X", NS, "x", account_id="123456789012"),
            _pod_token(), "AccessDeniedException", False),
    PodCase("trust-deny-statement", _trust(extra=[{"Effect": "Deny", "Principal": {"Service": POD_AUD}, "Action": "sts:TagSession"}]),
            _pod_token(), "AccessDeniedException", False),
    PodCase("audience-sts", _trust(), _pod_token(aud="sts.amazonaws.com"), "InvalidTokenException", True, doctor_judges=False,
            why="mode=pod_identity does not look at the token"),
    PodCase("expired", _trust(), _pod_token(exp=int(time.time()) - 3600), "ExpiredTokenException", True, doctor_judges=False,
            why="token times"),
    PodCase("tampered", _trust(),
            lambda s, k, sa: tamper(k.sign(sa_claims(s["oidc_issuer"], "default", sa, audience=POD_AUD)), sub=f"system:serviceaccount:{NS}:{sa}",
                                    **{"kubernetes.io": {"namespace": NS, "serviceaccount": {"name": sa}}}),
            "InvalidTokenException", True, doctor_judges=False, why="signature"),
    PodCase("other-issuer", _trust(), _pod_token(issuer="https://oidc.eks.us-west-2.amazonaws.com/id/0THERC1USTER0000000000000000000A"),
            "InvalidTokenException", True, doctor_judges=False, why="the token's issuer is not the cluster's"),
]


@pytest.mark.parametrize("case", POD_CASES, ids=[c.id for c in POD_CASES])
def test_eks_auth_and_doctor_decide_the_same(sandbox: dict[str, Any], eks: Any, eks_auth: Any, key: SigningKey, case: PodCase) -> None:
    sa, role, _assoc = _associate(sandbox, eks, case.trust)
    token = case.token(sandbox, key, sa)
    try:
        eks_auth.assume_role_for_pod_identity(clusterName=CLUSTER, token=token)
        outcome = "credentials"
    except ClientError as err:
        outcome = err.response["Error"]["Code"]
    namespace, asked_sa = case.asked(sa)
    admits, problems = _doctor_pod_identity(eks, case.trust, namespace, asked_sa, role)
    assert outcome == case.outcome
    assert admits == case.doctor, problems
    if case.doctor_judges:
        assert admits == (outcome == "credentials"), "the emulated EKS Auth and the doctor disagree"


def test_eks_auth_errors(sandbox: dict[str, Any], eks_auth: Any, key: SigningKey) -> None:
    token = key.sign(sa_claims(sandbox["oidc_issuer"], NS, "x", audience=POD_AUD))
    with pytest.raises(ClientError) as err:
        eks_auth.assume_role_for_pod_identity(clusterName="no-such-cluster", token=token)
    assert (err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as err:
        eks_auth.assume_role_for_pod_identity(clusterName=CLUSTER, token="a.b.c")
    assert err.value.response["Error"]["Code"] == "InvalidTokenException"
    since = time.time() - 1
    _status, calls = admin(sandbox, "GET", f"/_sandbox/calls?action=AssumeRoleForPodIdentity&since={since}")
    assert calls and calls[-1]["error_code"] == "InvalidTokenException"


def test_associations_go_with_their_cluster(sandbox: dict[str, Any], eks: Any) -> None:
    """EKS deletes a cluster's associations with it; a re-created cluster of that name starts empty."""
    eks.create_cluster(name="doomed", roleArn=f"arn:aws:iam::{sandbox['account_id']}:role/sandbox-eks-cluster-role",
                       resourcesVpcConfig={"subnetIds": ["subnet-0a", "subnet-0b"]})
    role = _role(sandbox, doctor.pod_identity_trust_policy())
    eks.create_pod_identity_association(clusterName="doomed", namespace=NS, serviceAccount="sa", roleArn=role)
    eks.delete_cluster(name="doomed")
    eks.create_cluster(name="doomed", roleArn=f"arn:aws:iam::{sandbox['account_id']}:role/sandbox-eks-cluster-role",
                       resourcesVpcConfig={"subnetIds": ["subnet-0a", "subnet-0b"]})
    try:
        assert eks.list_pod_identity_associations(clusterName="doomed")["associations"] == []
    finally:
        eks.delete_cluster(name="doomed")


def test_identity_apis_named() -> None:
    assert "eks-auth:AssumeRoleForPodIdentity" in eks_pod_identity.IDENTITY_APIS
