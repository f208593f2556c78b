"""Throttling (issue 17, reliability): with the sandbox answering a share of the requests with the services' real
throttling errors (``/_sandbox/throttle``, sandbox/aws/throttle.py), the roles still converge through retries
(botocore's standard retry mode and ``aws_retry()``, module_utils/aws.py), and the sandbox reports how many requests it
throttled, so a run that never met the throttling cannot pass. The switch is turned off in a ``finally``.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request

import boto3
from botocore.exceptions import ClientError
from plays import connected_play

EVERY = 2  # every 2nd request of a throttled service: the heaviest share a run with 3 botocore attempts always survives
TIMEOUT = 600


def hook(endpoint: str, method: str, services: dict | None = None) -> dict:
    data = json.dumps({"services": services}).encode() if services is not None else None
    request = urllib.request.Request(f"{endpoint}/_sandbox/throttle", data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # the loopback sandbox
        return json.load(response)


def test_groups_role_converges_through_throttling(aws_endpoint, xray, run_playbook, no_ambient_aws):
    suffix = secrets.token_hex(3)
    groups = [{"name": f"thr-{i}-{suffix}", "filter_expression": "error = true"} for i in range(3)]
    rules = [{"name": f"thr-r-{suffix}", "priority": 300, "fixed_rate": 0.1, "reservoir_size": 1, "service_name": "thr"}]
    playbook = json.dumps([connected_play("groups role", hosts="localhost", roles=[{"role": "tracing.xray.groups"}])], indent=1)
    extra = {"xray_cluster_name": f"thr-{suffix}", "xray_region": aws_endpoint["region"], "xray_aws_endpoint_url": aws_endpoint["endpoint_url"],
             "xray_aws_access_key": aws_endpoint["access_key_id"], "xray_aws_secret_key": aws_endpoint["secret_access_key"],
             "groups_xray_groups": groups, "groups_sampling_rules": rules}
    endpoint = aws_endpoint["endpoint_url"]
    try:
        hook(endpoint, "POST", {"xray": EVERY, "sts": EVERY})
        run = run_playbook(playbook, extra_vars=extra, timeout=TIMEOUT)
        state = hook(endpoint, "GET")
    finally:
        hook(endpoint, "DELETE")
    try:
        print(f"groups role under throttling: rc={run.rc}, seen {state['seen']}, throttled {state['throttled']}")
        assert run.rc == 0, run.explain()
        assert state["throttled"].get("xray", 0) > 0, state
        names = {g["GroupName"] for g in xray.get_groups()["Groups"]}
        assert {g["name"] for g in groups} <= names
        assert any(r["SamplingRule"]["RuleName"] == rules[0]["name"] for r in xray.get_sampling_rules()["SamplingRuleRecords"])
    finally:
        for group in groups:
            try:
                xray.delete_group(GroupName=group["name"])
            except ClientError:
                pass
        try:
            xray.delete_sampling_rule(RuleName=rules[0]["name"])
        except ClientError:
            pass


def test_irsa_role_converges_through_throttling(sandbox, run_playbook, repo):
    """The irsa role (STS, EKS, IAM, then the ServiceAccount and the doctor) against the sandbox with IAM, STS and EKS
    throttled; amazon.aws' aws_caller_info retries on its own (AWSRetry, botocore)."""
    import kubernetes

    suffix = secrets.token_hex(3)
    namespace, role = f"irsa-thr-{suffix}", f"xray-daemon-thr-{suffix}"
    endpoint = sandbox["aws_endpoint_url"]
    playbook = json.dumps([connected_play("irsa", roles=[{"role": "tracing.xray.irsa"}])], indent=1)
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=sandbox["region"], aws_access_key_id=sandbox["aws_access_key_id"],
                       aws_secret_access_key=sandbox["aws_secret_access_key"])
    core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=sandbox["kubeconfig"], persist_config=False))
    try:
        try:
            hook(endpoint, "POST", {"iam": EVERY, "sts": EVERY, "eks": EVERY})
            run = run_playbook(playbook, inventory=os.path.join(repo, "inventories", "sandbox"),
                               extra_vars={"irsa_namespace": namespace, "irsa_role_name": role}, timeout=TIMEOUT)
            state = hook(endpoint, "GET")
        finally:
            hook(endpoint, "DELETE")
        print(f"irsa role under throttling: rc={run.rc}, seen {state['seen']}, throttled {state['throttled']}")
        assert run.rc == 0, run.explain()
        assert state["throttled"].get("iam", 0) > 0, state
        assert iam.get_role(RoleName=role)["Role"]["RoleName"] == role
    finally:
        try:
            for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
            iam.delete_role(RoleName=role)
        except ClientError:
            pass
        try:
            core.delete_namespace(namespace)
        except kubernetes.client.exceptions.ApiException:
            pass

