"""The sandbox's AWS-shaped endpoint: moto 5.2.5 in server mode on loopback + the X-Ray EMULATION.

Command line (foreground until SIGTERM/SIGINT, run from the repository root)::

    .venv/bin/python -m sandbox.aws.server --host 127.0.0.1 --port 4566 --region us-west-2 \
        --cluster-name sandbox --state-dir .sandbox/aws

In-process (tests)::

    from sandbox.aws.server import start_server, stop_server
    server, info = start_server(region="us-west-2", cluster_name="sandbox")   # free port
    ...
    stop_server(server)

Everything served here is EMULATION (moto + sandbox/aws/xray_*), never AWS.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

ACCESS_KEY_ID = "AKIAXRAYSANDBOX00000"
SECRET_ACCESS_KEY = "sandbox-secret-not-real"
DEFAULT_KUBERNETES_VERSION = "1.33"  # the sandbox control plane is k8s.io/kubernetes v1.33.x
CLUSTER_ROLE_NAME = "sandbox-eks-cluster-role"
VPC_CIDR = "10.200.0.0/16"
SUBNET_CIDRS = ("10.200.0.0/20", "10.200.16.0/20")
SANDBOX_TAGS = {"sandbox": "EMULATION", "created-by": "sandbox.aws"}
STATE_FILE = "aws.json"

LOG = logging.getLogger("sandbox.aws")


class PortInUseError(OSError):
    """The requested port is taken."""


@dataclass
class SandboxServer:
    httpd: Any
    thread: threading.Thread
    host: str
    port: int
    info: dict[str, Any] = field(default_factory=dict)
    startup_seconds: float = 0.0


def oidc_issuer(cluster_name: str, region: str) -> str:
    """Deterministic per (cluster name, region): 32 uppercase hex characters, like EKS issuers."""
    digest = hashlib.sha256(f"tracing.xray-sandbox/{region}/{cluster_name}".encode()).hexdigest().upper()[:32]
    return f"https://oidc.eks.{region}.amazonaws.com/id/{digest}"


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"host {host!r} is not a loopback address: the sandbox only listens on 127.0.0.0/8 or ::1")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(errno.EADDRINUSE, f"port {port} on {host} is already in use") from None
        raise
    return sock


_PROCESS_LOCK = threading.Lock()
_PROCESS_STATE: dict[str, Any] = {"servers": 0}
_MANAGED_POLICIES_VAR = "MOTO_IAM_LOAD_MANAGED_POLICIES"


def _acquire_moto() -> None:
    """Prepare moto for the first server of this process; remember what to restore after the last one.

    In-process use (pytest) must not leak into other tests of the same process: the environment variable
    and moto's X-Ray URL table are restored by ``_release_moto`` once no server is left.
    """
    with _PROCESS_LOCK:
        if _PROCESS_STATE["servers"] == 0:
            _PROCESS_STATE["env"] = os.environ.get(_MANAGED_POLICIES_VAR)
            # Must be set before moto's IAM backend is first instantiated, so that AWS managed policies such
            # as AWSXRayDaemonWriteAccess and CloudWatchAgentServerPolicy exist.
            os.environ[_MANAGED_POLICIES_VAR] = "true"
            from moto.xray import urls as xray_urls

            from .xray_responses import register

            _PROCESS_STATE["xray_paths"] = dict(xray_urls.url_paths)
            register()
        _PROCESS_STATE["servers"] += 1
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    # An IAM backend created earlier in this process without the variable (e.g. by mock_aws in another
    # test) lacks the managed policies: load them into it.
    for account_id, account in list(iam_backends.items()):
        if account_id != DEFAULT_ACCOUNT_ID:
            continue
        for backend in list(account.values()):
            if not backend.aws_managed_policies:
                backend.aws_managed_policies = backend._init_aws_policies()
                backend.managed_policies.update(backend._init_managed_policies())


def _release_moto() -> None:
    with _PROCESS_LOCK:
        _PROCESS_STATE["servers"] -= 1
        if _PROCESS_STATE["servers"] > 0:
            return
        previous = _PROCESS_STATE.pop("env", None)
        if previous is None:
            os.environ.pop(_MANAGED_POLICIES_VAR, None)
        else:
            os.environ[_MANAGED_POLICIES_VAR] = previous
        from moto.xray import urls as xray_urls

        saved = _PROCESS_STATE.pop("xray_paths", None)
        if saved is not None:
            xray_urls.url_paths.clear()
            xray_urls.url_paths.update(saved)


def _clients(endpoint_url: str, region: str) -> Any:
    import boto3

    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY, region_name=region)
    return lambda service: session.client(service, endpoint_url=endpoint_url)


def _bootstrap(endpoint_url: str, region: str, cluster_name: str, kubernetes_version: str, create_network: bool) -> dict[str, Any]:
    """Create (idempotently) the IAM role, VPC/subnets and EKS cluster record, through the HTTP endpoint."""
    from moto.eks.models import eks_backends

    client = _clients(endpoint_url, region)
    account_id = client("sts").get_caller_identity()["Account"]

    iam = client("iam")
    try:
        role_arn = iam.get_role(RoleName=CLUSTER_ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
        role_arn = iam.create_role(
            RoleName=CLUSTER_ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description="EMULATION: EKS cluster role of the tracing.xray sandbox",
            Tags=[{"Key": k, "Value": v} for k, v in SANDBOX_TAGS.items()],
        )["Role"]["Arn"]
        iam.attach_role_policy(RoleName=CLUSTER_ROLE_NAME, PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")

    eks = client("eks")
    try:
        cluster = eks.describe_cluster(name=cluster_name)["cluster"]
    except eks.exceptions.ResourceNotFoundException:
        subnet_ids = ["subnet-0sandbox0000000a", "subnet-0sandbox0000000b"]
        security_groups: list[str] = []
        if create_network:
            ec2 = client("ec2")
            name_tag = f"{cluster_name}-sandbox-vpc"
            found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name_tag]}])["Vpcs"]
            if found:
                vpc_id = found[0]["VpcId"]
                subnet_ids = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]]
            else:
                tags = [{"Key": "Name", "Value": name_tag}] + [{"Key": k, "Value": v} for k, v in SANDBOX_TAGS.items()]
                vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}])["Vpc"]["VpcId"]
                zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
                subnet_ids = [
                    ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
                    for cidr, zone in zip(SUBNET_CIDRS, zones * 2, strict=False)
                ]
        cluster = eks.create_cluster(
            name=cluster_name,
            version=kubernetes_version,
            roleArn=role_arn,
            resourcesVpcConfig={"subnetIds": subnet_ids, "securityGroupIds": security_groups},
            tags=dict(SANDBOX_TAGS),
        )["cluster"]

    issuer = oidc_issuer(cluster_name, region)
    # moto invents a random issuer; make it deterministic so IRSA trust policies survive restarts.
    eks_backends[account_id][region].clusters[cluster_name].identity["oidc"]["issuer"] = issuer
    described = eks.describe_cluster(name=cluster_name)["cluster"]
    if described["identity"]["oidc"]["issuer"] != issuer:
        raise RuntimeError(f"EKS cluster {cluster_name}: issuer override did not take effect")
    return {"account_id": account_id, "cluster_arn": cluster["arn"], "oidc_issuer": issuer}


def _make_httpd(host: str, port: int, page_size: int | None, encryption_delay: float | None, quiet: bool) -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from .xray_responses import configure

    configure(page_size=page_size, encryption_delay=encryption_delay)
    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sock = _bind(host, port)
    try:
        from .middleware import wrap  # identity EMULATION (STS web identity, EKS Pod Identity) + admin hooks /_sandbox/

        app = wrap(DomainDispatcherApplication(create_backend_app))
        return make_server(host, sock.getsockname()[1], app, threaded=True, request_handler=MotoRequestHandler, fd=sock.fileno())
    finally:
        sock.close()  # werkzeug works on a duplicate of the descriptor


def start_server(
    host: str = "127.0.0.1",
    port: int = 0,
    region: str = "us-east-1",
    cluster_name: str = "sandbox",
    *,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
    create_network: bool = True,
    page_size: int | None = None,
    encryption_delay: float | None = None,
    quiet: bool = True,
) -> tuple[SandboxServer, dict[str, Any]]:
    """Start moto + the X-Ray EMULATION in a background thread; return (server, info) once ready.

    ``port=0`` picks a free port. ``info`` holds the same keys as ``aws.json``. Raises PortInUseError if
    the port is taken. moto's state is process-wide: two servers in one process share it.
    """
    started = time.monotonic()
    _check_loopback(host)
    _acquire_moto()
    try:
        httpd = _make_httpd(host, port, page_size, encryption_delay, quiet)
    except BaseException:
        _release_moto()
        raise
    from moto import __version__ as moto_version

    from .xray_store import EMULATED_APIS

    bound_port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, name=f"sandbox-aws-{bound_port}", daemon=True)
    thread.start()
    server = SandboxServer(httpd=httpd, thread=thread, host=host, port=bound_port)
    url_host = f"[{host}]" if ":" in host else host
    endpoint_url = f"http://{url_host}:{bound_port}"
    try:
        boot = _bootstrap(endpoint_url, region, cluster_name, kubernetes_version, create_network)
    except BaseException:
        stop_server(server)
        raise
    info = {
        "endpoint_url": endpoint_url,
        "region": region,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "cluster_name": cluster_name,
        "cluster_arn": boot["cluster_arn"],
        "oidc_issuer": boot["oidc_issuer"],
        "account_id": boot["account_id"],
        "emulated": list(EMULATED_APIS),
        "emulation": f"moto {moto_version} in server mode + sandbox.aws X-Ray extension; not AWS",
    }
    server.info = info
    server.startup_seconds = time.monotonic() - started
    return server, dict(info)


def stop_server(server: SandboxServer, timeout: float = 10.0) -> None:
    """Stop serving and close the socket. Safe to call twice."""
    if server.httpd is None:
        return
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join(timeout)
    server.httpd = None
    _release_moto()


def write_state(state_dir: str, info: dict[str, Any]) -> str:
    """Atomically write ``<state_dir>/aws.json`` (temp file + rename in the same directory)."""
    os.makedirs(state_dir, exist_ok=True)
    path = os.path.join(state_dir, STATE_FILE)
    fd, tmp = tempfile.mkstemp(prefix=".aws.json.", dir=state_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(info, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _remove_state(state_dir: str) -> None:
    try:
        os.unlink(os.path.join(state_dir, STATE_FILE))
    except FileNotFoundError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.aws.server", description="EMULATION: moto + X-Ray extension on loopback")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="TCP port (0 = pick a free one)")
    parser.add_argument("--region", required=True)
    parser.add_argument("--cluster-name", required=True)
    parser.add_argument("--state-dir", required=True, help="directory receiving aws.json once ready")
    parser.add_argument("--kubernetes-version", default=DEFAULT_KUBERNETES_VERSION)
    parser.add_argument("--page-size", type=int, default=None, help="page size of GetGroups/GetSamplingRules (default 5)")
    parser.add_argument("--encryption-delay", type=float, default=None, help="seconds GetEncryptionConfig reports UPDATING after a put (default 1)")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        LOG.info("signal %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    _remove_state(args.state_dir)  # a stale file must not look like readiness
    try:
        server, info = start_server(
            args.host,
            args.port,
            args.region,
            args.cluster_name,
            kubernetes_version=args.kubernetes_version,
            page_size=args.page_size,
            encryption_delay=args.encryption_delay,
            quiet=args.quiet,
        )
    except PortInUseError as exc:
        print(f"sandbox.aws: error: {exc.strerror}; choose another --port", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"sandbox.aws: error: {exc}", file=sys.stderr)
        return 2
    try:
        path = write_state(args.state_dir, info)
        LOG.info(
            "EMULATION ready in %.2fs: %s (region %s, cluster %s, issuer %s); wrote %s",
            server.startup_seconds,
            info["endpoint_url"],
            info["region"],
            info["cluster_name"],
            info["oidc_issuer"],
            path,
        )
        while not stop.wait(1.0):
            if not server.thread.is_alive():
                LOG.error("server thread died")
                return 1
    finally:
        stop_server(server)
        _remove_state(args.state_dir)
        LOG.info("stopped")
    return 0


if __name__ == "__main__":
    exit_code = main()
    # The socket is closed and aws.json removed by now. Skip the interpreter's teardown of moto's large
    # in-memory state (seconds on a busy machine), so a stop is as quick as the signal.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
