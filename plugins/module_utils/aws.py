# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWS side every tracing.xray module shares: bounded connections, retries, clean endpoint errors, create races.

- ``TracingAWSModule``: amazon.aws' ``AnsibleAWSModule`` with

  - clients that give up on a dead endpoint in seconds (``BOTOCORE_CONFIG``: connect and read timeouts, botocore's
    ``standard`` retry mode with a few attempts; the module's ``aws_config`` option still wins), and
  - ``fail_json_aws()`` that turns botocore's connection errors (refused, unknown host, timeouts) into one sentence:
    which service, which endpoint, what to check (``endpoint_message()``), without botocore or urllib3 text and
    without a traceback.

- ``aws_retry()``: ``AWSRetry.jittered_backoff`` that also retries every throttling code of the services the
  collection calls (X-Ray ``ThrottledException``, EKS ``ThrottlingException``; IAM and STS ``Throttling`` is in
  amazon.aws' defaults).
- ``is_already_exists()`` / ``create_or_reread()``: a create that lost a race with another run (X-Ray
  ``InvalidRequestException`` "... already exists", IAM ``EntityAlreadyExists``, EKS ``ResourceInUseException``)
  continues with the resource the other run created.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from urllib.parse import urlunsplit

try:
    from botocore.exceptions import ClientError
    from botocore.exceptions import ConnectionClosedError
    from botocore.exceptions import ConnectTimeoutError
    from botocore.exceptions import EndpointConnectionError
    from botocore.exceptions import ReadTimeoutError
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

# Seconds. A dead endpoint fails after at most BOTOCORE_MAX_ATTEMPTS connection attempts of CONNECT_TIMEOUT each
# (plus botocore's short back-off); a refused connection or an unknown host fails at once on each attempt.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
BOTOCORE_MAX_ATTEMPTS = 3
BOTOCORE_CONFIG = {
    "connect_timeout": CONNECT_TIMEOUT,
    "read_timeout": READ_TIMEOUT,
    "retries": {"mode": "standard", "max_attempts": BOTOCORE_MAX_ATTEMPTS},
}

# The throttling error codes of the services the modules call, as botocore's retry model names them
# (botocore/data/_retry.json and the service models): X-Ray ThrottledException (429), EKS ThrottlingException (429),
# IAM and STS Throttling (400), plus the generic ones. Every code here is also in botocore's standard retry mode.
THROTTLING_ERROR_CODES = (
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
)

SERVICE_NAMES = {
    "xray": "AWS X-Ray",
    "iam": "AWS IAM",
    "sts": "AWS STS",
    "eks": "Amazon EKS",
    "kms": "AWS KMS",
    "logs": "Amazon CloudWatch Logs",
}


def aws_retry(retries=10, delay=3, backoff=2.0, max_delay=60):
    """AWSRetry.jittered_backoff that also retries every code of THROTTLING_ERROR_CODES."""
    return AWSRetry.jittered_backoff(
        retries=retries, delay=delay, backoff=backoff, max_delay=max_delay, catch_extra_error_codes=list(THROTTLING_ERROR_CODES)
    )


# --- dead endpoints ---------------------------------------------------------------------------------------------


def endpoint_errors():
    """The botocore exceptions that mean the endpoint did not answer (empty when botocore is missing)."""
    try:
        return (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)
    except NameError:
        return ()


def is_endpoint_error(error):
    errors = endpoint_errors()
    return bool(errors) and isinstance(error, errors)


def safe_address(url):
    """scheme://host[:port] of ``url``: no user information, no path or query."""
    if not url:
        return ""
    parts = urlsplit(str(url))
    if not parts.scheme or not parts.hostname:
        return str(url).split("?", 1)[0]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def what_failed(error, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT):
    """A few words for what went wrong with the connection, from the exception chain (never its text)."""
    if isinstance(error, ReadTimeoutError):
        return f"gave no answer within {read_timeout:g} seconds"
    if isinstance(error, ConnectTimeoutError):
        return f"did not accept a connection within {connect_timeout:g} seconds"
    if isinstance(error, ConnectionClosedError):
        return "closed the connection without an answer"
    seen, cause = set(), error
    text = ""
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        text += f" {type(cause).__name__} {cause}"
        cause = getattr(cause, "kwargs", {}).get("error") or cause.__cause__ or cause.__context__
    lowered = text.lower()
    if "refused" in lowered:
        return "refused the connection"
    if any(word in lowered for word in ("name or service not known", "nodename nor servname", "name resolution", "getaddrinfo", "no address associated")):
        return "could not be found (the host name does not resolve)"
    if "timed out" in lowered or "timeout" in lowered:
        return f"did not accept a connection within {connect_timeout:g} seconds"
    return "could not be reached"


def endpoint_message(service, address, error, operation=None, timeouts=None):
    """One sentence for an AWS endpoint that did not answer: service, address, what to check. ``timeouts``:
    the client's (connect, read) timeouts in seconds."""
    name = SERVICE_NAMES.get(service, f"AWS {service}" if service else "The AWS endpoint")
    call = f" ({operation})" if operation else ""
    at = f" at {address}" if address else ""
    connect_timeout, read_timeout = timeouts or (CONNECT_TIMEOUT, READ_TIMEOUT)
    return (f"{name}{call}{at} {what_failed(error, connect_timeout, read_timeout)}: check xray_aws_endpoint_url and xray_region (the module's endpoint_url "
            "and region), and that this controller can reach that address over the network.")


class TracingAWSModule(AnsibleAWSModule):
    """AnsibleAWSModule with bounded connections and one clean sentence for a dead endpoint."""

    def __init__(self, *args, **kwargs):
        self._last_call = None
        super().__init__(*args, **kwargs)

    def client(self, service, retry_decorator=None, **extra_params):
        extra_params.setdefault("config", dict(BOTOCORE_CONFIG))
        conn = super().client(service, retry_decorator=retry_decorator, **extra_params)
        raw = getattr(conn, "client", conn)
        meta = getattr(raw, "meta", None)
        if meta is not None:
            def remember(model=None, **_kwargs):
                config = getattr(meta, "config", None)
                timeouts = (getattr(config, "connect_timeout", None) or CONNECT_TIMEOUT, getattr(config, "read_timeout", None) or READ_TIMEOUT)
                self._last_call = (service, getattr(model, "name", None), meta.endpoint_url, timeouts)

            meta.events.register("before-call", remember)
        return conn

    def fail_json_aws(self, exception, msg=None, **kwargs):
        if is_endpoint_error(exception):
            service, operation, endpoint, timeouts = self._last_call or (None, None, None, None)
            address = safe_address(getattr(exception, "kwargs", {}).get("endpoint_url") or endpoint)
            self.fail_json(msg=endpoint_message(service, address, exception, operation, timeouts))
        super().fail_json_aws(exception, msg=msg, **kwargs)


# --- create races -------------------------------------------------------------------------------------------------


def is_already_exists(error):
    """True when a create failed because the resource exists (another run created it first)."""
    if not isinstance(error, ClientError):
        return False
    if isinstance(error, is_boto3_error_code(["EntityAlreadyExists", "ResourceInUseException", "ResourceAlreadyExistsException"], e=error)):
        return True
    if isinstance(error, is_boto3_error_code("InvalidRequestException", e=error)):
        return "already exists" in error.response.get("Error", {}).get("Message", "").lower()
    return False


def create_or_reread(create, reread):
    """``(created, None)`` from ``create()``; when it fails because the resource already exists,
    ``(None, existing)`` with ``existing = reread()``. Other errors, and an "already exists" whose resource cannot be
    read back, are raised."""
    try:
        return create(), None
    except ClientError as e:
        if not is_already_exists(e):
            raise
        existing = reread()
        if existing is None:
            raise
        return None, existing
