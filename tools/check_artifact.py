#!/usr/bin/env python3
"""Check that a built collection tarball holds what a user of the installed collection needs, and nothing else.

galaxy.yml builds the tarball from an allow-list (`manifest`); this check is the same allow-list, seen from the
result: every entry must be under an allowed path, the required files must be there, and development-only trees
(sandbox, tests, molecule, tools, caches, dotfiles, the Makefile, development requirements) must not. It prints
what the tarball contains, per top-level path.
"""

from __future__ import annotations

import collections
import sys
import tarfile

# Files and trees a user of the installed collection needs.
ALLOWED_FILES = ("MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.rst", "COPYING", "changelogs/changelog.yaml")
ALLOWED_PREFIXES = ("meta/", "plugins/", "roles/", "playbooks/", "docs/", "inventories/eks-example/")
# Named so that a reader of a failure sees why: development-only paths.
FORBIDDEN_PREFIXES = (
    "sandbox/", "bench/", "tests/", "molecule/", ".cache/", ".venv/", ".sandbox/", ".ci/", "tools/",
    "ansible_collections/", "apps/", "inventories/sandbox/", "changelogs/fragments/",
)
FORBIDDEN_PARTS = ("__pycache__", ".pytest_cache", ".ruff_cache")
REQUIRED = (
    "MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.rst", "COPYING", "meta/runtime.yml",
    "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt", "changelogs/changelog.yaml",
)


def is_dir_entry(name: str, names: list[str]) -> bool:
    return any(other.startswith(name.rstrip("/") + "/") for other in names)


def problems(names: list[str]) -> list[str]:
    found = []
    files = [name.removeprefix("./") for name in names if name not in (".", "./")]
    for clean in files:
        parts = clean.split("/")
        if clean.startswith(FORBIDDEN_PREFIXES) or any(part in FORBIDDEN_PARTS for part in parts):
            found.append(f"development-only path in artifact: {clean}")
        elif any(part.startswith(".") for part in parts):
            found.append(f"dotfile in artifact: {clean}")
        elif not (clean in ALLOWED_FILES or clean.startswith(ALLOWED_PREFIXES)
                  or is_dir_entry(clean, list(ALLOWED_FILES) + [p.rstrip("/") + "/x" for p in ALLOWED_PREFIXES])):
            found.append(f"not on the allow-list of what a user needs: {clean}")
    found += [f"missing from artifact: {req}" for req in REQUIRED if req not in files]
    return found


def summary(names: list[str]) -> list[str]:
    counts: collections.Counter[str] = collections.Counter()
    for name in names:
        parts = name.split("/")
        key = "/".join(parts[:2]) + "/" if parts[0] in ("roles", "plugins", "inventories") and len(parts) > 2 else (
            parts[0] + "/" if len(parts) > 1 else parts[0])
        counts[key] += 1
    return [f"  {key:32} {count:4} file(s)" for key, count in sorted(counts.items())]


def main(path: str) -> int:
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    names = [member.name.removeprefix("./") for member in members]
    files = [member.name.removeprefix("./") for member in members if member.isfile()]
    errors = problems(names)
    print(f"{path} contains:")
    print("\n".join(summary(files)))
    for error in errors:
        print(error, file=sys.stderr)
    print(f"{path}: {len(names)} entries ({len(files)} files), {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_artifact.py COLLECTION.tar.gz")
    sys.exit(main(sys.argv[1]))
