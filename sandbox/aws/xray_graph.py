"""EMULATION of X-Ray's service graph (GetServiceGraph / GetTraceGraph) and of simple group filters.

Input: the segment documents moto's X-Ray backend stored through PutTraceSegments (from boto3 or from the
real X-Ray daemon). Output: the ``Service`` / ``Edge`` shapes of botocore's xray model. The rules used to
turn segments into nodes and edges are described in ``sandbox/aws/README.md``; in short:

* a node per (segment ``name``, segment ``origin``) with the segment statistics of that service;
* a ``client`` node per root service (segments without ``parent_id``), with an edge to it;
* an edge upstream -> downstream when a segment's ``parent_id`` is the id of a subsegment (or the segment)
  of another service in the same trace; edge statistics come from the caller's subsegment;
* a ``remote`` node (``AWS::<name>`` for ``namespace: aws``) for call subsegments no traced segment answers.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger("sandbox.aws.xray")

CALL_NAMESPACES = ("remote", "aws")
# Types the X-Ray console shows for calls recorded by the AWS SDKs (namespace "aws"); others -> AWS::<name>.
AWS_NODE_TYPES = {
    "DynamoDB": "AWS::DynamoDB::Table",
    "S3": "AWS::S3::Bucket",
    "SQS": "AWS::SQS::Queue",
    "SNS": "AWS::SNS",
    "Lambda": "AWS::Lambda",
    "STS": "AWS::STS",
    "XRay": "AWS::XRay",
}

NodeKey = tuple[str, str, str | None]  # (kind: "service"|"client"|"inferred", name, type)


# --- segment helpers ------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _status(doc: dict[str, Any]) -> int | None:
    http = doc.get("http")
    if not isinstance(http, dict):
        return None
    response = http.get("response")
    if not isinstance(response, dict):
        return None
    status = response.get("status")
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def classify(doc: dict[str, Any]) -> str:
    """ok | error | throttle | fault, from the flags and the HTTP status (fault wins over error)."""
    status = _status(doc)
    if doc.get("fault") is True or (status is not None and 500 <= status <= 599):
        return "fault"
    if doc.get("throttle") is True or status == 429:
        return "throttle"
    if doc.get("error") is True or (status is not None and 400 <= status <= 499):
        return "error"
    return "ok"


def _complete(doc: dict[str, Any]) -> bool:
    start, end = _number(doc.get("start_time")), _number(doc.get("end_time"))
    return start is not None and end is not None and end >= start and doc.get("in_progress") is not True


def _children(doc: dict[str, Any]) -> list[dict[str, Any]]:
    subs = doc.get("subsegments")
    return [s for s in subs if isinstance(s, dict)] if isinstance(subs, list) else []


def _walk(doc: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for sub in _children(doc):
        yield sub
        yield from _walk(sub)


def _calls(doc: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Outermost subsegments that call something downstream (namespace remote/aws)."""
    for sub in _children(doc):
        if sub.get("namespace") in CALL_NAMESPACES:
            yield sub
        else:
            yield from _calls(sub)


def _inferred_type(call: dict[str, Any]) -> str:
    name = str(call.get("name", ""))
    if call.get("namespace") == "aws":
        return AWS_NODE_TYPES.get(name, f"AWS::{name}")
    return "remote"


# --- statistics -------------------------------------------------------------------------------------------


@dataclass
class Stats:
    ok: int = 0
    error: int = 0
    throttle: int = 0
    fault: int = 0
    response_time: float = 0.0
    histogram: Counter = field(default_factory=Counter)
    start: float | None = None
    end: float | None = None

    def add(self, doc: dict[str, Any]) -> None:
        start, end = float(doc["start_time"]), float(doc["end_time"])
        kind = classify(doc)
        setattr(self, kind, getattr(self, kind) + 1)
        self.response_time += end - start
        self.histogram[round(end - start, 3)] += 1
        self.start = start if self.start is None else min(self.start, start)
        self.end = end if self.end is None else max(self.end, end)

    @property
    def total(self) -> int:
        return self.ok + self.error + self.throttle + self.fault

    def summary(self) -> dict[str, Any]:
        return {
            "OkCount": self.ok,
            "ErrorStatistics": {"ThrottleCount": self.throttle, "OtherCount": self.error, "TotalCount": self.error + self.throttle},
            "FaultStatistics": {"OtherCount": self.fault, "TotalCount": self.fault},
            "TotalCount": self.total,
            "TotalResponseTime": round(self.response_time, 6),
        }

    def histogram_list(self) -> list[dict[str, Any]]:
        return [{"Value": value, "Count": count} for value, count in sorted(self.histogram.items())]


@dataclass
class Node:
    key: NodeKey
    stats: Stats = field(default_factory=Stats)
    root: bool = False
    edges: dict[NodeKey, Stats] = field(default_factory=dict)
    span_start: float | None = None
    span_end: float | None = None

    def touch(self, start: float | None, end: float | None) -> None:
        if start is not None:
            self.span_start = start if self.span_start is None else min(self.span_start, start)
        if end is not None:
            self.span_end = end if self.span_end is None else max(self.span_end, end)


# --- traces -----------------------------------------------------------------------------------------------


@dataclass
class Trace:
    trace_id: str
    segments: list[dict[str, Any]]  # complete top-level segments
    extra_calls: dict[str, list[dict[str, Any]]]  # segment id -> calls found in stand-alone subsegments
    partial: bool = False  # some document is still in progress


def load_traces(segment_collection: Any, trace_ids: Iterable[str] | None = None) -> list[Trace]:
    """Read moto's ``SegmentCollection`` (moto 5.2.5 keeps ``_traces[trace_id]["segments"]`` of TraceSegment
    objects whose ``raw`` is the document as sent)."""
    traces_by_id = segment_collection._traces
    wanted = list(traces_by_id.keys()) if trace_ids is None else [t for t in trace_ids if t in traces_by_id]
    out = []
    for trace_id in wanted:
        docs = []
        for segment in list(traces_by_id[trace_id]["segments"]):
            try:
                doc = json.loads(segment.raw)
            except (TypeError, ValueError):
                continue
            if isinstance(doc, dict):
                docs.append(doc)
        out.append(_assemble(trace_id, docs))
    return out


def _assemble(trace_id: str, docs: list[dict[str, Any]]) -> Trace:
    # A segment may be sent more than once (in progress, then complete; or again by a retry): keep one
    # complete document per id.
    by_id: dict[str, dict[str, Any]] = {}
    standalone_by_id: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if not _complete(doc):
            continue
        target = standalone_by_id if doc.get("type") == "subsegment" else by_id
        target[str(doc.get("id"))] = doc
    segments = list(by_id.values())
    standalone = list(standalone_by_id.values())
    complete_ids = set(by_id) | set(standalone_by_id)
    partial = any(not _complete(d) and str(d.get("id")) not in complete_ids for d in docs)
    owner: dict[str, str] = {}  # any id -> id of the top-level segment it belongs to
    for seg in segments:
        owner[str(seg.get("id"))] = str(seg.get("id"))
        for sub in _walk(seg):
            owner[str(sub.get("id"))] = str(seg.get("id"))
    extra_calls: dict[str, list[dict[str, Any]]] = {}
    pending = list(standalone)
    progress = True
    while pending and progress:  # stand-alone subsegments may hang off each other
        progress = False
        for sub in list(pending):
            seg_id = owner.get(str(sub.get("parent_id")))
            if seg_id is None:
                continue
            pending.remove(sub)
            progress = True
            owner[str(sub.get("id"))] = seg_id
            for nested in _walk(sub):
                owner[str(nested.get("id"))] = seg_id
            calls = [sub] if sub.get("namespace") in CALL_NAMESPACES else list(_calls(sub))
            extra_calls.setdefault(seg_id, []).extend(c for c in calls if _complete(c))
    return Trace(trace_id, segments, extra_calls, partial)


# --- graph -----------------------------------------------------------------------------------------------


def _service_key(seg: dict[str, Any]) -> NodeKey:
    origin = seg.get("origin")
    return ("service", str(seg.get("name")), origin if isinstance(origin, str) else None)


def _in_window(doc: dict[str, Any], start: float | None, end: float | None) -> bool:
    if start is None or end is None:
        return True
    return float(doc["start_time"]) >= start and float(doc["end_time"]) <= end


def build_graph(traces: list[Trace], account_id: str, start: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
    nodes: dict[NodeKey, Node] = {}

    def node(key: NodeKey) -> Node:
        if key not in nodes:
            nodes[key] = Node(key)
        return nodes[key]

    for trace in traces:
        by_id = {str(s.get("id")): s for s in trace.segments}
        call_owner: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # call id -> (call, caller segment)
        sub_owner: dict[str, dict[str, Any]] = {}
        for seg in trace.segments:
            calls = list(_calls(seg)) + trace.extra_calls.get(str(seg.get("id")), [])
            for call in calls:
                call_owner[str(call.get("id"))] = (call, seg)
            for sub in _walk(seg):
                sub_owner[str(sub.get("id"))] = seg
        answered: set[str] = set()

        for seg in trace.segments:
            key = _service_key(seg)
            in_window = _in_window(seg, start, end)
            if in_window:
                target = node(key)
                target.stats.add(seg)
                target.touch(float(seg["start_time"]), float(seg["end_time"]))
            parent_id = seg.get("parent_id")
            parent_id = str(parent_id) if parent_id is not None else None
            caller_seg, edge_doc = None, seg
            if parent_id is not None and parent_id in call_owner:
                call, caller_seg = call_owner[parent_id]
                edge_doc = call if _complete(call) else seg
                answered.add(parent_id)
            elif parent_id is not None and parent_id in sub_owner:
                caller_seg = sub_owner[parent_id]
                sub = next(s for s in _walk(caller_seg) if str(s.get("id")) == parent_id)
                edge_doc = sub if _complete(sub) else seg
            elif parent_id is not None and parent_id in by_id:
                caller_seg = by_id[parent_id]
            if caller_seg is not None and _service_key(caller_seg) != key:
                if _in_window(caller_seg, start, end):
                    caller = node(_service_key(caller_seg))
                    caller.edges.setdefault(key, Stats()).add(edge_doc)
                    node(key)
            elif caller_seg is None and in_window:
                # Root segment (or its caller was not traced): the request came from a client.
                nodes[key].root = True
                client = node(("client", key[1], "client"))
                client.edges.setdefault(key, Stats()).add(seg)
                client.touch(float(seg["start_time"]), float(seg["end_time"]))

        for call_id, (call, caller_seg) in call_owner.items():
            if call_id in answered or not _complete(call) or not _in_window(caller_seg, start, end):
                continue
            inferred = node(("inferred", str(call.get("name")), _inferred_type(call)))
            inferred.stats.add(call)
            inferred.touch(float(call["start_time"]), float(call["end_time"]))
            node(_service_key(caller_seg)).edges.setdefault(inferred.key, Stats()).add(call)

    order = sorted(nodes, key=lambda k: ({"client": 0, "service": 1, "inferred": 2}[k[0]], k[1], k[2] or ""))
    ref = {k: i for i, k in enumerate(order)}
    services = []
    for key in order:
        n = nodes[key]
        kind, name, node_type = key
        item: dict[str, Any] = {"ReferenceId": ref[key], "Name": name, "Names": [name]}
        if node_type is not None:
            item["Type"] = node_type
        item["State"] = "active" if kind == "service" else "unknown"
        if kind == "service":
            item["AccountId"] = account_id
            item["Root"] = n.root
        starts = [s for s in [n.stats.start, n.span_start] + [e.start for e in n.edges.values()] if s is not None]
        ends = [e for e in [n.stats.end, n.span_end] + [e.end for e in n.edges.values()] if e is not None]
        if starts:
            item["StartTime"] = min(starts)
        if ends:
            item["EndTime"] = max(ends)
        item["Edges"] = [
            {
                "ReferenceId": ref[target],
                "StartTime": stats.start,
                "EndTime": stats.end,
                "SummaryStatistics": stats.summary(),
                "ResponseTimeHistogram": stats.histogram_list(),
                "Aliases": [],
            }
            for target, stats in sorted(n.edges.items(), key=lambda kv: ref[kv[0]])
        ]
        if kind != "client":
            item["SummaryStatistics"] = n.stats.summary()
            item["DurationHistogram"] = n.stats.histogram_list()
            item["ResponseTimeHistogram"] = n.stats.histogram_list()
        else:
            item["DurationHistogram"] = []
            item["ResponseTimeHistogram"] = []
        services.append(item)
    return services


# --- group filter expressions -----------------------------------------------------------------------------
#
# Supported subset of the X-Ray filter expression language (anything else -> UnsupportedFilter, and the
# caller then includes every trace; see README "Group filter expressions"):
#   service("name")            service(id(name: "name"))            service(id(name: "n", type: "T"))
#   responsetime OP number     duration OP number                   (OP: > >= < <= = !=)
#   ok | error | fault | throttle   (optionally "= true" / "= false")
#   annotation.KEY OP value         (string: = !=; number: all OPs; true/false)     http.status OP number
#   combined with AND / OR / && / ||, "!" and parentheses.


class UnsupportedFilter(ValueError):
    pass


_TOKEN = re.compile(
    r"\s*(?:(?P<str>\"(?:[^\"\\]|\\.)*\")|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>&&|\|\||>=|<=|!=|=|>|<|!|\(|\)|,|:)|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise UnsupportedFilter(f"cannot parse filter expression at offset {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup
        value = match.group(kind)  # type: ignore[arg-type]
        if kind == "str":
            value = json.loads(value)
        tokens.append((kind, value))  # type: ignore[arg-type]
        pos = match.end()
    return tokens


@dataclass
class TraceFacts:
    services: set[tuple[str, str | None]]
    response_time: float | None
    duration: float | None
    flags: set[str]
    annotations: dict[str, Any] = field(default_factory=dict)
    http_status: int | None = None


def trace_facts(trace: Trace) -> TraceFacts:
    services: set[tuple[str, str | None]] = set()
    flags: set[str] = set()
    roots = []
    for seg in trace.segments:
        services.add((str(seg.get("name")), seg.get("origin") if isinstance(seg.get("origin"), str) else None))
        flags.add(classify(seg))
        if seg.get("parent_id") is None:
            roots.append(seg)
        for call in list(_calls(seg)) + trace.extra_calls.get(str(seg.get("id")), []):
            services.add((str(call.get("name")), _inferred_type(call)))
    response_time = None
    if roots:
        root = min(roots, key=lambda s: float(s["start_time"]))
        response_time = float(root["end_time"]) - float(root["start_time"])
    duration = None
    if trace.segments:
        duration = max(float(s["end_time"]) for s in trace.segments) - min(float(s["start_time"]) for s in trace.segments)
    annotations: dict[str, Any] = {}
    for seg in trace.segments:
        for doc in [seg, *_walk(seg)]:
            if isinstance(doc.get("annotations"), dict):
                for key, value in doc["annotations"].items():
                    annotations.setdefault(str(key), value)
    http_status = _status(_root(trace)) if trace.segments else None
    return TraceFacts(services, response_time, duration, flags, annotations, http_status)


def _root(trace: Trace) -> dict[str, Any]:
    roots = [s for s in trace.segments if s.get("parent_id") is None] or trace.segments
    return min(roots, key=lambda s: float(s["start_time"]))


_COMPARE = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _annotation_matches(annotations: dict[str, Any], key: str, op: str, value: Any) -> bool:
    if key not in annotations:
        return False
    actual = annotations[key]
    if isinstance(value, bool) or isinstance(actual, bool):
        return isinstance(value, bool) and isinstance(actual, bool) and _COMPARE[op](actual, value)
    if isinstance(value, float):
        return isinstance(actual, (int, float)) and _COMPARE[op](float(actual), value)
    return isinstance(actual, str) and _COMPARE[op](actual, value)


def _either(a: Any, b: Any) -> Any:
    return lambda facts: a(facts) or b(facts)


def _both(a: Any, b: Any) -> Any:
    return lambda facts: a(facts) and b(facts)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            raise UnsupportedFilter(f"unexpected token {tok!r}, wanted {value or kind}")
        self.pos += 1
        return tok[1]

    def is_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() in words

    def parse(self) -> Any:
        pred = self.expr()
        if self.peek() is not None:
            raise UnsupportedFilter(f"unexpected token {self.peek()!r}")
        return pred

    def expr(self) -> Any:
        left = self.conj()
        while self.peek() in (("op", "||"),) or self.is_word("or"):
            self.pos += 1
            right = self.conj()
            left = _either(left, right)
        return left

    def conj(self) -> Any:
        left = self.unary()
        while self.peek() in (("op", "&&"),) or self.is_word("and"):
            self.pos += 1
            right = self.unary()
            left = _both(left, right)
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.pos += 1
            inner = self.unary()
            return lambda f: not inner(f)
        if self.peek() == ("op", "("):
            self.pos += 1
            inner = self.expr()
            self.take(")")
            return inner
        return self.term()

    def term(self) -> Any:
        word = self.take(kind="word").lower()
        if word == "service":
            return self.service()
        if word in ("responsetime", "duration"):
            op = self.take(kind="op")
            if op not in _COMPARE:
                raise UnsupportedFilter(f"unsupported operator {op!r}")
            number = float(self.take(kind="num"))
            attr = "response_time" if word == "responsetime" else "duration"
            return lambda f: getattr(f, attr) is not None and _COMPARE[op](getattr(f, attr), number)
        if word.startswith("annotation.") and len(word) > len("annotation."):
            key = self.tokens[self.pos - 1][1][len("annotation.") :]
            op = self.take(kind="op")
            if op not in _COMPARE:
                raise UnsupportedFilter(f"unsupported operator {op!r}")
            tok = self.peek()
            if tok is None:
                raise UnsupportedFilter("annotation comparison without a value")
            self.pos += 1
            if tok[0] == "num":
                value: Any = float(tok[1])
            elif tok[0] == "str":
                value = tok[1]
            elif tok[0] == "word" and tok[1].lower() in ("true", "false"):
                value = tok[1].lower() == "true"
            else:
                raise UnsupportedFilter(f"unsupported annotation value {tok!r}")
            if isinstance(value, str) and op not in ("=", "!="):
                raise UnsupportedFilter(f"operator {op!r} on a string annotation")
            return lambda f: _annotation_matches(f.annotations, key, op, value)
        if word == "http.status":
            op = self.take(kind="op")
            if op not in _COMPARE:
                raise UnsupportedFilter(f"unsupported operator {op!r}")
            number = float(self.take(kind="num"))
            return lambda f: f.http_status is not None and _COMPARE[op](f.http_status, number)
        if word in ("ok", "error", "fault", "throttle"):
            expected = True
            if self.peek() == ("op", "="):
                self.pos += 1
                value = self.take(kind="word").lower()
                if value not in ("true", "false"):
                    raise UnsupportedFilter(f"{word} = {value}")
                expected = value == "true"
            if word == "ok":
                return lambda f: (f.flags <= {"ok"}) == expected
            if word == "error":
                # X-Ray's "error" keyword is about client errors (4xx); throttles are errors too.
                return lambda f: bool(f.flags & {"error", "throttle"}) == expected
            return lambda f: (word in f.flags) == expected
        raise UnsupportedFilter(f"unsupported keyword {word!r}")

    def service(self) -> Any:
        self.take("(")
        if self.is_word("id"):
            self.pos += 1
            self.take("(")
            args: dict[str, str] = {}
            while self.peek() != ("op", ")"):
                name = self.take(kind="word").lower()
                self.take(":")
                args[name] = self.take(kind="str")
                if self.peek() == ("op", ","):
                    self.pos += 1
            self.take(")")
            self.take(")")
            if "name" not in args or set(args) - {"name", "type"}:
                raise UnsupportedFilter(f"unsupported service id arguments {sorted(args)}")
            name, node_type = args["name"], args.get("type")
        else:
            name, node_type = self.take(kind="str"), None
            self.take(")")
        return lambda f: any(n == name and (node_type is None or t == node_type) for n, t in f.services)


def compile_filter(expression: str | None) -> Any:
    """Return a predicate over TraceFacts, or None for "every trace". Raises UnsupportedFilter."""
    if expression is None or not expression.strip():
        return None
    return _Parser(expression).parse()


def filter_traces(traces: list[Trace], expression: str | None) -> tuple[list[Trace], bool]:
    """(matching traces, whether the expression was honoured). Unsupported -> all traces, logged."""
    try:
        predicate = compile_filter(expression)
    except UnsupportedFilter as exc:
        # Deliberate and documented (README "Group filter expressions"): fall back to every trace.
        LOG.warning("EMULATION: filter expression %r is not supported (%s); using every trace", expression, exc)
        return traces, False
    if predicate is None:
        return traces, True
    return [t for t in traces if predicate(trace_facts(t))], True


# --- GetTraceSummaries ----------------------------------------------------------------------------------


def _trace_id_time(trace: Trace) -> float:
    try:
        return float(int(trace.trace_id.split("-")[1], 16))
    except (IndexError, ValueError):
        return min(float(s["start_time"]) for s in trace.segments)


def _in_range(trace: Trace, start: float, end: float, time_range_type: str) -> bool:
    if time_range_type == "Event":
        return start <= max(float(s["end_time"]) for s in trace.segments) <= end
    if time_range_type == "Service":
        return any(start <= float(s["end_time"]) <= end for s in trace.segments)
    return start <= _trace_id_time(trace) <= end  # TraceId (default)


def _service_id(name: str, node_type: str | None, account_id: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": name, "Names": [name]}
    if account_id is not None:
        out["AccountId"] = account_id
    if node_type is not None:
        out["Type"] = node_type
    return out


def _annotation_value(value: Any) -> dict[str, Any] | None:
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, (int, float)):
        return {"NumberValue": float(value)}
    if isinstance(value, str):
        return {"StringValue": value}
    return None


def summarize(trace: Trace, account_id: str) -> dict[str, Any]:
    facts = trace_facts(trace)
    root = _root(trace)
    root_key = _service_key(root)
    services = []
    for seg in sorted(trace.segments, key=lambda d: float(d["start_time"])):
        sid = _service_id(str(seg.get("name")), _service_key(seg)[2], account_id)
        if sid not in services:
            services.append(sid)
    for seg in trace.segments:
        for call in list(_calls(seg)) + trace.extra_calls.get(str(seg.get("id")), []):
            sid = _service_id(str(call.get("name")), _inferred_type(call), None)
            if sid not in services and not any(s["Name"] == sid["Name"] and "AccountId" in s for s in services):
                services.append(sid)
    http: dict[str, Any] = {}
    request = (root.get("http") or {}).get("request") if isinstance(root.get("http"), dict) else None
    if isinstance(request, dict):
        for src, dst in (("url", "HttpURL"), ("method", "HttpMethod"), ("user_agent", "UserAgent"), ("client_ip", "ClientIp")):
            if isinstance(request.get(src), str):
                http[dst] = request[src]
    if facts.http_status is not None:
        http["HttpStatus"] = facts.http_status
    annotations: dict[str, list[dict[str, Any]]] = {}
    users: dict[str, list[dict[str, Any]]] = {}
    for seg in trace.segments:
        sid = _service_id(str(seg.get("name")), _service_key(seg)[2], account_id)
        for doc in [seg, *_walk(seg)]:
            for key, value in (doc.get("annotations") or {}).items() if isinstance(doc.get("annotations"), dict) else []:
                converted = _annotation_value(value)
                if converted is not None:
                    entry = {"AnnotationValue": converted, "ServiceIds": [sid]}
                    if entry not in annotations.setdefault(str(key), []):
                        annotations[str(key)].append(entry)
        if isinstance(seg.get("user"), str):
            users.setdefault(seg["user"], [])
            if sid not in users[seg["user"]]:
                users[seg["user"]].append(sid)
    return {
        "Id": trace.trace_id,
        "StartTime": min(float(s["start_time"]) for s in trace.segments),
        "Duration": round(facts.duration or 0.0, 6),
        "ResponseTime": round(float(root["end_time"]) - float(root["start_time"]), 6),
        "HasFault": "fault" in facts.flags,
        "HasError": bool(facts.flags & {"error", "throttle"}),
        "HasThrottle": "throttle" in facts.flags,
        "IsPartial": trace.partial,
        "Http": http,
        "Annotations": annotations,
        "Users": [{"UserName": name, "ServiceIds": ids} for name, ids in sorted(users.items())],
        "ServiceIds": services,
        "EntryPoint": _service_id(root_key[1], root_key[2], account_id),
    }


def trace_summaries(
    traces: list[Trace], account_id: str, start: float, end: float, time_range_type: str, expression: str | None
) -> tuple[list[dict[str, Any]], int]:
    """(summaries of the matching traces, oldest first; number of traces in the time range)."""
    in_range = [t for t in traces if t.segments and _in_range(t, start, end, time_range_type)]
    matching, _honoured = filter_traces(in_range, expression)
    out = [summarize(t, account_id) for t in matching]
    out.sort(key=lambda s: (s["StartTime"], s["Id"]))
    return out, len(in_range)
