# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The back end: ``GET /api`` returns a random number drawn inside the subsegment ``<name>-gen``.

As in the runbook's sample, the random-number generator is wrapped in its own subsegment, so a trace shows
the front end's segment, the back end's segment and ``x-ray-sample-back-k8s-gen`` below it.

``SAMPLE_WORK_MS`` (default 0): the generator also sleeps up to this many milliseconds, to make latency
visible on the service map.
"""

from __future__ import annotations

import os
import random
import time

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware
from flask import Flask, jsonify

from .common import HEALTH_PATH, Settings

DEFAULT_NAME = "x-ray-sample-back-k8s"


def create_app(conf: Settings) -> Flask:
    app = Flask(conf.service)
    XRayMiddleware(app, xray_recorder)
    try:
        work_ms = max(0.0, float(os.environ.get("SAMPLE_WORK_MS", "0")))
    except ValueError:
        raise SystemExit(f"SAMPLE_WORK_MS must be a number, got {os.environ.get('SAMPLE_WORK_MS')!r}") from None
    rng = random.SystemRandom()

    @app.get(HEALTH_PATH)
    def healthz():
        return jsonify(status="ok", service=conf.service)

    @app.get("/api")
    def api():
        with xray_recorder.in_subsegment(f"{conf.service}-gen") as subsegment:
            value = rng.randint(0, 1_000_000)
            if work_ms:
                time.sleep(rng.uniform(0, work_ms) / 1000.0)
            if subsegment is not None:
                subsegment.put_annotation("random", value)
        return jsonify(service=conf.service, random=value)

    return app
