"""Unit tests for tracing.xray.xray_encryption_config (botocore Stubber)."""

from __future__ import annotations

import pytest

from ansible_collections.tracing.xray.plugins.modules import xray_encryption_config

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:eu-west-1:123456789012:key/{KEY_ID}"


def config(kind="NONE", status="ACTIVE", key=None):
    body = {"Type": kind, "Status": status}
    if key:
        body["KeyId"] = key
    return {"EncryptionConfig": body}


def key_exists(xray, key_id, **metadata):
    """kms:DescribeKey answers for ``key_id`` (the module checks the key before PutEncryptionConfig)."""
    body = {"KeyId": KEY_ID, "Arn": KEY_ARN, "Enabled": True, "KeyState": "Enabled", "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}
    xray.kms.add_response("describe_key", {"KeyMetadata": dict(body, **metadata)}, {"KeyId": key_id})


@pytest.fixture
def no_poll_sleep(monkeypatch):
    sleeps = []
    monkeypatch.setattr(xray_encryption_config.time, "sleep", sleeps.append)
    return sleeps


def test_noop_none_is_one_call(xray, run_module):
    xray.add("get_encryption_config", config())
    failed, result = run_module(xray_encryption_config, {"encryption_type": "NONE"}, diff=True)
    assert not failed, result
    assert result["changed"] is False
    assert result["encryption_config"] == {"type": "NONE", "status": "ACTIVE"}
    assert xray.calls == ["GetEncryptionConfig"]
    assert result["diff"]["before"] == result["diff"]["after"]


def test_set_kms_key(xray, run_module):
    xray.add("get_encryption_config", config())
    key_exists(xray, KEY_ID)
    xray.add("put_encryption_config", config("KMS", "UPDATING", KEY_ARN), {"Type": "KMS", "KeyId": KEY_ID})
    failed, result = run_module(xray_encryption_config, {"type": "KMS", "key_id": KEY_ID}, diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert result["encryption_config"] == {"type": "KMS", "key_id": KEY_ARN, "status": "UPDATING"}
    assert result["diff"]["before"] == {"type": "NONE"}
    assert result["diff"]["after"] == {"type": "KMS", "key_id": KEY_ARN}
    xray.assert_done()


@pytest.mark.parametrize("given", [KEY_ID, KEY_ARN])
def test_same_key_as_id_or_arn_is_no_change(xray, run_module, given):
    xray.add("get_encryption_config", config("KMS", "ACTIVE", KEY_ARN))
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": given})
    assert not failed, result
    assert result["changed"] is False
    assert xray.mutating_calls == []


def test_different_key_is_a_change(xray, run_module):
    xray.add("get_encryption_config", config("KMS", "ACTIVE", KEY_ARN))
    other = "arn:aws:kms:eu-west-1:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab"
    key_exists(xray, other, Arn=other)
    xray.add("put_encryption_config", config("KMS", "UPDATING", other), {"Type": "KMS", "KeyId": other})
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": other})
    assert not failed, result
    assert result["changed"] is True
    xray.assert_done()


def test_back_to_none(xray, run_module):
    xray.add("get_encryption_config", config("KMS", "ACTIVE", KEY_ARN))
    xray.add("put_encryption_config", config("NONE", "UPDATING"), {"Type": "NONE"})
    failed, result = run_module(xray_encryption_config, {"encryption_type": "NONE"})
    assert not failed, result
    assert result["changed"] is True
    xray.assert_done()


def test_wait_polls_until_active(xray, run_module, no_poll_sleep):
    xray.add("get_encryption_config", config())
    key_exists(xray, KEY_ARN)
    xray.add("put_encryption_config", config("KMS", "UPDATING", KEY_ARN), {"Type": "KMS", "KeyId": KEY_ARN})
    xray.add("get_encryption_config", config("KMS", "UPDATING", KEY_ARN))
    xray.add("get_encryption_config", config("KMS", "ACTIVE", KEY_ARN))
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": KEY_ARN, "wait": True})
    assert not failed, result
    assert result["encryption_config"]["status"] == "ACTIVE"
    assert len(no_poll_sleep) == 2
    xray.assert_done()


def test_wait_times_out(xray, run_module, no_poll_sleep):
    xray.add("get_encryption_config", config("KMS", "UPDATING", KEY_ARN))
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": KEY_ARN, "wait": True, "wait_timeout": 0})
    assert failed
    assert "ACTIVE" in result["msg"] and "UPDATING" in result["msg"]


def test_check_mode_makes_no_put(xray, run_module):
    xray.add("get_encryption_config", config())
    key_exists(xray, KEY_ID)
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": KEY_ID, "wait": True}, check_mode=True)
    assert not failed, result
    assert result["changed"] is True
    assert xray.calls == ["GetEncryptionConfig", "DescribeKey"]


def test_throttling_is_retried(xray, run_module):
    xray.error("get_encryption_config", "ThrottlingException", "Rate exceeded")
    xray.add("get_encryption_config", config())
    failed, result = run_module(xray_encryption_config, {"encryption_type": "NONE"})
    assert not failed, result
    assert len(xray.sleeps) == 1


def test_put_error_reports_api_message(xray, run_module):
    xray.add("get_encryption_config", config())
    key_exists(xray, KEY_ID)
    xray.error("put_encryption_config", "InvalidRequestException", "The KMS key is asymmetric", expected={"Type": "KMS", "KeyId": KEY_ID})
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": KEY_ID})
    assert failed
    assert "The KMS key is asymmetric" in result["msg"]


@pytest.mark.parametrize(
    "args, field",
    [
        ({"encryption_type": "KMS"}, "key_id"),
        ({"encryption_type": "NONE", "key_id": KEY_ID}, "key_id"),
        ({"encryption_type": "KMS", "key_id": "k" * 3001}, "key_id"),
        ({"encryption_type": "AES"}, "encryption_type"),
        ({"encryption_type": "NONE", "wait_timeout": -1}, "wait_timeout"),
    ],
)
def test_bad_input_is_refused_before_any_call(xray, run_module, args, field):
    failed, result = run_module(xray_encryption_config, args)
    assert failed
    assert field in result["msg"]
    assert xray.calls == []


def test_alias_resolved_through_kms_matches(xray, run_module):
    xray.add("get_encryption_config", config("KMS", "ACTIVE", KEY_ARN))
    xray.kms.add_response("describe_key", {"KeyMetadata": {"KeyId": KEY_ID, "Arn": KEY_ARN}}, {"KeyId": "alias/xray"})
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": "alias/xray"})
    assert not failed, result
    assert result["changed"] is False
    assert xray.calls == ["GetEncryptionConfig", "DescribeKey"]


def test_alias_unresolvable_assumes_a_change_and_warns(xray, run_module):
    xray.add("get_encryption_config", config("KMS", "ACTIVE", KEY_ARN))
    xray.kms.add_client_error("describe_key", "AccessDeniedException", "not allowed")
    xray.add("put_encryption_config", config("KMS", "UPDATING", KEY_ARN), {"Type": "KMS", "KeyId": "alias/xray"})
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": "alias/xray"})
    assert not failed, result
    assert result["changed"] is True
    assert any("kms:DescribeKey" in w for w in result.get("warnings", []))


@pytest.mark.parametrize("check_mode", [False, True])
def test_key_that_does_not_exist_fails_naming_key_id_before_the_put(xray, run_module, check_mode):
    """Issue 17: a KMS alias that does not exist was accepted and X-Ray switched to it."""
    xray.add("get_encryption_config", config())
    xray.kms.add_client_error("describe_key", "NotFoundException", "Alias arn:aws:kms:eu-west-1:123456789012:alias/nope is not found.",
                              expected_params={"KeyId": "alias/nope"})
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": "alias/nope"}, check_mode=check_mode)
    assert failed
    assert "key_id 'alias/nope' does not exist" in result["msg"] and "existing symmetric KMS key" in result["msg"]
    assert xray.calls == ["GetEncryptionConfig", "DescribeKey"]


@pytest.mark.parametrize("metadata, said", [
    ({"Enabled": False, "KeyState": "Disabled"}, "Disabled"),
    ({"KeyState": "PendingDeletion", "Enabled": False}, "PendingDeletion"),
    ({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}, "symmetric"),
])
def test_unusable_key_fails_before_the_put(xray, run_module, metadata, said):
    xray.add("get_encryption_config", config())
    key_exists(xray, KEY_ID, **metadata)
    failed, result = run_module(xray_encryption_config, {"encryption_type": "KMS", "key_id": KEY_ID})
    assert failed
    assert "key_id" in result["msg"] and said in result["msg"]
    assert xray.mutating_calls == []
