#!/usr/bin/env python3
"""EMULATION of EKS's pod identity webhook (amazon-eks-pod-identity-webhook): IRSA injection for the sandbox.

On EKS, the mutating admission webhook ``amazon-eks-pod-identity-webhook`` injects IAM roles for service accounts
(IRSA) into pods. The sandbox's API server has no such webhook (its Go module is not served here), so this module is
our own, written from the webhook's public README and EKS's user guide. It is an EMULATION, not AWS's code.

    python sandbox/webhook.py --port 8443 --kubeconfig .sandbox/kubeconfig --region eu-west-1 \\
        --cert-dir .sandbox/webhook [--extra-env AWS_ENDPOINT_URL_STS=http://198.18.0.1:4580 ...]

What it does, as documented for EKS, for a pod (CREATE) whose ServiceAccount carries ``eks.amazonaws.com/role-arn``:

- every container and init container (unless named in the pod annotation ``eks.amazonaws.com/skip-containers``,
  a comma-separated list) gets the env ``AWS_STS_REGIONAL_ENDPOINTS=regional`` (EKS's default since 1.22; the SA
  annotation ``eks.amazonaws.com/sts-regional-endpoints: "false"`` turns it off), ``AWS_DEFAULT_REGION`` and
  ``AWS_REGION`` (the cluster's region), ``AWS_ROLE_ARN`` and
  ``AWS_WEB_IDENTITY_TOKEN_FILE=/var/run/secrets/eks.amazonaws.com/serviceaccount/token``, and a read-only mount of
  the volume ``aws-iam-token`` at ``/var/run/secrets/eks.amazonaws.com/serviceaccount``;
- the pod gets the volume ``aws-iam-token``: a projected ServiceAccount token, ``path: token``, audience from the SA
  annotation ``eks.amazonaws.com/audience`` (default ``sts.amazonaws.com``), ``expirationSeconds`` from the pod
  annotation ``eks.amazonaws.com/token-expiration``, else the SA's, else 86400 (at least 600);
- nothing the container already sets is overwritten, with the upstream webhook's grouping: if a container sets
  ``AWS_ROLE_ARN`` or ``AWS_WEB_IDENTITY_TOKEN_FILE`` neither is added; if it sets ``AWS_REGION`` or
  ``AWS_DEFAULT_REGION`` neither is added; a container that already has all three groups is left untouched (not even
  the mount); an existing mount or volume named ``aws-iam-token`` is kept;
- pods labelled ``eks.amazonaws.com/skip-pod-identity-webhook`` are not sent to it (objectSelector) nor mutated;
- ``nodeSelector kubernetes.io/os: windows`` gives the Windows form of the token path, as upstream.

SANDBOX-ONLY extension (not part of EKS): ``extra_env`` / ``--extra-env NAME=VALUE`` adds variables to every
container that gets the injection (never overwriting a variable the container sets), e.g.
``AWS_ENDPOINT_URL_STS=http://<node IP>:<aws port>`` so the SDKs in pods reach the sandbox's STS instead of AWS.

The ServiceAccount is read from the API server (kubeconfig, or an API URL with client certificate/key and CA) with a
short cache (``--cache-seconds``, 2 by default, found ServiceAccounts only: an annotation added just before a pod is
created is seen). A failed lookup (other than 404) answers HTTP 500, so the configuration's failurePolicy decides.

The configuration to register is :func:`webhook_configuration` (failurePolicy ``Fail`` by default; see its
docstring), the serving certificate comes from :func:`make_certs`. Standard library plus ``cryptography`` only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import re
import signal
import ssl
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402  (sibling module, as sandbox.py imports its own)

HOST = "127.0.0.1"
ANNOTATION_PREFIX = "eks.amazonaws.com"
ROLE_ARN_ANNOTATION = f"{ANNOTATION_PREFIX}/role-arn"
AUDIENCE_ANNOTATION = f"{ANNOTATION_PREFIX}/audience"
REGIONAL_STS_ANNOTATION = f"{ANNOTATION_PREFIX}/sts-regional-endpoints"
TOKEN_EXPIRATION_ANNOTATION = f"{ANNOTATION_PREFIX}/token-expiration"
SKIP_CONTAINERS_ANNOTATION = f"{ANNOTATION_PREFIX}/skip-containers"
SKIP_POD_LABEL = f"{ANNOTATION_PREFIX}/skip-pod-identity-webhook"
DEFAULT_AUDIENCE = "sts.amazonaws.com"
DEFAULT_TOKEN_EXPIRATION = 86400
MIN_TOKEN_EXPIRATION = 600  # kube-apiserver's minimum for a projected token
MOUNT_PATH = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
# EKS Pod Identity: what EKS injects for a ServiceAccount that has a pod identity association
POD_IDENTITY_URI = "http://169.254.170.23/v1/credentials"
POD_IDENTITY_AUDIENCE = "pods.eks.amazonaws.com"
POD_IDENTITY_VOLUME = "eks-pod-identity-token"
POD_IDENTITY_MOUNT_PATH = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
POD_IDENTITY_TOKEN_PATH = "eks-pod-identity-token"
# SANDBOX-ONLY: where injected containers find the sandbox CA (a hostPath of the node's CA directory)
CA_VOLUME_NAME = "tracing-xray-sandbox-ca"
CA_MOUNT_PATH = "/var/run/secrets/tracing-xray-sandbox"
CA_FILE = "ca.crt"
VOLUME_NAME = "aws-iam-token"
TOKEN_PATH = "token"
WEBHOOK_NAME = "pod-identity-webhook.sandbox.tracing.xray"
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z0-9-]*:iam::\d{12}:role/[\w\-/.@+=,]+$")
MAX_BODY = 8 * 1024 * 1024

log = logging.getLogger("webhook")


# --- the mutation (pure) -----------------------------------------------------------------------------------

def _parse_bool(value: str) -> bool | None:
    """Go's strconv.ParseBool, which the upstream webhook uses for the sts-regional-endpoints annotation."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None


def _parse_expiration(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        return max(int(value.strip()), MIN_TOKEN_EXPIRATION)
    except ValueError:
        log.info("invalid %s %r: using %d", TOKEN_EXPIRATION_ANNOTATION, value, default)
        return default


class Injector:
    """Computes the JSONPatch for a pod from its ServiceAccount (no I/O).

    ``extra_env`` is the SANDBOX-ONLY extension: variables added to every injected container (never overwriting).
    """

    def __init__(self, region: str, extra_env: dict[str, str] | None = None, audience: str = DEFAULT_AUDIENCE,
                 token_expiration: int = DEFAULT_TOKEN_EXPIRATION, regional_sts: bool = True,
                 ca_bundle_host_path: str | None = None, pod_identity=None) -> None:
        self.region = region
        self.extra_env = dict(extra_env or {})
        # SANDBOX-ONLY: the sandbox CA (a file on the node) mounted into injected containers as AWS_CA_BUNDLE, so SDKs
        # trust the TLS relay that cluster DNS puts in front of the sandbox's STS
        self.ca_bundle_host_path = ca_bundle_host_path
        # ``pod_identity(namespace, service_account)`` -> the EKS Pod Identity association or None (None: not looked up)
        self.pod_identity = pod_identity
        self.audience = audience
        self.token_expiration = max(int(token_expiration), MIN_TOKEN_EXPIRATION)
        self.regional_sts = regional_sts

    def settings(self, pod: dict, service_account: dict | None) -> dict | None:
        """What to inject (role, audience, expiration, regional STS, containers to skip), or None for no mutation."""
        if not service_account:
            return None
        sa_annotations = (service_account.get("metadata") or {}).get("annotations") or {}
        role_arn = sa_annotations.get(ROLE_ARN_ANNOTATION)
        if not role_arn:
            return None
        if not ROLE_ARN_RE.match(role_arn):
            log.warning("role ARN %r does not look like an IAM role ARN (injected anyway, as upstream does)", role_arn)
        regional = self.regional_sts
        if REGIONAL_STS_ANNOTATION in sa_annotations:
            parsed = _parse_bool(sa_annotations[REGIONAL_STS_ANNOTATION])
            regional = regional if parsed is None else parsed
        meta = pod.get("metadata") or {}
        pod_annotations = meta.get("annotations") or {}
        expiration = _parse_expiration(sa_annotations.get(TOKEN_EXPIRATION_ANNOTATION), self.token_expiration)
        expiration = _parse_expiration(pod_annotations.get(TOKEN_EXPIRATION_ANNOTATION), expiration)
        skip = {name.strip() for name in pod_annotations.get(SKIP_CONTAINERS_ANNOTATION, "").split(",") if name.strip()}
        return {
            "role_arn": role_arn,
            "audience": sa_annotations.get(AUDIENCE_ANNOTATION) or self.audience,
            "expiration": expiration,
            "regional_sts": regional,
            "skip": skip,
        }

    @staticmethod
    def token_file(pod: dict) -> str:
        path = f"{MOUNT_PATH}/{TOKEN_PATH}"
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        if "windows" in (selector.get("kubernetes.io/os"), selector.get("beta.kubernetes.io/os")):
            return "C:" + path.replace("/", "\\")
        return path

    def container_env(self, container: dict, settings: dict, token_file: str) -> list[dict] | None:
        """Env entries to append to one container; None: leave the container untouched (mount included)."""
        names = {entry.get("name") for entry in container.get("env") or []}
        web_identity = bool(names & {"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"})
        region = bool(names & {"AWS_REGION", "AWS_DEFAULT_REGION"})
        sts = "AWS_STS_REGIONAL_ENDPOINTS" in names
        if web_identity and region and sts:
            return None
        add = []
        if settings["regional_sts"] and not sts:
            add.append({"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"})
        if self.region and not region:
            add += [{"name": "AWS_DEFAULT_REGION", "value": self.region}, {"name": "AWS_REGION", "value": self.region}]
        if not web_identity:
            add += [{"name": "AWS_ROLE_ARN", "value": settings["role_arn"]},
                    {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": token_file}]
        taken = names | {entry["name"] for entry in add}
        add += [{"name": name, "value": value} for name, value in self.extra_env.items() if name not in taken]
        if self.ca_bundle_host_path and "AWS_CA_BUNDLE" not in taken | set(self.extra_env):
            add.append({"name": "AWS_CA_BUNDLE", "value": f"{CA_MOUNT_PATH}/{CA_FILE}"})
        return add

    def volume(self, settings: dict) -> dict:
        return {"name": VOLUME_NAME, "projected": {"sources": [{"serviceAccountToken": {
            "audience": settings["audience"], "expirationSeconds": settings["expiration"], "path": TOKEN_PATH}}]}}

    def patch(self, pod: dict, service_account: dict | None) -> list[dict]:
        """The JSONPatch operations for ``pod`` (empty: nothing to do)."""
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if SKIP_POD_LABEL in labels:
            return []
        settings = self.settings(pod, service_account)
        if settings is None:
            return pod_identity_patch(self, pod)
        spec = pod.get("spec") or {}
        token_file = self.token_file(pod)
        ops: list[dict] = []
        for kind in ("initContainers", "containers"):
            for index, container in enumerate(spec.get(kind) or []):
                if container.get("name") in settings["skip"]:
                    continue
                env = self.container_env(container, settings, token_file)
                if env is None:
                    continue
                base = f"/spec/{kind}/{index}"
                ops += _append_ops(f"{base}/env", container.get("env"), env)
                mounts = []
                if not any(m.get("name") == VOLUME_NAME for m in container.get("volumeMounts") or []):
                    mounts.append({"name": VOLUME_NAME, "readOnly": True, "mountPath": MOUNT_PATH})
                if self.ca_bundle_host_path and not any(m.get("name") == CA_VOLUME_NAME for m in container.get("volumeMounts") or []):
                    mounts.append({"name": CA_VOLUME_NAME, "readOnly": True, "mountPath": CA_MOUNT_PATH})
                ops += _append_ops(f"{base}/volumeMounts", container.get("volumeMounts"), mounts)
        # as upstream: the volume whenever the pod is mutated, even if every container was skipped or complete
        volumes = []
        if not any(v.get("name") == VOLUME_NAME for v in spec.get("volumes") or []):
            volumes.append(self.volume(settings))
        if self.ca_bundle_host_path and not any(v.get("name") == CA_VOLUME_NAME for v in spec.get("volumes") or []):
            volumes.append({"name": CA_VOLUME_NAME, "hostPath": {"path": os.path.dirname(self.ca_bundle_host_path),
                                                                  "type": "Directory"}})
        ops += _append_ops("/spec/volumes", spec.get("volumes"), volumes)
        return ops


def pod_identity_patch(injector: Injector, pod: dict) -> list[dict]:
    """EKS Pod Identity: container credentials from the node's agent, authorised by a projected token (audience
    pods.eks.amazonaws.com), for pods whose ServiceAccount has an association (and no IRSA role annotation)."""
    if injector.pod_identity is None:
        return []
    meta = pod.get("metadata") or {}
    association = injector.pod_identity(meta.get("namespace") or "default", service_account_name(pod))
    if not association:
        return []
    spec = pod.get("spec") or {}
    skip = {n.strip() for n in (meta.get("annotations") or {}).get(SKIP_CONTAINERS_ANNOTATION, "").split(",") if n.strip()}
    token_file = f"{POD_IDENTITY_MOUNT_PATH}/{POD_IDENTITY_TOKEN_PATH}"
    ops: list[dict] = []
    for kind in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(kind) or []):
            if container.get("name") in skip:
                continue
            names = {entry.get("name") for entry in container.get("env") or []}
            add = []
            if not names & {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"}:
                add += [{"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": POD_IDENTITY_URI},
                        {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "value": token_file}]
            if injector.region and not names & {"AWS_REGION", "AWS_DEFAULT_REGION"}:
                add += [{"name": "AWS_DEFAULT_REGION", "value": injector.region}, {"name": "AWS_REGION", "value": injector.region}]
            if not add:
                continue
            base = f"/spec/{kind}/{index}"
            ops += _append_ops(f"{base}/env", container.get("env"), add)
            if not any(m.get("name") == POD_IDENTITY_VOLUME for m in container.get("volumeMounts") or []):
                ops += _append_ops(f"{base}/volumeMounts", container.get("volumeMounts"),
                                   [{"name": POD_IDENTITY_VOLUME, "readOnly": True, "mountPath": POD_IDENTITY_MOUNT_PATH}])
    if ops and not any(v.get("name") == POD_IDENTITY_VOLUME for v in spec.get("volumes") or []):
        ops += _append_ops("/spec/volumes", spec.get("volumes"), [{"name": POD_IDENTITY_VOLUME, "projected": {"sources": [
            {"serviceAccountToken": {"audience": POD_IDENTITY_AUDIENCE, "expirationSeconds": DEFAULT_TOKEN_EXPIRATION,
                                     "path": POD_IDENTITY_TOKEN_PATH}}]}}])
    return ops


def _append_ops(path: str, current: list | None, items: list) -> list[dict]:
    if not items:
        return []
    if current is None:  # absent (an empty list is present: append to it)
        return [{"op": "add", "path": path, "value": items}]
    return [{"op": "add", "path": f"{path}/-", "value": item} for item in items]


def association_lookup(endpoint_url: str, region: str, cluster: str):
    """``(namespace, service_account) -> association | None`` from the sandbox AWS endpoint (its admin hook, EMULATION
    internals: EKS's own webhook reads the association in the control plane)."""
    def lookup(namespace: str, service_account: str) -> dict | None:
        query = urllib.parse.urlencode({"region": region, "cluster": cluster, "namespace": namespace,
                                        "serviceAccount": service_account})
        try:
            with urllib.request.urlopen(f"{endpoint_url}/_sandbox/pod-identity-association?{query}", timeout=3) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise
    return lookup


def service_account_name(pod: dict) -> str:
    spec = pod.get("spec") or {}
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"


def review(body: dict, injector: Injector, lookup) -> dict:
    """AdmissionReview v1 in, AdmissionReview v1 out. ``lookup(namespace, name)`` -> ServiceAccount dict or None.

    A lookup error propagates (the server answers 500, and the failurePolicy decides)."""
    request = body.get("request") or {}
    response: dict = {"uid": request.get("uid", ""), "allowed": True}
    out = {"apiVersion": body.get("apiVersion") or "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
    kind = request.get("kind") or {}
    pod = request.get("object") or {}
    if kind.get("kind") != "Pod" or request.get("operation") != "CREATE" or request.get("subResource"):
        return out
    namespace = request.get("namespace") or (pod.get("metadata") or {}).get("namespace") or "default"
    sa_name = service_account_name(pod)
    meta = pod.get("metadata") or {}
    pod_name = meta.get("name") or (meta.get("generateName") or "") + "*"
    pod = dict(pod, metadata=dict(meta, namespace=namespace))
    ops = injector.patch(pod, lookup(namespace, sa_name))
    if ops:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        log.info("mutated pod %s/%s (ServiceAccount %s): %d patch operation(s)", namespace, pod_name, sa_name, len(ops))
    else:
        log.info("pod %s/%s (ServiceAccount %s): nothing to inject", namespace, pod_name, sa_name)
    return out


# --- the Kubernetes API (urllib + ssl) --------------------------------------------------------------------

def _load_simple_yaml(text: str):
    """JSON, or the block-style YAML subset kubectl and kwokctl write for kubeconfigs (maps, lists, plain scalars)."""
    with contextlib.suppress(ValueError):
        return json.loads(text)
    lines = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        lines.append([len(raw) - len(raw.lstrip(" ")), stripped])

    def scalar(value: str):
        value = value.strip()
        if value in ("{}", "[]"):
            return {} if value == "{}" else []
        if value.startswith('"'):
            return json.loads(value)
        if value.startswith("'"):
            return value[1:-1].replace("''", "'")
        if value.startswith(("|", ">", "&", "*", "!")):
            raise ValueError(f"unsupported YAML in kubeconfig: {value[:20]!r}")
        return value

    def node(i: int, indent: int):
        if lines[i][1] == "-" or lines[i][1].startswith("- "):
            return sequence(i, indent)
        return mapping(i, indent)

    def mapping(i: int, indent: int):
        result = {}
        while i < len(lines) and lines[i][0] == indent and not (lines[i][1] == "-" or lines[i][1].startswith("- ")):
            match = re.match(r"^([^:]+?):(?:\s+(.*))?$", lines[i][1])
            if not match:
                raise ValueError(f"unsupported YAML line in kubeconfig: {lines[i][1][:40]!r}")
            key, rest = match.group(1).strip().strip("\"'"), match.group(2)
            i += 1
            if rest not in (None, ""):
                result[key] = scalar(rest)
            elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("-"))):
                result[key], i = node(i, lines[i][0])
            else:
                result[key] = None
        return result, i

    def sequence(i: int, indent: int):
        result = []
        while i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
            item = lines[i][1][1:].lstrip()
            if not item:
                i += 1
                value, i = node(i, lines[i][0]) if i < len(lines) and lines[i][0] > indent else (None, i)
            elif re.match(r"^[^:'\"]+:(\s|$)", item):
                lines[i] = [indent + len(lines[i][1]) - len(item), item]  # "- key: v" opens a map at the key's column
                value, i = mapping(i, lines[i][0])
            else:
                value, i = scalar(item), i + 1
            result.append(value)
        return result, i

    return node(0, lines[0][0])[0] if lines else {}


class KubeClient:
    """Reads objects from the API server with urllib (client certificate and/or bearer token)."""

    def __init__(self, server: str, ca_file: str | None = None, ca_data: str | None = None, cert_file: str | None = None,
                 key_file: str | None = None, token: str | None = None, insecure: bool = False) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.context = None
        if self.server.startswith("https://"):
            self.context = ssl.create_default_context(cafile=ca_file, cadata=ca_data)
            if insecure:
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE
            if cert_file:
                self.context.load_cert_chain(cert_file, key_file)

    @classmethod
    def from_kubeconfig(cls, path: str, context: str | None = None) -> KubeClient:
        with open(path, encoding="utf-8") as handle:
            config = _load_simple_yaml(handle.read()) or {}
        base = os.path.dirname(os.path.abspath(path))
        name = context or config.get("current-context")

        def named(section: str, wanted: str) -> dict:
            for entry in config.get(section) or []:
                if entry.get("name") == wanted:
                    return entry
            raise ValueError(f"{path}: no {section[:-1]} named {wanted!r}")

        ctx = named("contexts", name)["context"]
        cluster = named("clusters", ctx["cluster"])["cluster"]
        user = named("users", ctx["user"])["user"] if ctx.get("user") else {}

        def file_of(entry: dict, key: str) -> str | None:
            value = entry.get(key)
            return value if not value or os.path.isabs(value) else os.path.join(base, value)

        ca_data = base64.b64decode(cluster["certificate-authority-data"]).decode() if cluster.get("certificate-authority-data") else None
        token = user.get("token")
        if not token and user.get("tokenFile"):
            with open(file_of(user, "tokenFile"), encoding="utf-8") as handle:
                token = handle.read().strip()
        insecure = str(cluster.get("insecure-skip-tls-verify", "")).lower() == "true"
        cert_file, key_file = file_of(user, "client-certificate"), file_of(user, "client-key")
        if user.get("client-certificate-data"):  # ssl wants files: write them privately, load, delete
            with tempfile.TemporaryDirectory(prefix="webhook-kubeconfig-") as tmp:
                cert_file, key_file = os.path.join(tmp, "client.crt"), os.path.join(tmp, "client.key")
                for target, key in ((cert_file, "client-certificate-data"), (key_file, "client-key-data")):
                    with open(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                        handle.write(base64.b64decode(user[key]))
                return cls(cluster["server"], file_of(cluster, "certificate-authority"), ca_data, cert_file, key_file,
                           token, insecure)
        return cls(cluster["server"], file_of(cluster, "certificate-authority"), ca_data, cert_file, key_file, token, insecure)

    def get(self, path: str, timeout: float = 3.0) -> dict | None:
        """GET ``path``; None on 404."""
        req = urllib.request.Request(self.server + path, headers={"Accept": "application/json"})
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise

    def service_account(self, namespace: str, name: str) -> dict | None:
        quote = urllib.parse.quote
        return self.get(f"/api/v1/namespaces/{quote(namespace, safe='')}/serviceaccounts/{quote(name, safe='')}")


class ServiceAccountCache:
    """Found ServiceAccounts for ``ttl`` seconds (404s are not cached: an SA created just before its pod is seen)."""

    def __init__(self, fetch, ttl: float = 2.0, max_entries: int = 512) -> None:
        self.fetch, self.ttl, self.max_entries = fetch, ttl, max_entries
        self._entries: dict[tuple[str, str], tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def __call__(self, namespace: str, name: str) -> dict | None:
        key, now = (namespace, name), time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit and hit[0] > now:
                return hit[1]
        found = self.fetch(namespace, name)
        if found is not None and self.ttl > 0:
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()
                self._entries[key] = (now + self.ttl, found)
        return found


# --- certificates ---------------------------------------------------------------------------------------

def make_certs(directory: str) -> tuple[str, str, str]:
    """The sandbox CA and a serving certificate for 127.0.0.1 (IP SAN): returns (CA PEM, cert path, key path).

    ``ca.crt``/``ca.key`` and ``tls.crt``/``tls.key`` (0600) in ``directory`` (sandbox/pki.py); files that are still
    valid are reused, so calling it again, or starting the CLI with the same ``--cert-dir``, keeps the CA that a
    registered configuration carries."""
    ca_path, _ = pki.ensure_ca(directory)
    cert_path, key_path = pki.issue(directory, "tls", [HOST])
    with open(ca_path, encoding="ascii") as handle:
        return handle.read(), cert_path, key_path


# --- the MutatingWebhookConfiguration -----------------------------------------------------------------------

def webhook_configuration(name: str, ca_pem: str, url: str, failure_policy: str = "Fail", *,
                          namespace_selector: dict | None = None, timeout_seconds: int = 5) -> dict:
    """The MutatingWebhookConfiguration (admissionregistration.k8s.io/v1) for this webhook at ``url``.

    ``url`` is ``https://127.0.0.1:<port>/mutate``: the API server runs on this host, and ``clientConfig.url`` is the
    documented way to reach an out-of-cluster webhook. Pods in kube-system are never sent (namespaceSelector), nor
    pods labelled ``eks.amazonaws.com/skip-pod-identity-webhook`` (objectSelector, as upstream's deploy manifest).
    ``namespace_selector`` (optional) is added to the kube-system exclusion (both must match).

    failurePolicy: ``Fail`` by default, deliberately unlike EKS (whose webhook uses ``Ignore``). EKS runs its webhook
    highly available and ``Ignore`` protects the cluster from it. Here the webhook is a single local process, and the
    sandbox exists to test that IRSA works: with ``Ignore`` a dead or failing webhook silently yields pods without
    ``AWS_ROLE_ARN`` and the token volume, and the failure shows up much later and elsewhere (an SDK error in a pod,
    or worse, a pod that still works because it also has static dummy credentials, hiding that IRSA never ran). With
    ``Fail`` pod creation in the selected namespaces fails at once, naming this webhook, while it is down. The cost:
    the webhook must be started before this configuration is applied, and the configuration deleted before the
    webhook stops (kube-system is excluded so the cluster's own pods never depend on it). Pass ``"Ignore"`` to
    reproduce EKS exactly.
    """
    if failure_policy not in ("Fail", "Ignore"):
        raise ValueError(f"failure_policy must be Fail or Ignore, not {failure_policy!r}")
    selector: dict = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}
    if namespace_selector:
        selector["matchExpressions"] += list(namespace_selector.get("matchExpressions") or [])
        if namespace_selector.get("matchLabels"):
            selector["matchLabels"] = dict(namespace_selector["matchLabels"])
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "pod-identity-webhook", "app.kubernetes.io/part-of": "tracing-xray-sandbox"},
            "annotations": {"tracing.xray.sandbox/emulation": "EMULATION of amazon-eks-pod-identity-webhook (sandbox/webhook.py)"},
        },
        "webhooks": [{
            "name": WEBHOOK_NAME,
            "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_pem.encode()).decode()},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                       "scope": "Namespaced"}],
            "failurePolicy": failure_policy,
            "matchPolicy": "Equivalent",
            "namespaceSelector": selector,
            "objectSelector": {"matchExpressions": [{"key": SKIP_POD_LABEL, "operator": "DoesNotExist"}]},
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": timeout_seconds,
            "reinvocationPolicy": "IfNeeded",
        }],
    }


# --- the HTTPS server ----------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections
    server_version = "tracing-xray-pod-identity-webhook-emulation"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.split("?")[0] in ("/healthz", "/readyz"):
            self._send(200, b"ok", "text/plain")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/mutate":
            self._send(404, b"not found", "text/plain")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                raise ValueError(f"Content-Length {length}")
            body = json.loads(self.rfile.read(length))
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            log.warning("bad request: %s", err)
            self._send(400, f"bad AdmissionReview: {err}".encode(), "text/plain")
            return
        try:
            answer = review(body, self.server.injector, self.server.lookup)
        except Exception as err:  # noqa: BLE001 - answered as 500: the configuration's failurePolicy decides
            request = body.get("request") or {}
            log.error("cannot decide on pod in %s: %s", request.get("namespace"), err)
            self._send(500, f"pod identity webhook (EMULATION): cannot read the ServiceAccount: {err}".encode(), "text/plain")
            return
        self._send(200, json.dumps(answer).encode())


class WebhookServer(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1:``port`` (0: any free port); TLS handshakes run in the connection's thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, injector: Injector, lookup, cert_file: str, key_file: str) -> None:
        self.injector, self.lookup = injector, lookup
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ssl_context.load_cert_chain(cert_file, key_file)
        super().__init__((HOST, port), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def finish_request(self, request, client_address) -> None:
        request.settimeout(10)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:
            log.warning("TLS handshake with %s failed: %s", client_address[0], err)
            return
        try:
            super().finish_request(conn, client_address)
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="webhook", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


# --- CLI -------------------------------------------------------------------------------------------------------

def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", name):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="webhook.py", description="EMULATION of EKS's pod identity webhook (IRSA) for "
                                     "the sandbox: HTTPS on 127.0.0.1, POST /mutate, GET /healthz.")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--region", required=True, help="the cluster's region (AWS_REGION, AWS_DEFAULT_REGION)")
    parser.add_argument("--cert-dir", required=True, help="ca.crt, tls.crt, tls.key (made with make_certs when missing)")
    parser.add_argument("--kubeconfig", help="kubeconfig to read ServiceAccounts with")
    parser.add_argument("--context", help="kubeconfig context (default: current-context)")
    parser.add_argument("--api-url", help="API server URL (instead of --kubeconfig)")
    parser.add_argument("--client-cert", help="client certificate file (with --api-url)")
    parser.add_argument("--client-key", help="client key file (with --api-url)")
    parser.add_argument("--ca-file", help="API server CA file (with --api-url)")
    parser.add_argument("--extra-env", action="append", type=_env_pair, default=[], metavar="NAME=VALUE",
                        help="SANDBOX-ONLY: also add this variable to injected containers (repeatable)")
    parser.add_argument("--ca-bundle-host-path", help="SANDBOX-ONLY: a CA file on the node (named ca.crt) mounted into "
                        "injected containers as AWS_CA_BUNDLE")
    parser.add_argument("--pod-identity-endpoint", help="SANDBOX: the AWS endpoint whose EKS Pod Identity associations "
                        "decide Pod Identity injection (with --cluster)")
    parser.add_argument("--cluster", help="the EKS cluster name (with --pod-identity-endpoint)")
    parser.add_argument("--sts-regional-endpoints", choices=("true", "false"), default="true",
                        help="inject AWS_STS_REGIONAL_ENDPOINTS=regional unless the SA says otherwise (EKS: true)")
    parser.add_argument("--token-audience", default=DEFAULT_AUDIENCE)
    parser.add_argument("--token-expiration", type=int, default=DEFAULT_TOKEN_EXPIRATION)
    parser.add_argument("--cache-seconds", type=float, default=2.0, help="ServiceAccount cache lifetime (0: none)")
    parser.add_argument("--debug", action="store_true", help="also log every HTTP request")
    args = parser.parse_args(argv)
    if bool(args.kubeconfig) == bool(args.api_url):
        parser.error("give exactly one of --kubeconfig or --api-url")

    logging.basicConfig(stream=sys.stdout, level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s webhook %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    if args.kubeconfig:
        client = KubeClient.from_kubeconfig(args.kubeconfig, args.context)
    else:
        client = KubeClient(args.api_url, ca_file=args.ca_file, cert_file=args.client_cert, key_file=args.client_key)
    _, cert_file, key_file = make_certs(args.cert_dir)
    injector = Injector(args.region, dict(args.extra_env), audience=args.token_audience,
                        token_expiration=args.token_expiration, regional_sts=args.sts_regional_endpoints == "true",
                        ca_bundle_host_path=args.ca_bundle_host_path,
                        pod_identity=association_lookup(args.pod_identity_endpoint, args.region, args.cluster)
                        if args.pod_identity_endpoint and args.cluster else None)
    server = WebhookServer(args.port, injector, ServiceAccountCache(client.service_account, ttl=args.cache_seconds),
                           cert_file, key_file)

    def stop(signum, _frame) -> None:
        log.info("signal %d: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("EMULATION of amazon-eks-pod-identity-webhook serving https://%s:%d/mutate (API %s, region %s, "
             "regional STS %s, extra env (sandbox-only) %s, CA %s)", HOST, server.port, client.server, args.region,
             args.sts_regional_endpoints, sorted(dict(args.extra_env)) or "none", os.path.join(args.cert_dir, "ca.crt"))
    try:
        server.serve_forever()
    finally:
        server.server_close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
