"""The local sandbox itself, end to end: Kubernetes API with kwok nodes, IRSA-shaped identity, the real
X-Ray daemon in front of the AWS endpoint, and (when present) the X-Ray groups / service graph emulation.

The ``sandbox`` fixture (tests/integration/conftest.py) runs ``sandbox/sandbox.py up`` once per session
and leaves the sandbox running; ``make sandbox-down`` stops it. Every test removes what it creates.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time

import boto3
import pytest
from botocore.exceptions import ClientError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
INVENTORY = os.path.join(REPO, "inventories", "sandbox", "hosts.yml")
DAEMON_HEADER = b'{"format": "json", "version": 1}\n'
POLL_SECONDS = 60


# --- helpers ------------------------------------------------------------------------------------------

def aws_client(sandbox: dict, service: str):
    return boto3.client(service, endpoint_url=sandbox["aws_endpoint_url"], region_name=sandbox["region"],
                        aws_access_key_id=sandbox["aws_access_key_id"],
                        aws_secret_access_key=sandbox["aws_secret_access_key"])


def poll(what: str, check, timeout: float = POLL_SECONDS, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what}: not reached within {timeout:.0f}s (last value: {last!r})")


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def new_trace_id() -> str:
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


def send_segments(sandbox: dict, *segments: dict) -> None:
    """One UDP datagram per segment document, to the X-Ray daemon, exactly as an X-Ray SDK sends them."""
    host, port = sandbox["daemon_udp_address"].rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for segment in segments:
            sock.sendto(DAEMON_HEADER + json.dumps(segment).encode(), (host, int(port)))


def fetch_trace(xray, trace_id: str, start: float, end: float) -> list[dict]:
    """Segment documents of ``trace_id`` once GetTraceSummaries lists it (else [])."""
    paginator = xray.get_paginator("get_trace_summaries")
    ids = {s["Id"] for page in paginator.paginate(StartTime=start, EndTime=end) for s in page.get("TraceSummaries", [])}
    if trace_id not in ids:
        return []
    traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
    return [json.loads(seg["Document"]) for trace in traces for seg in trace["Segments"]]


@pytest.fixture(scope="module")
def kube(sandbox):
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=sandbox["kubeconfig"])
    yield client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    api_client.close()


@pytest.fixture
def namespace(kube):
    from kubernetes import client

    core = kube[0]
    name = f"sandbox-it-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={"app.kubernetes.io/part-of": "sandbox-tests"})))
    yield name
    core.delete_namespace(name)


# --- (a) Ansible sees the nodes ----------------------------------------------------------------------

def test_ansible_sees_ready_kwok_nodes(sandbox, run_playbook):
    playbook = """
- name: Nodes of the sandbox cluster
  hosts: xray-sandbox
  gather_facts: false
  tasks:
    - name: List nodes
      kubernetes.core.k8s_info:
        kind: Node
        kubeconfig: "{{ xray_kubeconfig }}"
        label_selectors: ["type=kwok"]
      register: nodes
"""
    run = run_playbook(playbook, inventory=INVENTORY)
    assert run.rc == 0, run.explain()
    resources = run.results()["List nodes"]["resources"]
    ready = sorted(
        node["metadata"]["name"] for node in resources
        if any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))
    )
    assert ready == sandbox["node_names"]
    assert len(ready) == sandbox["nodes"] == 3
    for node in resources:
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        taints = node["spec"].get("taints") or []
        if sandbox.get("real_nodes"):
            # workloads go to the real node; what tolerates the kwok taint (DaemonSets) still lands here
            assert taints == [sandbox["kwok_taint"]], f"{node['metadata']['name']} taints: {taints}"
        else:
            assert not taints, f"{node['metadata']['name']} carries taints"


# --- (b) a DaemonSet lands on every simulated node ----------------------------------------------------

def test_daemonset_ready_on_every_node(sandbox, kube, namespace):
    from kubernetes import client

    apps = kube[1]
    labels = {"app.kubernetes.io/name": "sandbox-it-ds", "app.kubernetes.io/part-of": "sandbox-tests"}
    daemonset = client.V1DaemonSet(
        metadata=client.V1ObjectMeta(name="sandbox-it-ds", labels=labels),
        spec=client.V1DaemonSetSpec(
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                # No hostPort: the sandbox is shared, and a daemon DaemonSet may already hold 2000/udp on every node.
                spec=client.V1PodSpec(tolerations=[client.V1Toleration(operator="Exists")], containers=[client.V1Container(
                    name="probe", image="registry.k8s.io/pause:3.10",
                    ports=[client.V1ContainerPort(container_port=2000, protocol="UDP")],
                )]),
            ),
        ),
    )
    apps.create_namespaced_daemon_set(namespace, daemonset)
    try:
        def rolled_out():
            status = apps.read_namespaced_daemon_set_status("sandbox-it-ds", namespace).status
            done = status.desired_number_scheduled == status.number_ready == nodes
            return done and status

        nodes = sandbox["nodes"] + sandbox.get("real_nodes", 0)
        status = poll("DaemonSet desiredNumberScheduled == numberReady == nodes", rolled_out, timeout=120)
        assert status.number_available == nodes
    finally:
        apps.delete_namespaced_daemon_set("sandbox-it-ds", namespace)
    poll("DaemonSet deleted", lambda: not apps.list_namespaced_daemon_set(namespace).items)


# --- (c) identity: OIDC provider, role, issuer shared by EKS and the API server -------------------------

def test_irsa_shape_issuer_matches_service_account_tokens(sandbox, kube, namespace):
    from kubernetes import client

    core = kube[0]
    iam, eks, sts = aws_client(sandbox, "iam"), aws_client(sandbox, "eks"), aws_client(sandbox, "sts")

    issuer = eks.describe_cluster(name=sandbox["cluster_name"])["cluster"]["identity"]["oidc"]["issuer"]
    assert issuer == sandbox["oidc_issuer"]
    assert issuer.startswith(f"https://oidc.eks.{sandbox['region']}.amazonaws.com/id/")

    # A ServiceAccount token asked for the STS audience, as the EKS pod identity webhook does.
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="xray-it")))
    spec = client.V1TokenRequestSpec(audiences=["sts.amazonaws.com"], expiration_seconds=3600)
    request = client.AuthenticationV1TokenRequest(spec=spec)
    token = core.create_namespaced_service_account_token("xray-it", namespace, request).status.token
    claims = jwt_claims(token)
    assert claims["iss"] == issuer, "kube-apiserver --service-account-issuer differs from the EKS cluster's issuer"
    assert claims["aud"] == ["sts.amazonaws.com"]
    assert claims["sub"] == f"system:serviceaccount:{namespace}:xray-it"

    host = issuer.removeprefix("https://")
    account = sts.get_caller_identity()["Account"]
    provider_arn = f"arn:aws:iam::{account}:oidc-provider/{host}"
    # The sandbox is shared: a playbook may already have registered this issuer; then we use it and leave it.
    existing = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    created = provider_arn not in existing
    if created:
        assert provider_arn == iam.create_open_id_connect_provider(
            Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
            Tags=[{"Key": "managed-by", "Value": "sandbox-tests"}],
        )["OpenIDConnectProviderArn"]
    role_name = f"sandbox-it-{secrets.token_hex(3)}"
    try:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{host}:sub": claims["sub"], f"{host}:aud": "sts.amazonaws.com"}},
            }],
        }
        role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
        assert "sts.amazonaws.com" in provider["ClientIDList"]
        assert provider["Url"] in (issuer, host)
        creds = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="sandbox-it", WebIdentityToken=token)
        assert creds["Credentials"]["AccessKeyId"]
    finally:
        with_missing_ok(iam.delete_role, RoleName=role_name)
        if created:
            iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert (provider_arn in arns) is not created
    with pytest.raises(ClientError):
        iam.get_role(RoleName=role_name)


def with_missing_ok(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("NoSuchEntity", "NoSuchEntityException"):
            raise


# --- (d) a segment sent to the real daemon reaches X-Ray ----------------------------------------------

def test_segment_travels_through_the_daemon(sandbox):
    xray = aws_client(sandbox, "xray")
    now = time.time()
    trace_id = new_trace_id()
    segment = {
        "name": "sandbox-it-daemon", "id": secrets.token_hex(8), "trace_id": trace_id,
        "start_time": now, "end_time": now + 0.05,
        "http": {"request": {"method": "GET", "url": "http://sandbox-it/health"}, "response": {"status": 200}},
    }
    send_segments(sandbox, segment)
    docs = poll(f"trace {trace_id} via the daemon", lambda: fetch_trace(xray, trace_id, now - 60, now + 60))
    assert segment["id"] in {doc["id"] for doc in docs}
    assert {doc["name"] for doc in docs} == {"sandbox-it-daemon"}


# --- (e) X-Ray groups and the service graph (the sandbox's X-Ray emulation, when present) -------------

@pytest.fixture
def xray_extension(sandbox):
    xray = aws_client(sandbox, "xray")
    name = f"sandbox-it-{secrets.token_hex(3)}"
    try:
        group = xray.create_group(GroupName=name, FilterExpression='service("sandbox-it-front")',
                                  Tags=[{"Key": "managed-by", "Value": "sandbox-tests"}])["Group"]
    except ClientError as err:
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (404, 501) or \
                err.response["Error"]["Code"] in ("404", "NotImplemented", "InvalidAction"):
            pytest.skip(f"the AWS endpoint has no X-Ray groups ({err.response['Error']})")
        raise
    yield xray, name, group
    try:
        xray.delete_group(GroupName=name)
    except ClientError as err:
        if "not found" not in str(err).lower():
            raise


def test_xray_group_lifecycle(xray_extension):
    xray, name, group = xray_extension
    arn = group["GroupARN"]
    assert group["GroupName"] == name
    updated = xray.update_group(GroupName=name, FilterExpression='service("sandbox-it-back")')["Group"]
    assert updated["FilterExpression"] == 'service("sandbox-it-back")'
    xray.tag_resource(ResourceARN=arn, Tags=[{"Key": "stage", "Value": "it"}])
    tags = {t["Key"]: t["Value"] for t in xray.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    assert tags == {"managed-by": "sandbox-tests", "stage": "it"}
    xray.untag_resource(ResourceARN=arn, TagKeys=["stage"])
    assert xray.get_group(GroupName=name)["Group"]["FilterExpression"] == 'service("sandbox-it-back")'
    xray.delete_group(GroupName=name)
    with pytest.raises(ClientError) as err:
        xray.get_group(GroupName=name)
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"


def test_service_graph_from_daemon_traces(sandbox, xray_extension):
    xray = xray_extension[0]
    now = time.time()
    trace_id = new_trace_id()
    call_id = secrets.token_hex(8)
    front = {
        "name": "sandbox-it-front", "id": secrets.token_hex(8), "trace_id": trace_id,
        "start_time": now, "end_time": now + 0.2,
        "http": {"request": {"method": "GET", "url": "http://front/"}, "response": {"status": 200}},
        "subsegments": [{
            "name": "sandbox-it-back", "id": call_id, "namespace": "remote",
            "start_time": now + 0.05, "end_time": now + 0.15,
            "http": {"request": {"method": "GET", "url": "http://back/api"}, "response": {"status": 200}},
        }],
    }
    back = {
        "name": "sandbox-it-back", "id": secrets.token_hex(8), "trace_id": trace_id, "parent_id": call_id,
        "start_time": now + 0.06, "end_time": now + 0.14,
        "http": {"request": {"method": "GET", "url": "http://back/api"}, "response": {"status": 200}},
    }
    send_segments(sandbox, front, back)
    poll(f"trace {trace_id} with both segments",
         lambda: len(fetch_trace(xray, trace_id, now - 60, now + 60)) >= 2)

    def graph():
        services = xray.get_service_graph(StartTime=now - 60, EndTime=now + 60)["Services"]
        by_name = {s.get("Name"): s for s in services}
        if {"sandbox-it-front", "sandbox-it-back"} <= set(by_name):
            return by_name
        return None

    by_name = poll("service graph with front and back", graph, timeout=30)
    back_ref = by_name["sandbox-it-back"]["ReferenceId"]
    edges = {edge["ReferenceId"] for edge in by_name["sandbox-it-front"].get("Edges", [])}
    assert back_ref in edges, f"no edge sandbox-it-front -> sandbox-it-back in {by_name['sandbox-it-front']}"


# --- the CLI's own view -------------------------------------------------------------------------------

def test_status_reports_healthy_sandbox(sandbox, kube):
    from kubernetes import client

    proc = subprocess.run([sys.executable, os.path.join(REPO, "sandbox", "sandbox.py"), "status", "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = json.loads(proc.stdout)
    assert status["healthy"] and not status["problems"]
    assert sorted(n["name"] for n in status["nodes"] if n["ready"] and n["fake"]) == sandbox["node_names"]
    expected = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller", "aws", "xray"}
    assert expected <= {name for name, proc_ in status["processes"].items() if proc_["running"]}
    server = client.VersionApi(kube[0].api_client).get_code()
    assert status["versions"]["kubernetes"] == server.git_version
    assert (server.major, server.minor) == ("1", "33")
