"""Unit tests for module_utils/xray_filter.py: the filter expression check of xray_group, groups_problems and the
sandbox's X-Ray emulation (issue 17: a syntax error was accepted by the module and the sandbox, refused by AWS)."""

from __future__ import annotations

import pytest

from ansible_collections.tracing.xray.plugins.module_utils.xray_filter import filter_expression_problem
from ansible_collections.tracing.xray.plugins.module_utils.xray_limits import group_problems

GOOD = [
    "error",
    "fault = true",
    'service("front-end") AND (error = true OR fault = true)',
    'rootcause.fault.service { name = "x" }',
    'service(id(name: "backend-g", type: "AWS::EKS::Container")) AND !fault',
    "responsetime > 0.3",
    'annotation[order_id] = "x"',
    'annotation.customer BEGINSWITH "a"',
    "http.status != 200 AND http.status >= 500",
    "NOT ok",
    'edge("a", "b") { fault }',
    'duration >= 5 and user contains "x"',
    'http.url ENDSWITH "/checkout"',
    "duration > responsetime",
    "(error OR fault) AND NOT throttle",
]

BAD = [
    ("service((", "argument"),
    ('service("front-end") AND (error = true', "never closed"),
    ("error = true)", "closes nothing"),
    ('service("x) AND ok', "quote"),
    ("error = = true", "needs a string"),
    ("error true", "missing operator"),
    ("AND fault", "no operand on its left"),
    ("error = true AND", "needs an operand after it"),
    ("responsetime >", "needs a string"),
    ("responsetme > 1", "unknown keyword 'responsetme'"),
    ("error = true OR OR fault", "needs an operand"),
    ('service("a" "b")', "expected ','"),
    ("()", "empty parentheses"),
    ("NOT", "needs an operand"),
    ('"x" = error', "starts with a keyword"),
    ("annotation[key = 1", "never closed"),
    ("error ; fault", "unexpected character"),
    ("   ", "must not be empty"),
]


@pytest.mark.parametrize("expression", GOOD)
def test_valid_expressions_pass(expression):
    assert filter_expression_problem(expression) is None


@pytest.mark.parametrize("expression, cause", BAD)
def test_invalid_expressions_are_refused_with_cause_and_what_is_allowed(expression, cause):
    problem = filter_expression_problem(expression)
    assert problem and problem.startswith("filter_expression "), problem
    assert cause in problem
    if expression.strip():
        assert "Allowed:" in problem and "CONTAINS" in problem


def test_unset_is_fine_and_non_strings_are_refused():
    assert filter_expression_problem(None) is None
    assert "must be a string" in filter_expression_problem(5)


def test_group_problems_reports_a_bad_filter_expression():
    """xray_group (and groups_problems through it) refuse before calling AWS; this failed before issue 17."""
    problems = group_problems({"group_name": "errors", "filter_expression": "error = true AND"})
    assert len(problems) == 1 and "filter_expression" in problems[0] and "needs an operand" in problems[0]
