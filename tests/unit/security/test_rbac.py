"""Least privilege, as docs/rbac.md states it: the RBAC objects of every rendered manifest (tools/render_manifests.py,
every role and preset, no cluster) are exactly the rows of the doc's tables, and there is no ClusterRole or
ClusterRoleBinding at all. The doc is the one source: this test parses its tables.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tools"))

from render_manifests import render  # noqa: E402

DOC = REPO / "docs" / "rbac.md"
RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def _table(marker: str) -> list[dict]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(rf"<!-- BEGIN {marker} .*?-->\n(.*?)<!-- END {marker} -->", text, re.S)
    assert block, f"docs/rbac.md: no '{marker}' table"
    lines = [line.strip() for line in block.group(1).strip().splitlines()]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert set(lines[1].replace("|", "").replace("-", "").strip()) == set(), f"{marker}: second line is not the separator"
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(header), f"{marker}: {line}"
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _words(cell: str) -> list[str]:
    return [word.strip() for word in cell.split(",") if word.strip()]


def _api_groups(cell: str) -> list[str]:
    return ["" if group.startswith('""') else group for group in _words(cell)]


def doc_roles() -> dict[str, list[dict]]:
    """(kind/namespace/name) -> sorted rules, from the doc's first table (one row per rule)."""
    roles: dict[str, list[dict]] = {}
    for row in _table("rbac roles"):
        rule = {"apiGroups": sorted(_api_groups(row["apiGroups"])), "resources": sorted(_words(row["resources"])),
                "verbs": sorted(_words(row["verbs"]))}
        roles.setdefault(f"{row['kind']}/{row['namespace']}/{row['name']}", []).append(rule)
    return {key: sorted(rules, key=repr) for key, rules in roles.items()}


def doc_bindings() -> dict[str, dict]:
    bindings = {}
    for row in _table("rbac bindings"):
        kind, name = row["roleRef"].split("/")
        subjects = []
        for subject in _words(row["subjects"]):
            skind, ref = subject.split(" ")
            sns, sname = ref.split("/")
            subjects.append({"kind": skind, "namespace": sns, "name": sname})
        bindings[f"{row['kind']}/{row['namespace']}/{row['name']}"] = {"roleRef": {"kind": kind, "name": name}, "subjects": subjects}
    return bindings


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return render()


def _rbac_objects(rendered):
    for scenario, objects in rendered.items():
        for obj in objects:
            if obj["kind"] in RBAC_KINDS:
                yield scenario, obj


def _key(obj) -> str:
    return f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def test_the_doc_tables_parse():
    assert doc_roles() == {"Role/xray-apps/xray-chaos": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "get", "list"]}]}
    assert set(doc_bindings()) == {"RoleBinding/xray-apps/xray-chaos"}


def test_no_cluster_wide_rbac(rendered):
    cluster = [f"{scenario}: {_key(obj)}" for scenario, obj in _rbac_objects(rendered) if obj["kind"].startswith("Cluster")]
    assert not cluster, cluster


def test_no_cluster_wide_rbac_in_any_template():
    """Also in template branches no render scenario takes."""
    for template in sorted((REPO / "roles").glob("*/templates/*.j2")):
        kinds = set(re.findall(r"^\s*kind:\s*[\"']?(\w+)", template.read_text(encoding="utf-8"), re.M))
        assert not kinds & {"ClusterRole", "ClusterRoleBinding"}, template


def test_rbac_kinds_in_templates_are_rendered(rendered):
    """Every template that names an RBAC kind is covered by a render scenario (so the checks below see it)."""
    in_templates = set()
    for template in (REPO / "roles").glob("*/templates/*.j2"):
        for kind in re.findall(r"^kind:\s*[\"']?(\w+)", template.read_text(encoding="utf-8"), re.M):
            if kind in RBAC_KINDS:
                in_templates.add((template.parts[-3], kind))
    rendered_kinds = {(obj["metadata"]["labels"]["app.kubernetes.io/component"], obj["kind"]) for _, obj in _rbac_objects(rendered)}
    assert in_templates == rendered_kinds == {("chaos", "Role"), ("chaos", "RoleBinding")}


def test_roles_match_the_doc_exactly(rendered):
    found: dict[str, list[dict]] = {}
    for scenario, obj in _rbac_objects(rendered):
        if obj["kind"] != "Role":
            continue
        rules = sorted(({"apiGroups": sorted(r.get("apiGroups", [])), "resources": sorted(r.get("resources", [])),
                         "verbs": sorted(r.get("verbs", []))} for r in obj["rules"]), key=repr)
        for rule in obj["rules"]:
            assert set(rule) <= {"apiGroups", "resources", "verbs"}, f"{scenario}: {_key(obj)} has {sorted(rule)} (resourceNames, nonResourceURLs?)"
            assert "*" not in rule.get("verbs", []) + rule.get("resources", []) + rule.get("apiGroups", []), f"{scenario}: wildcard in {_key(obj)}"
        assert found.setdefault(_key(obj), rules) == rules, f"{_key(obj)} differs between scenarios"
    assert found == doc_roles()


def test_bindings_match_the_doc_exactly(rendered):
    found = {}
    for _, obj in _rbac_objects(rendered):
        if obj["kind"] != "RoleBinding":
            continue
        assert obj["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
        found[_key(obj)] = {"roleRef": {"kind": obj["roleRef"]["kind"], "name": obj["roleRef"]["name"]},
                            "subjects": [{"kind": s["kind"], "namespace": s["namespace"], "name": s["name"]} for s in obj["subjects"]]}
    assert found == doc_bindings()
    for key, binding in found.items():
        namespace = key.split("/")[1]
        assert binding["roleRef"]["kind"] == "Role", f"{key} binds a {binding['roleRef']['kind']}"
        assert all(s["kind"] == "ServiceAccount" and s["namespace"] == namespace for s in binding["subjects"]), key


def test_only_the_randomizer_mounts_a_token(rendered):
    """The one bound ServiceAccount is the only one whose pods get an API token."""
    for scenario, objects in rendered.items():
        for obj in objects:
            if obj["kind"] in ("Deployment", "DaemonSet"):
                spec = obj["spec"]["template"]["spec"]
                mounts = spec.get("automountServiceAccountToken", True)
                bound = obj["metadata"]["name"] == "xray-chaos" and spec.get("serviceAccountName") == "xray-chaos"
                assert mounts is bound, f"{scenario}: {_key(obj)} automountServiceAccountToken={mounts}"
