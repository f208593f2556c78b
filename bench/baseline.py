#!/usr/bin/env python3
"""The hand-run runbook, as a script: what an engineer does without the collection, for the benchmark's baseline.

    python bench/baseline.py converge SPEC.json   # idempotent: a second run is the hand-run no-op
    python bench/baseline.py teardown SPEC.json

converge: boto3 (IAM OIDC provider, IAM role with its trust policy, the managed policies attached), each created only
when missing (a careful runbook checks first); then `kubectl apply --server-side` of the manifests (one file, the
objects site.yml created, read back by bench.py) and `kubectl rollout status` of every DaemonSet and Deployment.
teardown: `kubectl delete namespace --wait` (the namespaces hold every object), then the role (policies detached)
and the OIDC provider.

SPEC.json is written by bench/bench.py. Prints one JSON line: {"action", "seconds", "steps": {step: seconds},
"changed": n}. Runs as its own process, like a runbook script: boto3's import and client set-up count.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

T0 = time.monotonic()

import boto3  # noqa: E402  (timed: part of what a runbook script pays)
from botocore.exceptions import ClientError  # noqa: E402


def _iam(spec: dict):
    aws = spec["aws"]
    return boto3.client("iam", endpoint_url=aws["endpoint_url"], region_name=aws["region"],
                        aws_access_key_id=aws["access_key"], aws_secret_access_key=aws["secret_key"])


def _kubectl(spec: dict, *args: str, timeout: float | None = None) -> str:
    cmd = [spec["kubectl"], "--kubeconfig", spec["kubeconfig"], *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or spec.get("timeout", 300), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"baseline: {' '.join(args[:3])} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _provider_arn(iam, url: str) -> str | None:
    bare = url.split("://", 1)[-1]
    for entry in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        if entry["Arn"].endswith(":oidc-provider/" + bare):
            return entry["Arn"]
    return None


def converge(spec: dict) -> dict:
    steps: dict[str, float] = {}
    changed = 0
    mark = time.monotonic()

    def step(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        steps[name] = round(now - mark, 3)
        mark = now

    iam = _iam(spec)
    step("boto3_client")
    prov = spec["provider"]
    if _provider_arn(iam, prov["url"]) is None:
        args = {"Url": prov["url"], "ClientIDList": prov["client_ids"]}
        if prov.get("thumbprints"):
            args["ThumbprintList"] = prov["thumbprints"]
        if prov.get("tags"):
            args["Tags"] = prov["tags"]
        iam.create_open_id_connect_provider(**args)
        changed += 1
    step("oidc_provider")
    role = spec["role"]
    try:
        iam.get_role(RoleName=role["name"])
    except ClientError as err:
        if err.response["Error"]["Code"] != "NoSuchEntity":
            raise
        args = {"RoleName": role["name"], "Path": role["path"], "AssumeRolePolicyDocument": json.dumps(role["trust_policy"]),
                "Description": role["description"]}
        if role.get("tags"):
            args["Tags"] = role["tags"]
        iam.create_role(**args)
        changed += 1
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["name"])["AttachedPolicies"]}
    for arn in role["policy_arns"]:
        if arn not in attached:
            iam.attach_role_policy(RoleName=role["name"], PolicyArn=arn)
            changed += 1
    step("iam_role")
    # kubectl apply --server-side says "serverside-applied" whether or not anything changed: `changed` counts AWS only.
    _kubectl(spec, "apply", "--server-side", f"--field-manager={spec['field_manager']}", "-f", spec["manifests"])
    step("kubectl_apply")
    for kind, namespace, name in spec["rollout"]:
        _kubectl(spec, "rollout", "status", f"{kind}/{name}", "-n", namespace, f"--timeout={spec.get('timeout', 300)}s")
        step(f"rollout_{kind}_{name}")
    return {"steps": steps, "changed": changed}


def teardown(spec: dict) -> dict:
    steps: dict[str, float] = {}
    mark = time.monotonic()
    namespaces = spec["namespaces"]
    _kubectl(spec, "delete", "namespace", *namespaces, "--ignore-not-found", "--wait=true", f"--timeout={spec.get('timeout', 300)}s")
    steps["kubectl_delete_namespaces"] = round(time.monotonic() - mark, 3)
    mark = time.monotonic()
    iam = _iam(spec)
    role = spec["role"]["name"]
    try:
        for pol in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=pol["PolicyArn"])
        iam.delete_role(RoleName=role)
    except ClientError as err:
        if err.response["Error"]["Code"] != "NoSuchEntity":
            raise
    arn = _provider_arn(iam, spec["provider"]["url"])
    if arn:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    steps["iam"] = round(time.monotonic() - mark, 3)
    return {"steps": steps, "changed": None}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("converge", "teardown"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2], encoding="utf-8") as handle:
        spec = json.load(handle)
    result = converge(spec) if argv[1] == "converge" else teardown(spec)
    result.update(action=argv[1], seconds=round(time.monotonic() - T0, 3))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
