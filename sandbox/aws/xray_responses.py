"""Hooks the X-Ray EMULATION into moto 5.2.5 without touching site-packages.

moto routes ``POST /<Operation path>`` of the xray service to ``moto.xray.urls.url_paths``; its
``XRayResponse`` turns the path into a method name (``/CreateGroup`` -> ``create_group``, ``/Groups`` ->
``groups``). ``register()`` adds the missing paths to that table (in memory) and points every xray path at
``SandboxXRayResponse``, a subclass that implements them. The same table serves moto's server mode (the
werkzeug app builds its routes from it when it first sees an xray request) and ``mock_aws``.

State lives on moto's own ``XRayBackend`` instance (attribute ``_sandbox_xray``), so it is per
account/region like moto's, and ``/moto-api/reset`` clears it together with the stored segments.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.xray import urls as xray_urls
from moto.xray.models import XRayBackend, xray_backends
from moto.xray.responses import XRayResponse

from .xray_account import SPANS_LOG_GROUP, SPANS_LOG_STREAM, indexed, span_document
from .xray_graph import Trace, build_graph, filter_traces, load_traces, trace_summaries
from .xray_store import (
    DEFAULT_DESTINATION_DELAY,
    DEFAULT_ENCRYPTION_DELAY,
    DEFAULT_PAGE_SIZE,
    DEFAULT_RETRIEVAL_DELAY,
    XRayApiError,
    XRayStore,
    invalid,
    paginate,
)

LOG = logging.getLogger("sandbox.aws.xray")
TRACE_SUMMARY_PAGE_SIZE = 100
RETRIEVED_TRACES_PAGE_SIZE = 5  # TraceSpanList: at most 5 traces per ListRetrievedTraces page
RETRIEVED_SPANS_MAX = 100  # SpanList: at most 100 spans per retrieved trace

_LOCK = threading.Lock()
_CONFIG: dict[str, Any] = {
    "page_size": DEFAULT_PAGE_SIZE,
    "encryption_delay": DEFAULT_ENCRYPTION_DELAY,
    "destination_delay": DEFAULT_DESTINATION_DELAY,
    "retrieval_delay": DEFAULT_RETRIEVAL_DELAY,
}

# Request path (botocore xray model requestUri) -> operation implemented here.
EXTENSION_PATHS = {
    "CreateGroup": "CreateGroup",
    "GetGroup": "GetGroup",
    "Groups": "GetGroups",
    "UpdateGroup": "UpdateGroup",
    "DeleteGroup": "DeleteGroup",
    "TagResource": "TagResource",
    "UntagResource": "UntagResource",
    "ListTagsForResource": "ListTagsForResource",
    "CreateSamplingRule": "CreateSamplingRule",
    "GetSamplingRules": "GetSamplingRules",
    "UpdateSamplingRule": "UpdateSamplingRule",
    "DeleteSamplingRule": "DeleteSamplingRule",
    "SamplingTargets": "GetSamplingTargets",
    "PutEncryptionConfig": "PutEncryptionConfig",
    "EncryptionConfig": "GetEncryptionConfig",
    "ServiceGraph": "GetServiceGraph",
    "TraceGraph": "GetTraceGraph",
    "TraceSummaries": "GetTraceSummaries",
    "UpdateTraceSegmentDestination": "UpdateTraceSegmentDestination",
    "GetTraceSegmentDestination": "GetTraceSegmentDestination",
    "GetIndexingRules": "GetIndexingRules",
    "UpdateIndexingRule": "UpdateIndexingRule",
    "PutResourcePolicy": "PutResourcePolicy",
    "ListResourcePolicies": "ListResourcePolicies",
    "DeleteResourcePolicy": "DeleteResourcePolicy",
    "StartTraceRetrieval": "StartTraceRetrieval",
    "ListRetrievedTraces": "ListRetrievedTraces",
    "GetRetrievedTracesGraph": "GetRetrievedTracesGraph",
    "CancelTraceRetrieval": "CancelTraceRetrieval",
}


def get_store(backend: XRayBackend) -> XRayStore:
    with _LOCK:
        store = backend.__dict__.get("_sandbox_xray")
        if store is None:
            store = XRayStore(backend.account_id, backend.region_name, **_CONFIG)
            backend._sandbox_xray = store  # type: ignore[attr-defined]
        return store


def _timestamp(params: dict[str, Any], key: str, path: str, required: bool = True) -> float | None:
    """rest-json timestamps arrive as epoch seconds (botocore's default); ISO 8601 is accepted too."""
    value = params.get(key)
    if value is None:
        if required:
            raise invalid(f"Missing required parameter: {path}")
        return None
    if isinstance(value, bool):
        raise invalid(f"Invalid type for parameter {path}: expected a timestamp")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise invalid(f"Invalid timestamp for parameter {path}: {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    raise invalid(f"Invalid type for parameter {path}: expected a timestamp")


def _doc_id_in(raw: Any, ids: set[str]) -> bool:
    try:
        doc = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return False
    return isinstance(doc, dict) and str(doc.get("id")) in ids


class MotoLogs:
    """CloudWatch Logs as X-Ray sees it under Transaction Search: moto's logs backend of the same account/region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def _backend(self) -> Any:
        from moto.logs.models import logs_backends

        return logs_backends[self.account_id][self.region]

    def resource_policies(self) -> list[tuple[str, str]]:
        return [(p.policy_name, p.policy_document) for p in list(self._backend().resource_policies.values())]

    def spans_group_exists(self) -> bool:
        return SPANS_LOG_GROUP in self._backend().groups

    def ensure_spans_group(self, kms_key_id: str | None) -> None:
        backend = self._backend()
        if SPANS_LOG_GROUP not in backend.groups:
            kwargs = {"kmsKeyId": kms_key_id} if kms_key_id else {}
            backend.create_log_group(SPANS_LOG_GROUP, {}, **kwargs)

    def write_spans(self, events: list[dict[str, Any]]) -> None:
        """Append span log events (``timestamp`` ms, ``message``) to ``aws/spans``; events older than moto's
        14 days are dropped by moto, as CloudWatch Logs drops them."""
        if not events:
            return
        self.ensure_spans_group(None)
        backend = self._backend()
        group = backend.groups[SPANS_LOG_GROUP]
        if SPANS_LOG_STREAM not in group.streams:
            backend.create_log_stream(SPANS_LOG_GROUP, SPANS_LOG_STREAM)
        backend.put_log_events(SPANS_LOG_GROUP, SPANS_LOG_STREAM, sorted(events, key=lambda e: e["timestamp"]))


def _span_events(docs: list[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """(log events for ``aws/spans``, trace IDs) from the PutTraceSegments documents moto accepted."""
    events, trace_ids = [], []
    for raw in docs:
        try:
            doc = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("trace_id"), str) or doc.get("start_time") is None:
            continue
        trace_ids.append(doc["trace_id"])
        try:
            when = float(doc.get("end_time") or doc["start_time"])
        except (TypeError, ValueError):
            continue
        events.append({"timestamp": int(when * 1000), "message": json.dumps(span_document(doc, doc["trace_id"]), separators=(",", ":"))})
    return events, trace_ids


def visible_traces(store: XRayStore, traces: list[Trace]) -> list[Trace]:
    """What X-Ray's own trace APIs see: traces ingested under Transaction Search only in the indexed share."""
    with store.lock:
        hidden = {t for t, is_indexed in store.span_traces.items() if not is_indexed}
    return [t for t in traces if t.trace_id not in hidden]


def _retrieved_traces(store: XRayStore, backend: XRayBackend, record: dict[str, Any]) -> list[Trace]:
    """The traces of a retrieval: requested IDs that reached ``aws/spans`` and overlap [StartTime, EndTime]."""
    with store.lock:
        wanted = [t for t in record["TraceIds"] if t in store.span_traces]
    out = []
    for trace in load_traces(backend._segment_collection, wanted):
        if not trace.segments:
            continue
        first = min(float(s["start_time"]) for s in trace.segments)
        last = max(float(s["end_time"]) for s in trace.segments)
        if first <= record["EndTime"] and last >= record["StartTime"]:
            out.append(trace)
    return out


def _raw_documents(backend: XRayBackend, trace_id: str) -> list[dict[str, Any]]:
    """Every document stored for a trace, one per id (the complete one when there is one), as sent."""
    entry = backend._segment_collection._traces.get(trace_id) or {}
    by_id: dict[str, dict[str, Any]] = {}
    for segment in list(entry.get("segments", [])):
        try:
            doc = json.loads(segment.raw)
        except (TypeError, ValueError):
            continue
        if isinstance(doc, dict):
            key = str(doc.get("id"))
            if key not in by_id or doc.get("end_time") is not None:
                by_id[key] = doc
    return sorted(by_id.values(), key=lambda d: float(d.get("start_time") or 0))


class SandboxXRayResponse(XRayResponse):
    """moto's XRayResponse plus the EMULATED operations (see xray_store / xray_graph)."""

    def _params(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            params = json.loads(self.body)
        except ValueError:
            raise invalid("The request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise invalid("The request body must be a JSON object")
        return params

    def _run(self, operation: Callable[[XRayStore, dict[str, Any]], dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        try:
            result = operation(get_store(self.xray_backend), self._params())
        except XRayApiError as err:
            headers = {"status": err.status, "x-amzn-ErrorType": err.code, "content-type": "application/json"}
            return json.dumps(err.body()), headers
        return json.dumps(result), {"status": 200, "content-type": "application/json"}

    # Groups
    def create_group(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.create_group)

    def get_group(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.get_group)

    def groups(self) -> tuple[str, dict[str, Any]]:  # GetGroups: POST /Groups
        return self._run(XRayStore.get_groups)

    def update_group(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.update_group)

    def delete_group(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.delete_group)

    # Tags
    def tag_resource(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.tag_resource)

    def untag_resource(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.untag_resource)

    def list_tags_for_resource(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.list_tags_for_resource)

    # Sampling
    def create_sampling_rule(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.create_sampling_rule)

    def get_sampling_rules(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.get_sampling_rules)

    def update_sampling_rule(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.update_sampling_rule)

    def delete_sampling_rule(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.delete_sampling_rule)

    def sampling_targets(self) -> tuple[str, dict[str, Any]]:  # GetSamplingTargets: POST /SamplingTargets
        return self._run(XRayStore.get_sampling_targets)

    # Encryption
    def put_encryption_config(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.put_encryption_config)

    def encryption_config(self) -> tuple[str, dict[str, Any]]:  # GetEncryptionConfig: POST /EncryptionConfig
        return self._run(XRayStore.get_encryption_config)

    # Graphs (replace moto's always-empty versions)
    def service_graph(self) -> tuple[str, dict[str, Any]]:  # type: ignore[override]
        backend = self.xray_backend

        def operation(store: XRayStore, params: dict[str, Any]) -> dict[str, Any]:
            start = _timestamp(params, "StartTime", "startTime")
            end = _timestamp(params, "EndTime", "endTime")
            assert start is not None and end is not None
            if end <= start:
                raise invalid("EndTime must be later than StartTime")
            expression = None
            if params.get("GroupName") is not None or params.get("GroupARN") is not None:
                with store.lock:
                    expression = store.find_group(params).get("FilterExpression")
            traces, _honoured = filter_traces(visible_traces(store, load_traces(backend._segment_collection)), expression)
            services = build_graph(traces, store.account_id, start, end)
            # Everything fits in one page: NextToken is accepted and never returned.
            return {"StartTime": start, "EndTime": end, "Services": services, "ContainsOldGroupVersions": False}

        return self._run(operation)

    def trace_summaries(self) -> tuple[str, dict[str, Any]]:  # type: ignore[override]
        """GetTraceSummaries, replacing moto's (fixed ResponseTime, no ServiceIds/Http, no filters)."""
        backend = self.xray_backend

        def operation(store: XRayStore, params: dict[str, Any]) -> dict[str, Any]:
            start = _timestamp(params, "StartTime", "startTime")
            end = _timestamp(params, "EndTime", "endTime")
            assert start is not None and end is not None
            if end <= start:
                raise invalid("EndTime must be later than StartTime")
            time_range_type = params.get("TimeRangeType") or "TraceId"
            if time_range_type not in ("TraceId", "Event", "Service"):
                raise invalid(
                    f"1 validation error detected: Value '{time_range_type}' at 'timeRangeType' failed to satisfy constraint: "
                    "Member must satisfy enum value set: [TraceId, Event, Service]"
                )
            expression = params.get("FilterExpression")
            if expression is not None and not isinstance(expression, str):
                raise invalid("Invalid type for parameter filterExpression: expected a string")
            # Sampling / SamplingStrategy are accepted and ignored: every matching trace is returned.
            traces = visible_traces(store, load_traces(backend._segment_collection))
            summaries, processed = trace_summaries(traces, store.account_id, start, end, time_range_type, expression)
            page, nxt = paginate("trace-summaries", summaries, params.get("NextToken"), TRACE_SUMMARY_PAGE_SIZE, lambda s: (s["StartTime"], s["Id"]))
            out: dict[str, Any] = {"TraceSummaries": page, "ApproximateTime": time.time(), "TracesProcessedCount": processed}
            if nxt:
                out["NextToken"] = nxt
            return out

        return self._run(operation)

    def trace_graph(self) -> tuple[str, dict[str, Any]]:  # type: ignore[override]
        backend = self.xray_backend

        def operation(store: XRayStore, params: dict[str, Any]) -> dict[str, Any]:
            trace_ids = params.get("TraceIds")
            if not isinstance(trace_ids, list) or not all(isinstance(t, str) for t in trace_ids):
                raise invalid("Missing required parameter: traceIds (a list of trace IDs)")
            services = build_graph(visible_traces(store, load_traces(backend._segment_collection, trace_ids)), store.account_id)
            return {"Services": services}

        return self._run(operation)

    # Ingestion (PutTraceSegments: moto stores the documents; under Transaction Search they also go to aws/spans)
    def trace_segments(self) -> str | tuple[str, dict[str, int]]:  # type: ignore[override]
        result = super().trace_segments()
        if isinstance(result, tuple):
            return result
        store = get_store(self.xray_backend)
        if not store.spans_to_logs:
            return result
        try:
            unprocessed = {str(u.get("Id")) for u in json.loads(result).get("UnprocessedTraceSegments", [])}
            docs = [d for d in (self._get_param("TraceSegmentDocuments") or []) if not _doc_id_in(d, unprocessed)]
            events, trace_ids = _span_events(docs)
            with store.lock:
                percentage = store.indexing_percentage()
                for trace_id in trace_ids:
                    store.span_traces.setdefault(trace_id, indexed(trace_id, percentage))
            MotoLogs(store.account_id, store.region).write_spans(events)
        except Exception:  # noqa: BLE001 - ingestion must not fail because the span copy did
            LOG.exception("EMULATION: could not copy segments to CloudWatch Logs %s", SPANS_LOG_GROUP)
        return result

    # Transaction Search: destination and indexing rules
    def update_trace_segment_destination(self) -> tuple[str, dict[str, Any]]:
        def operation(store: XRayStore, params: dict[str, Any]) -> dict[str, Any]:
            return store.update_trace_segment_destination(params, MotoLogs(store.account_id, store.region))

        return self._run(operation)

    def get_trace_segment_destination(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.get_trace_segment_destination)

    def get_indexing_rules(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.get_indexing_rules)

    def update_indexing_rule(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.update_indexing_rule)

    # Resource policies
    def put_resource_policy(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.put_resource_policy)

    def list_resource_policies(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.list_resource_policies)

    def delete_resource_policy(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.delete_resource_policy)

    # Trace retrieval (Transaction Search)
    def start_trace_retrieval(self) -> tuple[str, dict[str, Any]]:
        def operation(store: XRayStore, params: dict[str, Any]) -> dict[str, Any]:
            start = _timestamp(params, "StartTime", "startTime")
            end = _timestamp(params, "EndTime", "endTime")
            assert start is not None and end is not None
            return store.start_trace_retrieval(params, start, end)

        return self._run(operation)

    def list_retrieved_traces(self) -> tuple[str, dict[str, Any]]:
        backend = self.xray_backend

        def operation(store: XRayStore, params: dict[str, Any]) -> dict[str, Any]:
            with store.lock:
                record, status = store.retrieval(params)
            trace_format = params.get("TraceFormat") or "XRAY"
            if trace_format not in ("XRAY", "OTEL"):
                raise invalid(
                    f"1 validation error detected: Value '{trace_format}' at 'traceFormat' failed to satisfy constraint: "
                    "Member must satisfy enum value set: [XRAY, OTEL]"
                )
            out: dict[str, Any] = {"RetrievalStatus": status}
            if status != "COMPLETE":
                return out  # "When the RetrievalStatus is not COMPLETE, the API will return an empty response."
            items = []
            for trace in _retrieved_traces(store, backend, record):
                docs = _raw_documents(backend, trace.trace_id)[:RETRIEVED_SPANS_MAX]
                spans = [
                    {"Id": str(d.get("id"))[:16], "Document": json.dumps(d if trace_format == "XRAY" else span_document(d, trace.trace_id))}
                    for d in docs
                ]
                first = min(float(s["start_time"]) for s in trace.segments)
                last = max(float(s["end_time"]) for s in trace.segments)
                items.append({"Id": trace.trace_id, "Duration": round(last - first, 6), "Spans": spans})
            page, nxt = paginate("retrieved-traces", items, params.get("NextToken"), RETRIEVED_TRACES_PAGE_SIZE, lambda t: (t["Id"],))
            out.update(TraceFormat=trace_format, Traces=page)
            if nxt:
                out["NextToken"] = nxt
            return out

        return self._run(operation)

    def get_retrieved_traces_graph(self) -> tuple[str, dict[str, Any]]:
        backend = self.xray_backend

        def operation(store: XRayStore, params: dict[str, Any]) -> dict[str, Any]:
            with store.lock:
                record, status = store.retrieval(params)
            out: dict[str, Any] = {"RetrievalStatus": status}
            if status != "COMPLETE":
                return out  # "The response is empty until the RetrievalStatus is COMPLETE."
            services = build_graph(_retrieved_traces(store, backend, record), store.account_id)
            items = [{"Service": service, "Links": []} for service in services]
            page, nxt = paginate("retrieved-graph", items, params.get("NextToken"), 1000, lambda s: (s["Service"]["ReferenceId"],))
            out["Services"] = page
            if nxt:
                out["NextToken"] = nxt
            return out

        return self._run(operation)

    def cancel_trace_retrieval(self) -> tuple[str, dict[str, Any]]:
        return self._run(XRayStore.cancel_trace_retrieval)


def configure(
    page_size: int | None = None,
    encryption_delay: float | None = None,
    destination_delay: float | None = None,
    retrieval_delay: float | None = None,
) -> None:
    """Settings for stores created from now on (existing ones are updated too)."""
    with _LOCK:
        if page_size is not None:
            _CONFIG["page_size"] = max(1, int(page_size))
        for key, value in (("encryption_delay", encryption_delay), ("destination_delay", destination_delay), ("retrieval_delay", retrieval_delay)):
            if value is not None:
                _CONFIG[key] = max(0.0, float(value))
        for account in list(xray_backends.values()):
            for backend in list(account.values()):
                store = backend.__dict__.get("_sandbox_xray")
                if store is not None:
                    store.page_size = _CONFIG["page_size"]
                    store.encryption_delay = _CONFIG["encryption_delay"]
                    store.destination_delay = _CONFIG["destination_delay"]
                    store.retrieval_delay = _CONFIG["retrieval_delay"]


def register() -> None:
    """Idempotently route every xray path (moto's and the extension's) to SandboxXRayResponse."""
    paths = xray_urls.url_paths
    for key in list(paths):
        paths[key] = SandboxXRayResponse.dispatch
    for path in EXTENSION_PATHS:
        paths["{0}/" + path + "$"] = SandboxXRayResponse.dispatch
