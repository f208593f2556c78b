"""Fault suite (issue 17, reliability): site.yml and teardown.yml under faults, against the sandbox.

For every fault the test asserts (a) what the run under the fault does (fails cleanly, or succeeds), (b) that a
re-run of site.yml converges without a manual step, and (c) that teardown.yml leaves nothing of ours behind, read
back from the cluster (no namespace or object labelled app.kubernetes.io/managed-by=tracing.xray in the test's
namespaces) and from the AWS endpoint (no IAM role, X-Ray group of the test's names; the OIDC provider of the
sandbox cluster gone unless a role that is not the test's still trusts it).

Real: the sandbox's kube-apiserver (and kwok nodes, or the real node), the AWS endpoint over HTTP (moto + our X-Ray
EMULATION, not AWS), ansible-playbook as a subprocess, signals, TCP connections refused. Emulated: "the AWS endpoint
stops" and "the API server stops" are emulated by cutting the client's path to them (a TCP forwarder of this test
closes its listener and its open connections); the endpoints themselves keep running, because the sandbox is shared
by the other tests and must stay up. What the collection sees is the same as a stopped endpoint: connection refused.

Every test uses names of its own (namespaces, IAM role, X-Ray group, hostPort) and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress

import boto3
import kubernetes
import pytest
import yaml

SUFFIX = secrets.token_hex(3)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
INVENTORY = os.path.join(REPO, "inventories", "sandbox")
SITE = os.path.join(REPO, "playbooks", "site.yml")
TEARDOWN = os.path.join(REPO, "playbooks", "teardown.yml")
VERIFY = os.path.join(REPO, "playbooks", "verify.yml")
OWNED = "app.kubernetes.io/managed-by=tracing.xray"
# hostPorts of this file's daemons: unique per run, away from the sandbox daemon's 2000/2001 and the other tests'
PORT_BASE = 23000 + (int(SUFFIX, 16) % 90) * 10
# The daemon step's first task of its own (the validate step before it includes the daemon's validate tasks too)
DAEMON_STARTS = "TASK [tracing.xray.daemon : Stop before applying over objects with our names"
GROUPS_STARTS = "TASK [tracing.xray.groups : Apply the X-Ray groups]"
RUN_TIMEOUT = 420  # one ansible-playbook run, seconds
EXIT_AFTER_FAULT = 180  # a run under a fault must end within this many seconds of the fault


# --- names, variables, runs ------------------------------------------------------------------------------------

def names(tag: str, index: int) -> dict:
    return {
        "ns_d": f"it-flt-{tag}-d-{SUFFIX}",
        "ns_a": f"it-flt-{tag}-a-{SUFFIX}",
        "role": f"xray-it-flt-{tag}-{SUFFIX}",
        "group": f"it-flt-{tag}-{SUFFIX}",
        "port": PORT_BASE + index,
    }


def site_vars(n: dict, **extra) -> dict:
    """The whole site.yml (irsa, daemon, groups, apps) in the test's own namespaces, role, group and hostPort."""
    values = {
        "xray_namespace": n["ns_d"],
        "xray_apps_namespace": n["ns_a"],
        "irsa_role_name": n["role"],
        "daemon_port": n["port"],
        "apps_daemon_port": n["port"],
        "daemon_wait_delay": 1,
        "apps_wait_delay": 1,
        "groups_xray_groups": [{"name": n["group"], "filter_expression": "responsetime > 5"}],
    }
    values.update(extra)
    return values


def teardown_vars(n: dict, **extra) -> dict:
    values = {"xray_namespace": n["ns_d"], "xray_apps_namespace": n["ns_a"], "irsa_role_name": n["role"],
              "groups_xray_groups": [{"name": n["group"], "filter_expression": "responsetime > 5"}],
              "cleanup_wait_delay": 1}
    values.update(extra)
    return values


def ansible_env(stream: bool) -> dict:
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0",
               ANSIBLE_FORCE_COLOR="0", PYTHONUNBUFFERED="1", PATH=VENV_BIN + os.pathsep + env.get("PATH", ""))
    # The streamed runs use the default callback (one line per task as it starts); the others the JSON one.
    env["ANSIBLE_STDOUT_CALLBACK"] = "default" if stream else "ansible.posix.json"
    return env


class Run:
    def __init__(self, rc: int, stdout: str, stderr: str, seconds: float, fault_at: float | None = None):
        self.rc, self.stdout, self.stderr, self.seconds, self.fault_at = rc, stdout, stderr, seconds, fault_at
        self.data = {"plays": [], "stats": {}}
        if "{" in stdout and not stdout.lstrip().startswith("PLAY"):
            with suppress(ValueError):
                self.data = json.loads(stdout[stdout.index("{"):])

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def changed(self) -> int:
        return sum(s.get("changed", 0) for s in self.data.get("stats", {}).values())

    def failed(self) -> int:
        return sum(s.get("failures", 0) + s.get("unreachable", 0) for s in self.data.get("stats", {}).values())

    def changed_tasks(self) -> list[str]:
        out = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                if any(r.get("changed") for r in task.get("hosts", {}).values()):
                    out.append(task["task"]["name"])
        return out

    def explain(self) -> str:
        return f"rc={self.rc} ({self.seconds:.0f}s)\nstderr:\n{self.stderr[-3000:]}\nstdout:\n{self.stdout[-8000:]}"


def command(playbook: str, extra_vars: dict, tmp: str, check: bool = False) -> list[str]:
    path = os.path.join(tmp, f"vars-{secrets.token_hex(4)}.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(extra_vars, handle)
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), playbook, "-i", INVENTORY, "-e", f"@{path}"]
    return cmd + (["--check"] if check else [])


def start(playbook: str, extra_vars: dict, tmp: str, *, check: bool = False, stream: bool = False) -> subprocess.Popen:
    """ansible-playbook in a session of its own (so a signal can go to its whole process group, as Ctrl-C does)."""
    return subprocess.Popen(command(playbook, extra_vars, tmp, check), cwd=REPO, env=ansible_env(stream), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def finish(proc: subprocess.Popen, began: float, timeout: float = RUN_TIMEOUT) -> Run:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"ansible-playbook did not end within {timeout}s:\n{out[-4000:]}\n{err[-2000:]}")
    return Run(proc.returncode, out, err, time.monotonic() - began)


def run(playbook: str, extra_vars: dict, tmp: str, *, check: bool = False) -> Run:
    began = time.monotonic()
    result = finish(start(playbook, extra_vars, tmp, check=check), began)
    print(f"{os.path.basename(playbook)}{' --check' if check else ''}: rc={result.rc} in {result.seconds:.0f}s")
    return result


def run_with_fault(playbook: str, extra_vars: dict, tmp: str, marker: str, fault, *, marker_timeout: float = 240) -> Run:
    """Run ``playbook`` with the default callback, call ``fault(proc)`` as soon as a line containing ``marker`` is
    printed (bounded wait), and wait (bounded) for the run to end."""
    began = time.monotonic()
    proc = start(playbook, extra_vars, tmp, stream=True)
    lines: queue.Queue = queue.Queue()
    err_chunks: list[str] = []

    def pump_out():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def pump_err():
        err_chunks.append(proc.stderr.read())

    readers = [threading.Thread(target=pump_out, daemon=True), threading.Thread(target=pump_err, daemon=True)]
    for reader in readers:
        reader.start()
    seen: list[str] = []
    fault_at = None
    deadline = began + marker_timeout
    ended = False
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            ended = True
            break
        seen.append(line)
        if marker in line:
            fault_at = time.monotonic()
            fault(proc)
            break
    if fault_at is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        pytest.fail(f"the run {'ended' if ended else 'did not reach'} {marker!r} (within {marker_timeout}s):\n{''.join(seen)[-6000:]}")
    try:
        proc.wait(timeout=EXIT_AFTER_FAULT)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        pytest.fail(f"the run did not end within {EXIT_AFTER_FAULT}s of the fault:\n{''.join(seen)[-6000:]}")
    for reader in readers:
        reader.join(timeout=30)
    while True:
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is not None:
            seen.append(line)
    result = Run(proc.returncode, "".join(seen), "".join(err_chunks), time.monotonic() - began)
    result.fault_at = fault_at - began
    print(f"{os.path.basename(playbook)} with a fault at {result.fault_at:.0f}s: rc={result.rc} in {result.seconds:.0f}s")
    return result


# --- a TCP forwarder that can be cut ----------------------------------------------------------------------------

class Forwarder:
    """127.0.0.1:<port> -> target, byte for byte (TLS passes through unchanged). ``cut()`` closes the listener and
    every open connection, so new connections are refused; ``reopen()`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.reopen()

    def reopen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.5)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(None)
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def refuses(self) -> bool:
        with socket.socket() as probe:
            probe.settimeout(2)
            return probe.connect_ex(("127.0.0.1", self.port)) != 0


# --- reading back the cluster and the AWS endpoint ------------------------------------------------------------

@pytest.fixture(scope="module")
def sb(sandbox, tmp_path_factory):
    api = kubernetes.config.new_client_from_config(config_file=sandbox["kubeconfig"], persist_config=False)

    def aws(service):
        return boto3.client(service, endpoint_url=sandbox["aws_endpoint_url"], region_name=sandbox["region"],
                            aws_access_key_id=sandbox["aws_access_key_id"], aws_secret_access_key=sandbox["aws_secret_access_key"])

    yield {
        "sandbox": sandbox,
        "core": kubernetes.client.CoreV1Api(api),
        "apps": kubernetes.client.AppsV1Api(api),
        "rbac": kubernetes.client.RbacAuthorizationV1Api(api),
        "net": kubernetes.client.NetworkingV1Api(api),
        "iam": aws("iam"),
        "xray": aws("xray"),
        "eks": aws("eks"),
        "tmp": str(tmp_path_factory.mktemp("faults")),
    }
    api.close()


def namespaced_objects(sb, ns: str, selector: str = OWNED) -> list[str]:
    """Every object of the kinds our roles create (and their children) in ``ns`` matching ``selector``."""
    core, apps, rbac, net = sb["core"], sb["apps"], sb["rbac"], sb["net"]
    listers = {
        "Pod": core.list_namespaced_pod, "Service": core.list_namespaced_service,
        "ConfigMap": core.list_namespaced_config_map, "Secret": core.list_namespaced_secret,
        "ServiceAccount": core.list_namespaced_service_account, "Deployment": apps.list_namespaced_deployment,
        "ReplicaSet": apps.list_namespaced_replica_set, "DaemonSet": apps.list_namespaced_daemon_set,
        "Role": rbac.list_namespaced_role, "RoleBinding": rbac.list_namespaced_role_binding,
        "Ingress": net.list_namespaced_ingress,
    }
    return sorted(f"{kind} {ns}/{o.metadata.name}" for kind, lister in listers.items() for o in lister(ns, label_selector=selector).items)


def issuer_provider_arns(sb) -> list[str]:
    issuer = sb["eks"].describe_cluster(name=sb["sandbox"]["cluster_name"])["cluster"]["identity"]["oidc"]["issuer"]
    host_path = issuer.split("://", 1)[-1].rstrip("/")
    return [p["Arn"] for p in sb["iam"].list_open_id_connect_providers()["OpenIDConnectProviderList"] if p["Arn"].endswith("/" + host_path)]


def roles_trusting(sb, provider_arn: str) -> list[str]:
    found = []
    for page in sb["iam"].get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if provider_arn in json.dumps(role.get("AssumeRolePolicyDocument", {})):
                found.append(role["RoleName"])
    return found


def role_exists(sb, name: str) -> bool:
    try:
        sb["iam"].get_role(RoleName=name)
        return True
    except sb["iam"].exceptions.NoSuchEntityException:
        return False


def xray_groups(sb, name: str) -> list[str]:
    groups = sb["xray"].get_paginator("get_groups").paginate().build_full_result()["Groups"]
    return [g["GroupARN"] for g in groups if g.get("GroupName") == name]


def leftovers(sb, n: dict) -> list[str]:
    """What of the test's own is left: namespaces and labelled objects, the IAM role, the X-Ray group, and the OIDC
    provider of the sandbox cluster when no role other than the test's trusts it any more."""
    found = []
    for ns in (n["ns_d"], n["ns_a"]):
        namespaces = sb["core"].list_namespace(field_selector=f"metadata.name={ns}").items
        if namespaces:
            labels = namespaces[0].metadata.labels or {}
            if labels.get("app.kubernetes.io/managed-by") == "tracing.xray":
                found.append(f"Namespace {ns}" + (" (terminating)" if namespaces[0].metadata.deletion_timestamp else ""))
            found += namespaced_objects(sb, ns)
    if role_exists(sb, n["role"]):
        found.append(f"IAM role {n['role']}")
    found += [f"X-Ray group {arn}" for arn in xray_groups(sb, n["group"])]
    for arn in issuer_provider_arns(sb):
        if not [r for r in roles_trusting(sb, arn) if r != n["role"]]:
            found.append(f"OIDC provider {arn} (trusted by no other role)")
    return found


def assert_nothing_left(sb, n: dict) -> None:
    assert leftovers(sb, n) == [], "teardown left something of ours"


def teardown_clean(sb, n: dict, tmp: str) -> Run:
    down = run(TEARDOWN, teardown_vars(n), tmp)
    assert down.rc == 0 and down.failed() == 0, down.explain()
    assert_nothing_left(sb, n)
    return down


def assert_converges(sb, n: dict, tmp: str, **extra) -> Run:
    """site.yml ends rc 0 and what it built is all there: the IAM role, the X-Ray group, the DaemonSet and the apps."""
    again = run(SITE, site_vars(n, **extra), tmp)
    assert again.rc == 0 and again.failed() == 0, again.explain()
    assert role_exists(sb, n["role"]) and len(xray_groups(sb, n["group"])) == 1
    assert [d.metadata.name for d in sb["apps"].list_namespaced_daemon_set(n["ns_d"], label_selector=OWNED).items] == ["xray-daemon"]
    assert sb["apps"].list_namespaced_deployment(n["ns_a"], label_selector=OWNED).items, "the apps step ran"
    return again


def no_traceback(result: Run) -> None:
    assert "Traceback" not in result.output, result.explain()


@pytest.fixture
def cleanup_after(sb):
    """Teardown of the names a test registers, whatever happened in the test (best effort, bounded)."""
    registered: list[dict] = []
    yield registered.append
    for n in registered:
        if leftovers(sb, n):
            run(TEARDOWN, teardown_vars(n), sb["tmp"])


# --- 1. teardown on an empty cluster, and twice after a converge ----------------------------------------------

def test_teardown_with_nothing_of_ours_succeeds_and_changes_nothing(sb):
    n = names("empty", 0)
    down = run(TEARDOWN, teardown_vars(n), sb["tmp"])
    assert down.rc == 0 and down.failed() == 0, down.explain()
    assert down.changed() == 0, (down.changed_tasks(), down.explain())
    assert_nothing_left(sb, n)


# --- 3 and 6. two site.yml at once, check mode on the converged state, teardown twice ------------------------

@pytest.fixture(scope="module")
def twin(sb):
    """Two site.yml runs at once against one cluster with the same variables (two processes)."""
    n = names("twin", 1)
    began = time.monotonic()
    procs = [start(SITE, site_vars(n), sb["tmp"]) for _ in range(2)]
    runs = [finish(proc, began) for proc in procs]
    yield {"names": n, "runs": runs}
    if leftovers(sb, n):
        run(TEARDOWN, teardown_vars(n), sb["tmp"])


def test_two_site_runs_at_once_both_succeed_and_make_one_of_each(sb, twin):
    n = twin["names"]
    for result in twin["runs"]:
        assert result.rc == 0 and result.failed() == 0, result.explain()
    # exactly one of each: one IAM role, one X-Ray group, one OIDC provider for the cluster, one DaemonSet whose pods
    # are one per node, and per Deployment one ReplicaSet (both runs applied the same template) with its replicas
    assert role_exists(sb, n["role"]) and len(xray_groups(sb, n["group"])) == 1
    assert len(issuer_provider_arns(sb)) == 1
    apps = sb["apps"]
    daemonsets = apps.list_namespaced_daemon_set(n["ns_d"], label_selector=OWNED).items
    assert [d.metadata.name for d in daemonsets] == ["xray-daemon"]
    selector = ",".join(f"{k}={v}" for k, v in daemonsets[0].spec.selector.match_labels.items())
    pods = sb["core"].list_namespaced_pod(n["ns_d"], label_selector=selector).items
    per_node: dict = {}
    for pod in pods:
        if pod.metadata.deletion_timestamp is None:
            per_node[pod.spec.node_name] = per_node.get(pod.spec.node_name, 0) + 1
    assert per_node and set(per_node.values()) == {1}, per_node
    deployments = apps.list_namespaced_deployment(n["ns_a"], label_selector=OWNED).items
    assert deployments
    replica_sets = apps.list_namespaced_replica_set(n["ns_a"]).items
    for deployment in deployments:
        owned = [rs for rs in replica_sets if any(ref.uid == deployment.metadata.uid for ref in rs.metadata.owner_references or [])]
        assert len(owned) == 1, (deployment.metadata.name, [rs.metadata.name for rs in owned])
        assert deployment.status.ready_replicas == deployment.spec.replicas, deployment.status


def test_check_mode_on_the_converged_state_reports_no_change(sb, twin):
    n = twin["names"]
    check = run(SITE, site_vars(n), sb["tmp"], check=True)
    assert check.rc == 0 and check.failed() == 0, check.explain()
    assert check.changed() == 0, (check.changed_tasks(), check.explain())


def test_teardown_twice_after_a_converge_the_second_changes_nothing(sb, twin):
    n = twin["names"]
    teardown_clean(sb, n, sb["tmp"])
    second = run(TEARDOWN, teardown_vars(n), sb["tmp"])
    assert second.rc == 0 and second.failed() == 0, second.explain()
    assert second.changed() == 0, (second.changed_tasks(), second.explain())
    assert_nothing_left(sb, n)


def test_apps_namespace_made_by_a_concurrent_run_is_used_and_an_existing_one_is_never_changed(sb):
    """The race two site.yml at once ran into: run B reads the apps namespace (absent), run A creates it, run B goes on.
    The apps role reads the namespace in the same call as its ownership check (k8s_ownership's ``read``); the Namespace
    is not ownership-checked (namespaces we create carry no component label) and is applied only when that read found
    none. Replayed deterministically: the namespace as run A leaves it exists and run B's read is replayed as "not found"
    (extra vars win over the registered result): B converges. A namespace that exists when the role reads it (here one
    of another team) is used as it is: its labels are not changed."""
    from plays import role_play

    core = sb["core"]
    meta = kubernetes.client.V1ObjectMeta
    ours, foreign = f"it-flt-race-a-{SUFFIX}", f"it-flt-race-f-{SUFFIX}"
    core.create_namespace(kubernetes.client.V1Namespace(metadata=meta(name=ours, labels={
        "app.kubernetes.io/managed-by": "tracing.xray", "app.kubernetes.io/part-of": "tracing-xray"})))
    core.create_namespace(kubernetes.client.V1Namespace(metadata=meta(name=foreign, labels={"team": "payments"})))
    path = os.path.join(sb["tmp"], f"apps-race-{SUFFIX}.yml")
    try:
        for ns, replay in ((ours, {"_apps_ownership": {"live": {}, "foreign": [], "adopted": [], "owned": 0}}), (foreign, {})):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(role_play("apps", apps_namespace=ns, apps_preset="none", apps_wait=False,
                                         apps_services=[{"name": "it-race", "image": "registry.invalid/it-race:1", "port": 8080}]))
            result = run(path, replay, sb["tmp"])
            assert result.rc == 0 and result.failed() == 0, result.explain()
            assert sb["apps"].read_namespaced_deployment("it-race", ns).metadata.labels["app.kubernetes.io/component"] == "apps"
        assert core.read_namespace(ours).metadata.labels["app.kubernetes.io/managed-by"] == "tracing.xray"
        assert core.read_namespace(foreign).metadata.labels == {"team": "payments", "kubernetes.io/metadata.name": foreign}
    finally:
        for ns in (ours, foreign):
            with suppress(kubernetes.client.ApiException):
                core.delete_namespace(ns)


# --- 6. check mode on a fresh state ---------------------------------------------------------------------------

def test_check_mode_on_a_fresh_state_reports_changes_and_creates_nothing(sb):
    n = names("check", 2)
    providers_before = issuer_provider_arns(sb)
    check = run(SITE, site_vars(n), sb["tmp"], check=True)
    assert check.rc == 0 and check.failed() == 0, check.explain()
    assert check.changed() > 0, check.explain()
    names_now = [ns.metadata.name for ns in sb["core"].list_namespace().items]
    assert n["ns_d"] not in names_now and n["ns_a"] not in names_now
    assert not role_exists(sb, n["role"]) and xray_groups(sb, n["group"]) == []
    assert issuer_provider_arns(sb) == providers_before


# --- 2. site.yml interrupted half-way ---------------------------------------------------------------------------

def signal_group(sig, repeats=5):
    """Send ``sig`` to the run's process group, and again every 3 s while the run is still there (at most ``repeats``
    times), as a user presses Ctrl-C again. ansible-core can lose one: a signal that arrives while the
    playbook's process runs its after-fork hooks raises the handler's KeyboardInterrupt inside logging's at-fork
    callback, where Python ignores it ("Exception ignored in: <function _releaseLock>"), and the run goes on (seen once
    in CI: the interrupted run ended rc=0)."""
    def _send(proc):
        for _ in range(repeats):
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=3)
                return
            except subprocess.TimeoutExpired:
                continue
    return _send


def test_interrupted_site_then_teardown_leaves_nothing(sb, cleanup_after):
    """SIGINT to the run's process group (Ctrl-C) when the daemon step starts: the irsa step is done, the rest not."""
    n = names("int", 3)
    cleanup_after(n)
    cut = run_with_fault(SITE, site_vars(n), sb["tmp"], DAEMON_STARTS, signal_group(signal.SIGINT))
    assert cut.rc != 0, cut.explain()
    assert role_exists(sb, n["role"]), "the irsa step had run before the interruption"
    teardown_clean(sb, n, sb["tmp"])


def test_interrupted_site_then_rerun_converges(sb, cleanup_after):
    """SIGTERM to the run's process group when the groups step starts (irsa and daemon done), then site.yml again."""
    n = names("rerun", 4)
    cleanup_after(n)
    cut = run_with_fault(SITE, site_vars(n), sb["tmp"], GROUPS_STARTS, signal_group(signal.SIGTERM))
    assert cut.rc != 0, cut.explain()
    assert sb["apps"].list_namespaced_daemon_set(n["ns_d"], label_selector=OWNED).items, "the daemon step had run"
    assert_converges(sb, n, sb["tmp"])
    teardown_clean(sb, n, sb["tmp"])


# --- 4. the AWS endpoint and the API server gone during site.yml ------------------------------------------------

def cut_forwarder(forwarder: Forwarder):
    def _cut(_proc):
        forwarder.cut()
    return _cut


def assert_clean_failure(result: Run, port: int) -> None:
    assert result.rc != 0, result.explain()
    no_traceback(result)
    assert result.seconds - result.fault_at < EXIT_AFTER_FAULT
    address = re.compile(rf"127\.0\.0\.1['\"]?(:|, port=){port}\b")
    assert address.search(result.output), f"the failure names the endpoint 127.0.0.1:{port}\n" + result.explain()


def test_aws_endpoint_then_api_server_gone_during_site_fail_cleanly_and_rerun_converges(sb, cleanup_after):
    """Two faults on one state (one converge and one teardown fewer), each through a forwarder of this test:

    1. the AWS endpoint "stops" when the daemon step starts: irsa is done, the daemon step calls no AWS API and
       completes, the groups step is the first to call AWS again and must fail;
    2. after the endpoint is back, a second run: the API server "stops" when the daemon step starts (its first task
       reads the namespace);
    then, both paths back, site.yml converges and teardown leaves nothing.

    Emulated: "stops" means the test's TCP forwarder in front of the sandbox's AWS endpoint (plain HTTP) or API server
    (TLS passes through unchanged; the server certificate covers 127.0.0.1, whatever the port) closes its listener and
    its open connections, so the collection's clients get "connection refused", as from a stopped endpoint. The
    endpoints themselves keep running: the sandbox is shared by the other tests and must stay up. Real: the sandbox's
    API server and AWS endpoint behind the forwarders, every byte of every call, the refused connections."""
    n = names("cut", 5)
    sandbox = sb["sandbox"]
    host, port = sandbox["aws_endpoint_url"].split("://", 1)[1].rstrip("/").rsplit(":", 1)
    aws = Forwarder((host, int(port)))
    with open(sandbox["kubeconfig"], encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    host, port = config["clusters"][0]["cluster"]["server"].split("://", 1)[1].rstrip("/").rsplit(":", 1)
    api = Forwarder((host, int(port)))
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{api.port}"
    kubeconfig = os.path.join(sb["tmp"], f"kubeconfig-{SUFFIX}")
    with open(kubeconfig, "w", encoding="utf-8") as handle:
        yaml.safe_dump(config, handle)
    via = {"xray_aws_endpoint_url": f"http://127.0.0.1:{aws.port}", "xray_kubeconfig": kubeconfig}
    cleanup_after(n)
    try:
        cut = run_with_fault(SITE, site_vars(n, **via), sb["tmp"], DAEMON_STARTS, cut_forwarder(aws))
        assert aws.refuses()
        assert_clean_failure(cut, aws.port)
        assert "tracing.xray.groups" in cut.stdout.split(DAEMON_STARTS, 1)[1], "the run failed in the groups step"
        assert xray_groups(sb, n["group"]) == [], "nothing of the groups step was created"
        aws.reopen()

        cut = run_with_fault(SITE, site_vars(n, **via), sb["tmp"], DAEMON_STARTS, cut_forwarder(api))
        assert api.refuses()
        assert_clean_failure(cut, api.port)
        api.reopen()

        assert_converges(sb, n, sb["tmp"], **via)
        down = run(TEARDOWN, teardown_vars(n, **via), sb["tmp"])
        assert down.rc == 0 and down.failed() == 0, down.explain()
        assert_nothing_left(sb, n)
    finally:
        aws.cut()
        api.cut()


# --- 5. a daemon pod deleted on the real node --------------------------------------------------------------------

@pytest.fixture(scope="module")
def real(sb):
    if not sb["sandbox"].get("real_nodes"):
        pytest.skip("the sandbox has no real node (SANDBOX_REAL_NODES=0)")
    return {"node": sb["sandbox"]["real_node_names"][0], "node_ip": sb["sandbox"]["node_ip"]}


def send_segment(node_ip: str, port: int, name: str) -> None:
    """One segment to the node's hostPort (portmap sends it to the daemon pod there), as an SDK in a pod would."""
    now = time.time()
    segment = {"name": name, "id": secrets.token_hex(8), "trace_id": f"1-{int(now):08x}-{secrets.token_hex(12)}",
               "start_time": now, "end_time": now + 0.001}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b'{"format": "json", "version": 1}\n' + json.dumps(segment).encode(), (node_ip, port))


def test_daemon_pod_deleted_on_the_real_node_comes_back_and_verify_passes(sb, real, cleanup_after):
    """The real node's daemon pod deleted: the DaemonSet recreates it (a new pod, Ready, on the same node), segments
    sent to the node's hostPort go through the new pod to the AWS endpoint, and tracing.xray.verify finds them."""
    n = names("pod", 7)
    cleanup_after(n)
    tmp = sb["tmp"]
    up = run(SITE, site_vars(n, xray_groups_enabled=False, xray_apps_enabled=False), tmp)
    assert up.rc == 0 and up.failed() == 0, up.explain()
    core = sb["core"]
    selector, field = "app.kubernetes.io/name=aws-xray-daemon", f"spec.nodeName={real['node']}"
    old = core.list_namespaced_pod(n["ns_d"], label_selector=selector, field_selector=field).items
    assert len(old) == 1, [p.metadata.name for p in old]
    core.delete_namespaced_pod(old[0].metadata.name, n["ns_d"])

    new = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and new is None:
        time.sleep(1)
        for pod in core.list_namespaced_pod(n["ns_d"], label_selector=selector, field_selector=field).items:
            statuses = pod.status.container_statuses or []
            if pod.metadata.uid != old[0].metadata.uid and pod.metadata.deletion_timestamp is None \
                    and statuses and all(s.ready for s in statuses):
                new = pod
    assert new is not None, "the DaemonSet did not bring a Ready daemon pod back on the real node within 120s"

    service = f"it-flt-probe-{SUFFIX}"
    start_time = time.time() - 1
    for _ in range(10):
        send_segment(real["node_ip"], n["port"], service)
        time.sleep(1)
    checked = run(VERIFY, {"verify_start_time": "%.3f" % start_time, "verify_end_time": "%.3f" % (time.time() + 5),
                           "verify_expected_services": [service], "verify_expected_edges": [],
                           "verify_output_dir": os.path.join(tmp, "verify"), "verify_wait_timeout": 60,
                           "verify_wait_interval": 2}, tmp)
    assert checked.rc == 0 and checked.failed() == 0, checked.explain()
    teardown_clean(sb, n, tmp)
