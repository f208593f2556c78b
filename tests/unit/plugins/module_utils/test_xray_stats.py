"""Unit tests for module_utils.xray_stats (time windows, histogram percentiles, graph and trace summaries)."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.tracing.xray.plugins.module_utils import xray_stats as xs

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    "value, expected",
    [
        ("now", NOW),
        ("-15m", NOW - 900),
        ("- 2 hours", NOW - 7200),
        ("-30s", NOW - 30),
        ("-1d", NOW - 86400),
        ("1700000000", 1_700_000_000.0),
        ("1700000000.25", 1_700_000_000.25),
        (1_700_000_000, 1_700_000_000.0),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),
        ("2023-11-15T00:13:20+02:00", 1_700_000_000.0),
    ],
)
def test_parse_time_forms(value, expected):
    assert xs.parse_time(value, "start_time", NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value, message",
    [("", "must not be empty"), ("soon", "is not a time"), (True, "boolean"), (-1, "non-negative"), ("+5m", "is not a time")],
)
def test_parse_time_refuses(value, message):
    with pytest.raises(xs.WindowError, match=message):
        xs.parse_time(value, "start_time", NOW)


def test_resolve_window():
    assert xs.resolve_window(None, None, 10, NOW) == (NOW - 600, NOW)
    assert xs.resolve_window(None, "-1h", 0.5, NOW) == (NOW - 3630, NOW - 3600)
    assert xs.resolve_window("-5m", None, None, NOW) == (NOW - 300, NOW)
    with pytest.raises(xs.WindowError, match="must be earlier"):
        xs.resolve_window("now", None, 10, NOW)
    with pytest.raises(xs.WindowError, match="window_minutes"):
        xs.resolve_window(None, None, -1, NOW)
    with pytest.raises(xs.WindowError, match="at most 6 hours"):
        xs.resolve_window("-7h", None, None, NOW, max_hours=6)


def test_iso_and_to_epoch():
    assert xs.iso(1_700_000_000.9) == "2023-11-14T22:13:20Z"
    assert xs.iso(None) is None
    assert xs.to_epoch(datetime.datetime(2023, 11, 14, 22, 13, 20)) == 1_700_000_000.0
    assert xs.to_epoch(5) == 5.0


def test_histogram_percentile_nearest_rank():
    histogram = [{"Value": 0.003, "Count": 1}, {"Value": 0.001, "Count": 8}, {"Value": 0.002, "Count": 1}, {"Value": 0.5, "Count": 0}]
    assert xs.histogram_percentile(histogram, 50) == 0.001
    assert xs.histogram_percentile(histogram, 80) == 0.001
    assert xs.histogram_percentile(histogram, 81) == 0.002
    assert xs.histogram_percentile(histogram, 90) == 0.002
    assert xs.histogram_percentile(histogram, 100) == 0.003
    assert xs.histogram_percentile([], 50) is None
    assert xs.histogram_percentile([{"Value": 1, "Count": 0}], 50) is None


def test_merge_histograms():
    merged = xs.merge_histograms([{"Value": 0.1, "Count": 1}], [{"Value": 0.1, "Count": 2}, {"Value": 0.05, "Count": 1}], None)
    assert merged == [{"Value": 0.05, "Count": 1}, {"Value": 0.1, "Count": 3}]


def test_summary_statistics_without_other_count():
    statistics = {"TotalCount": 10, "OkCount": 6, "ErrorStatistics": {"TotalCount": 3, "ThrottleCount": 1},
                  "FaultStatistics": {"TotalCount": 1}, "TotalResponseTime": 0.5}
    counts = xs.add_summary_statistics(xs._empty_counts(), statistics)
    assert (counts["requests"], counts["ok"], counts["errors"], counts["throttles"], counts["faults"]) == (10, 6, 2, 1, 1)
    done = xs.finish_counts(counts, [], 0, (50,))
    assert done["failed_percent"] == 40.0 and done["requests_per_minute"] is None and done["average_latency_ms"] == 50.0
    assert done["latency_ms"] == {"p50": None}


def test_graph_with_two_roots_one_clients_node_and_unknown_edge_targets():
    services = [
        {"ReferenceId": 0, "Name": "a", "Type": "client", "Edges": [{"ReferenceId": 2, "SummaryStatistics": {"TotalCount": 3, "OkCount": 3}}]},
        {"ReferenceId": 1, "Name": "b", "Type": "client", "Edges": [{"ReferenceId": 3, "SummaryStatistics": {"TotalCount": 4, "OkCount": 4}}]},
        {"ReferenceId": 2, "Name": "a", "Root": True, "SummaryStatistics": {"TotalCount": 3, "OkCount": 3}, "Edges": [{"ReferenceId": 99}]},
        {"ReferenceId": 3, "Names": ["b", "b2"], "Root": True, "SummaryStatistics": {"TotalCount": 4, "OkCount": 4}, "Edges": []},
    ]
    out, edges = xs.summarize_graph(services, 0, 120)
    assert [s["name"] for s in out] == ["clients", "a", "b,b2"]
    assert out[0]["reference_ids"] == [0, 1] and out[0]["types"] == ["client"]
    assert [(e["source"], e["target"], e["requests"], e["requests_per_minute"]) for e in edges] == [("clients", "a", 3, 1.5), ("clients", "b,b2", 4, 2.0)]


def test_trace_summary_percentiles_and_empty():
    summaries = [{"Duration": d / 1000.0, "ResponseTime": d / 2000.0, "HasFault": d > 8} for d in range(1, 11)]
    out = xs.summarize_traces(summaries, 0, 60)
    assert out["traces"] == 10 and out["with_fault"] == 2 and out["ok"] == 8 and out["traces_per_minute"] == 10.0
    assert out["duration_ms"] == {"average": 5.5, "max": 10.0, "p50": 5.0, "p90": 9.0, "p99": 10.0}
    assert out["response_time_ms"]["p50"] == 2.5
    empty = xs.summarize_traces([], 0, 60)
    assert empty["traces"] == 0 and empty["fault_percent"] == 0.0 and empty["duration_ms"]["p90"] is None
