"""Pure helpers of the benchmark (no sandbox, no network): statistics, ratios, the result table, the task profile
from the json callback, the kube-apiserver request counter and the AWS endpoint's request log.

bench/test_benchlib.py tests them (`make bench-smoke`).
"""

from __future__ import annotations

import base64
import json
import re
import statistics
from collections import Counter
from datetime import datetime
from urllib.parse import parse_qs, urlsplit


# --- statistics and ratios ------------------------------------------------------------------------------------------

def summary(values: list[float]) -> dict:
    """min / median / max / n of a list of seconds (empty list: n=0 and None figures)."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"n": 0, "min": None, "median": None, "max": None, "values": []}
    return {"n": len(vals), "min": min(vals), "median": statistics.median(vals), "max": max(vals),
            "values": [round(v, 3) for v in vals]}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def ratio_summary(numerators: list[float], denominators: list[float]) -> dict:
    """Ratios run by run (the i-th numerator over the i-th denominator: both measured back to back, under the same
    load), summarised; plus the ratio of the medians."""
    pairs = [ratio(n, d) for n, d in zip(numerators, denominators, strict=False)]
    out = summary([p for p in pairs if p is not None])
    out["of_medians"] = ratio(summary(numerators)["median"], summary(denominators)["median"])
    return out


def headline_ratios(times: dict[str, list[float]]) -> dict:
    """The issue's four keys from the per-run times: converge, noop, teardown (site.yml) and baseline_converge,
    baseline_noop, baseline_teardown (the hand-run runbook). Each is a ratio_summary (median of run-by-run ratios)."""
    return {
        "converge_ratio": ratio_summary(times["converge"], times["baseline_converge"]),
        "noop_ratio": ratio_summary(times["noop"], times["converge"]),
        "noop_vs_baseline": ratio_summary(times["noop"], times["baseline_noop"]),
        "teardown_ratio": ratio_summary(times["teardown"], times["converge"]),
        "teardown_vs_baseline": ratio_summary(times["teardown"], times["baseline_teardown"]),
    }


def floor_ratios(times: dict[str, list[float]]) -> dict:
    """The no-op against Ansible's floor (``floor_noop``: floor_playbook with the no-op's task counts), run by run."""
    return {
        "noop_vs_floor": ratio_summary(times["noop"], times["floor_noop"]),
        "floor_vs_baseline": ratio_summary(times["floor_noop"], times["baseline_noop"]),
    }


def floor_playbook(executed: int, skipped: int) -> str:
    """Ansible's own floor for a run of this shape: a play on the same inventory with ``executed`` tasks that do nothing
    (``ansible.builtin.debug``) and ``skipped`` tasks skipped by ``when: false``, no facts. What a no-op of site.yml
    costs beyond it is the collection's own work (module calls and their API requests, templating, includes)."""
    if executed < 0 or skipped < 0:
        raise ValueError("task counts must not be negative")
    lines = ["---", "- name: Ansible's floor for a run of the same task count", "  hosts: all", "  gather_facts: false", "  tasks:"]
    lines += [f"    - name: Executed task {i}\n      ansible.builtin.debug:\n        msg: floor" for i in range(executed)]
    lines += [f"    - name: Skipped task {i}\n      ansible.builtin.debug:\n        msg: floor\n      when: false" for i in range(skipped)]
    if not executed and not skipped:
        lines[-1] = "  tasks: []"
    return "\n".join(lines) + "\n"


# --- the table --------------------------------------------------------------------------------------------------------

def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def times_table(times: dict[str, list[float]]) -> str:
    rows = []
    for key in ("baseline_converge", "converge", "baseline_noop", "noop", "baseline_teardown", "teardown"):
        if key in times:
            s = summary(times[key])
            rows.append([key, s["n"], s["min"], s["median"], s["max"]])
    return markdown_table(["what (seconds)", "runs", "min", "median", "max"], rows)


def ratios_table(ratios: dict) -> str:
    rows = [[key, r["n"], r["min"], r["median"], r["max"], r["of_medians"]] for key, r in ratios.items()]
    return markdown_table(["ratio (run by run)", "runs", "min", "median", "max", "ratio of medians"], rows)


# --- the json callback: outcome and task profile ---------------------------------------------------------------------

def parse_callback(stdout: str) -> dict:
    """The ansible.posix.json callback's document from ansible-playbook's stdout (warnings may precede it)."""
    start = stdout.find("{")
    if start < 0:
        return {"plays": [], "stats": {}}
    try:
        return json.loads(stdout[start:])
    except ValueError:
        return {"plays": [], "stats": {}}


def _seconds(duration: dict) -> float:
    start = datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def stats_totals(doc: dict) -> dict:
    keys = ("ok", "changed", "failures", "unreachable", "skipped", "rescued", "ignored")
    return {k: sum(int(s.get(k, 0)) for s in doc.get("stats", {}).values()) for k in keys}


# Actions that run in the controller (no module process, no API call); every other executed task starts a module.
CONTROLLER_ACTIONS = frozenset(
    f"{prefix}{name}" for prefix in ("", "ansible.builtin.", "ansible.legacy.")
    for name in ("set_fact", "assert", "fail", "debug", "include_tasks", "include_role", "import_tasks", "import_role",
                 "include_vars", "validate_argument_spec", "meta", "set_stats", "pause")
)


def task_profile(doc: dict) -> list[dict]:
    """One entry per task of the run (in order): name, path, seconds (the task's wall time over all hosts), how many
    hosts ran it (not skipped) and changed it."""
    out = []
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            info = task.get("task", {})
            hosts = task.get("hosts", {})
            if "duration" not in info:
                continue
            out.append({
                "name": info.get("name", ""),
                "path": info.get("path", ""),
                "seconds": _seconds(info["duration"]),
                "ran": sum(1 for r in hosts.values() if not r.get("skipped")),
                "changed": sum(1 for r in hosts.values() if r.get("changed")),
                # module processes started (loop items count one each): the cost that does not shrink with load
                "module_calls": sum(max(1, len(r.get("results") or [])) for r in hosts.values()
                                    if not r.get("skipped") and r.get("action") and r.get("action") not in CONTROLLER_ACTIONS),
            })
    return out


def task_count(doc: dict) -> dict:
    """Tasks of the run: all, executed (not skipped on every host), skipped, and the module processes they started
    (``module_calls``: executed tasks of a module, not of a controller-side action such as set_fact or assert)."""
    prof = task_profile(doc)
    ran = sum(1 for t in prof if t["ran"])
    return {"tasks": len(prof), "executed": ran, "skipped": len(prof) - ran,
            "module_calls": sum(t["module_calls"] for t in prof)}


def slowest_tasks(profiles: list[list[dict]], top: int = 10) -> list[dict]:
    """The slowest tasks over several runs: a task is keyed by name and path, its time is the median over the runs
    of its total time in the run (a task included several times is summed per run)."""
    per_run: list[Counter] = []
    calls: Counter = Counter()
    for prof in profiles:
        totals: Counter = Counter()
        for t in prof:
            key = (t["name"], t["path"])
            totals[key] += t["seconds"]
            calls[key] += 1
        per_run.append(totals)
    keys = set().union(*per_run) if per_run else set()
    rows = []
    for key in keys:
        vals = [run.get(key, 0.0) for run in per_run]
        rows.append({"task": key[0], "path": key[1], "median_s": statistics.median(vals), "max_s": max(vals),
                     "per_run": round(calls[key] / max(len(per_run), 1), 2)})
    rows.sort(key=lambda r: r["median_s"], reverse=True)
    return rows[:top]


def total_task_seconds(profile: list[dict]) -> float:
    return sum(t["seconds"] for t in profile)


# --- kube-apiserver: apiserver_request_total --------------------------------------------------------------------------

_METRIC = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.eE+-]+)\s*$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_request_total(text: str) -> dict[tuple, float]:
    """apiserver_request_total from the /metrics text: (verb, group, resource, subresource, code) -> count."""
    out: dict[tuple, float] = {}
    for line in text.splitlines():
        m = _METRIC.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group("labels")))
        key = (labels.get("verb", ""), labels.get("group", ""), labels.get("resource", ""),
               labels.get("subresource", ""), labels.get("code", ""))
        out[key] = out.get(key, 0.0) + float(m.group("value"))
    return out


def counter_delta(before: dict[tuple, float], after: dict[tuple, float]) -> dict[tuple, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after if after[k] - before.get(k, 0.0) > 0}


def summarize_kube_delta(delta: dict[tuple, float], seconds: float, idle_rate: dict[tuple, float] | None = None) -> dict:
    """Requests during a run: total, by verb, top (verb, resource) pairs; with the idle rate (requests per second of
    the controllers and kwok when nobody deploys) also the estimate net of that background."""
    by_verb: Counter = Counter()
    by_resource: Counter = Counter()
    for (verb, group, resource, sub, _code), n in delta.items():
        by_verb[verb] += n
        res = (f"{group}/" if group else "") + resource + (f"/{sub}" if sub else "")
        by_resource[f"{verb} {res}"] += n
    total = sum(delta.values())
    out = {"total": int(total), "by_verb": {k: int(v) for k, v in by_verb.most_common()},
           "top": {k: int(v) for k, v in by_resource.most_common(12)}}
    if idle_rate is not None:
        background = sum(idle_rate.values()) * seconds
        out["background_estimate"] = int(round(background))
        out["net_of_background"] = int(round(total - background))
    return out


# --- the AWS endpoint: requests from its werkzeug log, actions from moto's recorder ----------------------------------

_REQUEST_LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)?(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.[01](?:\x1b\[[0-9;]*m)?" (?P<status>\d{3})')
ADMIN_PREFIXES = ("/_sandbox/", "/moto-api/")


def count_aws_requests(log_text: str) -> dict:
    """AWS API requests in a slice of the endpoint's log (werkzeug's access lines), without the sandbox's admin hooks
    (/_sandbox/: the pod identity webhook and agent, the bench itself) and moto's own API (/moto-api/)."""
    total, errors = 0, 0
    for line in log_text.splitlines():
        m = _REQUEST_LINE.search(line)
        if not m or m.group("path").startswith(ADMIN_PREFIXES):
            continue
        total += 1
        if int(m.group("status")) >= 400:
            errors += 1
    return {"total": total, "errors": errors}


_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def recorded_action(entry: dict) -> str:
    """'service:Action' of one request recorded by moto's recorder (query protocol: Action=; JSON: X-Amz-Target;
    REST: method and path)."""
    headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
    m = _CREDENTIAL.search(headers.get("authorization", ""))
    service = m.group(1) if m else "?"
    target = headers.get("x-amz-target")
    if target:
        return f"{service}:{target.split('.')[-1]}"
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8", "replace")
        except ValueError:
            body = ""
    url = urlsplit(entry.get("url", ""))
    params = parse_qs(url.query)
    if "Action=" in body or "Action" in params:
        action = (parse_qs(body).get("Action") or params.get("Action") or ["?"])[0]
        return f"{service}:{action}"
    path = re.sub(r"/[^/]*[0-9A-Fa-f]{8,}[^/]*", "/{id}", url.path)
    return f"{service}:{entry.get('method', '?')} {path}"


def count_recorded(lines: list[str]) -> dict[str, int]:
    out: Counter = Counter()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if urlsplit(entry.get("url", "")).path.startswith(ADMIN_PREFIXES):
            continue
        out[recorded_action(entry)] += 1
    return dict(out.most_common())
