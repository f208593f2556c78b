# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The front end: ``GET /`` is a page that calls ``/api`` once per second; ``GET /api`` calls the back end.

The call to the back end is a *remote* subsegment named after the back end's service (``SAMPLE_BACKEND_NAME``,
by default the host of ``SAMPLE_BACKEND_URL``, i.e. the Kubernetes Service name, which the SDK's
``requests`` patch would also use). The trace header (``X-Amzn-Trace-Id: Root=...;Parent=<subsegment>``)
goes with the request, so the back end's segment joins the same trace as a child of that subsegment.
When the back end cannot be reached the subsegment records the exception (a fault) and ``/api`` answers
502, which makes the front end's segment a fault too: that is what chaos looks like on the service map.

``SAMPLE_BACKEND_URL``      default: the first of ``DOWNSTREAM_URLS`` (what tracing.xray.apps sets for a service's
                            ``calls``) with ``/api`` appended, else ``http://x-ray-sample-back-k8s:8080/api``
``SAMPLE_BACKEND_NAME``     default: the first label of the URL's host (``x-ray-sample-back-k8s`` for
                            ``x-ray-sample-back-k8s.xray-apps.svc``; an IP address stays whole)
``SAMPLE_BACKEND_TIMEOUT``  seconds, default 2
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.models import http
from aws_xray_sdk.core.utils import stacktrace
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware
from aws_xray_sdk.ext.util import inject_trace_header
from flask import Flask, Response, jsonify

from .common import HEALTH_PATH, Settings

DEFAULT_NAME = "x-ray-sample-front-k8s"
DEFAULT_BACKEND_URL = "http://x-ray-sample-back-k8s:8080/api"

INDEX_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>%(name)s</title></head>
<body style="font-family: sans-serif">
<h1>%(name)s</h1>
<p>This page calls <code>/api</code> once per second; <code>/api</code> calls the back end. Every call is a trace in AWS X-Ray.</p>
<pre id="out">waiting...</pre>
<script>
async function tick() {
  const out = document.getElementById("out");
  try {
    const r = await fetch("api");
    out.textContent = r.status + " " + JSON.stringify(await r.json(), null, 2);
  } catch (e) { out.textContent = "error: " + e; }
}
setInterval(tick, 1000); tick();
</script>
</body></html>
"""


def _default_backend_url() -> str:
    downstream = [u.strip() for u in os.environ.get("DOWNSTREAM_URLS", "").split(",") if u.strip()]
    if not downstream:
        return DEFAULT_BACKEND_URL
    url = downstream[0].rstrip("/")
    return url if urlsplit(url).path else url + "/api"


def _service_name(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host.split(".", 1)[0]
    return host


class BackendConfig:
    def __init__(self) -> None:
        self.url = os.environ.get("SAMPLE_BACKEND_URL") or _default_backend_url()
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SystemExit(f"SAMPLE_BACKEND_URL must be an http(s) URL with a host, got {self.url!r}")
        self.name = os.environ.get("SAMPLE_BACKEND_NAME") or _service_name(parts.hostname)
        try:
            self.timeout = float(os.environ.get("SAMPLE_BACKEND_TIMEOUT", "2"))
        except ValueError:
            raise SystemExit(f"SAMPLE_BACKEND_TIMEOUT must be a number, got {os.environ.get('SAMPLE_BACKEND_TIMEOUT')!r}") from None


def call_backend(backend: BackendConfig) -> tuple[int | None, dict]:
    """GET the back end inside a remote subsegment; returns (HTTP status or None when unreachable, body)."""
    subsegment = xray_recorder.begin_subsegment(backend.name, namespace="remote")
    headers = {"Accept": "application/json"}
    try:
        if subsegment is not None:
            inject_trace_header(headers, subsegment)
            subsegment.put_http_meta(http.URL, backend.url)
            subsegment.put_http_meta(http.METHOD, "GET")
        request = urllib.request.Request(backend.url, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=backend.timeout) as response:  # noqa: S310 - URL from configuration
                status = response.status
                raw = response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            raw = exc.read()
        except (urllib.error.URLError, OSError, socket.timeout) as exc:
            if subsegment is not None:
                subsegment.add_exception(exc, stacktrace.get_stacktrace(limit=10), remote=True)
            reason = getattr(exc, "reason", exc)
            return None, {"error": f"back end {backend.name} unreachable: {reason}"}
        if subsegment is not None:
            # 4xx sets the error flag, 429 also throttle, 5xx the fault flag (the SDK does it from the status).
            subsegment.put_http_meta(http.STATUS, status)
            subsegment.put_http_meta(http.CONTENT_LENGTH, len(raw))
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except ValueError:
            body = {"raw": raw[:200].decode("utf-8", "replace")}
        return status, body
    finally:
        if subsegment is not None:
            xray_recorder.end_subsegment()


def create_app(conf: Settings) -> Flask:
    app = Flask(conf.service)
    XRayMiddleware(app, xray_recorder)
    backend = BackendConfig()

    @app.get(HEALTH_PATH)
    def healthz():
        return jsonify(status="ok", service=conf.service, backend=backend.url)

    @app.get("/")
    def index():
        return Response(INDEX_HTML % {"name": conf.service}, mimetype="text/html")

    @app.get("/api")
    def api():
        status, body = call_backend(backend)
        segment = xray_recorder.current_segment()
        trace_id = getattr(segment, "trace_id", None)
        if status is None or status >= 400:
            detail = body.get("error") if status is None else f"back end {backend.name} answered {status}"
            return jsonify(service=conf.service, error=detail, trace_id=trace_id), 502
        return jsonify(service=conf.service, backend=body, trace_id=trace_id)

    return app
