#!/usr/bin/env python3
"""Traffic from inside the sandbox cluster: a bounded load generator Job on the real node.

    .venv/bin/python sandbox/traffic.py [--namespace xray-apps] [--service x-ray-sample-front-k8s] \\
        [--count 300] [--rate 20] [--duration 120] [--concurrency 2]

The Job's pod runs the sample image's ``xray_sample.loadgen`` against the front end's Service by its cluster DNS
name, so every request goes pod -> Service -> front pod -> Service -> back pod, and the SDKs in those pods send
their segments to the daemon pod on the node (``status.hostIP:2000``). The load generator targets only the
cluster's Service and pod networks, which exist on this machine alone (the sandbox's guard chain rejects anything
leaving the node's bridge), and stops at ``--count`` requests or ``--duration`` seconds, whichever comes first.
Prints the load generator's JSON summary (with ``job``, ``pod`` and ``node``); exit 1 when the Job failed.
Needs a sandbox with a real node (SANDBOX_REAL_NODES=1). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import images  # noqa: E402  (sibling module: the names the sandbox imports its images under)


def service_image(service: str) -> str:
    """The workshop preset's image of ``service``: the sandbox imports the sample image under that name."""
    presets = images.preset_images(os.path.join(REPO, "roles", "apps", "vars", "main.yml"), "workshop")
    if service not in presets:
        raise SystemExit(f"traffic: {service} is not a service of the workshop preset ({', '.join(presets)}): give --image")
    return presets[service]


def load_state() -> dict:
    sandbox_dir = os.environ.get("SANDBOX_DIR") or os.path.join(REPO, ".sandbox")
    path = os.path.join(sandbox_dir, "sandbox.json")
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except OSError:
        raise SystemExit(f"traffic: no sandbox state at {path} (run `make sandbox-up`)") from None
    if not state.get("real_nodes"):
        raise SystemExit("traffic: this sandbox has no real node (SANDBOX_REAL_NODES=0): pods do not run, use the local runner")
    return state


def job_manifest(name: str, namespace: str, url: str, image: str, args: argparse.Namespace, networks: list[str]) -> dict:
    # Not the collection's ownership label: the roles' teardown must neither wait for nor delete this Job; it deletes itself.
    labels = {"app.kubernetes.io/managed-by": "tracing-xray-sandbox", "app.kubernetes.io/component": "traffic",
              "app.kubernetes.io/name": "xray-traffic"}
    command = ["python3", "-m", "xray_sample.loadgen", url, "--count", str(args.count), "--duration", str(args.duration),
               "--concurrency", str(args.concurrency), "--no-trace-ids"]
    for cidr in networks:
        command += ["--allow-cidr", cidr]
    if args.rate:
        command += ["--rate", str(args.rate)]
    security = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": int(args.duration) + 120,
            "ttlSecondsAfterFinished": 900,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001},
                    "containers": [{"name": "loadgen", "image": image, "imagePullPolicy": "IfNotPresent",
                                    "command": command, "securityContext": security,
                                    "resources": {"requests": {"cpu": "50m", "memory": "32Mi"},
                                                  "limits": {"cpu": "500m", "memory": "128Mi"}}}],
                },
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--namespace", default="xray-apps")
    parser.add_argument("--service", default="x-ray-sample-front-k8s", help="front-end Service name")
    parser.add_argument("--port", type=int, default=80, help="its Service port")
    parser.add_argument("--path", default="/api")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--image", default=None, help="image with xray_sample (default: the workshop front-end name)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for the Job (default: duration + 120)")
    args = parser.parse_args(argv)
    state = load_state()
    kubectl = [state["kubectl"], "--kubeconfig", state["kubeconfig"]]
    name = f"xray-traffic-{int(time.time())}"
    url = f"http://{args.service}.{args.namespace}.svc:{args.port}{args.path}"
    manifest = job_manifest(name, args.namespace, url, args.image or service_image(args.service), args,
                            [state["service_cidr"], state["pod_cidr"]])
    subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(manifest), text=True, check=True, capture_output=True)
    deadline = time.monotonic() + (args.timeout or args.duration + 120)
    status: dict = {}
    while time.monotonic() < deadline:
        job = json.loads(subprocess.run([*kubectl, "-n", args.namespace, "get", "job", name, "-o", "json"],
                                        check=True, capture_output=True, text=True).stdout)
        status = job.get("status", {})
        if status.get("succeeded") or status.get("failed"):
            break
        time.sleep(1)
    pods = json.loads(subprocess.run([*kubectl, "-n", args.namespace, "get", "pods", "-l", f"job-name={name}", "-o", "json"],
                                     check=True, capture_output=True, text=True).stdout)["items"]
    pod = pods[0] if pods else {}
    logs = subprocess.run([*kubectl, "-n", args.namespace, "logs", f"job/{name}"], capture_output=True, text=True, check=False)
    try:
        summary = json.loads(logs.stdout)
    except ValueError:
        summary = {"log": (logs.stdout + logs.stderr)[-2000:]}
    subprocess.run([*kubectl, "-n", args.namespace, "delete", "job", name, "--cascade=background", "--wait=false"],
                   capture_output=True, check=False)
    summary.update(job=f"{args.namespace}/{name}", pod=pod.get("metadata", {}).get("name"),
                   node=pod.get("spec", {}).get("nodeName"), succeeded=bool(status.get("succeeded")))
    print(json.dumps(summary, indent=2))
    return 0 if status.get("succeeded") else 1


if __name__ == "__main__":
    sys.exit(main())
