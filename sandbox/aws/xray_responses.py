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
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.xray import urls as xray_urls
from moto.xray.models import XRayBackend, xray_backends
from moto.xray.responses import XRayResponse

from .xray_graph import build_graph, filter_traces, load_traces, trace_summaries
from .xray_store import DEFAULT_ENCRYPTION_DELAY, DEFAULT_PAGE_SIZE, XRayApiError, XRayStore, invalid, paginate

TRACE_SUMMARY_PAGE_SIZE = 100

_LOCK = threading.Lock()
_CONFIG: dict[str, Any] = {"page_size": DEFAULT_PAGE_SIZE, "encryption_delay": DEFAULT_ENCRYPTION_DELAY}

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
            traces, _honoured = filter_traces(load_traces(backend._segment_collection), expression)
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
            summaries, processed = trace_summaries(load_traces(backend._segment_collection), store.account_id, start, end, time_range_type, expression)
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
            services = build_graph(load_traces(backend._segment_collection, trace_ids), store.account_id)
            return {"Services": services}

        return self._run(operation)


def configure(page_size: int | None = None, encryption_delay: float | None = None) -> None:
    """Settings for stores created from now on (existing ones are updated too)."""
    with _LOCK:
        if page_size is not None:
            _CONFIG["page_size"] = max(1, int(page_size))
        if encryption_delay is not None:
            _CONFIG["encryption_delay"] = max(0.0, float(encryption_delay))
        for account in list(xray_backends.values()):
            for backend in list(account.values()):
                store = backend.__dict__.get("_sandbox_xray")
                if store is not None:
                    store.page_size = _CONFIG["page_size"]
                    store.encryption_delay = _CONFIG["encryption_delay"]


def register() -> None:
    """Idempotently route every xray path (moto's and the extension's) to SandboxXRayResponse."""
    paths = xray_urls.url_paths
    for key in list(paths):
        paths[key] = SandboxXRayResponse.dispatch
    for path in EXTENSION_PATHS:
        paths["{0}/" + path + "$"] = SandboxXRayResponse.dispatch
