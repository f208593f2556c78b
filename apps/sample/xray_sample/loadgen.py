# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bounded load generator for the sample front end, loopback only unless told otherwise.

    python -m xray_sample.loadgen http://127.0.0.1:PORT/api --count 200 --duration 60 [--rate 20] [--concurrency 4]
    # inside the sandbox cluster (a pod): its Service and pod networks, which exist only on that machine
    python -m xray_sample.loadgen http://front.ns.svc/api --allow-cidr 10.0.0.0/24 --allow-cidr 198.18.0.0/24 ...

It stops at whichever bound comes first (``--count`` requests or ``--duration`` seconds), refuses any URL
whose host does not resolve only to loopback addresses (127.0.0.0/8, ::1) or to networks named with
``--allow-cidr``, and prints one JSON summary:
requests sent, answered by status, failed without an answer, latency percentiles, and the trace IDs the
front end returned in ``X-Amzn-Trace-Id``. Standard library only.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from urllib.parse import urlsplit

MAX_COUNT = 100_000
MAX_DURATION = 3600.0
MAX_CONCURRENCY = 64


class NotLoopback(ValueError):
    """The target is not on this machine's loopback interface."""


def check_loopback(url: str, allowed: tuple[str, ...] = ()) -> str:
    """Return the URL if its host resolves only to loopback addresses (or into ``allowed`` networks); raise NotLoopback otherwise."""
    networks = [ipaddress.ip_network(cidr, strict=False) for cidr in allowed]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotLoopback(f"not an http(s) URL with a host: {url!r}")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise NotLoopback(f"cannot resolve {parts.hostname!r}: {exc}") from None
    addresses = {info[4][0] for info in infos}

    def inside(address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return ip.is_loopback or any(ip in net for net in networks)

    outside = sorted(a for a in addresses if not inside(a))
    if not addresses or outside:
        scope = "127.0.0.0/8 or ::1" + "".join(f", {net}" for net in networks)
        raise NotLoopback(
            f"refusing {parts.hostname!r}: it resolves to address(es) {', '.join(outside)} outside what the load generator targets: {scope}"
        )
    return url


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceil
    return sorted_values[int(min(rank, len(sorted_values))) - 1]


def run(url: str, count: int, duration: float, *, rate: float | None = None, concurrency: int = 1, timeout: float = 5.0,
        stop: threading.Event | None = None, allowed: tuple[str, ...] = ()) -> dict:
    """Send up to ``count`` GET requests within ``duration`` seconds; return the summary dict."""
    check_loopback(url, allowed)
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_COUNT}, got {count}")
    if not 0 < duration <= MAX_DURATION:
        raise ValueError(f"duration must be in (0, {MAX_DURATION:g}] seconds, got {duration}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency}")
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")

    stop = stop or threading.Event()
    lock = threading.Lock()
    state = {"issued": 0}
    statuses: Counter = Counter()
    failures: Counter = Counter()
    latencies: list[float] = []
    trace_ids: list[str] = []
    started = time.monotonic()
    deadline = started + duration
    wall_start = time.time()

    def next_slot() -> bool:
        """Claim the next request number, waiting for its slot when a rate is set; False when done."""
        with lock:
            if state["issued"] >= count:
                return False
            number = state["issued"]
            state["issued"] += 1
        if rate is not None:
            due = started + number / rate
            delay = due - time.monotonic()
            if delay > 0:
                stop.wait(delay)
        if stop.is_set() or time.monotonic() >= deadline:
            with lock:
                state["issued"] -= 1
            return False
        return True

    def worker() -> None:
        while next_slot():
            begin = time.monotonic()
            request = urllib.request.Request(url, headers={"User-Agent": "tracing-xray-loadgen"}, method="GET")
            status, header = None, None
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback checked above
                    response.read()
                    status, header = response.status, response.headers.get("X-Amzn-Trace-Id")
            except urllib.error.HTTPError as exc:
                exc.read()
                status, header = exc.code, exc.headers.get("X-Amzn-Trace-Id")
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                with lock:
                    failures[type(reason).__name__] += 1
            elapsed = time.monotonic() - begin
            with lock:
                if status is not None:
                    statuses[str(status)] += 1
                    latencies.append(elapsed)
                if header:
                    root = next((p.split("=", 1)[1] for p in header.split(";") if p.startswith("Root=")), None)
                    if root:
                        trace_ids.append(root)

    threads = [threading.Thread(target=worker, name=f"loadgen-{i}", daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    latencies.sort()
    answered = sum(statuses.values())
    return {
        "url": url,
        "sent": state["issued"],
        "answered": answered,
        "ok": sum(n for code, n in statuses.items() if code.startswith("2")),
        "status": dict(sorted(statuses.items())),
        "failed_without_answer": dict(failures),
        "started_at": wall_start,
        "ended_at": wall_start + took,
        "seconds": round(took, 3),
        "requests_per_second": round(state["issued"] / took, 2) if took > 0 else None,
        "latency_ms": {
            name: (round(value * 1000, 2) if value is not None else None)
            for name, value in (("p50", percentile(latencies, 50)), ("p90", percentile(latencies, 90)), ("p99", percentile(latencies, 99)))
        },
        "trace_ids": trace_ids,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xray_sample.loadgen", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("url", help="front end URL, e.g. http://127.0.0.1:8080/api (loopback only)")
    parser.add_argument("--count", type=int, default=100, help=f"requests to send, at most {MAX_COUNT} (default 100)")
    parser.add_argument("--duration", type=float, default=60.0, help=f"stop after this many seconds, at most {MAX_DURATION:g} (default 60)")
    parser.add_argument("--rate", type=float, default=None, help="requests per second (default: as fast as the workers go)")
    parser.add_argument("--concurrency", type=int, default=1, help=f"parallel workers, at most {MAX_CONCURRENCY} (default 1)")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-request timeout in seconds (default 5)")
    parser.add_argument("--no-trace-ids", action="store_true", help="leave the trace IDs out of the summary")
    parser.add_argument("--allow-cidr", action="append", default=[], metavar="CIDR",
                        help="also target addresses in this network (repeatable), e.g. a sandbox cluster's Service network")
    args = parser.parse_args(argv)
    try:
        for cidr in args.allow_cidr:
            ipaddress.ip_network(cidr, strict=False)
        summary = run(args.url, args.count, args.duration, rate=args.rate, concurrency=args.concurrency, timeout=args.timeout,
                      allowed=tuple(args.allow_cidr))
    except (NotLoopback, ValueError) as exc:
        sys.stderr.write(f"loadgen: {exc}\n")
        return 2
    if args.no_trace_ids:
        summary.pop("trace_ids")
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
