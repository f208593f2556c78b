"""The sandbox's AWS endpoint: aws.json contract, CLI lifecycle, IAM managed policies, EKS issuer."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import boto3
import pytest
from moto.xray import urls as xray_urls

from sandbox.aws.server import PortInUseError, oidc_issuer, start_server
from sandbox.aws.xray_responses import EXTENSION_PATHS, SandboxXRayResponse
from sandbox.aws.xray_store import EMULATED_APIS


REGION = "us-west-2"  # as in conftest.py
CLUSTER = "xray-unit"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def make_client(info: dict[str, Any], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=info["endpoint_url"],
        region_name=info["region"],
        aws_access_key_id=info["access_key_id"],
        aws_secret_access_key=info["secret_access_key"],
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_info_contract(sandbox: dict[str, Any]) -> None:
    assert sandbox["endpoint_url"] == f"http://127.0.0.1:{sandbox['port']}"
    assert sandbox["region"] == REGION
    assert sandbox["cluster_name"] == CLUSTER
    assert sandbox["access_key_id"] == "AKIAXRAYSANDBOX00000"
    assert sandbox["secret_access_key"] == "sandbox-secret-not-real"
    assert re.fullmatch(r"\d{12}", sandbox["account_id"])
    # aws.json names exactly the APIs the store emulates: real X-Ray operations, each routed to the emulation
    # (and nothing routed there goes unnamed). The other sandbox tests call every one of them.
    assert sandbox["emulated"] == EMULATED_APIS
    assert sorted(EMULATED_APIS) == sorted(EXTENSION_PATHS.values())
    assert set(EMULATED_APIS) <= set(make_client(sandbox, "xray").meta.service_model.operation_names)
    assert "moto 5.2.5" in sandbox["emulation"]
    sts = make_client(sandbox, "sts")
    assert sts.get_caller_identity()["Account"] == sandbox["account_id"]


@pytest.mark.parametrize("policy", ["AWSXRayDaemonWriteAccess", "CloudWatchAgentServerPolicy"])
def test_aws_managed_policies_exist(sandbox: dict[str, Any], policy: str) -> None:
    iam = make_client(sandbox, "iam")
    arn = f"arn:aws:iam::aws:policy/{policy}"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    actions = json.dumps(document)
    assert "xray:PutTraceSegments" in actions


def test_eks_cluster_has_deterministic_issuer(sandbox: dict[str, Any]) -> None:
    eks = make_client(sandbox, "eks")
    cluster = eks.describe_cluster(name=CLUSTER)["cluster"]
    issuer = cluster["identity"]["oidc"]["issuer"]
    assert issuer == sandbox["oidc_issuer"] == oidc_issuer(CLUSTER, REGION)
    assert re.fullmatch(rf"https://oidc\.eks\.{REGION}\.amazonaws\.com/id/[0-9A-F]{{32}}", issuer)
    assert cluster["status"] == "ACTIVE"
    assert cluster["version"] == "1.33"
    assert cluster["roleArn"].endswith(":role/sandbox-eks-cluster-role")
    assert len(cluster["resourcesVpcConfig"]["subnetIds"]) == 2
    # Deterministic: same inputs, same issuer; another name or region, another issuer.
    assert oidc_issuer(CLUSTER, REGION) == issuer
    assert oidc_issuer(CLUSTER + "-2", REGION) != issuer
    assert oidc_issuer(CLUSTER, "eu-west-1").startswith("https://oidc.eks.eu-west-1.amazonaws.com/id/")


def test_port_in_use_is_a_clear_error(sandbox: dict[str, Any]) -> None:
    with pytest.raises(PortInUseError, match=rf"port {sandbox['port']} on 127\.0\.0\.1 is already in use"):
        start_server(port=sandbox["port"], region=REGION, cluster_name=CLUSTER)


def test_non_loopback_host_refused() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        start_server(host="0.0.0.0", region=REGION, cluster_name=CLUSTER)


def _run_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox.aws.server", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_port_in_use_exits_non_zero(sandbox: dict[str, Any], tmp_path: Any) -> None:
    proc = _run_cli("--port", str(sandbox["port"]), "--region", REGION, "--cluster-name", "x", "--state-dir", str(tmp_path))
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 2
    assert f"port {sandbox['port']}" in err and "already in use" in err
    assert not (tmp_path / "aws.json").exists()


def test_cli_lifecycle(tmp_path: Any) -> None:
    port = _free_port()
    state = tmp_path / "state"
    state.mkdir()
    (state / "aws.json").write_text("{}")  # stale file from an earlier run must not look like readiness
    started = time.monotonic()
    proc = _run_cli("--host", "127.0.0.1", "--port", str(port), "--region", "eu-west-1", "--cluster-name", "cli-demo", "--state-dir", str(state), "--quiet")
    try:
        deadline = time.monotonic() + 90
        info = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                info = json.loads((state / "aws.json").read_text())
                if info:
                    break
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.1)
        startup = time.monotonic() - started
        assert info, f"server did not become ready (rc={proc.poll()})"
        assert info["endpoint_url"] == f"http://127.0.0.1:{port}"
        assert info["region"] == "eu-west-1"
        assert info["oidc_issuer"] == oidc_issuer("cli-demo", "eu-west-1")
        assert set(info) >= {"endpoint_url", "region", "access_key_id", "secret_access_key", "cluster_name", "oidc_issuer", "account_id", "emulated"}
        xray = make_client(info, "xray")
        assert [g["GroupName"] for g in xray.get_groups()["Groups"]] == ["Default"]
        cluster = make_client(info, "eks").describe_cluster(name="cli-demo")["cluster"]
        assert cluster["identity"]["oidc"]["issuer"] == info["oidc_issuer"]
        # The CLI creates a real (moto) VPC with two subnets for the cluster record.
        subnets = make_client(info, "ec2").describe_subnets(SubnetIds=cluster["resourcesVpcConfig"]["subnetIds"])["Subnets"]
        assert len(subnets) == 2 and len({s["AvailabilityZone"] for s in subnets}) == 2
        vpcs = make_client(info, "ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["cli-demo-sandbox-vpc"]}])["Vpcs"]
        assert [v["VpcId"] for v in vpcs] == list({s["VpcId"] for s in subnets})
        print(f"CLI startup to aws.json: {startup:.2f}s")
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, err
    assert not (state / "aws.json").exists()


def test_in_process_use_does_not_leak_into_the_process(sandbox: dict[str, Any]) -> None:
    """While a server runs, moto is prepared; after the last one stops, env and moto's xray URL table are back."""
    assert os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] == "true"
    assert xray_urls.url_paths["{0}/CreateGroup$"] == SandboxXRayResponse.dispatch
    script = (
        "import os\n"
        "from moto.xray import urls\n"
        "before = dict(urls.url_paths)\n"
        "from sandbox.aws import server\n"
        "server._acquire_moto(); server._acquire_moto()\n"
        "assert os.environ['MOTO_IAM_LOAD_MANAGED_POLICIES'] == 'true' and len(urls.url_paths) > len(before)\n"
        "server._release_moto()\n"
        "assert os.environ['MOTO_IAM_LOAD_MANAGED_POLICIES'] == 'true'\n"
        "server._release_moto()\n"
        "assert 'MOTO_IAM_LOAD_MANAGED_POLICIES' not in os.environ and urls.url_paths == before\n"
        "print('restored')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MOTO_IAM_LOAD_MANAGED_POLICIES"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "restored"
