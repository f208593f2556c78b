#!/usr/bin/env python3
"""EMULATION of the EKS Pod Identity Agent for the sandbox's real node.

On EKS the agent is a DaemonSet (host network) serving ``http://169.254.170.23/v1/credentials``: an SDK in a pod whose
ServiceAccount has a pod identity association sends its projected token (audience ``pods.eks.amazonaws.com``) in the
``Authorization`` header, the agent exchanges it with ``eks-auth:AssumeRoleForPodIdentity`` and answers the
container-credentials JSON. The agent is not available here, so this does the same on the node's bridge address
``169.254.170.23`` (added to the sandbox bridge by sandbox/realnode.py) against the sandbox's (EMULATED) eks-auth.

    python sandbox/podidentity_agent.py --endpoint http://127.0.0.1:4580 --cluster xray-sandbox [--bind 169.254.170.23] [--port 80]

Needs boto3 (the project's .venv); logs to stdout; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADDRESS = "169.254.170.23"
PATH = "/v1/credentials"
log = logging.getLogger("pod-identity-agent")


def exchange(client, cluster: str, token: str) -> tuple[int, dict]:
    """eks-auth AssumeRoleForPodIdentity (SigV4-signed with the node's credentials, as the real agent signs with the
    node role) -> (HTTP status, container-credentials JSON or an error body)."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        answer = client.assume_role_for_pod_identity(clusterName=cluster, token=token)
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        return (400 if status < 500 else 500), {"code": err.response["Error"].get("Code"), "message": err.response["Error"].get("Message")}
    creds = answer["credentials"]
    expiration = creds["expiration"].astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    account = answer.get("assumedRoleUser", {}).get("arn", "::::").split(":")[4]
    return 200, {"AccessKeyId": creds["accessKeyId"], "SecretAccessKey": creds["secretAccessKey"],
                 "Token": creds["sessionToken"], "AccountId": account, "Expiration": expiration}


class Handler(BaseHTTPRequestHandler):
    server_version = "tracing-xray-pod-identity-agent-emulation"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.split("?")[0] != PATH:
            self._send(404, {"code": "NotFound", "message": f"only {PATH}"})
            return
        token = (self.headers.get("Authorization") or "").strip()
        if not token:
            self._send(400, {"code": "InvalidParameterException", "message": "the Authorization header (the token) is missing"})
            return
        code, body = exchange(self.server.client, self.server.cluster, token)
        if code == 200:
            log.info("credentials for %s (account %s) until %s", self.address_string(), body["AccountId"], body["Expiration"])
        else:
            log.warning("refused %s: %s %s", self.address_string(), body.get("code"), body.get("message"))
        self._send(code, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--endpoint", required=True, help="the sandbox AWS endpoint (eks-auth)")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--bind", default=ADDRESS)
    parser.add_argument("--port", type=int, default=80)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s pod-identity-agent %(levelname)s %(message)s")
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    import boto3  # noqa: PLC0415 - the sandbox runs from the project's .venv

    # the node's own credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment), like the node role
    server.client = boto3.client("eks-auth", endpoint_url=args.endpoint.rstrip("/"), region_name=args.region)
    server.endpoint, server.cluster = args.endpoint.rstrip("/"), args.cluster
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    log.info("EMULATION of the EKS Pod Identity Agent on http://%s:%d%s (eks-auth at %s, cluster %s)",
             args.bind, args.port, PATH, server.endpoint, server.cluster)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
