#!/usr/bin/env python3
"""Check what an execution environment gets from tracing.xray: runtime needs only.

usage: check_ee.py INTROSPECT_PIP INTROSPECT_BINDEP CONTEXT_DIR

INTROSPECT_PIP and INTROSPECT_BINDEP are the files `ansible-builder introspect --write-pip/--write-bindep` wrote
for the installed, built collection; CONTEXT_DIR is what `ansible-builder create` rendered from the repository's
execution-environment.yml. Fails when a development or test package (or an ansible-core pin) would be installed,
when a runtime need is missing, or when a requirement is pinned (==) instead of given a minimum.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DEV_ONLY = ("moto", "ruff", "pytest", "antsibull", "molecule", "ansible-lint", "yamllint", "aws-xray-sdk",
            "galaxy-importer", "ansible-builder", "sphinx", "distlib")
RUNTIME = ("boto3", "botocore", "kubernetes")
SYSTEM = ("graphviz",)


def requirement_name(line: str) -> str:
    return re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0].lower()


def lines(path: Path) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines() if line.split("#", 1)[0].strip()]


def problems(pip_lines: list[str], bindep_lines: list[str], context: Path) -> list[str]:
    found = []
    names = {requirement_name(line): line for line in pip_lines}
    for name, line in names.items():
        if name.startswith(DEV_ONLY) or name in ("ansible-core", "ansible"):
            found.append(f"development or ansible package in the execution environment's pip requirements: {line}")
        elif "==" in line:
            found.append(f"pinned runtime requirement (give a minimum instead): {line}")
    found += [f"runtime need missing from the pip requirements: {name}" for name in RUNTIME if name not in names]
    system = {requirement_name(line) for line in bindep_lines}
    found += [f"system need missing from bindep: {name}" for name in SYSTEM if name not in system]
    if not any((context / name).is_file() for name in ("Containerfile", "Dockerfile")):
        found.append(f"ansible-builder create wrote no Containerfile or Dockerfile into {context}")
    galaxy = context / "_build" / "requirements.yml"
    if not galaxy.is_file() or "tracing.xray" not in galaxy.read_text():
        found.append(f"{galaxy}: tracing.xray is not among the collections the execution environment installs")
    return found


def main(pip_file: str, bindep_file: str, context_dir: str) -> int:
    pip_lines = lines(Path(pip_file)) if Path(pip_file).exists() else []
    bindep_lines = lines(Path(bindep_file)) if Path(bindep_file).exists() else []
    print("execution environment, Python packages from the collection:")
    for line in pip_lines:
        print(f"  {line}")
    print("execution environment, system packages from the collection:")
    for line in bindep_lines:
        print(f"  {line}")
    errors = problems(pip_lines, bindep_lines, Path(context_dir))
    for error in errors:
        print(error, file=sys.stderr)
    print(f"{len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
