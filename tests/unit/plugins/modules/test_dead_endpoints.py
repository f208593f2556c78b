"""Every AWS module of the collection against an endpoint that does not answer: one clean sentence, no traceback.

The clients are real botocore clients; a ``before-send`` handler raises what botocore raises when the endpoint is
dead (``EndpointConnectionError`` for a refused connection or an unknown host, ``ConnectTimeoutError``,
``ReadTimeoutError``), so no request leaves the process.
"""

from __future__ import annotations

import importlib
import json

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.exceptions import ConnectTimeoutError
from botocore.exceptions import EndpointConnectionError
from botocore.exceptions import ReadTimeoutError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.tracing.xray.plugins.module_utils import aws as aws_utils

ENDPOINT = "http://127.0.0.1:9"
ROLE_ARN = "arn:aws:iam::123456789012:role/xray-daemon"

# module -> (arguments, the service its first call goes to)
MODULES = {
    "eks_cluster_info": ({"name": "c1"}, "Amazon EKS"),
    "eks_pod_identity_association": ({"cluster_name": "c1", "namespace": "ns", "service_account": "sa", "role_arn": ROLE_ARN}, "Amazon EKS"),
    "iam_oidc_provider": ({"url": "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC", "thumbprints": ["a" * 40]}, "AWS IAM"),
    "iam_workload_role": ({"name": "xray-daemon", "assume_role_policy_document": {"Version": "2012-10-17", "Statement": []}}, "AWS IAM"),
    "xray_encryption_config": ({"encryption_type": "NONE"}, "AWS X-Ray"),
    "xray_group": ({"group_name": "g1", "filter_expression": "error = true"}, "AWS X-Ray"),
    "xray_group_info": ({}, "AWS X-Ray"),
    "xray_indexing_rule": ({"desired_sampling_percentage": 5}, "AWS X-Ray"),
    "xray_indexing_rule_info": ({}, "AWS X-Ray"),
    "xray_resource_policy": ({"policy_name": "p1", "state": "absent"}, "AWS X-Ray"),
    "xray_resource_policy_info": ({}, "AWS X-Ray"),
    "xray_sampling_rule": ({"rule_name": "r1", "state": "absent"}, "AWS X-Ray"),
    "xray_sampling_rule_info": ({}, "AWS X-Ray"),
    "xray_service_graph_info": ({}, "AWS X-Ray"),
    "xray_trace_segment_destination": ({"destination": "XRay"}, "AWS X-Ray"),
    "xray_trace_summary_info": ({}, "AWS X-Ray"),
}

ERRORS = {
    "refused": (lambda url: EndpointConnectionError(endpoint_url=url, error=ConnectionRefusedError(111, "Connection refused")),
                "refused the connection"),
    "unknown-host": (lambda url: EndpointConnectionError(endpoint_url=url, error=OSError(-2, "Name or service not known")),
                     "does not resolve"),
    "connect-timeout": (lambda url: ConnectTimeoutError(endpoint_url=url, error="timed out"), "did not accept a connection within"),
    "read-timeout": (lambda url: ReadTimeoutError(endpoint_url=url, error="timed out"), "gave no answer within"),
}


@pytest.fixture
def dead(monkeypatch):
    """Real clients whose every request fails like ``error`` (set by the test); records the Config they got."""
    state = {"error": ERRORS["refused"][0], "configs": []}

    def fail(request, **_kwargs):
        raise state["error"](request.url)

    def fake_client(self, service, retry_decorator=None, **extra):
        state["configs"].append(extra.get("config"))
        client = boto3.client(service, region_name="eu-west-1", endpoint_url=ENDPOINT,
                              aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret-example")
        client.meta.events.register("before-send", fail)
        return RetryingBotoClientWrapper(client, retry_decorator) if retry_decorator else client

    monkeypatch.setattr(AnsibleAWSModule, "client", fake_client)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return state


def run(name, args, capsys):
    module = importlib.import_module(f"ansible_collections.tracing.xray.plugins.modules.{name}")
    module_args = dict(args, region="eu-west-1", access_key="AKIDEXAMPLE", secret_key="secret-example")
    with patch_module_args(module_args):
        with pytest.raises(SystemExit) as exit_info:
            module.main()
    out = capsys.readouterr().out
    return exit_info.value.code, json.loads(out), out


@pytest.mark.parametrize("name", sorted(MODULES))
def test_dead_endpoint_fails_with_one_clean_sentence(name, dead, capsys):
    args, service = MODULES[name]
    code, result, out = run(name, args, capsys)
    assert code != 0 and result.get("failed"), out
    message = result["msg"]
    assert message.startswith(service), message
    assert f"at {ENDPOINT} refused the connection" in message, message
    assert "xray_aws_endpoint_url" in message and "xray_region" in message
    assert message.count(". ") == 0 and message.endswith("."), f"not one sentence: {message}"
    for noise in ("Traceback", "urllib3", "NewConnectionError", "Could not connect to the endpoint URL", "Errno"):
        assert noise not in out, f"{noise!r} in the result: {out}"
    assert "botocore" not in message
    assert "exception" not in result
    assert "secret-example" not in out and "AKIDEXAMPLE" not in message


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_each_kind_of_dead_endpoint_is_named(kind, dead, capsys):
    dead["error"], words = ERRORS[kind]
    code, result, out = run("xray_group_info", {}, capsys)
    assert code != 0, out
    assert result["msg"].startswith(f"AWS X-Ray (GetGroups) at {ENDPOINT} "), result["msg"]
    assert words in result["msg"], result["msg"]


def test_clients_get_bounded_timeouts_and_retries(dead, capsys):
    run("xray_group_info", {}, capsys)
    config = dead["configs"][0]
    assert config["connect_timeout"] <= 10 and config["read_timeout"] <= 60
    assert config["retries"] == {"mode": "standard", "max_attempts": aws_utils.BOTOCORE_MAX_ATTEMPTS}


def test_safe_address_drops_credentials_and_path():
    assert aws_utils.safe_address("https://user:pw@xray.eu-west-1.amazonaws.com:8443/Groups?x=1") == "https://xray.eu-west-1.amazonaws.com:8443"
    assert aws_utils.safe_address("http://127.0.0.1:9/") == "http://127.0.0.1:9"


def test_throttling_codes_are_botocore_throttling_codes():
    from botocore.retries.standard import ThrottledRetryableChecker

    assert set(aws_utils.THROTTLING_ERROR_CODES) <= set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES)
    for code in ("ThrottledException", "ThrottlingException", "Throttling"):
        assert code in aws_utils.THROTTLING_ERROR_CODES


def test_the_sentence_names_the_clients_own_timeouts():
    read = ReadTimeoutError(endpoint_url="http://127.0.0.1:9/Groups", error="timed out")
    connect = ConnectTimeoutError(endpoint_url="http://127.0.0.1:9/Groups", error="timed out")
    assert "gave no answer within 7 seconds" in aws_utils.endpoint_message("xray", "http://127.0.0.1:9", read, "GetGroups", (2, 7))
    assert "did not accept a connection within 2.5 seconds" in aws_utils.endpoint_message("eks", "http://127.0.0.1:9", connect, None, (2.5, 7))
    assert aws_utils.endpoint_message(None, "", read).startswith("The AWS endpoint gave no answer within 30 seconds")
