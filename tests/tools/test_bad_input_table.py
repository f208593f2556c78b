"""docs/bad-input.md is generated from the bad-input matrix and must match it."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools"))

import bad_input_table  # noqa: E402


def test_doc_matches_the_cases():
    assert bad_input_table.main(["--check"]) == 0, "run .venv/bin/python tools/bad_input_table.py"


def test_every_case_is_a_row():
    from test_bad_input import CASES

    text = bad_input_table.render()
    assert len(CASES) >= 30
    assert all(f"| {case.id} |" in text for case in CASES)
