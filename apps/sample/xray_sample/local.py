# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the sample's front end and back end as local processes on 127.0.0.1 (free ports).

This is how the sandbox runs the sample: its Kubernetes nodes are simulated (kwok), so pods never really
run; these processes send real segments over UDP to the real X-Ray daemon instead.

    python -m xray_sample.local start --state .sandbox/sample.json [--daemon 127.0.0.1:2000] [--work-ms 20]
    python -m xray_sample.local chaos --state .sandbox/sample.json [--down 3]   # kill -9 the back end, restart it
    python -m xray_sample.local status --state .sandbox/sample.json
    python -m xray_sample.local stop --state .sandbox/sample.json
    python -m xray_sample.local demo [--count 300] [--rate 20] [--chaos]       # start, send load, stop: all in one

``start`` prints (and writes to the state file) the front end's URL; ``stop`` ends only the processes whose
ids the state file names. ``demo`` needs no state file: it starts both services, sends a bounded load (with
``--chaos`` the back end is killed a third of the way in and restarted after ``--down`` seconds), stops them
again and prints the load generator's summary and the time window as JSON. ``LocalSample`` is the same thing
for Python callers (the end-to-end test).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

APP_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRONT_NAME = "x-ray-sample-front-k8s"
BACK_NAME = "x-ray-sample-back-k8s"


def _wait_port_file(path: str, proc: subprocess.Popen, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before listening")
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read().strip()
            if text:
                return int(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"process {proc.pid} did not report its port within {timeout:g}s")


def wait_healthy(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL built here
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy within {timeout:g}s: {last}")


class LocalSample:
    """The two services as child processes; ``front_url`` is the address to send load to."""

    def __init__(self, daemon_address: str = "127.0.0.1:2000", *, workdir: str | None = None, python: str = sys.executable,
                 front_name: str = FRONT_NAME, back_name: str = BACK_NAME, work_ms: float = 0.0, sampling: str = "all") -> None:
        self.daemon_address = daemon_address
        self.workdir = workdir or tempfile.mkdtemp(prefix="xray-sample-")
        os.makedirs(self.workdir, exist_ok=True)
        self.python = python
        self.front_name = front_name
        self.back_name = back_name
        self.work_ms = work_ms
        self.sampling = sampling
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports: dict[str, int] = {}

    # --- processes ---------------------------------------------------------------------------------------
    def _env(self, role: str, port: int) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_XRAY_", "SAMPLE_"))}
        env.update(
            PYTHONPATH=APP_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
            PYTHONDONTWRITEBYTECODE="1",
            AWS_XRAY_TRACING_NAME=self.front_name if role == "frontend" else self.back_name,
            AWS_XRAY_DAEMON_ADDRESS=self.daemon_address,
            AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
            SAMPLE_HOST="127.0.0.1",
            SAMPLE_PORT=str(port),
            SAMPLE_PORT_FILE=os.path.join(self.workdir, f"{role}.port"),
            SAMPLE_SAMPLING=self.sampling,
        )
        if role == "frontend":
            env["SAMPLE_BACKEND_URL"] = f"http://127.0.0.1:{self.ports['backend']}/api"
            env["SAMPLE_BACKEND_NAME"] = self.back_name
        else:
            env["SAMPLE_WORK_MS"] = str(self.work_ms)
        return env

    def _spawn(self, role: str, port: int = 0) -> None:
        port_file = os.path.join(self.workdir, f"{role}.port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        log = open(os.path.join(self.workdir, f"{role}.log"), "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                [self.python, "-m", "xray_sample", role],
                cwd=APP_DIR, env=self._env(role, port), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        finally:
            log.close()
        self.procs[role] = proc
        self.ports[role] = _wait_port_file(port_file, proc, 20.0)
        wait_healthy(f"http://127.0.0.1:{self.ports[role]}/healthz")

    def start(self) -> LocalSample:
        self._spawn("backend")
        self._spawn("frontend")
        return self

    @property
    def front_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['frontend']}/api"

    @property
    def back_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['backend']}/api"

    def kill_backend(self) -> None:
        """SIGKILL the back end (no clean shutdown: in-flight requests fail like a killed pod's)."""
        proc = self.procs["backend"]
        proc.kill()
        proc.wait(timeout=10)

    def restart_backend(self) -> None:
        """Start the back end again on the same port, as a re-created pod behind its Service."""
        self._spawn("backend", self.ports["backend"])

    def stop(self) -> None:
        for role in ("frontend", "backend"):
            proc = self.procs.get(role)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def __enter__(self) -> LocalSample:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def describe(self) -> dict:
        return {
            "front_url": self.front_url,
            "back_url": self.back_url,
            "front_name": self.front_name,
            "back_name": self.back_name,
            "daemon_address": self.daemon_address,
            "workdir": self.workdir,
            "pids": {role: proc.pid for role, proc in self.procs.items()},
            "ports": dict(self.ports),
        }


# --- command line (processes outlive the command; the state file names them) ---------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ours(pid: int) -> bool:
    """True when pid is still one of our sample processes (not a recycled pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"xray_sample" in handle.read()
    except OSError:
        return _alive(pid)


def _stop_pid(pid: int) -> None:
    if not (_alive(pid) and _ours(pid)):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _load_state(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _write_state(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def _daemon_from_sandbox(default: str) -> str:
    """The sandbox's daemon address from ``$SANDBOX_DIR/sandbox.json`` (default ``./.sandbox``), else ``default``."""
    sandbox_dir = os.environ.get("SANDBOX_DIR") or os.path.join(os.getcwd(), ".sandbox")
    try:
        data = _load_state(os.path.join(sandbox_dir, "sandbox.json"))
    except (OSError, ValueError):
        return default
    return data.get("daemon_udp_address") or data.get("daemon_address") or default


def _demo(args) -> int:
    """Start both services, send a bounded load (optionally with chaos), stop them; print a JSON summary."""
    from . import loadgen

    daemon = args.daemon or _daemon_from_sandbox("127.0.0.1:2000")
    duration = min(loadgen.MAX_DURATION, args.count / args.rate + 60.0)
    with tempfile.TemporaryDirectory(prefix="xray-sample-") as workdir, LocalSample(daemon, workdir=workdir, work_ms=args.work_ms) as sample:
        started = time.time()
        if args.chaos:
            outcome: dict = {}
            runner = threading.Thread(target=lambda: outcome.update(loadgen.run(sample.front_url, args.count, duration, rate=args.rate, concurrency=4)))
            runner.start()
            time.sleep(args.count / args.rate / 3.0)
            sample.kill_backend()
            time.sleep(max(0.0, args.down))
            sample.restart_backend()
            runner.join()
        else:
            outcome = loadgen.run(sample.front_url, args.count, duration, rate=args.rate, concurrency=4)
    outcome.pop("trace_ids", None)
    report = {"daemon": daemon, "front_end": FRONT_NAME, "back_end": BACK_NAME, "chaos": args.chaos,
              "window": {"start": started, "end": time.time()}, "load": outcome}
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0 if outcome.get("sent") == args.count else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xray_sample.local", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", choices=["start", "stop", "status", "chaos", "demo"])
    parser.add_argument("--state", help="state file (JSON) naming the processes (every command but demo)")
    parser.add_argument("--daemon", default=None,
                        help="X-Ray daemon address (default: the sandbox's, from $SANDBOX_DIR or .sandbox/sandbox.json, else 127.0.0.1:2000)")
    parser.add_argument("--work-ms", type=float, default=0.0, help="back end: up to this many ms of simulated work per request")
    parser.add_argument("--down", type=float, default=3.0, help="chaos: seconds the back end stays down")
    parser.add_argument("--count", type=int, default=300, help="demo: requests to send (default 300)")
    parser.add_argument("--rate", type=float, default=20.0, help="demo: requests per second (default 20)")
    parser.add_argument("--chaos", action="store_true", help="demo: kill the back end during the load and restart it")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    if not args.state:
        parser.error(f"{args.command} needs --state")

    if args.command == "start":
        if os.path.exists(args.state):
            old = _load_state(args.state)
            if any(_alive(pid) and _ours(pid) for pid in old.get("pids", {}).values()):
                sys.stderr.write(f"already running (see {args.state}); stop it first\n")
                return 1
        workdir = os.path.join(os.path.dirname(os.path.abspath(args.state)), "sample")
        sample = LocalSample(args.daemon or _daemon_from_sandbox("127.0.0.1:2000"), workdir=workdir, work_ms=args.work_ms)
        try:
            sample.start()
        except Exception:
            sample.stop()
            raise
        _write_state(args.state, sample.describe())
        sys.stdout.write(json.dumps(sample.describe(), indent=2) + "\n")
        return 0

    if not os.path.exists(args.state):
        sys.stderr.write(f"no state file {args.state}: nothing started\n")
        return 0 if args.command == "stop" else 1
    state = _load_state(args.state)
    pids = state.get("pids", {})
    if args.command == "stop":
        for role in ("frontend", "backend"):
            if role in pids:
                _stop_pid(int(pids[role]))
        os.unlink(args.state)
        return 0
    if args.command == "status":
        alive = {role: _alive(int(pid)) and _ours(int(pid)) for role, pid in pids.items()}
        sys.stdout.write(json.dumps({**state, "alive": alive}, indent=2) + "\n")
        return 0 if all(alive.values()) else 1
    # chaos: kill the back end, keep it down, start a new one on the same port
    backend_pid = int(pids["backend"])
    if _alive(backend_pid) and _ours(backend_pid):
        os.kill(backend_pid, signal.SIGKILL)
    time.sleep(max(0.0, args.down))
    sample = LocalSample(state["daemon_address"], workdir=state["workdir"], front_name=state["front_name"], back_name=state["back_name"],
                         work_ms=args.work_ms)
    sample.ports = dict(state["ports"])
    sample.restart_backend()
    state["pids"]["backend"] = sample.procs["backend"].pid
    _write_state(args.state, state)
    sys.stdout.write(json.dumps({"killed": backend_pid, "restarted": state["pids"]["backend"], "down_seconds": args.down}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
