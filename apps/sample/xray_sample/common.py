# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the front end and the back end share: configuration from the environment, the X-Ray recorder, the server.

Environment (the X-Ray SDK's own variables first, then the sample's):

``AWS_XRAY_TRACING_NAME``     segment name of this service (the service's name on the service map)
``AWS_XRAY_DAEMON_ADDRESS``   the daemon, ``host:port`` (UDP for segments, TCP for centralised sampling)
``AWS_XRAY_CONTEXT_MISSING``  ``LOG_ERROR`` (default here) or ``RUNTIME_ERROR`` / ``IGNORE_ERROR``
``SAMPLE_HOST`` / ``SAMPLE_PORT``  listen address (default ``127.0.0.1:8080``; the image sets ``0.0.0.0``)
``SAMPLE_PORT_FILE``          when set, the bound port is written there (use with ``SAMPLE_PORT=0``)
``SAMPLE_SAMPLING``           ``all`` (default: every request but ``/healthz`` is traced, no network),
                              ``centralized`` (sampling rules from X-Ray through the daemon's TCP proxy,
                              falling back to the ``all`` rules), or the path of a local rules JSON file
``SAMPLE_ACCESS_LOG``         ``1`` to log every request
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from dataclasses import dataclass

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.sampling.local.sampler import LocalSampler

LOG = logging.getLogger("xray_sample")

DEFAULT_DAEMON_ADDRESS = "127.0.0.1:2000"
HEALTH_PATH = "/healthz"

# Every request is traced (reservoir 1/s plus rate 1.0), except health checks, so N requests give N traces.
TRACE_ALL_RULES = {
    "version": 2,
    "rules": [
        {
            "description": "health checks are not traced",
            "host": "*",
            "http_method": "*",
            "url_path": HEALTH_PATH,
            "fixed_target": 0,
            "rate": 0.0,
        }
    ],
    "default": {"fixed_target": 1, "rate": 1.0},
}


@dataclass
class Settings:
    service: str
    host: str
    port: int
    port_file: str | None
    daemon_address: str
    context_missing: str
    sampling: str
    access_log: bool


def settings(default_service: str) -> Settings:
    env = os.environ
    try:
        port = int(env.get("SAMPLE_PORT", "8080"))
    except ValueError:
        raise SystemExit(f"SAMPLE_PORT must be an integer, got {env.get('SAMPLE_PORT')!r}") from None
    if not 0 <= port <= 65535:
        raise SystemExit(f"SAMPLE_PORT must be between 0 and 65535, got {port}")
    return Settings(
        service=env.get("AWS_XRAY_TRACING_NAME") or default_service,
        host=env.get("SAMPLE_HOST", "127.0.0.1"),
        port=port,
        port_file=env.get("SAMPLE_PORT_FILE") or None,
        daemon_address=env.get("AWS_XRAY_DAEMON_ADDRESS") or DEFAULT_DAEMON_ADDRESS,
        context_missing=env.get("AWS_XRAY_CONTEXT_MISSING") or "LOG_ERROR",
        sampling=env.get("SAMPLE_SAMPLING") or "all",
        access_log=env.get("SAMPLE_ACCESS_LOG", "0") in ("1", "true", "yes"),
    )


def configure_recorder(conf: Settings) -> None:
    """Configure the SDK's global recorder for this process (name, daemon, sampling)."""
    kwargs = {
        "service": conf.service,
        "daemon_address": conf.daemon_address,
        "context_missing": conf.context_missing,
        "sampling": True,
        "plugins": (),
    }
    if conf.sampling == "all":
        # A local sampler never talks to the daemon's sampling proxy: nothing leaves the process but UDP.
        kwargs["sampler"] = LocalSampler(TRACE_ALL_RULES)
    elif conf.sampling == "centralized":
        # The SDK's default sampler polls GetSamplingRules/GetSamplingTargets through the daemon (TCP) and
        # uses these local rules until (and whenever) that fails.
        kwargs["sampling_rules"] = TRACE_ALL_RULES
    else:
        try:
            with open(conf.sampling, encoding="utf-8") as handle:
                rules = json.load(handle)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"SAMPLE_SAMPLING: cannot read local sampling rules from {conf.sampling!r}: {exc}") from None
        kwargs["sampler"] = LocalSampler(rules)
    xray_recorder.configure(**kwargs)


def serve(app, conf: Settings) -> None:
    """Serve a WSGI app (threaded) until SIGTERM/SIGINT; write the bound port to SAMPLE_PORT_FILE."""
    from werkzeug.serving import make_server

    if not conf.access_log:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(conf.host, conf.port, app, threaded=True)
    port = server.socket.getsockname()[1]
    if conf.port_file:
        tmp = conf.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(str(port))
        os.replace(tmp, conf.port_file)
    LOG.warning("%s listening on %s:%s, daemon %s, sampling %s", conf.service, conf.host, port, conf.daemon_address, conf.sampling)

    def _stop(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        LOG.warning("%s stopped", conf.service)


def setup_logging() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
