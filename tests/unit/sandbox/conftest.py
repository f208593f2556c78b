"""Fixtures for the sandbox's AWS EMULATION tests: one in-process server per session, real boto3 clients.

Every successful X-Ray response body is also checked, key by key, against botocore's output shape for the
operation (botocore's parser silently drops unknown members, so this catches misspelt members).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from sandbox.aws.server import start_server, stop_server
from sandbox.aws.xray_responses import configure

REGION = "us-west-2"
CLUSTER = "xray-unit"
ENCRYPTION_DELAY = 0.5
DESTINATION_DELAY = 0.3  # UpdateTraceSegmentDestination: PENDING this long
RETRIEVAL_DELAY = 0.2  # StartTraceRetrieval: RUNNING this long


def _check_shape(value: Any, shape: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected object, got {type(value).__name__}")
            return
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
                continue
            _check_shape(item, shape.members[key], f"{path}.{key}", problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected list")
            return
        for index, item in enumerate(value):
            _check_shape(item, shape.member, f"{path}[{index}]", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected map")
            return
        for key, item in value.items():
            _check_shape(item, shape.value, f"{path}.{key}", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected string, got {value!r}")
        elif shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} not in {shape.enum}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected integer, got {value!r}")
    elif kind in ("double", "float", "timestamp"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: expected number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected boolean, got {value!r}")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[dict[str, Any]]:
    # No VPC/subnets here (moto's EC2 backend costs seconds); the CLI test covers create_network=True.
    server, info = start_server(region=REGION, cluster_name=CLUSTER, encryption_delay=ENCRYPTION_DELAY, create_network=False)
    configure(destination_delay=DESTINATION_DELAY, retrieval_delay=RETRIEVAL_DELAY)
    info = dict(info, startup_seconds=server.startup_seconds, port=server.port)
    try:
        yield info
    finally:
        stop_server(server)


def make_client(info: dict[str, Any], service: str, **config: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=info["endpoint_url"],
        region_name=info["region"],
        aws_access_key_id=info["access_key_id"],
        aws_secret_access_key=info["secret_access_key"],
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="session")
def aws_client(sandbox: dict[str, Any]) -> Any:
    """aws_client("iam") -> a boto3 client bound to the session's sandbox endpoint."""
    return lambda service, **config: make_client(sandbox, service, **config)


@pytest.fixture(scope="session")
def shape_problems() -> list[str]:
    return []


def _attach_shape_check(client: Any, problems: list[str]) -> None:
    def check(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict["status_code"] >= 300 or operation_model.output_shape is None:
            return
        body = response_dict["body"]
        _check_shape(json.loads(body) if body else {}, operation_model.output_shape, operation_model.name, problems)

    client.meta.events.register("before-parse.xray.*", check)


@pytest.fixture(scope="session")
def xray(sandbox: dict[str, Any], shape_problems: list[str]) -> Any:
    client = make_client(sandbox, "xray")
    _attach_shape_check(client, shape_problems)
    return client


@pytest.fixture(scope="session")
def xray_raw(sandbox: dict[str, Any], shape_problems: list[str]) -> Any:
    """Client without botocore's client-side validation, to reach the server's own checks."""
    client = make_client(sandbox, "xray", parameter_validation=False)
    _attach_shape_check(client, shape_problems)
    return client


@pytest.fixture(autouse=True)
def _clean_xray(request: pytest.FixtureRequest, shape_problems: list[str]) -> Iterator[None]:
    """Each test starts with only the built-in group/rule and encryption NONE; no shape violations."""
    yield
    if "xray" not in request.fixturenames:
        return
    client = request.getfixturevalue("xray")
    for page in client.get_paginator("get_groups").paginate():
        for group in page["Groups"]:
            if group["GroupName"] != "Default":
                client.delete_group(GroupARN=group["GroupARN"])
    for page in client.get_paginator("get_sampling_rules").paginate():
        for record in page["SamplingRuleRecords"]:
            if record["SamplingRule"]["RuleName"] != "Default":
                client.delete_sampling_rule(RuleName=record["SamplingRule"]["RuleName"])
    client.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "FixedRate": 0.05, "ReservoirSize": 1})
    client.update_group(GroupName="Default", InsightsConfiguration={"InsightsEnabled": False, "NotificationsEnabled": False})
    if client.get_encryption_config()["EncryptionConfig"] != {"Type": "NONE", "Status": "ACTIVE"}:
        client.put_encryption_config(Type="NONE")
        deadline = time.monotonic() + 20 * ENCRYPTION_DELAY
        while client.get_encryption_config()["EncryptionConfig"]["Status"] != "ACTIVE" and time.monotonic() < deadline:
            time.sleep(0.05)
    _reset_account_config(client, request.getfixturevalue("sandbox"))
    problems = list(shape_problems)
    shape_problems.clear()
    assert not problems, f"responses not matching botocore's output shapes: {problems}"


def _reset_account_config(client: Any, info: dict[str, Any]) -> None:
    """Transaction Search off (destination XRay, Default indexing rule 1 %), no X-Ray or CloudWatch Logs resource
    policies: what a fresh account has."""
    for policy in client.list_resource_policies().get("ResourcePolicies", []):
        client.delete_resource_policy(PolicyName=policy["PolicyName"])
    client.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": 1.0}})
    deadline = time.monotonic() + 20 * DESTINATION_DELAY
    while client.get_trace_segment_destination()["Status"] != "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.05)
    if client.get_trace_segment_destination()["Destination"] != "XRay":
        client.update_trace_segment_destination(Destination="XRay")
        while client.get_trace_segment_destination()["Status"] != "ACTIVE" and time.monotonic() < deadline + 20 * DESTINATION_DELAY:
            time.sleep(0.05)
    logs = make_client(info, "logs")
    for policy in logs.describe_resource_policies().get("resourcePolicies", []):
        logs.delete_resource_policy(policyName=policy["policyName"])
