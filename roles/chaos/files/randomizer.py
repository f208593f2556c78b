"""tracing.xray chaos randomizer.

Every N-M seconds, delete one random pod that matches a label selector in one namespace, as the
runbook's randomizer does, so that the X-Ray service map shows what end users see while Kubernetes
replaces the pod. Python standard library only: it talks to the Kubernetes API with the pod's
ServiceAccount token (a namespaced Role allows get/list/delete on pods, nothing else).

Settings come from the environment (the role's Deployment sets them) or the command line:

  CHAOS_NAMESPACE       namespace whose pods are candidates (default: the pod's own namespace)
  CHAOS_LABEL_SELECTOR  label selector of the candidates (required)
  CHAOS_INTERVAL_MIN    shortest pause in seconds (default 120)
  CHAOS_INTERVAL_MAX    longest pause in seconds (default 300)
  CHAOS_DRY_RUN         "true": ask the API server for a dry-run delete; nothing is deleted
  CHAOS_POD_NAME        this pod's name, never a candidate
  CHAOS_API_SERVER      API server URL (default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)
  CHAOS_TOKEN_FILE      bearer token file (default: the ServiceAccount token)
  CHAOS_CA_FILE         CA bundle of the API server (default: the ServiceAccount CA)

`--once` deletes one pod without pausing first and exits: 0 when a pod was deleted (or would have been,
in dry-run mode), 3 when no pod matched. Every action is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
EXIT_NO_CANDIDATE = 3


def log(event, **fields):
    fields.update(event=event, time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    sys.stdout.write(json.dumps(fields, sort_keys=True) + "\n")
    sys.stdout.flush()


def env_bool(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def read_text(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


class Api:
    """The few Kubernetes API calls the randomizer makes."""

    def __init__(self, server, token_file, ca_file, timeout=30):
        self.server = server.rstrip("/")
        self.token_file = token_file
        self.timeout = timeout
        if self.server.startswith("https://"):
            self.context = ssl.create_default_context(cafile=ca_file if ca_file and os.path.exists(ca_file) else None)
        else:
            self.context = None

    def request(self, method, path, query=None):
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        # The kubelet rotates projected tokens: read the file on every call.
        headers = {"Accept": "application/json", "Authorization": "Bearer " + read_text(self.token_file)}
        req = urllib.request.Request(url, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def list_pods(self, namespace, selector):
        path = "/api/v1/namespaces/%s/pods" % urllib.parse.quote(namespace)
        return self.request("GET", path, {"labelSelector": selector}).get("items", [])

    def delete_pod(self, namespace, name, dry_run):
        path = "/api/v1/namespaces/%s/pods/%s" % (urllib.parse.quote(namespace), urllib.parse.quote(name))
        return self.request("DELETE", path, {"dryRun": "All"} if dry_run else None)


def candidates(pods, own_name):
    """Running pods that are not being deleted already and are not this pod."""
    out = []
    for pod in pods:
        meta = pod.get("metadata", {})
        if meta.get("deletionTimestamp") or meta.get("name") == own_name:
            continue
        if pod.get("status", {}).get("phase") != "Running":
            continue
        out.append(meta["name"])
    return sorted(out)


def strike(api, settings, rng):
    """Delete one random candidate; return its name, or None when nothing matched."""
    names = candidates(api.list_pods(settings.namespace, settings.selector), settings.pod_name)
    if not names:
        log("no-candidate", namespace=settings.namespace, selector=settings.selector)
        return None
    victim = rng.choice(names)
    api.delete_pod(settings.namespace, victim, settings.dry_run)
    log("deleted" if not settings.dry_run else "would-delete", namespace=settings.namespace, pod=victim,
        candidates=len(names), dry_run=settings.dry_run)
    return victim


def parse_args(argv):
    env = os.environ
    default_ns = env.get("CHAOS_NAMESPACE") or (
        read_text(os.path.join(SA_DIR, "namespace")) if os.path.exists(os.path.join(SA_DIR, "namespace")) else "default")
    default_server = env.get("CHAOS_API_SERVER") or "https://%s:%s" % (
        env.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc"), env.get("KUBERNETES_SERVICE_PORT", "443"))
    parser = argparse.ArgumentParser(description="Delete one random matching pod every N-M seconds.")
    parser.add_argument("--namespace", default=default_ns)
    parser.add_argument("--selector", default=env.get("CHAOS_LABEL_SELECTOR", ""))
    parser.add_argument("--interval-min", type=int, default=int(env.get("CHAOS_INTERVAL_MIN", "120")))
    parser.add_argument("--interval-max", type=int, default=int(env.get("CHAOS_INTERVAL_MAX", "300")))
    parser.add_argument("--dry-run", action="store_true", default=env_bool(env.get("CHAOS_DRY_RUN", "false")))
    parser.add_argument("--pod-name", default=env.get("CHAOS_POD_NAME", ""))
    parser.add_argument("--server", default=default_server)
    parser.add_argument("--token-file", default=env.get("CHAOS_TOKEN_FILE", os.path.join(SA_DIR, "token")))
    parser.add_argument("--ca-file", default=env.get("CHAOS_CA_FILE", os.path.join(SA_DIR, "ca.crt")))
    parser.add_argument("--once", action="store_true", help="delete one pod now and exit")
    args = parser.parse_args(argv)
    if not args.selector:
        parser.error("a label selector is required (--selector or CHAOS_LABEL_SELECTOR)")
    if args.interval_min < 1 or args.interval_max < args.interval_min:
        parser.error("need 1 <= interval-min <= interval-max, got %d-%d" % (args.interval_min, args.interval_max))
    return args


def main(argv=None):
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    api = Api(settings.server, settings.token_file, settings.ca_file)
    rng = random.SystemRandom()
    if settings.once:
        return 0 if strike(api, settings, rng) else EXIT_NO_CANDIDATE

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log("started", namespace=settings.namespace, selector=settings.selector, dry_run=settings.dry_run,
        interval_min=settings.interval_min, interval_max=settings.interval_max)
    while True:
        pause = rng.randint(settings.interval_min, settings.interval_max)
        log("sleeping", seconds=pause)
        time.sleep(pause)
        try:
            strike(api, settings, rng)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # A failed round is logged; the next one tries again.
            log("error", error=str(exc))


if __name__ == "__main__":
    sys.exit(main())
