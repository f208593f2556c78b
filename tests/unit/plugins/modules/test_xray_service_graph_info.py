"""Unit tests for tracing.xray.xray_service_graph_info against a Stubber on a real botocore X-Ray client.

The graph used here has the shape GetServiceGraph returns for the sample application after a chaos run:
clients -> front end -> back end, plus the inferred ``remote`` node X-Ray adds for the front end's calls
that no back-end segment answered (the back end was down).
"""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.tracing.xray.plugins.modules import xray_service_graph_info

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
FRONT = "x-ray-sample-front-k8s"
BACK = "x-ray-sample-back-k8s"
ACCOUNT = "123456789012"


def stats(ok=0, error=0, throttle=0, fault=0, total_time=0.0):
    return {
        "OkCount": ok,
        "ErrorStatistics": {"ThrottleCount": throttle, "OtherCount": error, "TotalCount": error + throttle},
        "FaultStatistics": {"OtherCount": fault, "TotalCount": fault},
        "TotalCount": ok + error + throttle + fault,
        "TotalResponseTime": total_time,
    }


def hist(*points):
    return [{"Value": value, "Count": count} for value, count in points]


def ts(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)


def edge(ref, statistics, histogram):
    return {"ReferenceId": ref, "StartTime": ts(NOW - 300), "EndTime": ts(NOW - 60), "SummaryStatistics": statistics,
            "ResponseTimeHistogram": histogram, "Aliases": []}


CLIENT = {"ReferenceId": 0, "Name": FRONT, "Names": [FRONT], "Type": "client", "State": "unknown",
          "Edges": [edge(1, stats(ok=95, fault=5, total_time=1.0), hist((0.008, 50), (0.012, 45), (0.002, 5)))],
          "DurationHistogram": [], "ResponseTimeHistogram": []}
FRONT_NODE = {"ReferenceId": 1, "Name": FRONT, "Names": [FRONT], "Root": True, "AccountId": ACCOUNT, "State": "active",
              "StartTime": ts(NOW - 300), "EndTime": ts(NOW - 60),
              "Edges": [edge(2, stats(ok=95, total_time=0.76), hist((0.006, 50), (0.01, 45))),
                        edge(3, stats(fault=5, total_time=0.01), hist((0.002, 5)))],
              "SummaryStatistics": stats(ok=95, fault=5, total_time=1.0),
              "DurationHistogram": hist((0.008, 50), (0.012, 45), (0.002, 5)),
              "ResponseTimeHistogram": hist((0.008, 50), (0.012, 45), (0.002, 5))}
BACK_NODE = {"ReferenceId": 2, "Name": BACK, "Names": [BACK], "Root": False, "AccountId": ACCOUNT, "State": "active",
             "StartTime": ts(NOW - 300), "EndTime": ts(NOW - 60), "Edges": [],
             "SummaryStatistics": stats(ok=95, total_time=0.475), "DurationHistogram": hist((0.005, 95)),
             "ResponseTimeHistogram": hist((0.004, 40), (0.005, 55))}
BACK_INFERRED = {"ReferenceId": 3, "Name": BACK, "Names": [BACK], "Type": "remote", "State": "unknown", "Edges": [],
                 "SummaryStatistics": stats(fault=5, total_time=0.01), "DurationHistogram": hist((0.002, 5)),
                 "ResponseTimeHistogram": hist((0.002, 5))}


def by(items, **match):
    found = [i for i in items if all(i.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, items)
    return found[0]


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(xray_service_graph_info.time, "time", lambda: NOW)


def test_default_window_all_pages_merged_and_summarised(xray, run_module):
    # fresh lists per response: botocore's build_full_result extends the first page's list in place
    xray.add("get_service_graph", {"Services": [CLIENT, FRONT_NODE], "NextToken": "page-2",
                                   "StartTime": ts(NOW - 600), "EndTime": ts(NOW), "ContainsOldGroupVersions": False},
             {"StartTime": NOW - 600, "EndTime": NOW})
    xray.add("get_service_graph", {"Services": [BACK_NODE, BACK_INFERRED], "ContainsOldGroupVersions": False},
             {"StartTime": NOW - 600, "EndTime": NOW, "NextToken": "page-2"})
    failed, result = run_module(xray_service_graph_info, {})
    assert not failed, result
    assert result["changed"] is False
    assert result["start_time"] == "2027-01-15T07:50:00Z" and result["end_time"] == "2027-01-15T08:00:00Z"
    assert result["window_minutes"] == 10.0
    assert xray.calls == ["GetServiceGraph", "GetServiceGraph"]
    assert "raw_services" not in result

    assert [s["name"] for s in result["services"]] == ["clients", FRONT, BACK]
    front = by(result["services"], name=FRONT)
    assert front["root"] is True and front["client"] is False and front["account_id"] == ACCOUNT
    assert (front["requests"], front["ok"], front["faults"], front["errors"], front["throttles"]) == (100, 95, 5, 0, 0)
    assert front["fault_percent"] == 5.0 and front["failed_percent"] == 5.0
    assert front["requests_per_minute"] == 10.0
    assert front["average_latency_ms"] == 10.0
    assert front["latency_ms"] == {"p50": 8.0, "p90": 12.0, "p99": 12.0}
    assert front["start_time"] == "2027-01-15T07:55:00Z"

    back = by(result["services"], name=BACK)  # the service and the inferred remote node are one entry
    assert back["types"] == ["remote"] and back["reference_ids"] == [2, 3]
    assert (back["requests"], back["ok"], back["faults"]) == (100, 95, 5)
    assert back["latency_ms"] == {"p50": 5.0, "p90": 5.0, "p99": 5.0}  # ranks 50, 90, 99 of 5 x 2 ms, 40 x 4 ms, 55 x 5 ms

    clients = by(result["services"], name="clients")
    assert clients["client"] is True and clients["requests"] == 0 and clients["average_latency_ms"] is None

    assert [(e["source"], e["target"]) for e in result["edges"]] == [("clients", FRONT), (FRONT, BACK)]
    call = by(result["edges"], source=FRONT, target=BACK)
    assert (call["requests"], call["ok"], call["faults"], call["fault_percent"]) == (100, 95, 5, 5.0)
    assert call["target_types"] == ["remote"]
    assert call["average_latency_ms"] == 7.7
    assert call["latency_ms"] == {"p50": 6.0, "p90": 10.0, "p99": 10.0}
    xray.assert_done()


def test_without_merging_the_failed_calls_stay_on_their_own_edge(xray, run_module):
    xray.add("get_service_graph", {"Services": [CLIENT, FRONT_NODE, BACK_NODE, BACK_INFERRED]}, {"StartTime": NOW - 600, "EndTime": NOW})
    failed, result = run_module(xray_service_graph_info, {"merge_same_name": False, "include_raw": True})
    assert not failed, result
    calls = [e for e in result["edges"] if e["source"] == FRONT]
    assert sorted((e["target_types"], e["requests"], e["faults"]) for e in calls) == [([], 95, 0), (["remote"], 5, 5)]
    assert len([s for s in result["services"] if s["name"] == BACK]) == 2
    assert result["raw_services"][1]["name"] == FRONT
    assert result["raw_services"][1]["summary_statistics"]["fault_statistics"]["total_count"] == 5
    assert result["raw_services"][1]["start_time"].startswith("2027-01-15T07:55:00")


def test_explicit_window_group_and_percentiles(xray, run_module):
    xray.add("get_service_graph", {"Services": [FRONT_NODE], "ContainsOldGroupVersions": True},
             {"StartTime": 1_700_000_000.0, "EndTime": 1_700_001_800.0, "GroupName": "front-end"})
    failed, result = run_module(xray_service_graph_info, {
        "start_time": "2023-11-14T22:13:20Z", "end_time": "1700001800", "group_name": "front-end", "percentiles": [50, 99.9],
    })
    assert not failed, result
    assert result["contains_old_group_versions"] is True
    assert result["window_minutes"] == 30.0
    front = by(result["services"], name=FRONT)
    assert set(front["latency_ms"]) == {"p50", "p99.9"}
    assert front["requests_per_minute"] == round(100 / 30, 2)


def test_relative_start_and_group_arn(xray, run_module):
    arn = f"arn:aws:xray:eu-west-1:{ACCOUNT}:group/front-end/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    xray.add("get_service_graph", {"Services": []}, {"StartTime": NOW - 900, "EndTime": NOW, "GroupARN": arn})
    failed, result = run_module(xray_service_graph_info, {"start_time": "-15m", "group_arn": arn})
    assert not failed, result
    assert result["services"] == [] and result["edges"] == []


def test_check_mode_reads_as_usual(xray, run_module):
    xray.add("get_service_graph", {"Services": [FRONT_NODE]}, {"StartTime": NOW - 120, "EndTime": NOW})
    failed, result = run_module(xray_service_graph_info, {"window_minutes": 2}, check_mode=True)
    assert not failed and result["services"][0]["requests_per_minute"] == 50.0


@pytest.mark.parametrize(
    "args, message",
    [
        ({"start_time": "-5m", "end_time": "-10m"}, "must be earlier than end_time"),
        ({"start_time": "yesterday"}, "start_time='yesterday' is not a time"),
        ({"window_minutes": 0}, "window_minutes must be a positive number"),
        ({"percentiles": [50, 101]}, "percentiles must each be greater than 0 and at most 100"),
        ({"group_name": ""}, "must not be empty"),
        ({"group_name": "a", "group_arn": "b"}, "mutually exclusive"),
    ],
)
def test_bad_input_fails_before_any_call(xray, run_module, args, message):
    failed, result = run_module(xray_service_graph_info, args)
    assert failed
    assert message in result["msg"]
    assert xray.calls == []


def test_throttling_is_retried(xray, run_module):
    xray.error("get_service_graph", "ThrottledException", "Rate exceeded", status=429, expected={"StartTime": NOW - 600, "EndTime": NOW})
    xray.add("get_service_graph", {"Services": [FRONT_NODE]}, {"StartTime": NOW - 600, "EndTime": NOW})
    failed, result = run_module(xray_service_graph_info, {})
    assert not failed, result
    assert xray.calls == ["GetServiceGraph", "GetServiceGraph"]
    assert len(xray.sleeps) == 1
    assert by(result["services"], name=FRONT)["requests"] == 100


def test_api_error_is_reported(xray, run_module):
    xray.error("get_service_graph", "InvalidRequestException", "Group not found", expected={"StartTime": NOW - 600, "EndTime": NOW, "GroupName": "nope"})
    failed, result = run_module(xray_service_graph_info, {"group_name": "nope"})
    assert failed
    assert "GetServiceGraph" in result["msg"] and "Group not found" in result["msg"]


# --- Transaction Search: the graph of every trace through trace retrieval ------------------------------------

WINDOW = {"StartTime": NOW - 600, "EndTime": NOW}


def span_events(trace_ids):
    return [
        {"eventId": str(n), "timestamp": int((NOW - 300) * 1000), "message": f'{{"traceId": "{t[2:10]}{t[11:]}", "name": "x"}}'}
        for n, t in enumerate(trace_ids)
    ]


def trace_ids(count, start=0):
    return [f"1-{int(NOW):08x}-{n:024x}" for n in range(start, start + count)]


def renumbered(service, offset):
    """The same node with other reference IDs, as a second retrieval numbers it."""
    return dict(service, ReferenceId=service["ReferenceId"] + offset, Edges=[dict(e, ReferenceId=e["ReferenceId"] + offset) for e in service["Edges"]])


def test_auto_with_xray_destination_reads_the_service_graph(xray, run_module):
    xray.add("get_trace_segment_destination", {"Destination": "XRay", "Status": "ACTIVE"}, {})
    xray.add("get_service_graph", {"Services": [CLIENT, FRONT_NODE, BACK_NODE], "ContainsOldGroupVersions": False}, WINDOW)
    failed, result = run_module(xray_service_graph_info, {"transaction_search": "auto"})
    assert not failed, result
    assert result["source"] == "GetServiceGraph" and result["trace_segment_destination"] == "XRay"
    assert "retrieved_traces" not in result
    xray.assert_done()


def test_auto_under_transaction_search_retrieves_every_trace(xray, run_module):
    ids = trace_ids(150)
    xray.add("get_trace_segment_destination", {"Destination": "CloudWatchLogs", "Status": "ACTIVE"}, {})
    logs_window = {"logGroupName": "aws/spans", "startTime": int((NOW - 600) * 1000), "endTime": int(NOW * 1000)}
    # every trace has two spans; the second page repeats some trace IDs
    xray.logs.add_response("filter_log_events", {"events": span_events(ids[:100] + ids[:100]), "nextToken": "more"}, logs_window)
    xray.logs.add_response("filter_log_events", {"events": span_events(ids[50:])}, dict(logs_window, nextToken="more"))
    xray.add("start_trace_retrieval", {"RetrievalToken": "t1"}, dict(WINDOW, TraceIds=ids[:100]))
    xray.add("get_retrieved_traces_graph", {"RetrievalStatus": "RUNNING"}, {"RetrievalToken": "t1"})
    xray.add(
        "get_retrieved_traces_graph",
        {"RetrievalStatus": "COMPLETE", "Services": [{"Service": s} for s in (CLIENT, FRONT_NODE)], "NextToken": "p2"},
        {"RetrievalToken": "t1"},
    )
    xray.add(
        "get_retrieved_traces_graph",
        {"RetrievalStatus": "COMPLETE", "Services": [{"Service": BACK_NODE}, {"Service": BACK_INFERRED}]},
        {"RetrievalToken": "t1", "NextToken": "p2"},
    )
    xray.add("start_trace_retrieval", {"RetrievalToken": "t2"}, dict(WINDOW, TraceIds=ids[100:]))
    second = [renumbered(s, 10) for s in (CLIENT, FRONT_NODE, BACK_NODE, BACK_INFERRED)]
    xray.add("get_retrieved_traces_graph", {"RetrievalStatus": "COMPLETE", "Services": [{"Service": s, "Links": []} for s in second]}, {"RetrievalToken": "t2"})
    failed, result = run_module(xray_service_graph_info, {"transaction_search": "auto", "merge_same_name": False})
    assert not failed, result
    assert result["source"] == "GetRetrievedTracesGraph" and result["trace_segment_destination"] == "CloudWatchLogs"
    assert result["retrieved_traces"] == 150 and result["retrieval_truncated"] is False
    # Both retrievals' nodes are one node each, even without merge_same_name: reference IDs were made consistent.
    front = by(result["services"], name=FRONT, client=False)
    assert front["requests"] == 200 and front["faults"] == 10
    assert len([s for s in result["services"] if s["name"] == BACK]) == 2  # the service and the inferred remote node
    edge = by(result["edges"], source=FRONT, target=BACK, target_types=[])
    assert edge["requests"] == 190
    assert xray.sleeps == [1]
    xray.assert_done()


def test_retrieval_is_bounded_and_reports_truncation(xray, run_module):
    ids = trace_ids(5)
    xray.logs.add_response(
        "filter_log_events", {"events": span_events(ids)}, {"logGroupName": "aws/spans", "startTime": int((NOW - 600) * 1000), "endTime": int(NOW * 1000)}
    )
    xray.add("start_trace_retrieval", {"RetrievalToken": "t1"}, dict(WINDOW, TraceIds=ids[:2]))
    xray.add(
        "get_retrieved_traces_graph",
        {"RetrievalStatus": "COMPLETE", "Services": [{"Service": s} for s in (CLIENT, FRONT_NODE, BACK_NODE)]},
        {"RetrievalToken": "t1"},
    )
    failed, result = run_module(xray_service_graph_info, {"transaction_search": "retrieve", "max_retrieved_traces": 2})
    assert not failed, result
    assert result["retrieved_traces"] == 2 and result["retrieval_truncated"] is True
    assert "GetTraceSegmentDestination" not in xray.calls
    xray.assert_done()


def test_retrieval_that_fails_is_reported(xray, run_module):
    ids = trace_ids(1)
    xray.logs.add_response(
        "filter_log_events", {"events": span_events(ids)}, {"logGroupName": "aws/spans", "startTime": int((NOW - 600) * 1000), "endTime": int(NOW * 1000)}
    )
    xray.add("start_trace_retrieval", {"RetrievalToken": "t1"}, dict(WINDOW, TraceIds=ids))
    xray.add("get_retrieved_traces_graph", {"RetrievalStatus": "FAILED"}, {"RetrievalToken": "t1"})
    failed, result = run_module(xray_service_graph_info, {"transaction_search": "retrieve"})
    assert failed
    assert "trace retrieval of 1 traces ended FAILED" in result["msg"]


def test_no_spans_log_group_is_an_empty_graph(xray, run_module):
    xray.logs.add_client_error("filter_log_events", "ResourceNotFoundException", "The specified log group does not exist.", 400)
    failed, result = run_module(xray_service_graph_info, {"transaction_search": "retrieve"})
    assert not failed, result
    assert result["services"] == [] and result["retrieved_traces"] == 0
    assert xray.calls == ["FilterLogEvents"]


def test_group_or_unreadable_destination_falls_back_to_the_service_graph(xray, run_module):
    xray.add("get_service_graph", {"Services": [], "ContainsOldGroupVersions": False}, dict(WINDOW, GroupName="slow"))
    failed, result = run_module(xray_service_graph_info, {"transaction_search": "auto", "group_name": "slow"})
    assert not failed and result["source"] == "GetServiceGraph", result
    assert any("no group filter" in w for w in result["warnings"])

    xray.error("get_trace_segment_destination", "AccessDeniedException", "not allowed", 403)
    xray.add("get_service_graph", {"Services": [], "ContainsOldGroupVersions": False}, WINDOW)
    failed, result = run_module(xray_service_graph_info, {"transaction_search": "auto"})
    assert not failed and result["source"] == "GetServiceGraph", result
    assert any("Could not read the trace segment destination" in w for w in result["warnings"])


@pytest.mark.parametrize(
    "args, message",
    [
        ({"max_retrieved_traces": 0}, "max_retrieved_traces=0 is out of range"),
        ({"retrieval_timeout": -1}, "retrieval_timeout=-1 is out of range"),
        ({"transaction_search": "always"}, "transaction_search"),
    ],
)
def test_bad_retrieval_options_are_refused_before_any_call(xray, run_module, args, message):
    failed, result = run_module(xray_service_graph_info, args)
    assert failed and message in result["msg"]
    assert xray.calls == []
