"""Process, port and wait helpers shared by the sandbox's modules (standard library only)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time

HOST = "127.0.0.1"


class SandboxError(RuntimeError):
    """A sandbox step failed; the message names the component and its log file."""


def say(message: str) -> None:
    print(f"sandbox: {message}", flush=True)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return int(handle.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def proc_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def proc_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _socket_inodes(proto: str, port: int) -> set[str]:
    """Inodes of sockets bound to ``port`` (TCP: listening only) in /proc/net/<proto>{,6}."""
    inodes = set()
    for name in (proto, proto + "6"):
        try:
            with open(f"/proc/net/{name}", encoding="utf-8") as handle:
                next(handle, None)
                for line in handle:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if int(local.rsplit(":", 1)[1], 16) != port:
                        continue
                    if proto == "tcp" and state != "0A":  # LISTEN
                        continue
                    inodes.add(inode)
        except OSError:
            continue
    return inodes


def port_holders(proto: str, port: int) -> list[tuple[int, str]]:
    """(pid, cmdline) of the processes holding a socket bound to ``port``; [(0, '?')] if bound but unknown."""
    inodes = _socket_inodes(proto, port)
    if not inodes:
        return []
    holders = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            for fd in os.listdir(fd_dir):
                try:
                    target = os.readlink(os.path.join(fd_dir, fd))
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    holders.append((int(entry), proc_cmdline(int(entry))))
                    break
        except OSError:
            continue
    return holders or [(0, "unknown process (not visible in /proc)")]


def port_in_use(proto: str, port: int) -> bool:
    if _socket_inodes(proto, port):
        return True
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        if proto == "tcp":  # like the servers do: connections in TIME_WAIT must not count as "in use"
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as err:
            return err.errno == errno.EADDRINUSE
    return False


def describe_holders(proto: str, port: int) -> str:
    holders = port_holders(proto, port)
    if not holders:
        return "a socket not listed in /proc/net (another network namespace?)"
    return "; ".join(f"pid {pid} ({cmd[:120]})" if pid else cmd for pid, cmd in holders)


def tcp_open(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def stop_pid(pid: int | None, name: str, grace: float = 10.0) -> None:
    """SIGTERM (to its process group if it leads one), then SIGKILL after ``grace`` seconds."""
    if not pid_alive(pid):
        return
    try:
        target_group = os.getpgid(pid) == pid
    except OSError:
        target_group = False

    def send(sig: int) -> None:
        with contextlib.suppress(OSError):
            if target_group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    send(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    say(f"{name} (pid {pid}) ignored SIGTERM for {grace:.0f}s: sending SIGKILL")
    send(signal.SIGKILL)
    for _ in range(50):
        _reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.1)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            content = handle.read().splitlines()[-lines:]
    except OSError:
        return f"    (no log at {path})"
    return "\n".join("    " + line for line in content)


def wait_for(what: str, check, timeout: float, log_path: str, interval: float = 0.5, alive=None):
    """Poll ``check()`` until it returns a truthy value; fail naming ``what`` and its log after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as err:  # noqa: BLE001 - reported below
            last_error = err
        if alive is not None and not alive():
            raise SandboxError(f"{what}: the process exited; log: {log_path}\n{log_tail(log_path)}")
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise SandboxError(f"{what} did not become healthy within {timeout:.0f}s{detail}; log: {log_path}\n{log_tail(log_path)}")
        time.sleep(interval)


def start_process(name: str, argv: list[str], env: dict, cwd: str, log_path: str, pid_path: str) -> subprocess.Popen:
    """Start ``argv`` in its own session, output appended to ``log_path``, pid written to ``pid_path``."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    os.makedirs(os.path.dirname(pid_path), exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} $ {' '.join(argv)}\n")
        log.flush()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    with open(pid_path, "w", encoding="utf-8") as handle:
        handle.write(str(proc.pid))
    return proc
