"""Shared fixtures for the integration tests.

- ``aws_endpoint``: the sandbox's AWS endpoint (moto + our X-Ray emulation, ``sandbox/aws``) started
  in-process on a free loopback port for this test session. Real HTTP, real boto3.
- ``xray``: a boto3 X-Ray client on ``aws_endpoint``, to read back what modules and roles did.
- ``no_ambient_aws``: removes ambient AWS endpoint/profile variables, so a playbook connects only with
  the settings the test gives it.
- ``sandbox``: the whole sandbox (Kubernetes API, AWS endpoint, X-Ray daemon), started with
  ``sandbox/sandbox.py up`` if it is not running; left running (``make sandbox-down`` stops it).
- ``run_playbook``: runs ansible-playbook from the checkout and returns the parsed JSON callback output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import boto3
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
SANDBOX_DIR = os.environ.get("SANDBOX_DIR", os.path.join(REPO, ".sandbox"))

if REPO not in sys.path:
    sys.path.insert(0, REPO)


@pytest.fixture(scope="session")
def repo() -> str:
    return REPO


@pytest.fixture(scope="session")
def aws_endpoint():
    """The sandbox AWS endpoint in-process: dict with endpoint_url, region, credentials, cluster, issuer."""
    from sandbox.aws.server import start_server, stop_server

    server, info = start_server(host="127.0.0.1", port=0, region="eu-west-1", cluster_name="xray-it")
    try:
        yield info
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def xray(aws_endpoint):
    """A boto3 X-Ray client on ``aws_endpoint``."""
    return boto3.client(
        "xray",
        endpoint_url=aws_endpoint["endpoint_url"],
        region_name=aws_endpoint["region"],
        aws_access_key_id=aws_endpoint["access_key_id"],
        aws_secret_access_key=aws_endpoint["secret_access_key"],
    )


@pytest.fixture
def no_ambient_aws(monkeypatch):
    """Remove the AWS endpoint and profile variables a developer's shell may set."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_XRAY", "AWS_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def aws_env(aws_endpoint, monkeypatch):
    """Environment for boto3 and Ansible modules pointing at ``aws_endpoint``."""
    env = {
        "AWS_ACCESS_KEY_ID": aws_endpoint["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": aws_endpoint["secret_access_key"],
        "AWS_DEFAULT_REGION": aws_endpoint["region"],
        "AWS_REGION": aws_endpoint["region"],
        "AWS_ENDPOINT_URL": aws_endpoint["endpoint_url"],
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env


@pytest.fixture(scope="session")
def sandbox() -> dict:
    """The running sandbox's description (``.sandbox/sandbox.json``), started if needed."""
    cmd = [sys.executable, os.path.join(REPO, "sandbox", "sandbox.py"), "up"]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600, check=False)
    if result.returncode != 0:
        pytest.fail(f"sandbox up failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    with open(os.path.join(SANDBOX_DIR, "sandbox.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _ansible_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        PATH=VENV_BIN + os.pathsep + env.get("PATH", ""),
    )
    env.update(extra or {})
    return env


class PlaybookRun:
    """The outcome of one ansible-playbook run, from the json stdout callback."""

    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.stdout = proc.stdout
        try:
            self.data = json.loads(proc.stdout[proc.stdout.index("{"):])
        except ValueError:
            self.data = {"plays": [], "stats": {}}

    def results(self, host: str | None = None) -> dict:
        """Task name -> result dict for one host (the only host when not given)."""
        out = {}
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                hosts = task.get("hosts", {})
                key = host or next(iter(hosts), None)
                if key in hosts:
                    out[task["task"]["name"]] = hosts[key]
        return out

    @property
    def stats(self) -> dict:
        return self.data.get("stats", {})

    def changed(self) -> int:
        return sum(s.get("changed", 0) for s in self.stats.values())

    def failed(self) -> int:
        return sum(s.get("failures", 0) + s.get("unreachable", 0) for s in self.stats.values())

    def failure_message(self) -> str:
        """The ``msg`` of every failed task (one per line)."""
        return "\n".join(str(r.get("msg", "")) for r in self.results().values() if r.get("failed"))

    def warnings(self) -> list[str]:
        """Every warning a task of the run returned (module warnings such as "left in place")."""
        found = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for result in task.get("hosts", {}).values():
                    found += [str(w) for w in result.get("warnings", [])]
                    for item in result.get("results", []) if isinstance(result.get("results"), list) else []:
                        found += [str(w) for w in (item.get("warnings", []) if isinstance(item, dict) else [])]
        return found

    def explain(self) -> str:
        return f"rc={self.rc}\nstderr:\n{self.stderr[-4000:]}\nstdout:\n{self.stdout[-8000:]}"


@pytest.fixture(scope="session")
def run_playbook():
    """Run a playbook (a path, or YAML text) from the checkout; returns a ``PlaybookRun``."""

    def _run(playbook: str, *, inventory: str | None = None, extra_vars: dict | None = None,
             check: bool = False, diff: bool = False, env: dict | None = None, timeout: int = 900, verbosity: int = 0) -> PlaybookRun:
        with tempfile.TemporaryDirectory() as tmp:
            path = playbook
            if "\n" in playbook:
                path = os.path.join(tmp, "playbook.yml")
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(playbook)
            cmd = [os.path.join(VENV_BIN, "ansible-playbook"), path]
            cmd += ["-i", inventory or "localhost,"]
            if inventory is None:
                cmd += ["-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"]
            if extra_vars:
                vars_path = os.path.join(tmp, "vars.json")
                with open(vars_path, "w", encoding="utf-8") as handle:
                    json.dump(extra_vars, handle)
                cmd += ["-e", f"@{vars_path}"]
            if check:
                cmd.append("--check")
            if diff:
                cmd.append("--diff")
            if verbosity:
                cmd.append("-" + "v" * verbosity)
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=_ansible_env(env), timeout=timeout, check=False)
        return PlaybookRun(proc)

    return _run
