"""The controller's IAM policy (docs/iam/controller-policy.json) against botocore and against this collection's code.

- every action of the policy is an operation of botocore's service model (or a permission-only action listed here);
- every AWS API call a module of this collection makes (its own code and the module_utils it imports, found with the
  ast module: `<client>.<method>(...)` and `get_paginator("<method>")`, mapped to operation names through the
  service models with botocore's xform_name) is allowed by the statement of every role that runs the module, and
  by the statement of the module when no role runs it;
- the Sids name the roles (and standalone modules) the README documents.
"""

from __future__ import annotations

import ast
import json
import re
from functools import lru_cache
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "docs" / "iam" / "controller-policy.json"
MODULES = ROOT / "plugins" / "modules"
MODULE_UTILS = ROOT / "plugins" / "module_utils"

# IAM action prefix -> botocore service name.
SERVICES = {"xray": "xray", "iam": "iam", "eks": "eks", "sts": "sts", "logs": "logs", "kms": "kms"}
# Actions that are permissions, not API operations.
PERMISSION_ONLY = {"iam:PassRole"}
# Sid of each role statement -> role directory; "Module<CamelName>" statements are for modules no role runs.
ROLE_SIDS = {"IrsaRole": "irsa", "GroupsRole": "groups", "VerifyRole": "verify"}


@lru_cache(maxsize=None)
def operations(service: str) -> dict[str, str]:
    """snake_case method name -> operation name, from botocore's service model."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def load_policy() -> dict:
    return json.loads(POLICY.read_text())


def statement_actions(statement: dict) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


class Source:
    """A module or module_utils file: its top-level definitions and what it imports from this collection's module_utils."""

    def __init__(self, path: Path):
        self.tree = ast.parse(path.read_text())
        self.defs = {node.name: node for node in self.tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        self.imports: dict[str, tuple[str, str]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ansible_collections.tracing.xray.plugins.module_utils."):
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (node.module.rsplit(".", 1)[-1], alias.name)


@lru_cache(maxsize=None)
def util(name: str) -> Source:
    return Source(MODULE_UTILS / f"{name}.py")


def reached_names(module: Path) -> tuple[set[str], set[str]]:
    """Attribute names and string constants of the code a module runs: the whole module file, and the module_utils
    functions (and classes) it calls or hands on, followed through their own. Returns (names, services)."""
    names: set[str] = set()
    services: set[str] = set()
    seen: set[tuple[str, str]] = set()

    def visit(node: ast.AST, source: Source, key: str) -> None:
        if key in seen:
            return
        seen.add(key)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                names.add(sub.value)
            if isinstance(sub, ast.Attribute):  # called or handed on (``delete_if_present(module, client.delete_group)``)
                names.add(sub.attr)
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "client":
                if sub.args and isinstance(sub.args[0], ast.Constant):
                    services.add(sub.args[0].value)
            if isinstance(sub, ast.Name):  # a function called or handed on (``xray_retry()(spans_trace_ids)``)
                if sub.id in source.defs and source is not main:
                    visit(source.defs[sub.id], source, f"{key.split(':')[0]}:{sub.id}")
                elif sub.id in source.imports:
                    util_name, def_name = source.imports[sub.id]
                    target = util(util_name)
                    if def_name in target.defs:
                        visit(target.defs[def_name], target, f"{util_name}:{def_name}")

    main = Source(module)
    visit(main.tree, main, f"{module.stem}:")
    return names, services & set(SERVICES.values())


def api_calls(module: Path) -> set[str]:
    """IAM actions (service:Operation) of the API calls a module makes (see reached_names)."""
    names, services = reached_names(module)
    prefix = {service: action_prefix for action_prefix, service in SERVICES.items()}
    actions = set()
    for service in services:
        ops = operations(service)
        actions |= {f"{prefix[service]}:{ops[name]}" for name in names & set(ops)}
    return actions


def role_modules(role: str) -> set[str]:
    text = "\n".join(p.read_text() for p in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")))
    return set(re.findall(r"^\s*-?\s*tracing\.xray\.([a-z0-9_]+):", text, re.M)) & {p.stem for p in MODULES.glob("*.py")}


def module_sid(module: str) -> str:
    return "Module" + "".join(part.capitalize() for part in module.split("_"))


def test_policy_is_a_policy_document():
    policy = load_policy()
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in policy["Statement"]:
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])
        assert statement["Effect"] == "Allow"
        assert statement["Resource"]


@pytest.mark.parametrize("statement", load_policy()["Statement"], ids=lambda s: s["Sid"])
def test_every_action_exists_in_botocore(statement):
    unknown = []
    for action in sorted(statement_actions(statement)):
        if action in PERMISSION_ONLY:
            continue
        prefix, _, operation = action.partition(":")
        if prefix not in SERVICES or operation not in operations(SERVICES[prefix]).values():
            unknown.append(action)
    assert not unknown, f"{statement['Sid']}: not an operation of botocore's service models: {unknown}"


def test_extraction_finds_calls():
    # guards the extractor itself: a module that surely calls X-Ray
    assert "xray:GetSamplingRules" in api_calls(MODULES / "xray_sampling_rule_info.py")
    assert "xray:GetServiceGraph" in api_calls(MODULES / "xray_service_graph_info.py")


@pytest.mark.parametrize("module", sorted(p.stem for p in MODULES.glob("*.py")))
def test_module_calls_are_allowed(module):
    statements = {s["Sid"]: statement_actions(s) for s in load_policy()["Statement"]}
    calls = api_calls(MODULES / f"{module}.py")
    if not calls and not reached_names(MODULES / f"{module}.py")[1]:
        assert "AnsibleAWSModule" not in (MODULES / f"{module}.py").read_text(), f"{module}: an AWS module whose calls were not found"
        return  # no AWS client at all (for example k8s_ownership, which talks to the Kubernetes API only)
    roles = [sid for sid, role in ROLE_SIDS.items() if module in role_modules(role)]
    sids = roles or [module_sid(module)]
    for sid in sids:
        assert sid in statements, f"{module}: no statement {sid} in {POLICY.relative_to(ROOT)}"
        missing = sorted(calls - statements[sid])
        assert not missing, f"{module}: statement {sid} lacks {missing}"


def test_role_statements_cover_roles_with_aws_modules():
    for role_dir in sorted((ROOT / "roles").iterdir()):
        aws_modules = {m for m in role_modules(role_dir.name) if api_calls(MODULES / f"{m}.py")}
        uses_aws = bool(aws_modules) or "amazon.aws." in "".join(
            p.read_text() for p in (role_dir / "tasks").glob("*.yml"))
        assert uses_aws == (role_dir.name in ROLE_SIDS.values()), role_dir.name
