#!/usr/bin/env python3
"""Check that a built collection tarball holds the collection and none of the development-only trees."""

from __future__ import annotations

import sys
import tarfile

FORBIDDEN_PREFIXES = (
    "sandbox/", "bench/", "tests/output/", ".cache/", ".venv/", ".sandbox/", ".ci/", "tools/",
    "molecule/default/.molecule/", "ansible_collections/",
)
FORBIDDEN_PARTS = ("__pycache__", ".pytest_cache", ".ruff_cache")
REQUIRED = ("MANIFEST.json", "FILES.json", "meta/runtime.yml", "README.md")


def problems(names: list[str]) -> list[str]:
    found = []
    for name in names:
        clean = name.removeprefix("./")
        if clean.startswith(FORBIDDEN_PREFIXES) or any(part in clean.split("/") for part in FORBIDDEN_PARTS):
            found.append(f"development-only path in artifact: {clean}")
    found += [f"missing from artifact: {req}" for req in REQUIRED if req not in names]
    return found


def main(path: str) -> int:
    with tarfile.open(path) as tar:
        names = [member.name.removeprefix("./") for member in tar.getmembers()]
    errors = problems(names)
    for error in errors:
        print(error, file=sys.stderr)
    print(f"{path}: {len(names)} entries, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_artifact.py COLLECTION.tar.gz")
    sys.exit(main(sys.argv[1]))
