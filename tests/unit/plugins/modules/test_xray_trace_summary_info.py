"""Unit tests for tracing.xray.xray_trace_summary_info against a Stubber on a real botocore X-Ray client."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.tracing.xray.plugins.modules import xray_trace_summary_info

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
FRONT = "x-ray-sample-front-k8s"
BACK = "x-ray-sample-back-k8s"


def summary(n, duration, response_time=None, fault=False, error=False, throttle=False, status=200, services=(FRONT, BACK), annotations=None):
    body = {
        "Id": f"1-6b000000-{n:024x}",
        "Duration": duration,
        "ResponseTime": response_time if response_time is not None else duration,
        "HasFault": fault,
        "HasError": error,
        "HasThrottle": throttle,
        "IsPartial": False,
        "Http": {"HttpURL": "http://127.0.0.1:8080/api", "HttpStatus": status, "HttpMethod": "GET"},
        "ServiceIds": [{"Name": name, "Names": [name], "Type": "remote" if fault and name == BACK else None} for name in services],
        "Annotations": annotations or {},
        "StartTime": datetime.datetime.fromtimestamp(NOW - 100 + n, tz=datetime.timezone.utc),
    }
    for service_id in body["ServiceIds"]:
        if service_id["Type"] is None:
            del service_id["Type"]
    return body


PAGE1 = [summary(1, 0.010), summary(2, 0.020), summary(3, 0.004, fault=True, status=502)]
PAGE2 = [
    summary(4, 0.008, error=True, status=404, services=(FRONT,)),
    summary(5, 0.012, annotations={"Random_Value": [{"AnnotationValue": {"NumberValue": 7}}]}),
]


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(xray_trace_summary_info.time, "time", lambda: NOW)


def test_all_pages_with_filter_summarised(xray, run_module):
    expected = {"StartTime": NOW - 600, "EndTime": NOW, "TimeRangeType": "Event", "FilterExpression": f'service("{FRONT}")'}
    # copies: botocore's build_full_result extends the first page's list in place
    xray.add("get_trace_summaries", {"TraceSummaries": list(PAGE1), "NextToken": "p2", "TracesProcessedCount": 5,
                                     "ApproximateTime": datetime.datetime.fromtimestamp(NOW - 5, tz=datetime.timezone.utc)}, expected)
    xray.add("get_trace_summaries", {"TraceSummaries": list(PAGE2), "TracesProcessedCount": 5}, dict(expected, NextToken="p2"))
    failed, result = run_module(xray_trace_summary_info, {"time_range_type": "Event", "filter_expression": f'service("{FRONT}")'})
    assert not failed, result
    assert xray.calls == ["GetTraceSummaries", "GetTraceSummaries"]
    assert result["changed"] is False
    assert result["truncated"] is False
    assert result["traces_processed_count"] == 5
    assert result["approximate_time"] == "2027-01-15T07:59:55Z"
    assert result["trace_ids"] == [s["Id"] for s in PAGE1 + PAGE2]
    s = result["summary"]
    assert (s["traces"], s["ok"], s["with_fault"], s["with_error"], s["with_throttle"], s["partial"]) == (5, 3, 1, 1, 0, 0)
    assert s["fault_percent"] == 20.0 and s["error_percent"] == 20.0 and s["throttle_percent"] == 0.0
    assert s["traces_per_minute"] == 0.5
    assert s["duration_ms"] == {"average": 10.8, "max": 20.0, "p50": 10.0, "p90": 20.0, "p99": 20.0}
    assert s["services"] == {BACK: 4, FRONT: 5}
    assert s["http_status"] == {"200": 3, "404": 1, "502": 1}
    traces = result["traces"]
    assert traces[2]["has_fault"] is True and traces[2]["http"]["http_status"] == 502
    assert traces[4]["annotations"] == {"Random_Value": [{"AnnotationValue": {"NumberValue": 7}}]}  # names kept
    assert traces[0]["start_time"].startswith("2027-01-15T07:58:21")
    xray.assert_done()


def test_max_traces_truncates_and_stops_reading(xray, run_module):
    xray.add("get_trace_summaries", {"TraceSummaries": list(PAGE1), "NextToken": "p2"}, {"StartTime": NOW - 600, "EndTime": NOW})
    failed, result = run_module(xray_trace_summary_info, {"max_traces": 2, "include_traces": False})
    assert not failed, result
    assert xray.calls == ["GetTraceSummaries"]
    assert result["truncated"] is True
    assert result["trace_ids"] == [PAGE1[0]["Id"], PAGE1[1]["Id"]]
    assert result["summary"]["traces"] == 2
    assert "traces" not in result


def test_explicit_window_and_sampling(xray, run_module):
    xray.add("get_trace_summaries", {"TraceSummaries": []},
             {"StartTime": 1_700_000_000.0, "EndTime": 1_700_000_060.5, "Sampling": True})
    failed, result = run_module(xray_trace_summary_info, {"start_time": "2023-11-14T22:13:20+00:00", "end_time": "1700000060.5", "sampling": True})
    assert not failed, result
    assert result["summary"]["traces"] == 0
    assert result["summary"]["duration_ms"]["average"] is None
    assert result["summary"]["traces_per_minute"] == round(0 / 1.0083, 2)


def test_relative_window(xray, run_module):
    xray.add("get_trace_summaries", {"TraceSummaries": [summary(1, 0.01)]}, {"StartTime": NOW - 7200, "EndTime": NOW - 3600})
    failed, result = run_module(xray_trace_summary_info, {"start_time": "-2h", "end_time": "-1h"})
    assert not failed, result
    assert result["start_time"] == "2027-01-15T06:00:00Z"
    assert result["summary"]["traces_per_minute"] == round(1 / 60, 2)


@pytest.mark.parametrize(
    "args, message",
    [
        ({"start_time": "now"}, "must be earlier than end_time"),
        ({"end_time": "2027-13-01"}, "end_time='2027-13-01' is not a time"),
        ({"max_traces": 0}, "max_traces must be at least 1"),
        ({"filter_expression": "  "}, "filter_expression must not be empty"),
        ({"percentiles": [0]}, "percentiles must each be greater than 0"),
        ({"time_range_type": "Trace"}, "time_range_type"),
    ],
)
def test_bad_input_fails_before_any_call(xray, run_module, args, message):
    failed, result = run_module(xray_trace_summary_info, args)
    assert failed
    assert message in result["msg"]
    assert xray.calls == []


def test_both_throttling_codes_are_retried(xray, run_module):
    params = {"StartTime": NOW - 600, "EndTime": NOW}
    xray.error("get_trace_summaries", "ThrottledException", "slow down", status=429, expected=params)
    xray.error("get_trace_summaries", "ThrottlingException", "Rate exceeded", status=400, expected=params)
    xray.add("get_trace_summaries", {"TraceSummaries": list(PAGE2)}, params)
    failed, result = run_module(xray_trace_summary_info, {})
    assert not failed, result
    assert len(xray.sleeps) == 2
    assert result["summary"]["traces"] == 2


def test_invalid_filter_expression_is_reported(xray, run_module):
    xray.error("get_trace_summaries", "InvalidRequestException", "Invalid filter expression",
               expected={"StartTime": NOW - 600, "EndTime": NOW, "FilterExpression": "service(("})
    failed, result = run_module(xray_trace_summary_info, {"filter_expression": "service(("})
    assert failed
    assert "GetTraceSummaries" in result["msg"] and "Invalid filter expression" in result["msg"]
    assert xray.calls == ["GetTraceSummaries"]
