"""The sandbox's throttling switch (``/_sandbox/throttle``, sandbox/aws/throttle.py): every Nth request of a chosen
service is answered with that service's real throttling error, as botocore parses and classifies it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ThrottledRetryableChecker

from sandbox.aws import throttle


def _hook(info: dict[str, Any], method: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{info['endpoint_url']}/_sandbox/throttle", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # loopback sandbox
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _client(info: dict[str, Any], service: str, attempts: int) -> Any:
    return boto3.client(service, endpoint_url=info["endpoint_url"], region_name=info["region"], aws_access_key_id=info["access_key_id"],
                        aws_secret_access_key=info["secret_access_key"], config=Config(retries={"mode": "standard", "total_max_attempts": attempts}))


@pytest.fixture
def switch(sandbox):
    yield lambda services: _hook(sandbox, "POST", {"services": services})
    _hook(sandbox, "DELETE")


CALLS = {
    "xray": lambda c: c.get_groups(),
    "eks": lambda c: c.list_clusters(),
    "iam": lambda c: c.list_roles(),
    "sts": lambda c: c.get_caller_identity(),
}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_every_nth_request_gets_the_services_throttling_error(service, switch, sandbox):
    client = _client(sandbox, service, attempts=1)
    status, state = switch({service: 2})
    assert status == 200 and state["every"] == {service: 2}
    outcomes = []
    for _ in range(4):
        try:
            CALLS[service](client)
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append((e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]))
    status, code, _protocol = throttle.ERRORS[service]
    assert outcomes == ["ok", (status, code), "ok", (status, code)]
    assert code in ThrottledRetryableChecker._THROTTLED_ERROR_CODES  # botocore retries it as throttling
    _, state = _hook({"endpoint_url": client.meta.endpoint_url}, "GET")
    assert state["seen"] == {service: 4} and state["throttled"] == {service: 2}


def test_botocore_retries_through_the_throttling(switch, sandbox):
    client = _client(sandbox, "xray", attempts=3)
    switch({"xray": 2})
    for _ in range(4):
        client.get_groups()
    _, state = _hook({"endpoint_url": client.meta.endpoint_url}, "GET")
    assert state["throttled"]["xray"] >= 2


def test_off_and_bad_input(sandbox, aws_client):
    status, last = _hook(sandbox, "DELETE")
    assert status == 200
    assert _hook(sandbox, "GET")[1]["every"] == {}
    aws_client("xray").get_groups()  # not throttled when off
    for bad in ({"s3": 2}, {"xray": 0}, {"xray": "2"}, ["xray"]):
        status, body = _hook(sandbox, "POST", {"services": bad})
        assert status == 400 and "error" in body, bad
    assert _hook(sandbox, "POST", {"wrong": 1})[0] == 400
