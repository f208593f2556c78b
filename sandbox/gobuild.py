"""Build the sandbox's Go binaries into a cache outside the repository, keyed by version.

Components (versions come from the wrapper modules under ``sandbox/go/`` and the constants below):

==========================  ===============================================  ===================
component                   source                                           binary
==========================  ===============================================  ===================
kube-apiserver, kube-        ``k8s.io/kubernetes/cmd/<name>`` through the    ``<name>``
controller-manager,          wrapper module ``sandbox/go/kubernetes``
kube-scheduler, kubectl,
kubelet, kube-proxy
etcd                        ``sandbox/go/etcd`` (``etcdmain.Main``)          ``etcd``
kwok, kwokctl               ``go install sigs.k8s.io/kwok/cmd/<name>@v0.7.0``  ``kwok``, ``kwokctl``
coredns                     ``go install github.com/coredns/coredns@v1.12.4``  ``coredns``
xray                        ``github.com/aws/aws-xray-daemon/daemon``        ``xray``
                            through ``sandbox/go/xray``
pause                       ``sandbox/go/pause`` (our own, no dependencies)  ``pause``
==========================  ===============================================  ===================

Outputs: ``${TRACING_XRAY_CACHE:-~/.cache/tracing-xray}/bin/<component>-<version>/<binary>``, each
directory with a ``build.json`` stamp (the build key: sources, flags). A warm build only compares
stamps. Logs: ``<cache>/logs/<component>-<version>.log``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
GO_DIR = os.path.join(HERE, "go")

KWOK_VERSION = "v0.7.0"
COREDNS_VERSION = "v1.12.4"  # cluster DNS of the real node (go install, no replace directives)
KWOK_MODULE = "sigs.k8s.io/kwok"
K8S_BUILD_TAGS = "selinux,notest"


class BuildError(RuntimeError):
    """A build step failed; the message names the step and its log file."""


def cache_root() -> str:
    return os.environ.get("TRACING_XRAY_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tracing-xray")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _require_version(module_dir: str, module: str) -> str:
    """The version a wrapper module's go.mod requires for ``module``."""
    text = _read(os.path.join(module_dir, "go.mod"))
    match = re.search(r"^\s*(?:require\s+)?" + re.escape(module) + r"\s+(v\S+)", text, re.M)
    if not match:
        raise BuildError(f"{module_dir}/go.mod does not require {module}")
    return match.group(1)


def _go_directive(module_dir: str) -> str:
    match = re.search(r"^go\s+(\S+)", _read(os.path.join(module_dir, "go.mod")), re.M)
    return match.group(1) if match else "1.0"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


@dataclass
class Component:
    """One binary to build."""

    name: str  # component and binary name
    version: str  # the version it reports / is keyed by
    module_dir: str | None  # wrapper module to build in (None: `go install pkg@version`)
    package: str  # Go package path to build
    ldflags: str = "-s -w"
    tags: str = ""
    min_go: str = "1.24"
    key_files: list[str] = field(default_factory=list)

    @property
    def directory(self) -> str:
        return os.path.join(cache_root(), "bin", f"{self.name}-{self.version}")

    @property
    def binary(self) -> str:
        return os.path.join(self.directory, self.name)

    @property
    def log(self) -> str:
        return os.path.join(cache_root(), "logs", f"{self.name}-{self.version}.log")

    def key(self) -> str:
        digest = hashlib.sha256()
        for item in (self.name, self.version, self.package, self.ldflags, self.tags, "trimpath", "cgo0"):
            digest.update(item.encode() + b"\0")
        for path in self.key_files:
            with open(path, "rb") as handle:
                digest.update(handle.read())
        return digest.hexdigest()

    def stamp_path(self) -> str:
        return os.path.join(self.directory, "build.json")

    def is_built(self) -> bool:
        try:
            with open(self.stamp_path(), encoding="utf-8") as handle:
                stamp = json.load(handle)
        except (OSError, ValueError):
            return False
        return stamp.get("key") == self.key() and os.access(self.binary, os.X_OK)


def components() -> list[Component]:
    """Every component in build order (the biggest first, so the shared compile cache warms up)."""
    k8s_dir = os.path.join(GO_DIR, "kubernetes")
    etcd_dir = os.path.join(GO_DIR, "etcd")
    xray_dir = os.path.join(GO_DIR, "xray")
    k8s_version = _require_version(k8s_dir, "k8s.io/kubernetes")
    major, minor = _version_tuple(k8s_version)[:2]
    k8s_ldflags = (
        "-s -w"
        f" -X k8s.io/component-base/version.gitVersion={k8s_version}"
        f" -X k8s.io/component-base/version.gitMajor={major}"
        f" -X k8s.io/component-base/version.gitMinor={minor}"
        " -X k8s.io/component-base/version.gitTreeState=clean"
    )
    k8s_keys = [os.path.join(k8s_dir, "go.mod"), os.path.join(k8s_dir, "go.sum")]
    result = [
        Component(name, k8s_version, k8s_dir, f"k8s.io/kubernetes/cmd/{name}", k8s_ldflags, K8S_BUILD_TAGS,
                  _go_directive(k8s_dir), k8s_keys)
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kube-proxy")
    ]
    result.append(Component("etcd", _require_version(etcd_dir, "go.etcd.io/etcd/server/v3"), etcd_dir, ".",
                            min_go=_go_directive(etcd_dir),
                            key_files=[os.path.join(etcd_dir, name) for name in ("go.mod", "go.sum", "main.go")]))
    for name in ("kwok", "kwokctl"):
        result.append(Component(name, KWOK_VERSION, None, f"{KWOK_MODULE}/cmd/{name}", min_go="1.24"))
    result.append(Component("coredns", COREDNS_VERSION, None, "github.com/coredns/coredns", min_go="1.24"))
    xray_version = _require_version(xray_dir, "github.com/aws/aws-xray-daemon").replace("+incompatible", "")
    result.append(Component("xray", xray_version, xray_dir, "github.com/aws/aws-xray-daemon/daemon",
                            min_go=_go_directive(xray_dir),
                            key_files=[os.path.join(xray_dir, "go.mod"), os.path.join(xray_dir, "go.sum")]))
    pause_dir = os.path.join(GO_DIR, "pause")
    result.append(Component("pause", "3.10", pause_dir, ".", key_files=[os.path.join(pause_dir, n) for n in ("go.mod", "main.go")]))
    return result


def binaries() -> dict[str, str]:
    """Component name -> binary path in the cache (built or not)."""
    return {comp.name: comp.binary for comp in components()}


def versions() -> dict[str, str]:
    return {comp.name: comp.version for comp in components()}


def check_go(needed: list[Component]) -> str:
    """The `go` executable, after checking it exists and is at least the newest `go` directive needed."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None)
    if not go:
        raise BuildError("Go is not installed (no `go` on PATH); install Go >= "
                         f"{max((c.min_go for c in needed), key=_version_tuple)} from https://go.dev/dl/ or your distribution")
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False,
                         env=_go_env()).stdout.strip()
    have = _version_tuple(out or "0")
    for comp in needed:
        if have < _version_tuple(comp.min_go):
            raise BuildError(f"Go {out or '(unknown)'} at {go} is too old: {comp.name} {comp.version} needs go >= {comp.min_go}")
    return go


def _go_env() -> dict:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    env["GOTOOLCHAIN"] = "local"  # never download a toolchain: fail clearly instead
    env["GOFLAGS"] = " ".join(flag for flag in env.get("GOFLAGS", "").split() if not flag.startswith("-mod="))
    return env


def _build_one(go: str, comp: Component, log=print) -> float:
    os.makedirs(comp.directory, exist_ok=True)
    os.makedirs(os.path.dirname(comp.log), exist_ok=True)
    env = _go_env()
    flags = ["-trimpath", "-ldflags", comp.ldflags]
    if comp.tags:
        flags += ["-tags", comp.tags]
    if comp.module_dir is None:
        tmp_dir = comp.directory + ".tmp"
        shutil.rmtree(tmp_dir, ignore_errors=True)
        os.makedirs(tmp_dir)
        env["GOBIN"] = tmp_dir
        cmd = [go, "install", *flags, f"{comp.package}@{comp.version}"]
        cwd = HERE
    else:
        tmp_dir = None
        cmd = [go, "build", *flags, "-o", comp.binary + ".tmp", comp.package]
        cwd = comp.module_dir
    log(f"building {comp.name} {comp.version} (log: {comp.log})")
    start = time.monotonic()
    with open(comp.log, "w", encoding="utf-8") as handle:
        handle.write(f"$ cd {shlex.quote(cwd)} && {shlex.join(cmd)}\n")
        handle.flush()
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        tail = _read(comp.log).splitlines()[-15:]
        raise BuildError(f"build step '{comp.name} {comp.version}' failed (exit {proc.returncode}) after {elapsed:.0f}s; "
                         f"log: {comp.log}\n  " + "\n  ".join(tail))
    if tmp_dir:
        os.replace(os.path.join(tmp_dir, comp.name), comp.binary)
        shutil.rmtree(tmp_dir, ignore_errors=True)
    else:
        os.replace(comp.binary + ".tmp", comp.binary)
    with open(comp.stamp_path(), "w", encoding="utf-8") as handle:
        json.dump({"key": comp.key(), "version": comp.version, "package": comp.package, "seconds": round(elapsed, 1),
                   "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, handle, indent=2)
    log(f"built {comp.name} {comp.version} in {elapsed:.0f}s")
    return elapsed


def build(only: list[str] | None = None, force: bool = False, log=print) -> dict[str, str]:
    """Build what is missing (or everything with ``force``); returns component -> binary path."""
    comps = [c for c in components() if not only or c.name in only]
    unknown = set(only or ()) - {c.name for c in comps}
    if unknown:
        raise BuildError(f"unknown component(s): {', '.join(sorted(unknown))}; known: {', '.join(c.name for c in components())}")
    todo = [c for c in comps if force or not c.is_built()]
    if todo:
        go = check_go(todo)
        total = 0.0
        for comp in todo:
            total += _build_one(go, comp, log)
        log(f"build finished: {len(todo)} component(s) in {total:.0f}s (cache: {os.path.join(cache_root(), 'bin')})")
    return {c.name: c.binary for c in comps}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("components", nargs="*", help="only these components (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache is warm")
    args = parser.parse_args(argv)
    try:
        for name, path in build(args.components or None, args.force).items():
            print(f"{name}: {path}")
    except BuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
