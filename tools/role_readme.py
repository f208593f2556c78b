#!/usr/bin/env python3
"""Write the variable tables of roles/*/README.md from each role's meta/argument_specs.yml.

The tables live between the markers BEGIN and END below in the README's "Role Variables" section; text outside the
markers is left alone. `--check` writes nothing and fails (exit 1) when a README differs from what it would write,
so `make lint` catches a spec changed without its README (fix: `make role-docs`).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN role variables: generated from meta/argument_specs.yml by tools/role_readme.py (make role-docs) -->"
END = "<!-- END role variables -->"

MARKUP = re.compile(r"\b(O|V|C|M|P|RV|E|I|B|U|L)\(([^)]*)\)")


def markup(text: str) -> str:
    """Ansible doc markup to Markdown (the first closing parenthesis ends a markup, as in ansible-doc)."""

    def one(match: re.Match) -> str:
        kind, body = match.groups()
        if kind in ("O", "RV"):
            body = body.split(":", 1)[-1] if body.startswith(("ignore:", "tracing.xray.")) else body
            return f"`{body}`"
        if kind == "P":
            return f"`{body.split('#', 1)[0]}`"
        if kind in ("V", "C", "M", "E"):
            return f"`{body}`"
        if kind == "I":
            return f"*{body}*"
        if kind == "B":
            return f"**{body}**"
        if kind == "U":
            return f"<{body}>"
        title, _, url = body.partition(",")
        return f"[{title.strip()}]({url.strip()})"

    return MARKUP.sub(one, text)


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def flow(value) -> str:
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=True).strip()
    return json.dumps(value)


def type_of(spec: dict) -> str:
    kind = spec.get("type", "str")
    if kind == "list" and spec.get("elements"):
        kind = f"list of {spec['elements']}"
    return kind + (" **required**" if spec.get("required") else "")


def description(spec: dict) -> str:
    text = spec.get("description", "")
    text = " ".join(text) if isinstance(text, list) else str(text)
    text = markup(text)
    if spec.get("choices"):
        text += " Choices: " + ", ".join(f"`{flow(choice)}`" for choice in spec["choices"]) + "."
    if spec.get("no_log"):
        text += " (`no_log`)"
    return text


def rows(options: dict, prefix: str = "") -> list[str]:
    out = []
    for name, spec in options.items():
        spec = spec or {}
        full = f"{prefix}{name}"
        default = f"`{flow(spec['default'])}`" if "default" in spec else ""
        out.append(f"| `{cell(full)}` | {cell(type_of(spec))} | {cell(default)} | {cell(description(spec))} |")
        if spec.get("options"):
            child = f"{full}[]." if spec.get("type") == "list" else f"{full}."
            out += rows(spec["options"], child)
    return out


def tables(role: Path) -> str:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    parts = []
    for entry, spec in specs.items():
        if entry != "main" and spec == specs.get("main"):
            parts.append(f"Entry point `{entry}` (`tasks_from: {entry}`) takes the same variables as `main`.")
            parts.append("")
            continue
        if entry != "main":
            parts.append(f"Entry point `{entry}` (`tasks_from: {entry}`): {markup(spec.get('short_description', ''))}.")
            parts.append("")
        parts.append("| Variable | Type | Default | Description |")
        parts.append("|---|---|---|---|")
        parts += rows(spec.get("options") or {})
        parts.append("")
    return "\n".join(parts).rstrip("\n")


def render(readme: str, role: Path) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"{role.name}/README.md: no {BEGIN!r} ... {END!r} markers")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{tables(role)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a README is not what this script writes")
    args = parser.parse_args(argv)
    drift = 0
    for role in sorted(p for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file()):
        path = role / "README.md"
        old = path.read_text()
        new = render(old, role)
        if new == old:
            continue
        if args.check:
            drift += 1
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                       str(path.relative_to(ROOT)), "generated"))
        else:
            path.write_text(new)
            print(f"wrote {path.relative_to(ROOT)}")
    if drift:
        print(f"{drift} role README(s) differ from meta/argument_specs.yml: run `make role-docs`", file=sys.stderr)
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
