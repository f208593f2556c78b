# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes side every tracing.xray module shares: one clean sentence when the API server cannot be used.

- ``connection_message(params, error)``: for a client that could not be created or an API server that did not answer.
  When the error is a connection failure (refused, unknown host, timeout, TLS), the sentence names the API server's
  address (from ``host`` or the kubeconfig and context, never credentials), what went wrong in a few words and the
  inventory variables to check; urllib3's text is not repeated. Other errors (a kubeconfig that cannot be loaded) keep
  their own text, which names the problem.
- ``api_server(params)``: that address.
- ``first_answer_deadline()``: the kubernetes client has no default timeout, so an API server that accepts connections
  and never answers would hang a module; the modules make their first request (discovery, or the first read) within
  this deadline, which raises ``ApiServerSilent``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

try:
    import yaml
except ImportError:  # the kubernetes client needs PyYAML, so the modules that use this have it; the name stays None
    yaml = None

FIRST_ANSWER_SECONDS = 20


class _Expired(BaseException):
    """Raised by the alarm inside the client: a BaseException, so that urllib3 and the kubernetes client, which catch
    and retry socket errors and timeouts, let it through."""


class ApiServerSilent(Exception):
    """The API server did not answer the first request within FIRST_ANSWER_SECONDS."""

    def __init__(self, seconds):
        super().__init__(f"no answer within {seconds} seconds")
        self.seconds = seconds


@contextlib.contextmanager
def first_answer_deadline(seconds=FIRST_ANSWER_SECONDS):
    """Raise ApiServerSilent in the block after ``seconds`` (SIGALRM; a module runs in its own process, main thread).
    Where SIGALRM is missing, the block runs without a deadline. Where an alarm is already pending (the module runs
    in Ansible's worker, see plugin_utils/in_worker.py, for a task with ``timeout``), that alarm is left alone: the
    task's own timeout governs."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return
    pending = signal.alarm(0)
    if pending:
        signal.alarm(pending)
        yield
        return

    def expired(_signum, _frame):
        raise _Expired()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    except _Expired:
        raise ApiServerSilent(seconds) from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


DEFAULT_CHAIN = "the default kubeconfig chain (K8S_AUTH_KUBECONFIG, KUBECONFIG, ~/.kube/config)"

# Fragments of the urllib3/socket/ssl text (anywhere in the exception chain) and the few words we say instead.
_CAUSES = (
    (("connection refused", "errno 111", "econnrefused"), "refused the connection"),
    (("name or service not known", "nodename nor servname", "temporary failure in name resolution", "no address associated",
      "getaddrinfo failed", "failed to resolve"), "could not be found (the host name does not resolve)"),
    (("timed out", "timeout"), "did not answer in time"),
    (("certificate verify failed", "sslerror", "ssl:", "wrong version number"), "failed the TLS handshake"),
    (("connection reset", "remotedisconnected", "connection aborted", "protocolerror"), "closed the connection"),
    (("max retries exceeded", "newconnectionerror", "network is unreachable", "no route to host"), "could not be reached"),
)


def _next_cause(error):
    """The exception behind ``error``: urllib3's ``reason``, else ``__cause__``/``__context__``."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    return error.__cause__ or error.__context__


def _chain_text(error):
    """Type names and texts of ``error`` and the exceptions behind it, lower case (at most 20)."""
    seen, parts, cause = set(), [], error
    while cause is not None and id(cause) not in seen and len(parts) < 20:
        seen.add(id(cause))
        if not isinstance(cause, BaseException):
            parts.append(str(cause))
            break
        parts.append(f"{type(cause).__name__} {cause}")
        cause = _next_cause(cause)
    return " ".join(parts).lower()


def connection_problem(error):
    """A few words for a connection failure, or None when ``error`` is not one."""
    if isinstance(error, ApiServerSilent):
        return f"accepted the connection but gave no answer within {error.seconds} seconds"
    text = _chain_text(error)
    for fragments, words in _CAUSES:
        if any(fragment in text for fragment in fragments):
            return words
    return None


def safe_address(url):
    """scheme://host[:port] of ``url``: no user information, path or query."""
    parts = urlsplit(str(url or ""))
    if not parts.scheme or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return urlunsplit((parts.scheme, f"{host}:{parts.port}" if parts.port else host, "", "", ""))


def _kubeconfig_documents(kubeconfig):
    if isinstance(kubeconfig, dict):
        return [kubeconfig]
    if isinstance(kubeconfig, str) and kubeconfig:
        paths = [kubeconfig]
    else:
        env = os.environ.get("K8S_AUTH_KUBECONFIG") or os.environ.get("KUBECONFIG")
        paths = env.split(os.pathsep) if env else ["~/.kube/config"]
    documents = []
    if yaml is None:
        return documents
    for path in paths:
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as handle:
                documents.append(yaml.safe_load(handle) or {})
        except (OSError, ValueError, yaml.YAMLError):
            continue
    return documents


def api_server(params):
    """The API server address the connection settings point at (``host``, else the server of the kubeconfig's context,
    the current one when none is given), without credentials; None when it cannot be told."""
    if params.get("host"):
        return safe_address(params["host"])
    documents = [d for d in _kubeconfig_documents(params.get("kubeconfig")) if isinstance(d, dict)]
    context_name = params.get("context") or next((d.get("current-context") for d in documents if d.get("current-context")), None)
    contexts = {c.get("name"): c.get("context") or {} for d in documents for c in d.get("contexts") or [] if isinstance(c, dict)}
    clusters = {c.get("name"): c.get("cluster") or {} for d in documents for c in d.get("clusters") or [] if isinstance(c, dict)}
    cluster = clusters.get((contexts.get(context_name) or {}).get("cluster"))
    return safe_address((cluster or {}).get("server")) if cluster else None


def connection_message(params, error):
    """One sentence for a client that could not be created or an API server that did not answer: which API server
    (or kubeconfig and context), what went wrong, and which inventory variables set them."""
    kubeconfig = params.get("kubeconfig")
    where = f"kubeconfig {kubeconfig}" if isinstance(kubeconfig, str) and kubeconfig else DEFAULT_CHAIN
    context = f", context {params['context']}" if params.get("context") else ""
    problem = connection_problem(error)
    if problem:
        server = api_server(params)
        address = f" at {server}" if server else ""
        return (f"The Kubernetes API server{address} (from {where}{context}) {problem}: check xray_kubeconfig and "
                "xray_kube_context (the module's kubeconfig and context), and that this controller can reach that address "
                "over the network.")
    return (f"Could not reach the Kubernetes API server with {where}{context}: {error}. "
            "Check xray_kubeconfig and xray_kube_context (or the module's kubeconfig and context).")


def api_failure_message(params, error, doing):
    """The message for ``error`` raised while ``doing`` something with the API server: ``connection_message()``
    when it is a connection failure, else ``"<doing>: <error>"``."""
    if connection_problem(error):
        return connection_message(params, error)
    return f"{doing}: {error}"
