#!/usr/bin/env python3
"""Write docs/bad-input.md from the cases of tests/integration/test_bad_input.py (``--check``: fail when it differs)."""

from __future__ import annotations

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(REPO, "docs", "bad-input.md")
HEADER = """# Bad input: what the collection refuses, and how

Generated from `CASES` in `tests/integration/test_bad_input.py` by `tools/bad_input_table.py` (`make lint` checks that
this file matches the cases). Each case runs against the sandbox and asserts that the run fails, that the message
holds the fragments below (the field or the cause, and what is allowed), that nothing changed in the cluster or at the
AWS endpoint, that no Python traceback is printed and that the run takes less than 60 seconds.

Kinds: `site` - `playbooks/site.yml` with the sandbox inventory and the input as extra vars (refused in the validate
phase, before the first change, unless the cause is the connection); `play` - one module task; `api` - the sandbox's
X-Ray API called directly. A *known gap* is still accepted and is an expected failure until fixed where noted.

| case | area | bad input | kind | the message contains | status |
|---|---|---|---|---|---|
"""


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render():
    sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
    from test_bad_input import CASES

    rows = []
    for case in CASES:
        fragments = "; ".join(f"`{_cell(f)}`" for f in case.expect)
        status = f"known gap: {_cell(case.known_gap)}" if case.known_gap else "refused"
        rows.append(f"| {case.id} | {case.area} | {_cell(case.bad)} | {case.kind} | {fragments} | {status} |")
    refused = sum(1 for case in CASES if not case.known_gap)
    return HEADER + "\n".join(rows) + f"\n\n{len(CASES)} cases: {refused} refused, {len(CASES) - refused} known gap(s).\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/bad-input.md differs from the cases")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = open(DOC, encoding="utf-8").read() if os.path.exists(DOC) else ""
        if current != text:
            print("docs/bad-input.md differs from the cases of tests/integration/test_bad_input.py: run tools/bad_input_table.py", file=sys.stderr)
            return 1
        return 0
    with open(DOC, "w", encoding="utf-8") as handle:
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
