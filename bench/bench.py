#!/usr/bin/env python3
"""Benchmark of site.yml / teardown.yml against the hand-run runbook, on the sandbox (issue 15).

    .venv/bin/python bench/bench.py [--runs N] [--parts main,scale,many] [--scale-nodes 3,100,1000] [--clusters 4]

(`make bench` runs it with a kwok-only sandbox of its own; see bench/README.md.)

The sandbox comes from the SANDBOX_* environment (sandbox/sandbox.py): when it is not up, this script starts it
(with moto's request recorder on, for the per-action AWS counts) and brings it down at the end; a sandbox that was
already up is used as it is and left up. Every loop is bounded in count and time; everything talks to 127.0.0.1.

Parts:
- main: a warm-up converge whose objects are read back (the baseline's manifests) and torn down; then BENCH_RUNS times:
  the hand-run baseline (bench/baseline.py: converge, no-op, teardown) and site.yml converge, no-op (changed=0
  asserted), teardown.yml, back to back. AWS requests (the endpoint's access log, moto's recorder) and kube-apiserver
  requests (apiserver_request_total before/after) per run; the task profile from the json callback. After each no-op,
  Ansible's floor: a play of the no-op's task counts whose tasks do nothing (benchlib.floor_playbook).
- scale: kwok nodes added to the running sandbox (sandbox.py's own create_nodes) up to each size; baseline and
  site.yml converge at each size, the DaemonSet's own rollout time watched from outside.
- many: a generated inventory of N hosts on the same sandbox (own namespaces, cluster names, role names), forks N,
  against the same inventory with one host.
Writes bench/results.json (or --out) and prints the tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV_BIN = os.path.dirname(sys.executable)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

import benchlib  # noqa: E402
from sandbox import sandbox as sbx  # noqa: E402

OWNER_MANAGER = "tracing.xray"          # the roles' server-side apply field manager
BASELINE_MANAGER = "bench-baseline"     # the hand-run baseline's
STRIP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "deprecated.daemonset.template.generation",
                     "deployment.kubernetes.io/revision")
PLAYBOOK_TIMEOUT = int(os.environ.get("BENCH_PLAYBOOK_TIMEOUT", "900"))


def say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --- the sandbox ----------------------------------------------------------------------------------------------------

class Sandbox:
    def __init__(self) -> None:
        self.settings = sbx.Settings()
        self.started = False
        self.recorder = None

    def _cli(self, *args: str, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, os.path.join(REPO, "sandbox", "sandbox.py"), *args], cwd=REPO,
                              env=env or os.environ.copy(), capture_output=True, text=True, timeout=timeout, check=False)

    def ensure_up(self) -> None:
        if self._cli("status", timeout=120).returncode == 0:
            say(f"using the running sandbox in {self.settings.dir} (left up at the end)")
        else:
            env = os.environ.copy()
            self.recorder = os.path.join(self.settings.dir, "moto-recording.jsonl")
            env["MOTO_RECORDER_FILEPATH"] = self.recorder
            say(f"starting a sandbox in {self.settings.dir} (API port {self.settings.api_port}, AWS port {self.settings.aws_port})")
            t0 = time.monotonic()
            proc = self._cli("up", env=env)
            if proc.returncode != 0:
                raise BenchError(f"sandbox up failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            self.started = True
            say(f"sandbox up in {time.monotonic() - t0:.1f}s")
        with open(self.settings.state_file, encoding="utf-8") as handle:
            self.state = json.load(handle)
        self.api = sbx.KubeAPI(self.settings)
        if self.recorder:
            self.aws_admin("POST", "/moto-api/recorder/start-recording")

    def down(self) -> None:
        if self.started:
            proc = self._cli("down", timeout=300)
            say("sandbox down" + ("" if proc.returncode == 0 else f" FAILED: {proc.stdout[-1500:]} {proc.stderr[-1500:]}"))

    def aws_admin(self, method: str, path: str) -> bytes:
        req = urllib.request.Request(self.state["aws_endpoint_url"] + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read()

    def kubectl(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run([self.state["kubectl"], "--kubeconfig", self.state["kubeconfig"], *args], capture_output=True,
                              text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise BenchError(f"kubectl {' '.join(args[:4])} failed: {proc.stderr.strip()[-1500:]}")
        return proc.stdout

    def iam(self):
        import boto3  # noqa: PLC0415

        return boto3.client("iam", endpoint_url=self.state["aws_endpoint_url"], region_name=self.state["region"],
                            aws_access_key_id=self.state["aws_access_key_id"],
                            aws_secret_access_key=self.state["aws_secret_access_key"])

    def aws_spec(self) -> dict:
        return {"endpoint_url": self.state["aws_endpoint_url"], "region": self.state["region"],
                "access_key": self.state["aws_access_key_id"], "secret_key": self.state["aws_secret_access_key"]}

    # counters
    def snapshot(self) -> dict:
        log = self.state["logs"]["aws"]
        snap = {"aws_log": os.path.getsize(log) if os.path.exists(log) else 0, "recorder": 0,
                "kube": benchlib.parse_request_total(self.api.request("GET", "/metrics", timeout=30, accept="text/plain"))}
        if self.recorder and os.path.exists(self.recorder):
            snap["recorder"] = os.path.getsize(self.recorder)
        return snap

    def delta(self, before: dict, seconds: float, idle_rate: dict | None) -> dict:
        after = self.snapshot()
        with open(self.state["logs"]["aws"], encoding="utf-8", errors="replace") as handle:
            handle.seek(before["aws_log"])
            aws = benchlib.count_aws_requests(handle.read())
        if self.recorder and os.path.exists(self.recorder):
            with open(self.recorder, encoding="utf-8", errors="replace") as handle:
                handle.seek(before["recorder"])
                aws["by_action"] = benchlib.count_recorded(handle.read().splitlines())
        kube = benchlib.summarize_kube_delta(benchlib.counter_delta(before["kube"], after["kube"]), seconds, idle_rate)
        return {"aws": aws, "kube": kube}

    def idle_rate(self, seconds: float) -> dict:
        before = self.snapshot()["kube"]
        time.sleep(seconds)
        after = self.snapshot()["kube"]
        return {k: v / seconds for k, v in benchlib.counter_delta(before, after).items()}

    # nodes
    def kwok_nodes(self) -> list[str]:
        items = self.api.request("GET", "/api/v1/nodes?labelSelector=type%3Dkwok", timeout=60)["items"]
        return sorted(n["metadata"]["name"] for n in items)

    def set_nodes(self, count: int) -> float:
        """Grow (sandbox.py's create_nodes: POST, 409 = exists, waits for Ready) or shrink (DELETE the highest
        kwok-node-<i>) the kwok nodes to `count`. Returns the seconds it took."""
        t0 = time.monotonic()
        names = self.kwok_nodes()
        if count > len(names):
            settings = sbx.Settings()
            settings.nodes = count
            settings.timeout = max(settings.timeout, 600)
            sbx.create_nodes(settings, self.state["versions"]["kubernetes"])
        else:
            keep = {f"{sbx.NODE_PREFIX}{i}" for i in range(count)}
            for name in names:
                if name not in keep:
                    with contextlib.suppress(urllib.error.HTTPError):
                        self.api.request("DELETE", f"/api/v1/nodes/{name}", timeout=30)
            deadline = time.monotonic() + 300
            while len(self.kwok_nodes()) > count and time.monotonic() < deadline:
                time.sleep(1)
        return time.monotonic() - t0


# --- runs ------------------------------------------------------------------------------------------------------------

def ansible_env(extra: dict | None = None) -> dict:
    env = os.environ.copy()
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0", PATH=VENV_BIN + os.pathsep + env.get("PATH", ""))
    env.update(extra or {})
    return env


# Extra vars for every site.yml/teardown.yml run (--extra-vars), e.g. {"xray_in_worker": false} to measure the
# modules run the normal way, one process each, against the default (in Ansible's worker).
EXTRA_VARS: dict = {}


def run_playbook(playbook: str, inventory: str | None = None, forks: int | None = None) -> dict:
    cmd = [os.path.join(VENV_BIN, "ansible-playbook"), playbook]
    if EXTRA_VARS:
        cmd += ["-e", json.dumps(EXTRA_VARS)]
    if inventory:
        cmd += ["-i", inventory]
    if forks:
        cmd += ["--forks", str(forks)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT, check=False)
    seconds = time.monotonic() - t0
    doc = benchlib.parse_callback(proc.stdout)
    return {"seconds": seconds, "rc": proc.returncode, "doc": doc, "stats": benchlib.stats_totals(doc),
            "stderr": proc.stderr[-3000:], "stdout_tail": proc.stdout[-3000:]}


def require_ok(run: dict, what: str) -> None:
    if run["rc"] != 0 or run["stats"]["failures"] or run["stats"]["unreachable"]:
        failed = [f"{t['task']['name']}: {str(r.get('msg'))[:400]}" for p in run["doc"].get("plays", []) for t in p.get("tasks", [])
                  for r in t.get("hosts", {}).values() if r.get("failed")]
        raise BenchError(f"{what} failed (rc={run['rc']}): {failed or run['stderr'] or run['stdout_tail']}")


def run_baseline(action: str, spec_path: str) -> dict:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.join(HERE, "baseline.py"), action, spec_path], cwd=REPO,
                          capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT, check=False)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise BenchError(f"baseline {action} failed: {proc.stderr[-2000:]} {proc.stdout[-1000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["seconds"] = seconds
    return out


# --- reading back what site.yml created ----------------------------------------------------------------------------

def owned_namespaces(sb: Sandbox) -> list[str]:
    items = sb.api.request("GET", "/api/v1/namespaces?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dtracing.xray")["items"]
    return sorted(n["metadata"]["name"] for n in items if not n["metadata"].get("deletionTimestamp"))


def applied_by(obj: dict, manager: str) -> bool:
    return any(m.get("manager") == manager and m.get("operation") == "Apply" for m in obj["metadata"].get("managedFields") or [])


def objects_of(sb: Sandbox, namespaces: list[str], manager: str) -> list[dict]:
    """Every object (namespaced kinds found by discovery, plus the namespaces) that `manager` applied."""
    kinds = [k for k in sb.kubectl("api-resources", "--namespaced=true", "--verbs=list", "-o", "name").split()
             if k not in ("events", "events.events.k8s.io")]
    found = []
    for ns in namespaces:
        nsobj = json.loads(sb.kubectl("get", "namespace", ns, "-o", "json", "--show-managed-fields"))
        if applied_by(nsobj, manager):
            found.append(nsobj)
        items = json.loads(sb.kubectl("get", ",".join(kinds), "-n", ns, "-o", "json", "--show-managed-fields"))["items"]
        found += [o for o in items if applied_by(o, manager)]
    return found


def kinds_of(objs: list[dict]) -> dict[str, int]:
    return dict(sorted(Counter(o["kind"] for o in objs).items()))


def pods_in(sb: Sandbox, namespaces: list[str]) -> int:
    return sum(len(sb.api.request("GET", f"/api/v1/namespaces/{ns}/pods", timeout=60)["items"]) for ns in namespaces)


def strip(obj: dict) -> dict:
    obj = json.loads(json.dumps(obj))
    meta = obj["metadata"]
    keep = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
    keep["annotations"] = {k: v for k, v in (keep.get("annotations") or {}).items() if k not in STRIP_ANNOTATIONS}
    if not keep["annotations"]:
        del keep["annotations"]
    if obj["kind"] == "Namespace":
        keep.get("labels", {}).pop("kubernetes.io/metadata.name", None)
        obj.pop("spec", None)
    obj["metadata"] = keep
    obj.pop("status", None)
    if obj["kind"] == "Service":
        for field in ("clusterIP", "clusterIPs"):
            obj["spec"].pop(field, None)
    return obj


def rename(text: str, mapping: dict[str, str]) -> str:
    for old, new in mapping.items():
        text = re.sub(r"(?<![\w-])" + re.escape(old) + r"(?![\w-])", new, text)
    return text


def read_back_aws(sb: Sandbox) -> dict:
    iam = sb.iam()
    issuer = sb.state["oidc_issuer"].split("://", 1)[-1]
    prov_arn = next(p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
                    if p["Arn"].endswith("/" + issuer))
    prov = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=prov_arn)
    roles = [r for r in iam.list_roles()["Roles"]
             if {"Key": "managed-by", "Value": "tracing.xray"} in iam.list_role_tags(RoleName=r["RoleName"])["Tags"]]
    if len(roles) != 1:
        raise BenchError(f"expected one IAM role of tracing.xray after the warm-up converge, found {[r['RoleName'] for r in roles]}")
    role = iam.get_role(RoleName=roles[0]["RoleName"])["Role"]
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    return {
        "provider": {"url": "https://" + issuer, "client_ids": prov["ClientIDList"], "thumbprints": prov.get("ThumbprintList", []),
                     "tags": prov.get("Tags", [])},
        "role": {"name": role["RoleName"], "arn": role["Arn"], "path": role["Path"], "description": role.get("Description", ""),
                 "trust_policy": role["AssumeRolePolicyDocument"], "tags": role.get("Tags", []),
                 "policy_arns": [p["PolicyArn"] for p in attached]},
    }


def aws_state(sb: Sandbox, role_names: list[str]) -> dict:
    """Which of our AWS resources exist (fresh state: none)."""
    iam = sb.iam()
    issuer = sb.state["oidc_issuer"].split("://", 1)[-1]
    provider = any(p["Arn"].endswith("/" + issuer) for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
    existing = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    return {"provider": provider, "roles": sorted(set(role_names) & existing)}


class Template:
    """The baseline's inputs, from the warm-up converge: manifests (stripped) and the AWS resources."""

    def __init__(self, objs: list[dict], aws: dict, namespaces: list[str]) -> None:
        self.objs = [strip(o) for o in objs]
        self.aws = aws
        self.namespaces = namespaces
        self.kinds = kinds_of(objs)

    def spec(self, sb: Sandbox, tag: str, workdir: str) -> tuple[str, dict]:
        role_name = f"bench-hand-{tag}"
        mapping = {ns: f"bench-hand-{tag}-{i}" for i, ns in enumerate(self.namespaces)}
        role = json.loads(rename(json.dumps(self.aws["role"]), mapping))
        old_arn = role.pop("arn")
        role["name"] = role_name
        objs_text = rename(json.dumps(self.objs), mapping).replace(old_arn, old_arn.rsplit("/", 1)[0] + "/" + role_name)
        objs = json.loads(objs_text)
        # namespaces first, as a runbook applies them
        objs.sort(key=lambda o: 0 if o["kind"] == "Namespace" else 1)
        manifests = os.path.join(workdir, f"manifests-{tag}.json")
        with open(manifests, "w", encoding="utf-8") as handle:
            json.dump({"apiVersion": "v1", "kind": "List", "items": objs}, handle, indent=1)
        rollout = [[o["kind"].lower(), o["metadata"]["namespace"], o["metadata"]["name"]] for o in objs
                   if o["kind"] in ("DaemonSet", "Deployment")]
        spec = {"aws": sb.aws_spec(), "provider": self.aws["provider"], "role": role, "kubectl": sb.state["kubectl"],
                "kubeconfig": sb.state["kubeconfig"], "manifests": manifests, "namespaces": list(mapping.values()),
                "rollout": rollout, "field_manager": BASELINE_MANAGER, "timeout": 300}
        path = os.path.join(workdir, f"spec-{tag}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(spec, handle, indent=1)
        return path, spec


# --- DaemonSet watcher (scale part) --------------------------------------------------------------------------------

class DaemonSetWatch(threading.Thread):
    """Polls one DaemonSet (every 0.25 s, until rolled out or the deadline): when it first exists and when
    desired = updated = ready = the node count. Its rollout time is the controller's (and kwok's) share."""

    def __init__(self, sb: Sandbox, namespace: str, name: str, nodes: int, deadline_s: float) -> None:
        super().__init__(daemon=True)
        self.sb, self.path, self.nodes = sb, f"/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}", nodes
        self.deadline = time.monotonic() + deadline_s
        self.seen = self.done = None
        self.stop = threading.Event()
        self.polls = 0

    def run(self) -> None:
        while not self.stop.is_set() and time.monotonic() < self.deadline and self.done is None:
            self.polls += 1
            with contextlib.suppress(Exception):
                ds = self.sb.api.request("GET", self.path, timeout=10)
                now = time.monotonic()
                if self.seen is None:
                    self.seen = now
                st = ds.get("status", {})
                if (st.get("observedGeneration", 0) >= ds["metadata"].get("generation", 1)
                        and st.get("desiredNumberScheduled") == self.nodes
                        and st.get("updatedNumberScheduled") == self.nodes and st.get("numberReady") == self.nodes):
                    self.done = now
            self.stop.wait(0.25)

    @property
    def rollout_s(self) -> float | None:
        return None if self.seen is None or self.done is None else self.done - self.seen


# --- the parts -----------------------------------------------------------------------------------------------------

def check_fresh(sb: Sandbox, namespaces: list[str], roles: list[str]) -> None:
    left = [ns for ns in namespaces if ns in owned_namespaces(sb)]
    aws = aws_state(sb, roles)
    if left or aws["provider"] or aws["roles"]:
        raise BenchError(f"not a fresh state before a converge: namespaces {left}, AWS {aws}")


def part_main(sb: Sandbox, runs: int, workdir: str, results: dict) -> None:
    if owned_namespaces(sb):
        say(f"namespaces of tracing.xray exist ({owned_namespaces(sb)}): teardown.yml first")
        require_ok(run_playbook("teardown.yml"), "pre-clean teardown")
    say("warm-up converge (site.yml), read back its objects, teardown")
    warm = run_playbook("site.yml")
    require_ok(warm, "warm-up converge")
    namespaces = owned_namespaces(sb)
    objs = objects_of(sb, namespaces, OWNER_MANAGER)
    template = Template(objs, read_back_aws(sb), namespaces)
    site_pods = pods_in(sb, namespaces)
    site_role = template.aws["role"]["name"]
    warm_down = run_playbook("teardown.yml")
    require_ok(warm_down, "warm-up teardown")
    results["warmup"] = {"converge_s": warm["seconds"], "teardown_s": warm_down["seconds"], "namespaces": namespaces}
    results["site_objects"] = {"kinds": template.kinds, "pods": site_pods, "aws": {
        "oidc_providers": 1, "roles": 1, "attached_policies": template.aws["role"]["policy_arns"]}}
    say(f"site.yml applies {template.kinds} ({site_pods} pods) in {namespaces}; role {site_role}")

    say("idle window (10 s): background request rate of the API server")
    idle = sb.idle_rate(10.0)
    results["kube_idle_requests_per_s"] = round(sum(idle.values()), 2)

    times: dict[str, list[float]] = {k: [] for k in ("baseline_converge", "baseline_noop", "baseline_teardown",
                                                      "converge", "noop", "teardown", "floor_noop")}
    calls: dict[str, list[dict]] = {k: [] for k in times if k != "floor_noop"}
    profiles: dict[str, list[list[dict]]] = {"converge": [], "noop": [], "teardown": []}
    counts: dict[str, list[dict]] = {"converge": [], "noop": [], "teardown": []}
    steps: dict[str, list[dict]] = {"baseline_converge": [], "baseline_noop": [], "baseline_teardown": []}
    for i in range(runs):
        tag = f"r{i}"
        spec_path, spec = template.spec(sb, tag, workdir)
        check_fresh(sb, spec["namespaces"] + namespaces, [spec["role"]["name"], site_role])
        for key, action in (("baseline_converge", "converge"), ("baseline_noop", "converge"), ("baseline_teardown", "teardown")):
            before = sb.snapshot()
            out = run_baseline(action, spec_path)
            calls[key].append(sb.delta(before, out["seconds"], idle))
            times[key].append(out["seconds"])
            steps[key].append(out["steps"])
            if key == "baseline_noop" and out["changed"]:
                raise BenchError(f"baseline no-op changed {out['changed']} things")
            if key == "baseline_converge" and i == 0:
                base_objs = objects_of(sb, spec["namespaces"], BASELINE_MANAGER)
                base_aws = aws_state(sb, [spec["role"]["name"]])
                attached = sb.iam().list_attached_role_policies(RoleName=spec["role"]["name"])["AttachedPolicies"]
                equiv = {"site": results["site_objects"],
                         "baseline": {"kinds": kinds_of(base_objs), "pods": pods_in(sb, spec["namespaces"]),
                                      "aws": {"oidc_providers": int(base_aws["provider"]), "roles": len(base_aws["roles"]),
                                              "attached_policies": [p["PolicyArn"] for p in attached]}}}
                equiv["match"] = equiv["site"] == equiv["baseline"]
                results["equivalence"] = equiv
                if not equiv["match"]:
                    raise BenchError(f"the baseline does not create what site.yml creates: {json.dumps(equiv)}")
            say(f"run {i + 1}/{runs}: {key} {out['seconds']:.2f}s")
        for key, playbook in (("converge", "site.yml"), ("noop", "site.yml"), ("teardown", "teardown.yml")):
            if key == "converge":
                check_fresh(sb, namespaces, [site_role])
            before = sb.snapshot()
            run = run_playbook(playbook)
            require_ok(run, f"run {i + 1} {key}")
            calls[key].append(sb.delta(before, run["seconds"], idle))
            if key == "noop" and run["stats"]["changed"] != 0:
                raise BenchError(f"run {i + 1}: the no-op run changed {run['stats']['changed']} task(s)")
            times[key].append(run["seconds"])
            profiles[key].append(benchlib.task_profile(run["doc"]))
            counts[key].append({**benchlib.task_count(run["doc"]), **run["stats"],
                                "task_seconds": round(benchlib.total_task_seconds(profiles[key][-1]), 2)})
            say(f"run {i + 1}/{runs}: {key} {run['seconds']:.2f}s (changed={run['stats']['changed']})")
            if key == "noop":
                # Ansible's floor for the same shape, right after the no-op (benchlib.floor_playbook).
                floor_path = os.path.join(workdir, "floor.yml")
                if i == 0:
                    with open(floor_path, "w", encoding="utf-8") as handle:
                        handle.write(benchlib.floor_playbook(counts["noop"][0]["executed"], counts["noop"][0]["skipped"]))
                floor = run_playbook(floor_path)
                require_ok(floor, f"run {i + 1} floor")
                times["floor_noop"].append(floor["seconds"])
                say(f"run {i + 1}/{runs}: floor_noop {floor['seconds']:.2f}s (Ansible's floor: the no-op's task counts, tasks that do nothing)")

    results["times_s"] = {k: benchlib.summary(v) for k, v in times.items()}
    results.update(benchlib.headline_ratios(times))
    results.update(benchlib.floor_ratios(times))
    results["baseline_steps_s"] = steps
    results["task_counts"] = counts
    results["api_calls"] = {k: v for k, v in calls.items()}
    results["api_calls_median"] = {
        k: {"aws": benchlib.summary([c["aws"]["total"] for c in v])["median"],
            "kube_total": benchlib.summary([c["kube"]["total"] for c in v])["median"],
            "kube_net_of_background": benchlib.summary([c["kube"].get("net_of_background", 0) for c in v])["median"]}
        for k, v in calls.items()}
    results["profile"] = {k: benchlib.slowest_tasks(v, 10) for k, v in profiles.items()}
    results["_template"] = template


def part_scale(sb: Sandbox, sizes: list[int], workdir: str, results: dict) -> None:
    template: Template = results["_template"]
    original = len(sb.kwok_nodes())
    # the DaemonSet's own namespace (template.namespaces is every namespace of ours, in the API server's order)
    site_ns, daemonset = next((o["metadata"]["namespace"], o["metadata"]["name"]) for o in template.objs if o["kind"] == "DaemonSet")
    out = []
    try:
        for size in sizes:
            grow = sb.set_nodes(size)
            say(f"scale: {size} kwok nodes ({grow:.1f}s to get there)")
            spec_path, spec = template.spec(sb, f"s{size}", workdir)
            base = run_baseline("converge", spec_path)
            base_down = run_baseline("teardown", spec_path)
            check_fresh(sb, template.namespaces, [template.aws["role"]["name"]])
            watch = DaemonSetWatch(sb, site_ns, daemonset, size, PLAYBOOK_TIMEOUT)
            watch.start()
            run = run_playbook("site.yml")
            watch.stop.set()
            watch.join(15)
            require_ok(run, f"scale {size} converge")
            prof = benchlib.task_profile(run["doc"])
            wait_task = sum(t["seconds"] for t in prof if "Read the DaemonSet status" in t["name"])
            down = run_playbook("teardown.yml")
            require_ok(down, f"scale {size} teardown")
            rollout_key = next(k for k in base["steps"] if k.startswith("rollout_daemonset"))
            row = {"nodes": size, "converge_s": run["seconds"], "baseline_converge_s": base["seconds"],
                   "converge_ratio": benchlib.ratio(run["seconds"], base["seconds"]),
                   "daemonset_rollout_s": watch.rollout_s, "beyond_rollout_s":
                       None if watch.rollout_s is None else run["seconds"] - watch.rollout_s,
                   "daemon_wait_task_s": wait_task, "baseline_rollout_status_s": base["steps"][rollout_key],
                   "baseline_teardown_s": base_down["seconds"], "teardown_s": down["seconds"],
                   **benchlib.task_count(run["doc"])}
            out.append(row)
            say(f"scale {size}: converge {run['seconds']:.1f}s, baseline {base['seconds']:.1f}s, "
                f"DaemonSet rollout {watch.rollout_s}s, tasks {row['tasks']}")
    finally:
        with contextlib.suppress(Exception):
            shrink = sb.set_nodes(original)
            say(f"scale: back to {original} kwok nodes ({shrink:.1f}s)")
    counts = {r["tasks"] for r in out}
    results["scale"] = {"rows": out, "task_count_constant": len(counts) <= 1}


def write_inventory(sb: Sandbox, workdir: str, hosts: int, tag: str) -> str:
    inv = os.path.join(workdir, f"inventory-{tag}")
    os.makedirs(os.path.join(inv, "group_vars"), exist_ok=True)
    shutil.copy(os.path.join(REPO, "inventories", "sandbox", "group_vars", "all.yml"), os.path.join(inv, "group_vars", "all.yml"))
    cluster = sb.state["cluster_name"]
    lines = ["---", "all:", "  hosts:"]
    for i in range(hosts):
        name = f"bench-{tag}-c{i}"
        lines += [f"    {name}:", "      ansible_connection: local",
                  '      ansible_python_interpreter: "{{ ansible_playbook_python }}"',
                  f"      xray_cluster_name: {name}", f"      irsa_cluster_name: {cluster}",
                  f"      xray_namespace: {name}-system", f"      xray_apps_namespace: {name}-apps",
                  f"      irsa_role_name: {name}-xray-daemon",
                  # one real cluster for every host: each "cluster's" collector needs a hostPort of its own
                  f"      daemon_port: {2000 + i}", f"      apps_daemon_port: {2000 + i}"]
    with open(os.path.join(inv, "hosts.yml"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return inv


def part_many(sb: Sandbox, clusters: int, workdir: str, results: dict) -> None:
    out = {}
    for hosts, forks in ((1, 1), (clusters, clusters)):
        inv = write_inventory(sb, workdir, hosts, f"h{hosts}")
        run = run_playbook("site.yml", inventory=inv, forks=forks)
        down = run_playbook("teardown.yml", inventory=inv, forks=forks)
        entry = {"hosts": hosts, "forks": forks, "converge_s": run["seconds"], "teardown_s": down["seconds"],
                 "converge_rc": run["rc"], "teardown_rc": down["rc"], "converge_stats": run["stats"], "teardown_stats": down["stats"]}
        if run["rc"] or down["rc"]:
            entry["failed_tasks"] = [f"{h}: {t['task']['name']}: {str(r.get('msg'))[:300]}" for p in (run["doc"].get("plays", []) +
                                     down["doc"].get("plays", [])) for t in p.get("tasks", []) for h, r in t.get("hosts", {}).items()
                                     if r.get("failed")][:10]
        out[f"hosts_{hosts}"] = entry
        say(f"many: {hosts} host(s), forks {forks}: converge {run['seconds']:.1f}s rc={run['rc']}, "
            f"teardown {down['seconds']:.1f}s rc={down['rc']}")
        left = owned_namespaces(sb)
        if left:
            say(f"many: namespaces left after teardown: {left}; teardown.yml of the sandbox inventory")
            run_playbook("teardown.yml", inventory=inv, forks=forks)
    one, many = out["hosts_1"], out[f"hosts_{clusters}"]
    out["converge_ratio_many_vs_one"] = benchlib.ratio(many["converge_s"], one["converge_s"])
    out["teardown_ratio_many_vs_one"] = benchlib.ratio(many["teardown_s"], one["teardown_s"])
    results["many_clusters"] = out


# --- machine, report -------------------------------------------------------------------------------------------------

def machine(sb: Sandbox) -> dict:
    mem_kib = 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    versions = {"python": platform.python_version()}
    for dist in ("ansible-core", "ansible", "boto3", "botocore", "kubernetes", "moto"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version  # noqa: PLC0415

            versions[dist] = version(dist)
    versions.update({f"sandbox_{k}": v for k, v in sb.state.get("versions", {}).items()})
    return {"cores": os.cpu_count(), "ram_gib": round(mem_kib / 1048576, 1), "kernel": platform.release(),
            "loadavg_start": list(os.getloadavg()), "versions": versions,
            "sandbox": {"dir": sb.settings.dir, "cluster": sb.state["cluster_name"], "real_nodes": sb.state.get("real_nodes", 0),
                        "nodes": sb.state.get("nodes"), "started_by_bench": sb.started}}


def report(results: dict) -> str:
    parts = []
    if "times_s" in results:
        times = {k: v["values"] for k, v in results["times_s"].items()}
        parts += [f"Runs: {results['runs']}", "", benchlib.times_table(times), "",
                  benchlib.ratios_table({k: results[k] for k in ("converge_ratio", "noop_ratio", "noop_vs_baseline",
                                                                  "teardown_ratio", "teardown_vs_baseline", "noop_vs_floor",
                                                                  "floor_vs_baseline") if k in results}), ""]
        counts = results.get("task_counts", {})
        rows = [[k, *(counts[k][0].get(c, "") for c in ("tasks", "executed", "skipped", "module_calls"))]
                for k in ("converge", "noop", "teardown") if counts.get(k)]
        parts += [benchlib.markdown_table(["tasks (run 1)", "all", "executed", "skipped", "module calls (load-independent)"], rows), ""]
        rows = [[k, v["aws"], v["kube_total"], v["kube_net_of_background"]] for k, v in results["api_calls_median"].items()]
        parts += [benchlib.markdown_table(["API requests (median per run)", "AWS endpoint", "kube-apiserver (all clients)",
                                           "kube-apiserver net of idle background"], rows), ""]
        for key in ("converge", "noop", "teardown"):
            parts += [f"Slowest tasks, {key} (median over the runs):", "",
                      benchlib.markdown_table(["task", "seconds (median)", "max", "times per run"],
                                              [[r["task"], r["median_s"], r["max_s"], r["per_run"]] for r in results["profile"][key]]), ""]
    if "scale" in results:
        rows = [[r["nodes"], r["baseline_converge_s"], r["converge_s"], r["converge_ratio"], r["daemonset_rollout_s"],
                 r["beyond_rollout_s"], r["daemon_wait_task_s"], r["tasks"]] for r in results["scale"]["rows"]]
        parts += [benchlib.markdown_table(["kwok nodes", "baseline converge s", "converge s", "ratio", "DaemonSet rollout s",
                                           "converge beyond rollout s", "daemon wait task s", "tasks"], rows),
                  f"task count constant: {results['scale']['task_count_constant']}", ""]
    if "many_clusters" in results:
        m = results["many_clusters"]
        rows = [[v["hosts"], v["forks"], v["converge_s"], v["teardown_s"], v["converge_rc"], v["teardown_rc"]]
                for k, v in m.items() if k.startswith("hosts_")]
        parts += [benchlib.markdown_table(["hosts", "forks", "converge s", "teardown s", "converge rc", "teardown rc"], rows),
                  f"converge many/one: {benchlib._fmt(m['converge_ratio_many_vs_one'])}, "
                  f"teardown many/one: {benchlib._fmt(m['teardown_ratio_many_vs_one'])}", ""]
    return "\n".join(parts)


def write_results(results: dict, path: str) -> None:
    data = {k: v for k, v in results.items() if k != "_template"}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True, default=str)
        handle.write("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    parser.add_argument("--parts", default=os.environ.get("BENCH_PARTS", "main,scale,many"))
    parser.add_argument("--scale-nodes", default=os.environ.get("BENCH_SCALE_NODES", "3,100,1000"))
    parser.add_argument("--clusters", type=int, default=int(os.environ.get("BENCH_CLUSTERS", "4")))
    parser.add_argument("--out", default=os.environ.get("BENCH_OUT", os.path.join(HERE, "results.json")))
    parser.add_argument("--extra-vars", default=os.environ.get("BENCH_EXTRA_VARS", ""),
                        help='JSON object of extra vars for every playbook run, e.g. \'{"xray_in_worker": false}\'')
    args = parser.parse_args(argv)
    try:
        extra = json.loads(args.extra_vars) if args.extra_vars else {}
    except ValueError as err:
        parser.error(f"--extra-vars must be a JSON object: {err}")
    if not isinstance(extra, dict):
        parser.error(f"--extra-vars must be a JSON object, got {type(extra).__name__}")
    EXTRA_VARS.update(extra)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    sizes = [int(s) for s in args.scale_nodes.split(",") if s.strip()]
    if not 1 <= args.runs <= 20 or not 1 <= args.clusters <= 16 or any(not 1 <= s <= 2000 for s in sizes):
        parser.error("bounds: 1 <= runs <= 20, 1 <= clusters <= 16, 1 <= nodes <= 2000")
    if ("scale" in parts) and "main" not in parts:
        parser.error("scale needs main (its baseline manifests come from main's warm-up converge)")

    started = time.time()
    results: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(sys.argv),
                     "runs": args.runs, "parts": parts, "extra_vars": dict(EXTRA_VARS)}
    sb = Sandbox()
    workdir = tempfile.mkdtemp(prefix="tracing-xray-bench-")
    rc = 0
    try:
        sb.ensure_up()
        results["machine"] = machine(sb)
        os.environ["SANDBOX_DIR"] = sb.settings.dir  # the sandbox inventory reads sandbox.json from there
        if "main" in parts:
            part_main(sb, args.runs, workdir, results)
            write_results(results, args.out)
        if "scale" in parts:
            part_scale(sb, sizes, workdir, results)
            write_results(results, args.out)
        if "many" in parts:
            part_many(sb, args.clusters, workdir, results)
    except (BenchError, sbx.SandboxError, subprocess.TimeoutExpired) as err:
        say(f"FAILED: {err}")
        results["error"] = str(err)
        rc = 1
    finally:
        results.pop("_template", None)
        if "machine" in results:
            results["machine"]["loadavg_end"] = list(os.getloadavg())
        results["wall_s"] = round(time.time() - started, 1)
        sb.down()
        shutil.rmtree(workdir, ignore_errors=True)
        write_results(results, args.out)
    print(report(results))
    say(f"results: {args.out} ({results['wall_s']}s)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
