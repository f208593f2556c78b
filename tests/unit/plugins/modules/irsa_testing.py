"""Helpers for the IRSA module tests: run a module's main() and stub its boto3 clients with botocore's Stubber.

The clients are real botocore clients (so every request and every canned response is validated against the
service model); only the HTTP layer is replaced by the Stubber.
"""

from __future__ import annotations

import json

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

REGION = "eu-west-1"
ACCOUNT = "123456789012"


class StubbedClients:
    """One stubbed client per AWS service, handed to ``AnsibleAWSModule.client``."""

    def __init__(self, region: str = REGION):
        self.region = region
        self.clients = {}
        self.stubbers = {}
        self.requested = []

    def __getitem__(self, service: str) -> Stubber:
        if service not in self.stubbers:
            client = boto3.client(
                service, region_name=self.region, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret-example"
            )
            self.clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
        return self.stubbers[service]

    def client_for(self, service: str, retry_decorator=None):
        self.requested.append(service)
        self[service]
        client = self.clients[service]
        return RetryingBotoClientWrapper(client, retry_decorator) if retry_decorator else client

    def assert_done(self):
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def aws(monkeypatch):
    clients = StubbedClients()

    def fake_client(self, service, retry_decorator=None, **extra):
        return clients.client_for(service, retry_decorator)

    monkeypatch.setattr(AnsibleAWSModule, "client", fake_client)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield clients


def run_module(main, args: dict, capsys, check_mode: bool = False, diff: bool = False) -> dict:
    """Run a module's ``main`` with ``args``; the parsed JSON result, with ``failed`` set on failure."""
    module_args = dict(args)
    module_args.setdefault("region", REGION)
    module_args.setdefault("access_key", "AKIDEXAMPLE")
    module_args.setdefault("secret_key", "secret-example")
    module_args["_ansible_check_mode"] = check_mode
    module_args["_ansible_diff"] = diff
    with patch_module_args(module_args):
        with pytest.raises(SystemExit) as exit_info:
            main()
    out = capsys.readouterr().out
    result = json.loads(out)
    assert ("failed" in result) == (exit_info.value.code != 0), out
    return result


def sts_identity(aws: StubbedClients, account: str = ACCOUNT, partition: str = "aws"):
    aws["sts"].add_response(
        "get_caller_identity",
        {"UserId": "AIDAEXAMPLE", "Account": account, "Arn": f"arn:{partition}:iam::{account}:user/tester"},
        {},
    )
