"""Fixtures for the X-Ray module unit tests: a real botocore X-Ray client under a Stubber.

- ``xray``: an ``XRayStub`` whose client is what ``AnsibleAWSModule.client("xray", ...)`` returns (wrapped in
  amazon.aws' ``RetryingBotoClientWrapper`` with the module's own retry decorator). Every request goes through
  botocore's parameter validation against the X-Ray service model, and the Stubber checks it against the
  expected parameters queued with the response; an unexpected call fails (``UnStubbedResponseError``).
  ``xray.calls`` lists every operation the module attempted, in order; ``xray.sleeps`` the retry back-offs.
  ``xray.kms``, ``xray.logs`` and ``xray.sts`` are Stubbers on the KMS, CloudWatch Logs and STS clients the same
  patch hands out for ``module.client("kms")`` / ``("logs")`` / ``("sts")``.
- ``run_module(module, args, check_mode=False, diff=False)``: runs a module's ``main()`` and returns
  ``(failed, result)`` from ``exit_json`` / ``fail_json``.
"""

from __future__ import annotations

import botocore.session
import pytest
from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

REGION = "eu-west-1"
ACCOUNT = "123456789012"

MUTATING_OPERATIONS = {
    "CreateGroup",
    "UpdateGroup",
    "DeleteGroup",
    "TagResource",
    "UntagResource",
    "CreateSamplingRule",
    "UpdateSamplingRule",
    "DeleteSamplingRule",
    "PutEncryptionConfig",
    "UpdateTraceSegmentDestination",
    "UpdateIndexingRule",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "StartTraceRetrieval",
}


class _Exit(Exception):
    def __init__(self, failed: bool, result: dict):
        super().__init__(result.get("msg", ""))
        self.failed = failed
        self.result = result


class XRayStub:
    """A stubbed X-Ray client plus the record of what a module did with it."""

    def __init__(self):
        session = botocore.session.get_session()
        self.client = session.create_client(
            "xray", region_name=REGION, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
        )
        # A KMS client too (xray_encryption_config resolves key aliases with kms:DescribeKey).
        self.kms_client = session.create_client(
            "kms", region_name=REGION, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
        )
        self.kms = Stubber(self.kms_client)
        # CloudWatch Logs and STS (xray_trace_segment_destination checks the logs resource policy for aws/spans).
        self.logs_client = session.create_client(
            "logs", region_name=REGION, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
        )
        self.sts_client = session.create_client(
            "sts", region_name=REGION, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
        )
        self.logs = Stubber(self.logs_client)
        self.sts = Stubber(self.sts_client)
        self.calls: list[str] = []
        self.sleeps: list[float] = []
        self.retry_decorators: list = []
        # Registered before the Stubber's own handlers, so even a call without a queued response is recorded.
        self.client.meta.events.register("provide-client-params.xray.*", self._record)
        self.kms_client.meta.events.register("provide-client-params.kms.*", self._record)
        self.logs_client.meta.events.register("provide-client-params.logs.*", self._record)
        self.sts_client.meta.events.register("provide-client-params.sts.*", self._record)
        self.stubber = Stubber(self.client)

    def _record(self, params, model, **kwargs):
        self.calls.append(model.name)

    @property
    def mutating_calls(self) -> list[str]:
        return [name for name in self.calls if name in MUTATING_OPERATIONS]

    def add(self, method: str, response: dict | None = None, expected: dict | None = None):
        self.stubber.add_response(method, response or {}, expected)

    def error(self, method: str, code: str, message: str = "", status: int = 400, expected: dict | None = None):
        self.stubber.add_client_error(
            method, service_error_code=code, service_message=message, http_status_code=status, expected_params=expected
        )

    def assert_done(self):
        self.stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def no_leftover_warnings():
    """Every test starts without the warnings and deprecations of an earlier one: module.warn() collects them in
    ansible's process-wide lists, and a module stopped by the patched exit_json/fail_json never hands them over, so
    the next module's real exit_json would report them as its own."""
    ansible_warnings._global_warnings.clear()  # pylint: disable=protected-access
    ansible_warnings._global_deprecations.clear()  # pylint: disable=protected-access


@pytest.fixture
def xray(monkeypatch):
    stub = XRayStub()

    def fake_client(module, service, retry_decorator=None, **extra):
        clients = {"xray": stub.client, "kms": stub.kms_client, "logs": stub.logs_client, "sts": stub.sts_client}
        assert service in clients, f"unexpected client for {service}"
        if service == "xray":
            stub.retry_decorators.append(retry_decorator)
        client = clients[service]
        return client if retry_decorator is None else RetryingBotoClientWrapper(client, retry_decorator)

    monkeypatch.setattr(AnsibleAWSModule, "client", fake_client)
    monkeypatch.setattr(cloud.time, "sleep", stub.sleeps.append)
    with stub.stubber, stub.kms, stub.logs, stub.sts:
        yield stub


@pytest.fixture
def run_module(monkeypatch):
    def exit_json(self, **kwargs):
        raise _Exit(False, kwargs)

    def fail_json(self, msg="", **kwargs):
        raise _Exit(True, dict(kwargs, msg=msg))

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def _run(module, args: dict, check_mode: bool = False, diff: bool = False):
        args = dict(args)
        args.setdefault("region", REGION)
        args.setdefault("access_key", "AKIDEXAMPLE")
        args.setdefault("secret_key", "secret")
        if check_mode:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        with patch_module_args(args):
            with pytest.raises(_Exit) as exit_info:
                module.main()
        return exit_info.value.failed, exit_info.value.result

    return _run
