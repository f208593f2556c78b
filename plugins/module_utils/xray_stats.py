# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Time windows and statistics for the read-only X-Ray modules (service graph, trace summaries).

Pure functions, no AWS calls: the modules fetch with ``module_utils.xray`` and summarise with these.

- ``resolve_window()``: ``start_time``/``end_time``/``window_minutes`` options -> epoch seconds, validated.
- ``histogram_percentile()``: a percentile from X-Ray's ``[{Value, Count}]`` histograms (nearest rank).
- ``summarize_graph()``: GetServiceGraph ``Services`` -> per-service and per-edge summaries (requests,
  ok/error/throttle/fault counts and percentages, requests per minute, average and percentile latency).
- ``summarize_traces()``: GetTraceSummaries ``TraceSummaries`` -> counts, rates, duration percentiles.
- ``combine_graphs()``: several ``Services`` lists (trace retrievals) -> one, reference IDs made consistent.
"""

from __future__ import annotations

import datetime
import math
import re

CLIENT_NAME = "clients"
DEFAULT_PERCENTILES = (50.0, 90.0, 99.0)

_RELATIVE = re.compile(r"^\s*-\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hour|d|day)s?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


class WindowError(ValueError):
    """A time option that cannot be used; the message names the option and what is allowed."""


# --- time -------------------------------------------------------------------------------------------------


def parse_time(value, field, now):
    """Epoch seconds from ``now``, an ISO 8601 date-time (UTC when no offset), epoch seconds, or ``-<n><unit>``.

    Units of the relative form: s, m, h, d (``-15m`` is fifteen minutes before ``now``).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise WindowError(f"{field}: expected a date-time, got a boolean")
    if isinstance(value, (int, float)):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise WindowError(f"{field}: epoch seconds must be a finite, non-negative number, got {value!r}")
        return number
    text = str(value).strip()
    if not text:
        raise WindowError(f"{field} must not be empty: give an ISO 8601 date-time, epoch seconds, 'now' or a relative time like '-15m'")
    if text.lower() == "now":
        return float(now)
    match = _RELATIVE.match(text)
    if match:
        return float(now) - float(match.group(1)) * _UNITS[match.group(2).lower()]
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        return parse_time(number, field, now)
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        parsed = datetime.datetime.fromisoformat(iso)
    except ValueError:
        raise WindowError(
            f"{field}={text!r} is not a time: give an ISO 8601 date-time (2026-01-31T12:00:00Z), epoch seconds, 'now' or a relative time like '-15m'"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def resolve_window(start_time, end_time, window_minutes, now, max_hours=None):
    """(start, end) in epoch seconds from the module options; raises WindowError with a clear message."""
    end = parse_time(end_time, "end_time", now) if end_time is not None else float(now)
    if start_time is not None:
        start = parse_time(start_time, "start_time", now)
    else:
        if window_minutes is None or window_minutes <= 0:
            raise WindowError(f"window_minutes must be a positive number of minutes, got {window_minutes!r}")
        start = end - float(window_minutes) * 60.0
    if start >= end:
        raise WindowError(f"start_time ({iso(start)}) must be earlier than end_time ({iso(end)})")
    if max_hours is not None and end - start > max_hours * 3600.0:
        raise WindowError(f"the time window is {(end - start) / 3600.0:.1f} hours long: X-Ray allows at most {max_hours:g} hours per call")
    return start, end


def iso(epoch):
    """ISO 8601 UTC (seconds precision) of epoch seconds; None stays None."""
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(float(epoch), tz=datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def to_epoch(value):
    """Epoch seconds of a boto3 timestamp (datetime) or number; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    return float(value)


# --- statistics -------------------------------------------------------------------------------------------


def histogram_percentile(histogram, pct):
    """Nearest-rank percentile (seconds) of ``[{Value, Count}]``; None for an empty histogram."""
    points = sorted((float(h.get("Value", 0.0)), int(h.get("Count", 0))) for h in histogram or [] if int(h.get("Count", 0)) > 0)
    total = sum(point[1] for point in points)
    if total == 0:
        return None
    rank = max(1, int(math.ceil(total * float(pct) / 100.0)))
    seen = 0
    for value, count in points:
        seen += count
        if seen >= rank:
            return value
    return points[-1][0]


def merge_histograms(*histograms):
    counts = {}
    for histogram in histograms:
        for point in histogram or []:
            value = float(point.get("Value", 0.0))
            counts[value] = counts.get(value, 0) + int(point.get("Count", 0))
    return [{"Value": value, "Count": count} for value, count in sorted(counts.items())]


def _empty_counts():
    return {"requests": 0, "ok": 0, "errors": 0, "throttles": 0, "faults": 0, "total_response_time": 0.0}


def add_summary_statistics(counts, stats):
    """Add X-Ray ``SummaryStatistics`` (service or edge) into ``counts`` (see ``_empty_counts``)."""
    stats = stats or {}
    error = stats.get("ErrorStatistics") or {}
    fault = stats.get("FaultStatistics") or {}
    throttles = int(error.get("ThrottleCount") or 0)
    errors = int(error.get("OtherCount") if error.get("OtherCount") is not None else max(0, int(error.get("TotalCount") or 0) - throttles))
    counts["ok"] += int(stats.get("OkCount") or 0)
    counts["errors"] += errors
    counts["throttles"] += throttles
    counts["faults"] += int(fault.get("TotalCount") or 0)
    counts["requests"] += int(stats.get("TotalCount") or 0)
    counts["total_response_time"] += float(stats.get("TotalResponseTime") or 0.0)
    return counts


def _percent(part, whole):
    return round(100.0 * part / whole, 2) if whole else 0.0


def _ms(seconds):
    return None if seconds is None else round(float(seconds) * 1000.0, 3)


def pct_key(pct):
    """'p50', 'p99', 'p99.9'."""
    return "p" + (f"{pct:g}")


def finish_counts(counts, histogram, minutes, percentiles):
    """The reported statistics of one service or edge."""
    requests = counts["requests"]
    return {
        "requests": requests,
        "ok": counts["ok"],
        "errors": counts["errors"],
        "throttles": counts["throttles"],
        "faults": counts["faults"],
        "error_percent": _percent(counts["errors"], requests),
        "throttle_percent": _percent(counts["throttles"], requests),
        "fault_percent": _percent(counts["faults"], requests),
        "failed_percent": _percent(counts["errors"] + counts["throttles"] + counts["faults"], requests),
        "requests_per_minute": round(requests / minutes, 2) if minutes > 0 else None,
        "average_latency_ms": _ms(counts["total_response_time"] / requests) if requests else None,
        "latency_ms": {pct_key(p): _ms(histogram_percentile(histogram, p)) for p in percentiles},
    }


def combine_graphs(graphs):
    """One ``Services`` list from several graphs (for example one per trace retrieval).

    Reference IDs are only unique within one graph: every node gets a new one shared by the nodes of the same
    name and type in all graphs, edges are renumbered with it, so ``summarize_graph`` adds them up as one node.
    """
    ids = {}
    combined = []
    for services in graphs:
        local = {}
        for service in services or []:
            local[service.get("ReferenceId")] = ids.setdefault((service.get("Name"), service.get("Type")), len(ids))
        for service in services or []:
            copy = dict(service, ReferenceId=local[service.get("ReferenceId")])
            copy["Edges"] = [dict(edge, ReferenceId=local.get(edge.get("ReferenceId"), -1)) for edge in service.get("Edges") or []]
            combined.append(copy)
    return combined


def summarize_graph(services, start, end, merge_same_name=True, percentiles=DEFAULT_PERCENTILES):
    """(services, edges) summaries of GetServiceGraph ``Services``.

    Nodes of type ``client`` become one node named ``clients``. With ``merge_same_name`` the other nodes
    are keyed by name, so a service and the inferred ``remote`` node X-Ray adds for calls to it that no
    segment answered (calls to a back end that was down) count as one service, and their edges as one.
    """
    minutes = max(0.0, (float(end) - float(start)) / 60.0)
    services = services or []

    def key_of(service):
        if service.get("Type") == "client":
            return CLIENT_NAME
        name = service.get("Name") or ",".join(service.get("Names") or []) or f"#{service.get('ReferenceId')}"
        return name if merge_same_name else f"{name}#{service.get('ReferenceId')}"

    by_ref = {s.get("ReferenceId"): s for s in services}
    nodes = {}
    order = []
    for service in services:
        key = key_of(service)
        if key not in nodes:
            order.append(key)
            nodes[key] = {
                "name": CLIENT_NAME if key == CLIENT_NAME else (service.get("Name") or key),
                "names": [],
                "types": [],
                "reference_ids": [],
                "root": False,
                "client": key == CLIENT_NAME,
                "account_id": service.get("AccountId"),
                "states": [],
                "start": None,
                "end": None,
                "counts": _empty_counts(),
                "histograms": [],
            }
        node = nodes[key]
        for name in service.get("Names") or ([service["Name"]] if service.get("Name") else []):
            if name not in node["names"]:
                node["names"].append(name)
        node_type = service.get("Type")
        if node_type and node_type not in node["types"]:
            node["types"].append(node_type)
        node["reference_ids"].append(service.get("ReferenceId"))
        node["root"] = node["root"] or bool(service.get("Root"))
        if service.get("State") and service["State"] not in node["states"]:
            node["states"].append(service["State"])
        node["account_id"] = node["account_id"] or service.get("AccountId")
        for bound, pick in (("start", min), ("end", max)):
            value = to_epoch(service.get("StartTime" if bound == "start" else "EndTime"))
            if value is not None:
                node[bound] = value if node[bound] is None else pick(node[bound], value)
        if node_type != "client":
            add_summary_statistics(node["counts"], service.get("SummaryStatistics"))
            node["histograms"].append(service.get("ResponseTimeHistogram") or [])

    edges = {}
    edge_order = []
    for service in services:
        source = key_of(service)
        for edge in service.get("Edges") or []:
            target_service = by_ref.get(edge.get("ReferenceId"))
            if target_service is None:
                continue
            target = key_of(target_service)
            pair = (source, target)
            if pair not in edges:
                edge_order.append(pair)
                edges[pair] = {"counts": _empty_counts(), "histograms": [], "target_types": [], "edge_types": [], "aliases": []}
            item = edges[pair]
            add_summary_statistics(item["counts"], edge.get("SummaryStatistics"))
            item["histograms"].append(edge.get("ResponseTimeHistogram") or [])
            target_type = target_service.get("Type")
            if target_type and target_type not in item["target_types"]:
                item["target_types"].append(target_type)
            if edge.get("EdgeType") and edge["EdgeType"] not in item["edge_types"]:
                item["edge_types"].append(edge["EdgeType"])
            for alias in edge.get("Aliases") or []:
                if alias.get("Name") and alias["Name"] not in item["aliases"]:
                    item["aliases"].append(alias["Name"])

    out_services = []
    for key in order:
        node = nodes[key]
        result = {
            "name": node["name"],
            "names": node["names"],
            "types": node["types"],
            "reference_ids": node["reference_ids"],
            "root": node["root"],
            "client": node["client"],
            "account_id": node["account_id"],
            "states": node["states"],
            "start_time": iso(node["start"]),
            "end_time": iso(node["end"]),
        }
        result.update(finish_counts(node["counts"], merge_histograms(*node["histograms"]), minutes, percentiles))
        out_services.append(result)

    out_edges = []
    for pair in edge_order:
        item = edges[pair]
        result = {
            "source": nodes[pair[0]]["name"],
            "target": nodes[pair[1]]["name"],
            "target_types": item["target_types"],
            "edge_types": item["edge_types"],
            "aliases": item["aliases"],
        }
        result.update(finish_counts(item["counts"], merge_histograms(*item["histograms"]), minutes, percentiles))
        out_edges.append(result)
    return out_services, out_edges


def summarize_traces(summaries, start, end, percentiles=DEFAULT_PERCENTILES):
    """Counts, rates and percentiles of GetTraceSummaries ``TraceSummaries``."""
    summaries = summaries or []
    count = len(summaries)
    faults = sum(1 for s in summaries if s.get("HasFault"))
    errors = sum(1 for s in summaries if s.get("HasError"))
    throttles = sum(1 for s in summaries if s.get("HasThrottle"))
    partial = sum(1 for s in summaries if s.get("IsPartial"))
    ok = sum(1 for s in summaries if not (s.get("HasFault") or s.get("HasError") or s.get("HasThrottle")))
    services = {}
    statuses = {}
    for summary in summaries:
        for service_id in summary.get("ServiceIds") or []:
            name = service_id.get("Name") or ",".join(service_id.get("Names") or [])
            if name:
                services[name] = services.get(name, 0) + 1
        status = (summary.get("Http") or {}).get("HttpStatus")
        if status is not None:
            statuses[str(status)] = statuses.get(str(status), 0) + 1

    def dist(field):
        values = sorted(float(s[field]) for s in summaries if s.get(field) is not None)
        if not values:
            return {"average": None, "max": None, **{pct_key(p): None for p in percentiles}}
        out = {"average": _ms(sum(values) / len(values)), "max": _ms(values[-1])}
        for p in percentiles:
            rank = max(1, int(math.ceil(len(values) * float(p) / 100.0)))
            out[pct_key(p)] = _ms(values[min(rank, len(values)) - 1])
        return out

    minutes = max(0.0, (float(end) - float(start)) / 60.0)
    return {
        "traces": count,
        "ok": ok,
        "with_fault": faults,
        "with_error": errors,
        "with_throttle": throttles,
        "partial": partial,
        "fault_percent": _percent(faults, count),
        "error_percent": _percent(errors, count),
        "throttle_percent": _percent(throttles, count),
        "traces_per_minute": round(count / minutes, 2) if minutes > 0 else None,
        "duration_ms": dist("Duration"),
        "response_time_ms": dist("ResponseTime"),
        "services": dict(sorted(services.items())),
        "http_status": dict(sorted(statuses.items())),
    }
