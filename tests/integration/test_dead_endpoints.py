"""Dead endpoints (issue 17, reliability): a role and modules against a closed loopback port fail with one clean
sentence that names the service and the address, without botocore/urllib3 text or a traceback, in bounded time.

The AWS cases point ``xray_aws_endpoint_url`` at a free port on 127.0.0.1 that nothing listens on; the Kubernetes
cases use the sandbox's kubeconfig with its server rewritten to such a port. Nothing else changes (the AWS cases need
no AWS endpoint at all; the Kubernetes ones take the sandbox's certificates and credentials).
"""

from __future__ import annotations

import json
import os
import re
import socket
import time

import pytest
from plays import connected_play

MAX_SECONDS = 45
NOISE = re.compile(r"Traceback|urllib3|NewConnectionError|MaxRetryError|Could not connect to the endpoint URL|Max retries exceeded")


def closed_port() -> int:
    """A loopback port nothing listens on (bound once to get a free number, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dead_aws():
    port = closed_port()
    return {"xray_aws_endpoint_url": f"http://127.0.0.1:{port}", "xray_region": "eu-west-1",
            "xray_aws_access_key": "AKIAXRAYSANDBOX00000", "xray_aws_secret_key": "sandbox-secret-not-real"}


@pytest.fixture(scope="module")
def dead_kubeconfig(sandbox, tmp_path_factory):
    port = closed_port()
    with open(sandbox["kubeconfig"], encoding="utf-8") as handle:
        text = handle.read()
    path = tmp_path_factory.mktemp("dead") / "kubeconfig"
    path.write_text(re.sub(r"server: https?://[^\s]+", f"server: https://127.0.0.1:{port}", text), encoding="utf-8")
    return {"path": str(path), "server": f"https://127.0.0.1:{port}"}


def failure(run) -> str:
    messages = []
    for result in run.results().values():
        if result.get("failed"):
            messages.append(str(result.get("msg", "")))
            messages += [str(i.get("msg", "")) for i in result.get("results") or [] if isinstance(i, dict) and i.get("failed")]
    return "\n".join(messages)


def one_task(module: str, args: dict) -> str:
    return json.dumps([connected_play("One module", hosts="localhost", tasks=[{"name": "The module", module: args}])], indent=1)


def assert_clean(run, started, *fragments):
    seconds = time.monotonic() - started
    message = failure(run)
    assert run.rc != 0, run.explain()
    assert message, run.explain()
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    found = NOISE.search(run.stdout + run.stderr)
    assert not found, f"{found.group(0)!r} in the output:\n{run.explain()}"
    assert "sandbox-secret-not-real" not in run.stdout + run.stderr
    assert seconds < MAX_SECONDS, f"took {seconds:.1f} s"
    return message, seconds


CASES_AWS = [
    ("tracing.xray.xray_group_info", {}, "AWS X-Ray (GetGroups)"),
    ("tracing.xray.xray_group", {"group_name": "dead-endpoint", "filter_expression": "error = true"}, "AWS X-Ray (GetGroup)"),
    ("tracing.xray.iam_workload_role", {"name": "dead-endpoint", "state": "absent"}, "AWS IAM (GetRole)"),
    ("tracing.xray.eks_cluster_info", {"name": "dead-endpoint"}, "Amazon EKS (DescribeCluster)"),
]


@pytest.mark.parametrize("module, args, service", CASES_AWS, ids=[c[0].rsplit(".", 1)[1] for c in CASES_AWS])
def test_module_against_a_dead_aws_endpoint(module, args, service, dead_aws, run_playbook, no_ambient_aws):
    started = time.monotonic()
    run = run_playbook(one_task(module, args), extra_vars=dead_aws, timeout=120)
    message, seconds = assert_clean(run, started, f"{service} at {dead_aws['xray_aws_endpoint_url']} refused the connection",
                                    "check xray_aws_endpoint_url and xray_region")
    print(f"{module}: failed in {seconds:.1f} s: {message}")


def test_groups_role_against_a_dead_aws_endpoint(dead_aws, run_playbook, no_ambient_aws):
    playbook = [connected_play("groups role", hosts="localhost", roles=[{"role": "tracing.xray.groups"}])]
    extra = dict(dead_aws, xray_cluster_name="dead-endpoint",
                 groups_xray_groups=[{"name": "dead-endpoint", "filter_expression": "error = true"}])
    started = time.monotonic()
    run = run_playbook(json.dumps(playbook, indent=1), extra_vars=extra, timeout=120)
    message, seconds = assert_clean(run, started, "AWS X-Ray", f"at {dead_aws['xray_aws_endpoint_url']} refused the connection")
    print(f"groups role: failed in {seconds:.1f} s: {message}")


K8S_CASES = [
    ("tracing.xray.k8s_ownership", {"objects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dead", "namespace": "default"}}],
                                    "owner_labels": {"app.kubernetes.io/managed-by": "tracing.xray"}}),
    ("tracing.xray.k8s_hostport_clash", {"ports": [2000], "owner_labels": {"app.kubernetes.io/managed-by": "tracing.xray"}}),
]


@pytest.mark.parametrize("module, args", K8S_CASES, ids=[c[0].rsplit(".", 1)[1] for c in K8S_CASES])
def test_module_against_a_dead_api_server(module, args, dead_kubeconfig, run_playbook):
    started = time.monotonic()
    run = run_playbook(one_task(module, dict(args, kubeconfig=dead_kubeconfig["path"])), timeout=120)
    message, seconds = assert_clean(run, started, f"The Kubernetes API server at {dead_kubeconfig['server']}", "refused the connection",
                                    "check xray_kubeconfig and xray_kube_context")
    print(f"{module}: failed in {seconds:.1f} s: {message}")


def test_irsa_trust_check_against_a_dead_api_server(sandbox, dead_kubeconfig, run_playbook, repo):
    """AWS answers (the sandbox), the API server does not: the doctor names the API server."""
    play = connected_play("doctor", tasks=[{"name": "The module", "tracing.xray.irsa_trust_check": {
        "role_name": "xray-daemon-dead", "namespace": "xray-system", "service_account": "xray-daemon"}}])
    started = time.monotonic()
    run = run_playbook(json.dumps([play], indent=1), inventory=os.path.join(repo, "inventories", "sandbox"),
                       extra_vars={"xray_kubeconfig": dead_kubeconfig["path"]}, timeout=120)
    message = failure(run)
    if "does not exist" in message and "Kubernetes" not in message:
        pytest.skip(f"the doctor stopped before it read the cluster: {message}")
    message, seconds = assert_clean(run, started, f"The Kubernetes API server at {dead_kubeconfig['server']}", "refused the connection")
    print(f"irsa_trust_check: failed in {seconds:.1f} s: {message}")


@pytest.fixture
def silent_endpoint():
    """A loopback port that completes TCP handshakes (listen backlog) but never answers a request."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_silent_endpoint_times_out_with_the_clients_read_timeout(silent_endpoint, run_playbook, no_ambient_aws):
    """An endpoint that accepts and never answers: the read timeout (here the module's aws_config, which wins over
    the collection's bounded defaults) ends it, and the sentence says how long it waited."""
    args = {"aws_config": {"read_timeout": 2, "connect_timeout": 2, "retries": {"mode": "standard", "max_attempts": 2}}}
    extra = {"xray_aws_endpoint_url": silent_endpoint, "xray_region": "eu-west-1",
             "xray_aws_access_key": "AKIAXRAYSANDBOX00000", "xray_aws_secret_key": "sandbox-secret-not-real"}
    started = time.monotonic()
    run = run_playbook(one_task("tracing.xray.xray_group_info", args), extra_vars=extra, timeout=120)
    message, seconds = assert_clean(run, started, f"AWS X-Ray (GetGroups) at {silent_endpoint} gave no answer within 2 seconds",
                                    "check xray_aws_endpoint_url and xray_region")
    print(f"silent endpoint: failed in {seconds:.1f} s: {message}")


@pytest.fixture
def blackhole_endpoint():
    """A loopback port whose listen backlog is full, so new connections are never accepted (SYNs go unanswered, as
    behind a firewall that drops them)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    port = sock.getsockname()[1]
    held = socket.create_connection(("127.0.0.1", port), timeout=5)  # fills the backlog
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        held.close()
        sock.close()


def test_blackholed_endpoint_fails_within_the_default_connect_timeouts(blackhole_endpoint, run_playbook, no_ambient_aws):
    """No aws_config: the collection's defaults (5 s connect timeout, 3 attempts) bound the wait."""
    extra = {"xray_aws_endpoint_url": blackhole_endpoint, "xray_region": "eu-west-1",
             "xray_aws_access_key": "AKIAXRAYSANDBOX00000", "xray_aws_secret_key": "sandbox-secret-not-real"}
    started = time.monotonic()
    run = run_playbook(one_task("tracing.xray.xray_group_info", {}), extra_vars=extra, timeout=120)
    message, seconds = assert_clean(run, started, f"AWS X-Ray (GetGroups) at {blackhole_endpoint} did not accept a connection within 5 seconds",
                                    "check xray_aws_endpoint_url and xray_region")
    print(f"blackholed endpoint: failed in {seconds:.1f} s: {message}")


@pytest.fixture
def silent_kubeconfig(sandbox, tmp_path):
    """The sandbox's kubeconfig pointing at a loopback port that accepts connections and never answers (not even TLS)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = f"https://127.0.0.1:{sock.getsockname()[1]}"
    with open(sandbox["kubeconfig"], encoding="utf-8") as handle:
        text = handle.read()
    path = tmp_path / "kubeconfig"
    path.write_text(re.sub(r"server: https?://[^\s]+", f"server: {server}", text), encoding="utf-8")
    try:
        yield {"path": str(path), "server": server}
    finally:
        sock.close()


@pytest.mark.parametrize("module, args", K8S_CASES, ids=[c[0].rsplit(".", 1)[1] for c in K8S_CASES])
def test_module_against_a_silent_api_server(module, args, silent_kubeconfig, run_playbook):
    """The kubernetes client has no timeout of its own: the modules' first-answer deadline ends the wait."""
    started = time.monotonic()
    run = run_playbook(one_task(module, dict(args, kubeconfig=silent_kubeconfig["path"])), timeout=90)
    message, seconds = assert_clean(run, started, f"The Kubernetes API server at {silent_kubeconfig['server']}",
                                    "accepted the connection but gave no answer within 20 seconds", "check xray_kubeconfig")
    print(f"{module} (silent API server): failed in {seconds:.1f} s: {message}")
