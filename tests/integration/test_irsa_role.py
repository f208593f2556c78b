"""The ``irsa`` role and the IRSA doctor against the sandbox: a real kube-apiserver (kwok nodes) whose
ServiceAccount tokens carry the sandbox EKS cluster's issuer, and moto as IAM, STS and EKS.

Every step goes through ``ansible-playbook`` with the sandbox inventory (``inventories/sandbox``); what the role
reports is checked against what boto3 and the Kubernetes client read back. Names are unique per run and every
test removes what it creates. The sandbox's STS (EMULATION, sandbox/aws/sts_web_identity.py) enforces what AWS
does (signature against the published keys, provider, audience, expiry, trust policy); the doctor's evaluation of
the trust policy against the token's claims is checked against it in tests/unit/sandbox.
"""

from __future__ import annotations

import json
import os
import secrets

import boto3
import kubernetes
import pytest
from botocore.exceptions import ClientError
from plays import connected_play, role_play

SUFFIX = secrets.token_hex(3)
SA = "xray-daemon"

# The play for "site.yml with only irsa": the role with the inventory's xray_* variables.
SITE = json.dumps([connected_play("Identity of the X-Ray daemon (IRSA)", roles=[{"role": "tracing.xray.irsa"}])], indent=1)

# The doctor alone (entry point "verify"): changes nothing.
VERIFY = role_play("irsa", tasks_from="verify")

DOCTOR_TASK = "Run the IRSA doctor (token request, claims against the trust policy, provider, annotation)"


@pytest.fixture(scope="module")
def env(sandbox, repo):
    """boto3 clients, the Kubernetes API and the inventory of the running sandbox."""
    session = boto3.session.Session(
        aws_access_key_id=sandbox["aws_access_key_id"],
        aws_secret_access_key=sandbox["aws_secret_access_key"],
        region_name=sandbox["region"],
    )
    kw = dict(endpoint_url=sandbox["aws_endpoint_url"])
    api_client = kubernetes.config.new_client_from_config(config_file=sandbox["kubeconfig"], persist_config=False)
    return {
        "sandbox": sandbox,
        "iam": session.client("iam", **kw),
        "sts": session.client("sts", **kw),
        "core": kubernetes.client.CoreV1Api(api_client),
        "inventory": os.path.join(repo, "inventories", "sandbox"),
        "account": session.client("sts", **kw).get_caller_identity()["Account"],
    }


@pytest.fixture
def names(env):
    """A namespace and an IAM role name of our own; both removed afterwards."""
    suffix = secrets.token_hex(3)
    made = {"namespace": f"irsa-it-{SUFFIX}-{suffix}", "role": f"xray-daemon-irsa-it-{SUFFIX}-{suffix}"}
    yield made
    delete_role(env["iam"], made["role"])
    try:
        env["core"].delete_namespace(made["namespace"])
    except kubernetes.client.exceptions.ApiException as e:
        if e.status != 404:
            raise


def delete_role(iam, role):
    try:
        for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=role)
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchEntity":
            raise


def play(env, run_playbook, text, names, check=False, **extra):
    extra_vars = {"irsa_namespace": names["namespace"], "irsa_role_name": names["role"], **extra}
    return run_playbook(text, inventory=env["inventory"], extra_vars=extra_vars, check=check, diff=check)


def task_result(run, suffix):
    """The result of the task whose name ends with ``suffix`` (role tasks are prefixed with the role name)."""
    for name, result in run.results().items():
        if name.endswith(suffix):
            return result
    raise AssertionError(f"no task named *{suffix} in {list(run.results())}\n{run.explain()}")



def issuer_host(env) -> str:
    return env["sandbox"]["oidc_issuer"].split("://", 1)[1]


def provider_arn(env) -> str:
    return f"arn:aws:iam::{env['account']}:oidc-provider/{issuer_host(env)}"


def get_provider(env):
    try:
        return env["iam"].get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn(env))
    except ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchEntity":
            return None
        raise


def get_role(env, role):
    try:
        return env["iam"].get_role(RoleName=role)["Role"]
    except ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchEntity":
            return None
        raise


def get_sa(env, namespace):
    try:
        return env["core"].read_namespaced_service_account(SA, namespace)
    except kubernetes.client.exceptions.ApiException as e:
        if e.status == 404:
            return None
        raise


def roles_trusting_provider(env, exclude):
    arn = provider_arn(env)
    trusting = []
    for page in env["iam"].get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            statements = role.get("AssumeRolePolicyDocument", {}).get("Statement", [])
            federated = [s.get("Principal", {}).get("Federated") for s in statements if isinstance(s, dict)]
            if role["RoleName"] != exclude and any(arn == f or (isinstance(f, list) and arn in f) for f in federated):
                trusting.append(role["RoleName"])
    return trusting


def expected_trust_policy(env, namespace):
    host = issuer_host(env)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn(env)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{host}:sub": f"system:serviceaccount:{namespace}:{SA}", f"{host}:aud": "sts.amazonaws.com"}},
            }
        ],
    }


def test_irsa_lifecycle(env, run_playbook, names):
    iam, ns, role = env["iam"], names["namespace"], names["role"]
    provider_before = get_provider(env)

    # 1. site.yml with only irsa: provider, role, attachment, annotated ServiceAccount; the doctor passes.
    first = play(env, run_playbook, SITE, names)
    assert first.rc == 0, first.explain()
    assert first.changed() >= 2, first.explain()  # the role and the ServiceAccount at least (the provider may exist)

    provider = get_provider(env)
    assert provider is not None and "sts.amazonaws.com" in provider["ClientIDList"]
    if provider_before is None:
        assert {"Key": "managed-by", "Value": "tracing.xray"} in provider["Tags"]

    made = get_role(env, role)
    assert made is not None
    assert made["AssumeRolePolicyDocument"] == expected_trust_policy(env, ns)
    assert {"Key": "managed-by", "Value": "tracing.xray"} in iam.list_role_tags(RoleName=role)["Tags"]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"]

    sa = get_sa(env, ns)
    assert sa.metadata.annotations["eks.amazonaws.com/role-arn"] == made["Arn"]
    assert sa.metadata.labels["app.kubernetes.io/managed-by"] == "tracing.xray"
    assert sa.metadata.labels["app.kubernetes.io/part-of"] == "tracing-xray"
    managers = {entry.manager for entry in sa.metadata.managed_fields}
    assert managers == {"tracing.xray"}

    doctor = task_result(first, DOCTOR_TASK)
    assert doctor["passed"] is True and doctor["problems"] == [], doctor
    assert doctor["claims"]["sub"] == f"system:serviceaccount:{ns}:{SA}"
    assert doctor["claims"]["iss"] == env["sandbox"]["oidc_issuer"]

    # 2. A second run reports no change, in normal and in check mode.
    second = play(env, run_playbook, SITE, names)
    assert second.rc == 0 and second.changed() == 0, second.explain()
    # Nothing changed, so the doctor keeps the first run's proof (the no-op stays cheap) unless asked every time.
    assert task_result(second, DOCTOR_TASK).get("skipped") is True, second.explain()
    always = play(env, run_playbook, SITE, names, irsa_verify_always=True)
    assert always.rc == 0 and always.changed() == 0 and task_result(always, DOCTOR_TASK)["passed"] is True, always.explain()
    checked = play(env, run_playbook, SITE, names, check=True)
    assert checked.rc == 0 and checked.changed() == 0, checked.explain()

    # 3. EMULATION: the sandbox's enforcing STS hands out credentials for the real token and this trust policy.
    token = env["core"].create_namespaced_service_account_token(
        SA, ns, kubernetes.client.AuthenticationV1TokenRequest(spec=kubernetes.client.V1TokenRequestSpec(audiences=["sts.amazonaws.com"]))
    ).status.token
    creds = env["sts"].assume_role_with_web_identity(RoleArn=made["Arn"], RoleSessionName="irsa-it", WebIdentityToken=token)
    assert creds["Credentials"]["AccessKeyId"]

    # 4. Changing the namespace in the trust policy by hand makes the doctor fail, naming the mismatch.
    edited = expected_trust_policy(env, "default")
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(edited))
    broken = play(env, run_playbook, VERIFY, names)
    assert broken.rc != 0, broken.explain()
    assert f"trust policy expects namespace default, the ServiceAccount is in {ns}" in broken.failure_message(), broken.explain()
    assert get_role(env, role)["AssumeRolePolicyDocument"] == edited  # the doctor changed nothing

    # 5. The role repairs it; the doctor passes again.
    repaired = play(env, run_playbook, SITE, names)
    assert repaired.rc == 0 and repaired.changed() == 1, repaired.explain()
    assert get_role(env, role)["AssumeRolePolicyDocument"] == expected_trust_policy(env, ns)
    assert play(env, run_playbook, VERIFY, names).rc == 0

    # 6. absent removes everything ours, and nothing else.
    provider_owned = {"Key": "managed-by", "Value": "tracing.xray"} in (get_provider(env)["Tags"] or [])
    others = roles_trusting_provider(env, exclude=role)
    gone = play(env, run_playbook, SITE, names, irsa_state="absent")
    assert gone.rc == 0, gone.explain()
    assert get_role(env, role) is None
    assert get_sa(env, ns) is None
    assert env["core"].read_namespace(ns).metadata.name == ns  # shared with the daemon: kept
    if provider_owned and not others:
        assert get_provider(env) is None
    else:
        assert get_provider(env) is not None, f"provider kept: owned={provider_owned}, trusted by {others}"

    again = play(env, run_playbook, SITE, names, irsa_state="absent")
    assert again.rc == 0 and again.changed() == 0, again.explain()


def test_untagged_role_with_the_same_name_is_refused(env, run_playbook, names):
    iam, role = env["iam"], names["role"]
    foreign_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(foreign_policy), Description="not ours")

    refused = play(env, run_playbook, SITE, names)
    assert refused.rc != 0, refused.explain()
    message = refused.failure_message()
    assert f"IAM role '{role}'" in message and "already exists and is not ours" in message and "Nothing was changed" in message
    assert f"'IAMRole/{role}' to xray_adopt" in message and "no tags" in message
    assert refused.changed() == 0, refused.explain()
    untouched = get_role(env, role)
    assert untouched["AssumeRolePolicyDocument"] == foreign_policy
    assert iam.list_role_tags(RoleName=role)["Tags"] == []
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert get_sa(env, names["namespace"]) is None
    assert get_provider(env) is None or provider_arn(env) not in [r for r in roles_trusting_provider(env, exclude="")]

    # Teardown leaves the foreign role, says so, and still removes the rest (it does not stop half-way).
    not_deleted = play(env, run_playbook, SITE, names, irsa_state="absent")
    assert not_deleted.rc == 0, not_deleted.explain()
    assert any(f"IAM role '{role}'" in w and "left in place" in w for w in not_deleted.warnings()), not_deleted.explain()
    assert get_role(env, role) is not None

    # Adopting it on purpose takes it over.
    adopted = play(env, run_playbook, SITE, names, xray_adopt=[f"IAMRole/{role}"])
    assert adopted.rc == 0, adopted.explain()
    assert get_role(env, role)["AssumeRolePolicyDocument"] == expected_trust_policy(env, names["namespace"])


def test_missing_policy_on_a_converged_cluster_detaches_nothing(env, run_playbook, names):
    first = play(env, run_playbook, SITE, names)
    assert first.rc == 0, first.explain()
    attached = env["iam"].list_attached_role_policies(RoleName=names["role"])["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSXRayDaemonWriteAccess"]
    bad = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAcess"
    refused = play(env, run_playbook, SITE, names, irsa_managed_policy_arns=[bad])
    assert refused.rc != 0 and refused.changed() == 0, refused.explain()
    assert f"managed_policy_arns: {bad} is not a managed policy" in refused.failure_message()
    assert env["iam"].list_attached_role_policies(RoleName=names["role"])["AttachedPolicies"] == attached


def test_policies_follow_the_collector_flavor(env, run_playbook, names):
    """xray_collector_flavor chooses the policies; irsa_attach_cloudwatch_agent_policy still adds its policy once."""
    def attached():
        return sorted(p["PolicyName"] for p in env["iam"].list_attached_role_policies(RoleName=names["role"])["AttachedPolicies"])

    agent = play(env, run_playbook, SITE, names, xray_collector_flavor="cloudwatch-agent")
    assert agent.rc == 0, agent.explain()
    assert attached() == ["AWSXrayWriteOnlyAccess", "CloudWatchAgentServerPolicy"]
    both = play(env, run_playbook, SITE, names, xray_collector_flavor="cloudwatch-agent", irsa_attach_cloudwatch_agent_policy=True)
    assert both.rc == 0 and both.changed() == 0, both.explain()
    back = play(env, run_playbook, SITE, names)
    assert back.rc == 0, back.explain()
    assert attached() == ["AWSXRayDaemonWriteAccess"]
    legacy = play(env, run_playbook, SITE, names, irsa_attach_cloudwatch_agent_policy=True)
    assert legacy.rc == 0, legacy.explain()
    assert attached() == ["AWSXRayDaemonWriteAccess", "CloudWatchAgentServerPolicy"]


def test_same_cluster_name_in_another_region_does_not_take_the_role(env, run_playbook, names):
    first = play(env, run_playbook, SITE, names)
    assert first.rc == 0, first.explain()
    before = get_role(env, names["role"])
    # The same cluster name (and so the same default role name) seen from another region: another cluster.
    other = play(env, run_playbook, SITE, names, irsa_issuer="https://oidc.eks.us-east-2.amazonaws.com/id/OTHERCLUSTER",
                 xray_region="us-east-2", irsa_cluster_name="")
    assert other.rc != 0 and other.changed() == 0, other.explain()
    message = other.failure_message()
    assert f"tracing.xray/region={env['sandbox']['region']}" in message and f"IAMRole/{names['role']}" in message
    assert get_role(env, names["role"])["AssumeRolePolicyDocument"] == before["AssumeRolePolicyDocument"]


def test_foreign_service_account_is_refused(env, run_playbook, names):
    core, ns = env["core"], names["namespace"]
    core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=ns)))
    core.create_namespaced_service_account(ns, kubernetes.client.V1ServiceAccount(metadata=kubernetes.client.V1ObjectMeta(name=SA)))
    refused = play(env, run_playbook, SITE, names)
    assert refused.rc != 0, refused.explain()
    message = refused.failure_message()
    assert f"ServiceAccount {ns}/{SA} (no labels" in message and "already exists without the labels" in message, message
    assert f"'ServiceAccount/{ns}/{SA}'" in message  # the xray_adopt entry that hands it over
    assert get_role(env, names["role"]) is None  # refused before any AWS change
    assert not (get_sa(env, ns).metadata.annotations or {})


def test_missing_namespace_that_may_not_be_created_fails_before_any_aws_change(env, run_playbook, names):
    """irsa_create_namespace false and no namespace: the failure names the variable and comes from the ownership read,
    before the OIDC provider or the role is touched (it used to come after the role was created)."""
    refused = play(env, run_playbook, SITE, names, irsa_create_namespace=False)
    assert refused.rc != 0, refused.explain()
    message = refused.failure_message()
    assert (f"tracing.xray.irsa: namespace {names['namespace']} does not exist and irsa_create_namespace is false."
            " Create it first or set irsa_create_namespace: true.") in message, refused.explain()
    assert refused.changed() == 0, refused.explain()
    assert get_role(env, names["role"]) is None


def test_check_mode_on_a_fresh_cluster_creates_nothing(env, run_playbook, names):
    run = play(env, run_playbook, SITE, names, check=True)
    assert run.rc == 0, run.explain()
    assert run.changed() >= 2, run.explain()
    assert get_role(env, names["role"]) is None
    assert get_sa(env, names["namespace"]) is None
    with pytest.raises(kubernetes.client.exceptions.ApiException) as missing:
        env["core"].read_namespace(names["namespace"])
    assert missing.value.status == 404


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ({"irsa_namespace": "Bad_NS"}, "irsa_namespace (or xray_namespace) must be a DNS-1123 label"),
        ({"irsa_subject_pattern": "xray-*"}, "irsa_subject_pattern must be empty or system:serviceaccount:"),
        ({"irsa_issuer": "http://insecure.example.com", "irsa_cluster_name": ""}, "irsa_issuer must be an https URL"),
        ({"irsa_managed_policy_arns": ["arn:aws:iam::aws:role/NotAPolicy"]}, "irsa_managed_policy_arns entries must be IAM policy ARNs"),
        ({"irsa_tags": {"managed-by": "someone"}}, "must not set managed-by"),
    ],
)
def test_bad_input_fails_before_any_change(env, run_playbook, names, extra, fragment):
    run = play(env, run_playbook, SITE, names, **extra)
    assert run.rc != 0, run.explain()
    assert fragment in run.failure_message() + run.stdout, run.explain()
    assert run.changed() == 0
    assert get_role(env, names["role"]) is None
