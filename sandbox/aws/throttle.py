"""Throttling switch of the sandbox AWS endpoint (EMULATION): answer every Nth request of chosen services with that
service's real throttling error, so tests can check that the modules retry.

The error shapes are the ones botocore's retry model treats as throttling (``botocore/data/_retry.json`` and the
service models):

=========  ========  ==========================  ============================================
service    status    error code                  shape
=========  ========  ==========================  ============================================
xray       429       ``ThrottledException``      rest-json (``x-amzn-ErrorType`` + JSON body)
eks        429       ``ThrottlingException``     rest-json
iam        400       ``Throttling``              query (XML ``ErrorResponse``)
sts        400       ``Throttling``              query (XML ``ErrorResponse``)
=========  ========  ==========================  ============================================

``configure({"xray": 3})`` throttles the 3rd, 6th, 9th, ... request of X-Ray from then on (a deterministic share,
per service); ``configure({})`` turns it off. ``state()`` reports the switch and, per service, the requests seen and
throttled since the last ``configure``. The admin hook ``/_sandbox/throttle`` (middleware.py) calls these.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

MESSAGE = "Rate exceeded"

# service -> (HTTP status, error code, protocol)
ERRORS: dict[str, tuple[int, str, str]] = {
    "xray": (429, "ThrottledException", "rest-json"),
    "eks": (429, "ThrottlingException", "rest-json"),
    "iam": (400, "Throttling", "query"),
    "sts": (400, "Throttling", "query"),
}
_XML_NAMESPACES = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/", "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}

_LOCK = threading.Lock()
_EVERY: dict[str, int] = {}
_SEEN: dict[str, int] = {}
_THROTTLED: dict[str, int] = {}


class ThrottleError(ValueError):
    pass


def configure(every: dict[str, Any]) -> dict[str, Any]:
    """Throttle every ``every[service]``-th request of each service (1 = all); resets the counters."""
    if not isinstance(every, dict):
        raise ThrottleError('expected {"services": {"xray": 3, ...}} (throttle every Nth request of each service)')
    checked = {}
    for service, n in every.items():
        if service not in ERRORS:
            raise ThrottleError(f"service {service!r}: throttling is emulated for {', '.join(sorted(ERRORS))}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ThrottleError(f"service {service!r}: expected a whole number >= 1 (every Nth request), got {n!r}")
        checked[service] = n
    with _LOCK:
        _EVERY.clear()
        _EVERY.update(checked)
        _SEEN.clear()
        _THROTTLED.clear()
    return state()


def state() -> dict[str, Any]:
    with _LOCK:
        return {"every": dict(_EVERY), "seen": dict(_SEEN), "throttled": dict(_THROTTLED)}


def should_throttle(service: str | None) -> bool:
    """Count a request of ``service``; True when this one is to be throttled."""
    if not service:
        return False
    with _LOCK:
        every = _EVERY.get(service)
        if not every:
            return False
        _SEEN[service] = _SEEN.get(service, 0) + 1
        if _SEEN[service] % every:
            return False
        _THROTTLED[service] = _THROTTLED.get(service, 0) + 1
        return True


def response(service: str) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of the service's throttling error."""
    status, code, protocol = ERRORS[service]
    request_id = str(uuid.uuid4())
    if protocol == "rest-json":
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
        return status, headers, json.dumps({"message": MESSAGE})
    body = (f'<ErrorResponse xmlns="{_XML_NAMESPACES[service]}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{MESSAGE}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body
