"""Install missing Debian packages with apt-get (the sandbox's host tools: umoci, mmdebstrap, containerd, ...).

``ensure(["umoci", "mmdebstrap"], log)`` checks each package with ``dpkg-query`` first and does nothing when
all are installed. Otherwise it needs root: it runs ``apt-get install -y --no-install-recommends <missing>``,
and only if that fails ``apt-get update`` once and the install again. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import subprocess

APT_TIMEOUT = 900  # seconds per apt-get call


class DebPkgError(RuntimeError):
    """A package is missing and could not be installed; the message says why and what to run."""


def is_installed(package: str) -> bool:
    """True when dpkg says ``install ok installed`` for ``package`` (False without dpkg-query too)."""
    try:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True,
                              check=False, timeout=60)
    except FileNotFoundError:
        return False
    return proc.returncode == 0 and proc.stdout.strip() == "install ok installed"


def missing(packages: list[str]) -> list[str]:
    return [name for name in packages if not is_installed(name)]


def _apt(args: list[str], log) -> subprocess.CompletedProcess:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log("$ apt-get " + " ".join(args))
    return subprocess.run(["apt-get", *args], capture_output=True, text=True, check=False, env=env, timeout=APT_TIMEOUT)


def _tail(proc: subprocess.CompletedProcess, lines: int = 12) -> str:
    return "\n  ".join((proc.stdout + proc.stderr).strip().splitlines()[-lines:])


def ensure(packages: list[str], log=print) -> None:
    """Install the packages of ``packages`` that are not installed; raise DebPkgError if that fails."""
    todo = missing(packages)
    if not todo:
        return
    command = "apt-get install -y --no-install-recommends " + " ".join(todo)
    if not shutil.which("apt-get") or not shutil.which("dpkg-query"):
        raise DebPkgError(f"missing packages {', '.join(todo)} and this is not a Debian system (no apt-get/dpkg-query): "
                          "install the equivalent tools by hand")
    if os.geteuid() != 0:
        raise DebPkgError(f"missing Debian packages: {', '.join(todo)}. Installing them needs root: "
                          f"run `sudo {command}` (or run this as root)")
    log(f"installing Debian packages (needs root): {', '.join(todo)}")
    proc = _apt(["install", "-y", "--no-install-recommends", *todo], log)
    if proc.returncode != 0:
        log("apt-get install failed; running apt-get update once and retrying")
        update = _apt(["update"], log)
        if update.returncode != 0:
            raise DebPkgError(f"apt-get update failed (exit {update.returncode}):\n  {_tail(update)}")
        proc = _apt(["install", "-y", "--no-install-recommends", *todo], log)
        if proc.returncode != 0:
            raise DebPkgError(f"`{command}` failed (exit {proc.returncode}):\n  {_tail(proc)}")
    still = missing(todo)
    if still:
        raise DebPkgError(f"apt-get reported success but these are still not installed: {', '.join(still)}")
    log(f"installed: {', '.join(todo)}")
