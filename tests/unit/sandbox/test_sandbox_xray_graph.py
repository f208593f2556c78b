"""GetServiceGraph / GetTraceGraph (EMULATION) computed from segments sent with PutTraceSegments."""

from __future__ import annotations

import datetime
import itertools
import json
import time
import urllib.request
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox.aws.xray_graph import Trace, TraceFacts, UnsupportedFilter, compile_filter, filter_traces, trace_facts

ORIGIN = "AWS::EKS::Container"
_ids = itertools.count(1)


def _id() -> str:
    return f"{next(_ids):016x}"


def _trace_id(start: float) -> str:
    return f"1-{int(start):08x}-{next(_ids):024x}"


def _http(status: int) -> dict[str, Any]:
    return {"request": {"method": "GET", "url": "http://svc/"}, "response": {"status": status}}


def _flags(status: int) -> dict[str, bool]:
    if status >= 500:
        return {"fault": True}
    if status == 429:
        return {"error": True, "throttle": True}
    if status >= 400:
        return {"error": True}
    return {}


def _dt(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)


class Scenario:
    """front-end -> back-end traces with ok / fault / error / throttle outcomes, plus untraced calls."""

    def __init__(self, base: float, front: str, back: str) -> None:
        self.base, self.front, self.back = base, front, back
        self.docs: list[dict[str, Any]] = []
        self.front_times: list[float] = []
        self.call_times: list[float] = []
        self.back_times: list[float] = []
        self.trace_ids: list[str] = []

    def call(self, offset: float, status: int, front_rt: float, call_rt: float, back_rt: float) -> str:
        start = self.base + offset
        trace_id, front_id, call_id = _trace_id(start), _id(), _id()
        self.trace_ids.append(trace_id)
        self.docs.append(
            {
                "name": self.front,
                "id": front_id,
                "trace_id": trace_id,
                "origin": ORIGIN,
                "start_time": start,
                "end_time": start + front_rt,
                "http": _http(status),
                **_flags(status),
                "subsegments": [
                    {
                        "name": self.back,
                        "id": call_id,
                        "namespace": "remote",
                        "start_time": start + 0.01,
                        "end_time": start + 0.01 + call_rt,
                        "http": _http(status),
                        **_flags(status),
                    }
                ],
            }
        )
        self.docs.append(
            {
                "name": self.back,
                "id": _id(),
                "trace_id": trace_id,
                "parent_id": call_id,
                "origin": ORIGIN,
                "start_time": start + 0.02,
                "end_time": start + 0.02 + back_rt,
                "http": _http(status),
                **_flags(status),
            }
        )
        self.front_times.append(front_rt)
        self.call_times.append(call_rt)
        self.back_times.append(back_rt)
        return trace_id

    def untraced_calls(self, offset: float) -> str:
        """Root segment calling an external HTTP API and DynamoDB (nested), plus a stand-alone subsegment."""
        start = self.base + offset
        trace_id, front_id = _trace_id(start), _id()
        self.trace_ids.append(trace_id)
        self.docs.append(
            {
                "name": self.front,
                "id": front_id,
                "trace_id": trace_id,
                "origin": ORIGIN,
                "start_time": start,
                "end_time": start + 0.4,
                "http": _http(200),
                "subsegments": [
                    {"name": "api.example.com", "id": _id(), "namespace": "remote", "start_time": start + 0.01, "end_time": start + 0.21},
                    {
                        "name": "handler",
                        "id": _id(),
                        "start_time": start + 0.22,
                        "end_time": start + 0.35,
                        "subsegments": [
                            {
                                "name": "DynamoDB",
                                "id": _id(),
                                "namespace": "aws",
                                "start_time": start + 0.23,
                                "end_time": start + 0.33,
                                "aws": {"operation": "GetItem"},
                            }
                        ],
                    },
                ],
            }
        )
        self.docs.append(
            {
                "type": "subsegment",
                "name": "payments.internal",
                "id": _id(),
                "trace_id": trace_id,
                "parent_id": front_id,
                "namespace": "remote",
                "start_time": start + 0.36,
                "end_time": start + 0.39,
                "http": _http(503),
                "fault": True,
            }
        )
        self.front_times.append(0.4)
        return trace_id

    def send(self, xray: Any) -> None:
        out = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in self.docs])
        assert out["UnprocessedTraceSegments"] == []


def _standard(base: float, front: str, back: str) -> Scenario:
    s = Scenario(base, front, back)
    s.call(0, 200, 0.30, 0.20, 0.18)
    s.call(1, 500, 0.50, 0.40, 0.38)
    s.call(2, 404, 0.10, 0.05, 0.04)
    s.call(3, 429, 0.12, 0.06, 0.02)
    s.untraced_calls(4)
    return s


def _graph(xray: Any, start: float, end: float, **kwargs: Any) -> dict[str, Any]:
    return xray.get_service_graph(StartTime=_dt(start), EndTime=_dt(end), **kwargs)


def _by_name(services: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(s["Name"], s.get("Type")): s for s in services}


def test_service_graph_front_to_back(xray: Any, sandbox: dict[str, Any]) -> None:
    base = time.time() - 7200
    s = _standard(base, "frontend-a", "backend-a")
    s.send(xray)
    result = _graph(xray, base - 60, base + 60)
    assert result["StartTime"] == _dt(base - 60) and result["EndTime"] == _dt(base + 60)
    services = _by_name(result["Services"])
    assert set(services) == {
        ("frontend-a", "client"),
        ("frontend-a", ORIGIN),
        ("backend-a", ORIGIN),
        ("api.example.com", "remote"),
        ("DynamoDB", "AWS::DynamoDB::Table"),
        ("payments.internal", "remote"),
    }
    refs = {s["ReferenceId"]: key for key, s in services.items()}
    assert len(refs) == len(services)

    client, front, back = services[("frontend-a", "client")], services[("frontend-a", ORIGIN)], services[("backend-a", ORIGIN)]
    assert front["Root"] is True and back["Root"] is False
    assert front["State"] == back["State"] == "active" and client["State"] == "unknown"
    assert front["AccountId"] == sandbox["account_id"]

    # client -> front-end: one edge with the root segments' statistics.
    assert [refs[e["ReferenceId"]] for e in client["Edges"]] == [("frontend-a", ORIGIN)]
    client_edge = client["Edges"][0]["SummaryStatistics"]
    assert client_edge["TotalCount"] == 5 and client_edge["OkCount"] == 2

    stats = front["SummaryStatistics"]
    assert stats["TotalCount"] == 5
    assert stats["OkCount"] == 2
    assert stats["ErrorStatistics"] == {"ThrottleCount": 1, "OtherCount": 1, "TotalCount": 2}
    assert stats["FaultStatistics"] == {"OtherCount": 1, "TotalCount": 1}
    assert stats["TotalResponseTime"] == pytest.approx(sum(s.front_times))
    assert sum(h["Count"] for h in front["ResponseTimeHistogram"]) == 5
    assert [h["Value"] for h in front["ResponseTimeHistogram"]] == pytest.approx([0.1, 0.12, 0.3, 0.4, 0.5])

    # front-end -> back-end edge: statistics of the caller's remote subsegments.
    edges = {refs[e["ReferenceId"]]: e for e in front["Edges"]}
    assert set(edges) == {("backend-a", ORIGIN), ("api.example.com", "remote"), ("DynamoDB", "AWS::DynamoDB::Table"), ("payments.internal", "remote")}
    edge = edges[("backend-a", ORIGIN)]["SummaryStatistics"]
    assert (edge["TotalCount"], edge["OkCount"]) == (4, 1)
    assert edge["ErrorStatistics"] == {"ThrottleCount": 1, "OtherCount": 1, "TotalCount": 2}
    assert edge["FaultStatistics"] == {"OtherCount": 1, "TotalCount": 1}
    assert edge["TotalResponseTime"] == pytest.approx(sum(s.call_times))
    assert edges[("backend-a", ORIGIN)]["StartTime"] == _dt(base + 0.01)

    back_stats = back["SummaryStatistics"]
    assert (back_stats["TotalCount"], back_stats["OkCount"]) == (4, 1)
    assert back_stats["TotalResponseTime"] == pytest.approx(sum(s.back_times))
    assert back["Edges"] == []

    payments = services[("payments.internal", "remote")]["SummaryStatistics"]
    assert payments["FaultStatistics"]["TotalCount"] == 1 and payments["TotalCount"] == 1
    assert services[("DynamoDB", "AWS::DynamoDB::Table")]["SummaryStatistics"]["TotalResponseTime"] == pytest.approx(0.1)
    assert services[("api.example.com", "remote")]["SummaryStatistics"]["OkCount"] == 1


def test_service_graph_time_window(xray: Any) -> None:
    base = time.time() - 4 * 3600
    early = Scenario(base, "frontend-w", "backend-w")
    early.call(0, 200, 0.2, 0.1, 0.05)
    early.call(10, 200, 0.2, 0.1, 0.05)
    early.send(xray)
    late = Scenario(base + 1800, "late-w", "late-back-w")
    late.call(0, 500, 0.3, 0.2, 0.1)
    late.send(xray)

    assert _graph(xray, base + 100, base + 200)["Services"] == []
    only_first = _by_name(_graph(xray, base - 1, base + 5)["Services"])
    assert only_first[("frontend-w", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 1
    both = _by_name(_graph(xray, base - 1, base + 20)["Services"])
    assert both[("frontend-w", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 2
    assert ("late-w", ORIGIN) not in both
    late_only = _by_name(_graph(xray, base + 1700, base + 1900)["Services"])
    assert set(late_only) == {("late-w", "client"), ("late-w", ORIGIN), ("late-back-w", ORIGIN)}
    assert late_only[("late-back-w", ORIGIN)]["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1
    # A segment that straddles the window edge is left out.
    assert ("frontend-w", ORIGIN) not in _by_name(_graph(xray, base + 0.1, base + 5)["Services"])


def test_service_graph_group_filter(xray: Any) -> None:
    base = time.time() - 6 * 3600
    s = Scenario(base, "frontend-g", "backend-g")
    s.call(0, 200, 0.2, 0.1, 0.05)
    s.untraced_calls(1)
    s.send(xray)
    window = (base - 1, base + 10)

    group = xray.create_group(GroupName="backend-only", FilterExpression='service("backend-g")')["Group"]
    for kwargs in ({"GroupName": "backend-only"}, {"GroupARN": group["GroupARN"]}):
        services = _by_name(_graph(xray, *window, **kwargs)["Services"])
        assert services[("frontend-g", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 1  # only the trace reaching backend-g
        assert ("api.example.com", "remote") not in services

    xray.create_group(GroupName="by-id", FilterExpression=f'service(id(name: "backend-g", type: "{ORIGIN}")) AND !fault')
    assert _by_name(_graph(xray, *window, GroupName="by-id")["Services"])[("frontend-g", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 1
    xray.create_group(GroupName="slow", FilterExpression="responsetime > 0.3")
    slow = _by_name(_graph(xray, *window, GroupName="slow")["Services"])
    assert slow[("frontend-g", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 1 and ("backend-g", ORIGIN) not in slow

    # Unsupported expression: documented fallback to every trace.
    xray.create_group(GroupName="rootcause", FilterExpression='rootcause.fault.service { name = "x" }')
    everything = _by_name(_graph(xray, *window, GroupName="rootcause")["Services"])
    assert everything[("frontend-g", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 2
    assert _by_name(_graph(xray, *window, GroupName="Default")["Services"]) == everything


def test_in_progress_and_repeated_segments(xray: Any) -> None:
    base = time.time() - 5 * 3600
    s = Scenario(base, "frontend-r", "backend-r")
    s.call(0, 200, 0.2, 0.1, 0.05)
    in_progress = {k: v for k, v in s.docs[0].items() if k not in ("end_time", "subsegments")}
    in_progress["in_progress"] = True
    xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(in_progress)])
    assert _graph(xray, base - 1, base + 5)["Services"] == []  # nothing complete yet
    s.send(xray)
    s.send(xray)  # a retry sends the same documents again
    services = _by_name(_graph(xray, base - 1, base + 5)["Services"])
    assert services[("frontend-r", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 1
    assert services[("backend-r", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 1


def test_service_graph_errors(xray: Any) -> None:
    now = time.time()
    with pytest.raises(xray.exceptions.InvalidRequestException, match="EndTime must be later"):
        _graph(xray, now, now - 60)
    with pytest.raises(xray.exceptions.InvalidRequestException, match="Group not found"):
        _graph(xray, now - 60, now, GroupName="no-such-group")


def test_trace_graph(xray: Any) -> None:
    base = time.time() - 8 * 3600
    s = Scenario(base, "frontend-t", "backend-t")
    wanted = s.call(0, 200, 0.2, 0.1, 0.05)
    s.call(1, 500, 0.2, 0.1, 0.05)
    s.send(xray)
    services = _by_name(xray.get_trace_graph(TraceIds=[wanted])["Services"])
    assert set(services) == {("frontend-t", "client"), ("frontend-t", ORIGIN), ("backend-t", ORIGIN)}
    assert services[("backend-t", ORIGIN)]["SummaryStatistics"]["OkCount"] == 1
    assert services[("frontend-t", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 1
    assert xray.get_trace_graph(TraceIds=["1-00000000-000000000000000000000000"])["Services"] == []


def test_segments_still_readable_through_moto(xray: Any) -> None:
    base = time.time() - 10 * 3600
    s = Scenario(base, "frontend-m", "backend-m")
    trace_id = s.call(0, 200, 0.2, 0.1, 0.05)
    s.send(xray)
    traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
    assert len(traces) == 1 and len(traces[0]["Segments"]) == 2


# --- the filter language subset, directly ---------------------------------------------------------------


FACTS = TraceFacts(
    services={("web", ORIGIN), ("db", "remote")},
    response_time=0.5,
    duration=1.0,
    flags={"ok", "fault"},
    annotations={"customer": "acme", "tier": 2, "beta": True},
    http_status=503,
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('service("web")', True),
        ('service("nope")', False),
        ('service(id(name: "web"))', True),
        (f'service(id(name: "web", type: "{ORIGIN}"))', True),
        ('service(id(name: "web", type: "AWS::EC2::Instance"))', False),
        ('service(id(type: "remote", name: "db"))', True),
        ("responsetime > 0.4", True),
        ("responsetime >= 0.6", False),
        ("duration = 1", True),
        ("duration != 1", False),
        ("fault", True),
        ("fault = false", False),
        ("error", False),
        ("ok", False),
        ('service("web") AND fault', True),
        ('service("web") && !fault', False),
        ('service("nope") OR duration < 2', True),
        ('service("nope") || (fault and responsetime < 0.1)', False),
        ("!(error)", True),
        ('annotation.customer = "acme"', True),
        ('annotation.customer != "acme"', False),
        ("annotation.tier > 1", True),
        ('annotation.tier = "2"', False),
        ("annotation.beta = true", True),
        ("annotation.missing = 1", False),
        ("http.status >= 500", True),
        ("http.status = 200", False),
    ],
)
def test_filter_subset(expression: str, expected: bool) -> None:
    predicate = compile_filter(expression)
    assert predicate(FACTS) is expected


@pytest.mark.parametrize(
    "expression",
    [
        'rootcause.fault.service { name = "x" }',
        'edge("a", "b")',
        'annotation.customer > "x"',
        "annotation.customer = none",
        'http.url CONTAINS "x"',
        'service("a"',
        "responsetime > fast",
        'service(id(account.id: "1"))',
    ],
)
def test_filter_unsupported(expression: str) -> None:
    with pytest.raises(UnsupportedFilter):
        compile_filter(expression)
    traces = [Trace("t", [], {})]
    assert filter_traces(traces, expression) == (traces, False)


def test_trace_facts_from_segments() -> None:
    root = {"name": "web", "id": "a", "start_time": 10.0, "end_time": 10.5, "http": {"response": {"status": 502}}}
    child = {"name": "api", "id": "b", "parent_id": "x", "start_time": 10.1, "end_time": 11.0, "error": True}
    facts = trace_facts(Trace("t", [root, child], {}))
    assert facts.services == {("web", None), ("api", None)}
    assert facts.response_time == pytest.approx(0.5)
    assert facts.duration == pytest.approx(1.0)
    assert facts.flags == {"fault", "error"}
    assert compile_filter(None) is None and compile_filter("  ") is None


def test_daemon_style_put_reaches_the_graph(xray: Any, sandbox: dict[str, Any]) -> None:
    """The X-Ray daemon (Go SDK) signs with SigV4 but has no region in its User-Agent: the region comes
    from the credential scope."""
    base = time.time() - 12 * 3600
    s = Scenario(base, "frontend-d", "backend-d")
    s.call(0, 200, 0.2, 0.1, 0.05)
    body = json.dumps({"TraceSegmentDocuments": [json.dumps(d) for d in s.docs]})
    request = AWSRequest(
        method="POST",
        url=f"{sandbox['endpoint_url']}/TraceSegments",
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": "xray-agent/xray/3.3.13 aws-sdk-go/1.55.6 (go1.22; linux; amd64)"},
    )
    SigV4Auth(Credentials(sandbox["access_key_id"], sandbox["secret_access_key"]), "xray", sandbox["region"]).add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(prepared.url, data=body.encode(), headers=dict(prepared.headers), method="POST")
    with urllib.request.urlopen(http_request, timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"UnprocessedTraceSegments": []}
    services = _by_name(_graph(xray, base - 1, base + 5)["Services"])
    assert services[("frontend-d", ORIGIN)]["SummaryStatistics"]["TotalCount"] == 1
    assert services[("backend-d", ORIGIN)]["Root"] is False


# --- GetTraceSummaries (replaces moto's) ---------------------------------------------------------------


def test_trace_summaries(xray: Any, sandbox: dict[str, Any]) -> None:
    base = float(int(time.time()) - 14 * 3600)
    s = Scenario(base, "frontend-s", "backend-s")
    ok_id = s.call(0, 200, 0.30, 0.20, 0.18)
    s.docs[0].update({"annotations": {"customer": "acme", "tier": 2, "beta": True}, "user": "alice"})
    s.docs[0]["http"]["request"].update({"user_agent": "curl/8", "client_ip": "10.0.0.1"})
    fault_id = s.call(1, 500, 0.50, 0.40, 0.38)
    error_id = s.call(2, 404, 0.10, 0.05, 0.04)
    throttle_id = s.call(3, 429, 0.12, 0.06, 0.02)
    untraced_id = s.untraced_calls(4)
    s.send(xray)
    partial = Scenario(base + 5, "frontend-s", "backend-s")
    partial_id = partial.call(0, 200, 0.2, 0.1, 0.05)
    partial.docs[1] = {k: v for k, v in partial.docs[1].items() if k != "end_time"} | {"in_progress": True}
    partial.send(xray)

    out = xray.get_trace_summaries(StartTime=_dt(base - 1), EndTime=_dt(base + 10))
    assert out["TracesProcessedCount"] == 6 and "NextToken" not in out
    summaries = {t["Id"]: t for t in out["TraceSummaries"]}
    assert list(summaries) == [ok_id, fault_id, error_id, throttle_id, untraced_id, partial_id]  # oldest first

    ok = summaries[ok_id]
    assert ok["ResponseTime"] == pytest.approx(0.3)
    assert ok["Duration"] == pytest.approx(0.3)
    assert ok["StartTime"] == _dt(base)
    assert (ok["HasFault"], ok["HasError"], ok["HasThrottle"], ok["IsPartial"]) == (False, False, False, False)
    assert ok["Http"] == {"HttpURL": "http://svc/", "HttpMethod": "GET", "HttpStatus": 200, "UserAgent": "curl/8", "ClientIp": "10.0.0.1"}
    front_id = {"Name": "frontend-s", "Names": ["frontend-s"], "AccountId": sandbox["account_id"], "Type": ORIGIN}
    assert ok["EntryPoint"] == front_id
    assert [sid["Name"] for sid in ok["ServiceIds"]] == ["frontend-s", "backend-s"]
    assert ok["Annotations"]["customer"] == [{"AnnotationValue": {"StringValue": "acme"}, "ServiceIds": [front_id]}]
    assert ok["Annotations"]["tier"][0]["AnnotationValue"] == {"NumberValue": 2.0}
    assert ok["Annotations"]["beta"][0]["AnnotationValue"] == {"BooleanValue": True}
    assert ok["Users"] == [{"UserName": "alice", "ServiceIds": [front_id]}]

    assert (summaries[fault_id]["HasFault"], summaries[fault_id]["Http"]["HttpStatus"]) == (True, 500)
    assert (summaries[error_id]["HasError"], summaries[error_id]["HasThrottle"], summaries[error_id]["HasFault"]) == (True, False, False)
    assert (summaries[throttle_id]["HasError"], summaries[throttle_id]["HasThrottle"]) == (True, True)
    assert {sid["Name"] for sid in summaries[untraced_id]["ServiceIds"]} == {"frontend-s", "api.example.com", "DynamoDB", "payments.internal"}
    assert summaries[partial_id]["IsPartial"] is True

    def ids(**kwargs: Any) -> list[str]:
        pages = xray.get_paginator("get_trace_summaries").paginate(StartTime=_dt(base - 1), EndTime=_dt(base + 10), **kwargs)
        return [t["Id"] for page in pages for t in page["TraceSummaries"]]

    assert ids(FilterExpression='service("backend-s") AND fault') == [fault_id]
    assert ids(FilterExpression='annotation.customer = "acme"') == [ok_id]
    assert ids(FilterExpression="annotation.tier >= 2 AND annotation.beta = true") == [ok_id]
    assert ids(FilterExpression="http.status = 404 OR http.status = 429") == [error_id, throttle_id]
    assert ids(FilterExpression='service(id(name: "DynamoDB", type: "AWS::DynamoDB::Table"))') == [untraced_id]
    assert len(ids(FilterExpression='rootcause.fault.service { name = "x" }')) == 6  # unsupported: every trace

    # TimeRangeType: TraceId (time in the trace ID, default), Event (last segment end), Service (any segment end).
    first_end = max(d["end_time"] for d in s.docs[:2])
    back_end = s.docs[1]["end_time"]
    narrow = {"StartTime": _dt(first_end - 0.001), "EndTime": _dt(first_end + 0.001)}
    assert [t["Id"] for t in xray.get_trace_summaries(**narrow, TimeRangeType="Event")["TraceSummaries"]] == [ok_id]
    assert xray.get_trace_summaries(**narrow)["TraceSummaries"] == []
    around_back = {"StartTime": _dt(back_end - 0.001), "EndTime": _dt(back_end + 0.001)}
    assert [t["Id"] for t in xray.get_trace_summaries(**around_back, TimeRangeType="Service")["TraceSummaries"]] == [ok_id]


def test_trace_summaries_paginate_and_validate(xray: Any) -> None:
    base = float(int(time.time()) - 16 * 3600)
    docs = [
        {"name": "bulk", "id": _id(), "trace_id": _trace_id(base + i), "start_time": base + i, "end_time": base + i + 0.01, "http": _http(200)}
        for i in range(101)
    ]
    assert xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])["UnprocessedTraceSegments"] == []
    window = {"StartTime": _dt(base - 1), "EndTime": _dt(base + 200)}
    first = xray.get_trace_summaries(**window)
    assert len(first["TraceSummaries"]) == 100 and first["NextToken"] and first["TracesProcessedCount"] == 101
    second = xray.get_trace_summaries(**window, NextToken=first["NextToken"])
    assert [t["Id"] for t in second["TraceSummaries"]] == [docs[-1]["trace_id"]]
    with pytest.raises(xray.exceptions.InvalidRequestException, match="EndTime must be later"):
        xray.get_trace_summaries(StartTime=_dt(base + 10), EndTime=_dt(base))
    with pytest.raises(xray.exceptions.InvalidRequestException, match="enum value set"):
        xray.get_trace_summaries(**window, TimeRangeType="Segment")
