"""Every manifest the roles render (tools/render_manifests.py: no cluster), scanned by checkov (pinned in
tests/requirements-checkov.txt, its own venv; ``make security`` installs it and sets CHECKOV).

checkov without a Prisma Cloud API key reports no severities, so every failed check counts: the scan passes only
when each finding is listed, with its reason, in tests/security/scanner-exceptions.yml, and each entry there still
matches a finding (no stale exceptions).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from render_manifests import SCENARIOS, render  # noqa: E402

EXCEPTIONS = REPO / "tests" / "security" / "scanner-exceptions.yml"
CHECKOV = os.environ.get("CHECKOV") or str(REPO / ".cache" / "venv-checkov" / "bin" / "checkov")
PINNED = next(line.split("==")[1].strip() for line in (REPO / "tests" / "requirements-checkov.txt").read_text().splitlines()
              if line.startswith("checkov=="))
# checkov's resource ids: Kind.namespace.name, for the graph checks followed by the pod template's labels.
RESOURCE = re.compile(r"^([A-Za-z]+)\.([a-z0-9-]+)\.([a-z0-9-]+)(\.|$)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("manifests")
    return out, render(out)


@pytest.fixture(scope="module")
def scan(rendered):
    out, _ = rendered
    if not os.access(CHECKOV, os.X_OK):
        pytest.fail(f"checkov not installed at {CHECKOV}: run `make security` (it installs tests/requirements-checkov.txt)")
    version = subprocess.run([CHECKOV, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert version == PINNED, f"checkov {version} is not the pinned {PINNED}"
    # --skip-download: nothing from Prisma Cloud (no key, no network); the built-in checks only.
    proc = subprocess.run([CHECKOV, "-d", str(out), "--framework", "kubernetes", "--quiet", "--compact", "--skip-download",
                           "-o", "json"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    return report[0] if isinstance(report, list) else report


def _object(resource: str) -> str:
    match = RESOURCE.match(resource)
    assert match, f"unexpected checkov resource id {resource!r}"
    return "/".join(match.group(1, 2, 3))


def _findings(scan) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for check in scan["results"]["failed_checks"]:
        found.setdefault((check["check_id"], _object(check["resource"])), set()).add(
            f"{check['check_id']} {check['check_name']}: {check['resource']} in {check['file_path']}")
    return found


def _exceptions() -> dict[tuple[str, str], str]:
    entries = yaml.safe_load(EXCEPTIONS.read_text(encoding="utf-8"))["exceptions"]
    out = {}
    for entry in entries:
        assert entry.get("reason", "").strip(), f"{entry['check']}: an exception needs a reason"
        for obj in entry["objects"]:
            assert (entry["check"], obj) not in out, f"{entry['check']} {obj} listed twice"
            out[(entry["check"], obj)] = entry["reason"]
    return out


def test_every_scenario_rendered_and_scanned(rendered, scan):
    _, objects = rendered
    assert set(objects) == set(SCENARIOS)
    assert all(objects.values()), "a scenario rendered no object"
    summary = scan["summary"]
    assert summary["parsing_errors"] == 0, summary
    assert summary["resource_count"] >= sum(len(v) for v in objects.values()), summary
    assert summary["passed"] > 0, summary


def test_no_finding_without_a_justified_exception(scan):
    unexplained = {key: lines for key, lines in _findings(scan).items() if key not in _exceptions()}
    assert not unexplained, "checkov findings not in tests/security/scanner-exceptions.yml (fix the template or justify):\n" + "\n".join(
        sorted(line for lines in unexplained.values() for line in lines))


def test_no_stale_exception(scan):
    stale = sorted(f"{check} {obj}" for check, obj in _exceptions() if (check, obj) not in _findings(scan))
    assert not stale, f"exceptions that match no finding any more (remove them): {stale}"


def test_rendered_pods_are_hardened(rendered):
    """What the scanner passes today stays so: every container non-root, read-only, no privilege escalation, no
    capabilities; only the chaos randomizer (which calls the API) mounts a ServiceAccount token."""
    _, objects = rendered
    for name, docs in objects.items():
        for obj in docs:
            if obj["kind"] not in ("Deployment", "DaemonSet"):
                continue
            spec = obj["spec"]["template"]["spec"]
            where = f"{name}: {obj['kind']}/{obj['metadata']['name']}"
            assert spec["securityContext"]["runAsNonRoot"] is True, where
            assert spec["automountServiceAccountToken"] is (obj["metadata"]["name"] == "xray-chaos"), where
            for container in spec["containers"]:
                ctx = container["securityContext"]
                assert ctx["allowPrivilegeEscalation"] is False and ctx["privileged"] is False, where
                assert ctx["readOnlyRootFilesystem"] is True and ctx["capabilities"] == {"drop": ["ALL"]}, where
                assert "limits" in container["resources"], where
