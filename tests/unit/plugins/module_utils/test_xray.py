"""Unit tests for tracing.xray's shared X-Ray helpers (module_utils/xray.py)."""

from __future__ import annotations

import datetime

import pytest
from botocore.exceptions import ClientError

from ansible_collections.amazon.aws.plugins.module_utils import cloud
from ansible_collections.tracing.xray.plugins.module_utils import xray as xr
from ansible_collections.tracing.xray.plugins.module_utils import xray_limits as xl


def client_error(code, message="", operation="GetGroup"):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.fixture
def sleeps(monkeypatch):
    record = []
    monkeypatch.setattr(cloud.time, "sleep", record.append)
    return record


def flaky(errors, result="ok"):
    """A callable that raises each of ``errors`` once, then returns ``result``; counts its calls."""
    state = {"calls": 0}
    pending = list(errors)

    def call():
        state["calls"] += 1
        if pending:
            raise pending.pop(0)
        return result

    return call, state


# --- retry ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ThrottledException", "ThrottlingException", "Throttling", "TooManyRequestsException", "ServiceUnavailable"])
def test_xray_retry_retries_throttling_codes(sleeps, code):
    call, state = flaky([client_error(code), client_error(code)])
    assert xr.xray_retry()(call)() == "ok"
    assert state["calls"] == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("code", ["InvalidRequestException", "AccessDeniedException", "ResourceNotFoundException"])
def test_xray_retry_does_not_retry_other_errors(sleeps, code):
    call, state = flaky([client_error(code)])
    with pytest.raises(ClientError):
        xr.xray_retry()(call)()
    assert state["calls"] == 1
    assert sleeps == []


def test_xray_retry_backoff_is_jittered_and_capped(sleeps):
    call, state = flaky([client_error("ThrottledException")] * 5)
    xr.xray_retry(retries=10, delay=1, max_delay=2)(call)()
    assert len(sleeps) == 5
    assert all(0 <= s <= 2 for s in sleeps)


def test_xray_retry_gives_up(sleeps):
    call, state = flaky([client_error("ThrottledException")] * 5)
    with pytest.raises(ClientError):
        xr.xray_retry(retries=3)(call)()
    assert state["calls"] == 3


def test_xray_client_passes_the_retry_decorator():
    seen = {}

    class FakeModule:
        def client(self, service, retry_decorator=None):
            seen.update(service=service, retry_decorator=retry_decorator)
            return "client"

    assert xr.xray_client(FakeModule()) == "client"
    assert seen["service"] == "xray" and callable(seen["retry_decorator"])


# --- errors ---------------------------------------------------------------------------------------


def test_is_not_found():
    assert xr.is_not_found(client_error("InvalidRequestException", "Group not found"))
    assert xr.is_not_found(client_error("ResourceNotFoundException", "whatever"))
    assert xr.is_not_found(client_error("InvalidRequestException", "Sampling rule does not exist"))
    assert not xr.is_not_found(client_error("InvalidRequestException", "Invalid filter expression"))
    assert not xr.is_not_found(client_error("ThrottledException", "not found"))
    assert not xr.is_not_found(ValueError("not found"))


# --- validation -----------------------------------------------------------------------------------


def test_validate_name():
    assert xl.validate_name("ok", "group_name", 32) is None
    assert "1 to 32" in xl.validate_name("x" * 33, "group_name", 32)
    assert "must not be empty" in xl.validate_name("", "group_name", 32)
    assert "must not be empty" in xl.validate_name(None, "group_name", 32)
    assert "reserved" in xl.validate_name("Default", "group_name", 32, reserved="Default")
    assert xl.validate_name("default", "group_name", 32, reserved="Default") is None


def test_validate_tags():
    assert xl.validate_tags(None) is None
    assert xl.validate_tags({"managed-by": "tracing.xray", "empty": ""}) is None
    assert "aws:" in xl.validate_tags({"aws:x": "1"})
    assert "aws:" in xl.validate_tags({"Aws:x": "1"})
    assert "at most 50" in xl.validate_tags({f"k{i}": "v" for i in range(51)})
    assert "must be a string" in xl.validate_tags({"k": None})


# --- tags -----------------------------------------------------------------------------------------


def test_boto3_tags():
    assert xr.boto3_tags({"k": "v"}) == [{"Key": "k", "Value": "v"}]
    assert xr.boto3_tags(None) == []


# --- normalisation --------------------------------------------------------------------------------


def test_normalize_group():
    raw = {"GroupName": "g", "GroupARN": "arn:g", "FilterExpression": "error", "InsightsConfiguration": {"InsightsEnabled": True}}
    assert xr.normalize_group(raw, {"K": "V"}) == {
        "group_name": "g",
        "group_arn": "arn:g",
        "filter_expression": "error",
        "insights_configuration": {"insights_enabled": True, "notifications_enabled": False},
        "tags": {"K": "V"},
    }
    assert xr.normalize_group(None) == {}
    assert xr.normalize_group({"GroupName": "Default", "GroupARN": "arn:d"})["filter_expression"] is None


def test_normalize_sampling_rule_keeps_attribute_keys():
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    record = {
        "SamplingRule": {"RuleName": "r", "RuleARN": "arn:r", "HTTPMethod": "GET", "URLPath": "/", "Attributes": {"CamelKey": "v"}},
        "CreatedAt": when,
    }
    out = xr.normalize_sampling_rule(record, {"managed-by": "tracing.xray"})
    assert out["http_method"] == "GET" and out["url_path"] == "/" and out["rule_arn"] == "arn:r"
    assert out["attributes"] == {"CamelKey": "v"}
    assert out["created_at"] == "2026-01-02T03:04:05+00:00"
    assert "modified_at" not in out
    assert out["tags"] == {"managed-by": "tracing.xray"}
    assert xr.normalize_sampling_rule(None) == {}


def test_rule_values_equal():
    assert xr.rule_values_equal("FixedRate", 0.1, 0.1 + 1e-12)
    assert not xr.rule_values_equal("FixedRate", 0.1, 0.2)
    assert xr.rule_values_equal("Attributes", None, {})
    assert not xr.rule_values_equal("Priority", 1, 2)
