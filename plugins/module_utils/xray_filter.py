# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A syntax check of X-Ray filter expressions, in one place.

X-Ray refuses a group whose filter expression does not parse (CreateGroup/UpdateGroup: InvalidRequestException), and
it does so only when the request is sent - for the groups role, half-way through its list. ``filter_expression_problem``
finds those mistakes first: the ``xray_limits`` checks (module ``xray_group``, filter ``groups_problems``) call it, and
the sandbox's X-Ray emulation (``sandbox/aws``, which loads this file by path) refuses the same expressions as AWS does.

Pragmatic, not X-Ray's grammar: keywords (``service()``, ``edge()``, ``id()``, ``annotation[...]``/``annotation.key``,
``http.status``, ``responsetime``, ``error``, ``fault``, ...), comparison operators (``=``, ``!=``, ``<``, ``<=``, ``>``,
``>=``, ``CONTAINS``, ``BEGINSWITH``, ``ENDSWITH``), ``AND``/``OR``/``NOT`` (and ``!``), parentheses, complex keyword
blocks (``service("a") { fault }``) and string, number and boolean literals. It refuses unbalanced parentheses,
unclosed quotes, missing or trailing operators, operators without operands and unknown keywords.

Pure Python with no imports from Ansible or this collection, so the sandbox can load it by path.
"""

from __future__ import annotations

import re

# First words X-Ray knows (Searching for traces in the X-Ray console: "Filter expression syntax"), lowercase.
KEYWORDS = frozenset(
    (
        "ok", "error", "fault", "throttle", "partial", "inferred", "first", "last",
        "responsetime", "duration", "http", "user", "name", "type", "annotation", "annotations", "service", "edge",
        "id", "json", "group", "rootcause", "cause", "coverage", "account", "accountid", "traceid", "trace", "resourcearn",
        "entrypoint", "region", "segment", "subsegment", "message", "entity", "remote", "client", "instance", "ec2",
        "origin", "hostname", "version", "sdk", "sampled",
    )
)
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "CONTAINS", "BEGINSWITH", "ENDSWITH")
_WORD_OPERATORS = {"CONTAINS", "BEGINSWITH", "ENDSWITH"}
_CONNECTIVES = {"AND", "OR"}
_LITERAL_WORDS = {"true", "false"}
ALLOWED = (
    "keywords such as service(\"name\"), edge(\"a\", \"b\"), id(name: \"x\", type: \"y\"), annotation[key] or annotation.key, "
    "http.status, http.url, responsetime, duration, error, fault, throttle, ok, user, rootcause...; comparison operators "
    "=, !=, <, <=, >, >=, CONTAINS, BEGINSWITH, ENDSWITH between a keyword and a string, number or true/false; "
    "AND, OR, NOT (or !) and balanced parentheses"
)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<op><=|>=|!=|=|<|>)
  | (?P<not>!)
  | (?P<punct>[()\[\]{},.:])
  | (?P<word>[A-Za-z_$@][A-Za-z0-9_\-$@]*)
    """,
    re.VERBOSE,
)


class FilterSyntaxError(ValueError):
    """A filter expression X-Ray would refuse; ``str()`` says where and why."""


def tokenize(text):
    """``[(kind, value, position)]`` of ``text``; raises FilterSyntaxError on an unclosed quote or a stray character."""
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            if char in "\"'":
                raise FilterSyntaxError(f"the quote at position {position} is never closed")
            raise FilterSyntaxError(f"unexpected character {char!r} at position {position}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "word" and value.upper() in _WORD_OPERATORS:
            kind, value = "op", value.upper()
        elif kind == "word" and value.upper() in _CONNECTIVES:
            kind, value = "connective", value.upper()
        elif kind == "word" and value.upper() == "NOT":
            kind = "not"
        if kind != "space":
            tokens.append((kind, value, position))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else ("end", "", len(self.text))

    def take(self):
        token = self.peek()
        self.index += 1
        return token

    def describe(self, token):
        kind, value, position = token
        return "the end of the expression" if kind == "end" else f"{value!r} at position {position}"

    def expect(self, value, context):
        token = self.take()
        if token[1] != value or token[0] in ("string", "end"):
            raise FilterSyntaxError(f"expected {value!r} {context}, found {self.describe(token)}")
        return token

    def parse(self):
        if not self.tokens:
            raise FilterSyntaxError("the expression is empty")
        self.expression(closing=None)
        token = self.peek()
        if token[0] != "end":
            if token[1] in (")", "]", "}"):
                raise FilterSyntaxError(f"unbalanced parentheses: {token[1]!r} at position {token[2]} closes nothing")
            raise FilterSyntaxError(f"missing operator (AND/OR) before {self.describe(token)}")

    def expression(self, closing):
        self.term(closing)
        while self.peek()[0] == "connective":
            connective = self.take()
            if self.peek()[0] in ("end", "connective") or self.peek()[1] in (")", "}"):
                raise FilterSyntaxError(f"{connective[1]} at position {connective[2]} needs an operand after it, found {self.describe(self.peek())}")
            self.term(closing)

    def term(self, closing):
        while self.peek()[0] == "not":
            negation = self.take()
            if self.peek()[0] in ("end", "connective", "op") or self.peek()[1] in (")", "}"):
                raise FilterSyntaxError(f"{negation[1]} at position {negation[2]} needs an operand after it, found {self.describe(self.peek())}")
        token = self.peek()
        kind, value, position = token
        if value == "(" and kind == "punct":
            self.take()
            if self.peek()[1] == ")" and self.peek()[0] == "punct":
                raise FilterSyntaxError(f"empty parentheses at position {position}")
            self.expression(closing=")")
            closer = self.take()
            if closer[1] != ")" or closer[0] != "punct":
                if closer[0] == "end":
                    raise FilterSyntaxError(f"unbalanced parentheses: the '(' at position {position} is never closed")
                raise FilterSyntaxError(f"missing operator (AND/OR) before {self.describe(closer)}")
            return
        if kind == "word":
            self.keyword()
            return
        if kind in ("string", "number") or value.lower() in _LITERAL_WORDS:
            self.take()
            if self.peek()[0] == "op":
                raise FilterSyntaxError(f"a comparison starts with a keyword, not with the literal {self.describe(token)}")
            raise FilterSyntaxError(f"the literal {self.describe(token)} stands alone: compare a keyword with it (keyword = value)")
        if kind == "op":
            raise FilterSyntaxError(f"the operator {self.describe(token)} has no keyword on its left")
        if kind == "connective":
            raise FilterSyntaxError(f"{value} at position {position} has no operand on its left")
        if kind == "end":
            raise FilterSyntaxError("the expression ends where an operand is expected")
        if value == ")":
            raise FilterSyntaxError(f"unbalanced parentheses: ')' at position {position} closes nothing or follows an operator")
        raise FilterSyntaxError(f"unexpected {self.describe(token)}")

    def keyword(self):
        kind, value, position = self.take()
        if value.lower() not in KEYWORDS and not value.startswith(("annotation", "Annotation")):
            raise FilterSyntaxError(f"unknown keyword {value!r} at position {position}")
        # dotted / indexed path: http.status, annotation[key], annotation.key, rootcause.fault.service
        while self.peek()[1] in (".", "[") and self.peek()[0] == "punct":
            punct = self.take()
            if punct[1] == ".":
                part = self.take()
                if part[0] != "word":
                    raise FilterSyntaxError(f"expected a name after '.' at position {punct[2]}, found {self.describe(part)}")
            else:
                part = self.take()
                if part[0] not in ("word", "string", "number"):
                    raise FilterSyntaxError(f"expected a key inside '[' at position {punct[2]}, found {self.describe(part)}")
                closer = self.take()
                if closer[1] != "]":
                    raise FilterSyntaxError(f"unbalanced brackets: the '[' at position {punct[2]} is never closed")
        if self.peek()[1] == "(" and self.peek()[0] == "punct":
            self.arguments()
        if self.peek()[1] == "{" and self.peek()[0] == "punct":
            opener = self.take()
            if self.peek()[1] == "}":
                raise FilterSyntaxError(f"empty braces at position {opener[2]}")
            self.expression(closing="}")
            closer = self.take()
            if closer[1] != "}":
                raise FilterSyntaxError(f"unbalanced braces: the '{{' at position {opener[2]} is never closed")
        if self.peek()[0] == "op":
            operator = self.take()
            operand = self.take()
            if operand[0] in ("string", "number") or (operand[0] == "word" and operand[1].lower() in _LITERAL_WORDS):
                return
            if operand[0] == "word":  # keyword on the right (duration > responsetime)
                self.index -= 1
                self.keyword_path_only()
                return
            raise FilterSyntaxError(
                f"the operator {operator[1]!r} at position {operator[2]} needs a string, number or true/false after it, "
                f"found {self.describe(operand)}"
            )

    def keyword_path_only(self):
        kind, value, position = self.take()
        if value.lower() not in KEYWORDS:
            raise FilterSyntaxError(f"unknown keyword {value!r} at position {position}")
        while self.peek()[1] == "." and self.peek()[0] == "punct":
            self.take()
            if self.take()[0] != "word":
                raise FilterSyntaxError(f"expected a name after '.' after position {position}")

    def arguments(self):
        opener = self.take()
        if self.peek()[1] == ")" and self.peek()[0] == "punct":
            self.take()
            return
        while True:
            token = self.peek()
            if token[0] == "word" and self.index + 1 < len(self.tokens) and self.tokens[self.index + 1][1] == ":":
                self.take()
                self.take()
                token = self.peek()
            if token[0] in ("string", "number"):
                self.take()
            elif token[0] == "word":
                self.keyword()
            elif token[0] == "end":
                raise FilterSyntaxError(f"unbalanced parentheses: the '(' at position {opener[2]} is never closed")
            else:
                raise FilterSyntaxError(f"expected an argument (a string, a number or id(...)), found {self.describe(token)}")
            after = self.take()
            if after[1] == ")" and after[0] == "punct":
                return
            if after[1] != "," or after[0] != "punct":
                if after[0] == "end":
                    raise FilterSyntaxError(f"unbalanced parentheses: the '(' at position {opener[2]} is never closed")
                raise FilterSyntaxError(f"expected ',' or ')' in the arguments opened at position {opener[2]}, found {self.describe(after)}")


def filter_expression_problem(expression, field="filter_expression"):
    """An error message for a filter expression X-Ray would refuse (naming ``field``, the cause and what is allowed),
    or None. ``None`` (unset) is fine; an empty or blank string is not."""
    if expression is None:
        return None
    if not isinstance(expression, str):
        return f"{field} must be a string (an X-Ray filter expression), got {type(expression).__name__}"
    if not expression.strip():
        return f"{field} must not be empty: give an X-Ray filter expression or leave it unset"
    try:
        _Parser(expression).parse()
    except FilterSyntaxError as e:
        return f"{field} {expression!r} is not a valid X-Ray filter expression: {e}. Allowed: {ALLOWED}"
    return None
