"""X-Ray sampling rules, sampling targets and encryption configuration (EMULATION) via boto3."""

from __future__ import annotations

import base64
import datetime
import time
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

ENCRYPTION_DELAY = 0.5  # as configured in conftest.py


def _rule(name: str, **overrides: Any) -> dict[str, Any]:
    rule = {
        "RuleName": name,
        "ResourceARN": "*",
        "Priority": 100,
        "FixedRate": 0.1,
        "ReservoirSize": 2,
        "ServiceName": "checkout",
        "ServiceType": "AWS::EKS::Container",
        "Host": "*",
        "HTTPMethod": "GET",
        "URLPath": "/api/*",
        "Version": 1,
    }
    rule.update(overrides)
    return rule


def _records(xray: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for page in xray.get_paginator("get_sampling_rules").paginate():
        for record in page["SamplingRuleRecords"]:
            out[record["SamplingRule"]["RuleName"]] = record
    return out


def test_default_rule(xray: Any, sandbox: dict[str, Any]) -> None:
    records = _records(xray)
    assert list(records) == ["Default"]
    default = records["Default"]
    # AWS's built-in rule (one request per second, then 5 %), written out here rather than taken from the store.
    assert default["SamplingRule"] == {
        "RuleName": "Default",
        "RuleARN": f"arn:aws:xray:{sandbox['region']}:{sandbox['account_id']}:sampling-rule/Default",
        "ResourceARN": "*",
        "Priority": 10000,
        "FixedRate": 0.05,
        "ReservoirSize": 1,
        "ServiceName": "*",
        "ServiceType": "*",
        "Host": "*",
        "HTTPMethod": "*",
        "URLPath": "*",
        "Version": 1,
        "Attributes": {},
    }
    assert default["CreatedAt"].timestamp() == 0
    assert isinstance(default["ModifiedAt"], datetime.datetime)


def test_default_rule_updates_and_deletion(xray: Any) -> None:
    before = _records(xray)["Default"]["ModifiedAt"]
    time.sleep(0.01)
    record = xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "FixedRate": 0.2, "ReservoirSize": 5})["SamplingRuleRecord"]
    assert (record["SamplingRule"]["FixedRate"], record["SamplingRule"]["ReservoirSize"]) == (0.2, 5)
    assert record["ModifiedAt"] > before
    assert record["SamplingRule"]["Priority"] == 10000
    for field, value in (("Priority", 1), ("ServiceName", "x"), ("URLPath", "/x"), ("Attributes", {"a": "b"})):
        with pytest.raises(xray.exceptions.InvalidRequestException, match=f"Only FixedRate and ReservoirSize.*{field}"):
            xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", field: value})
    for kwargs in ({"RuleName": "Default"}, {"RuleARN": record["SamplingRule"]["RuleARN"]}):
        with pytest.raises(xray.exceptions.InvalidRequestException, match="Default sampling rule cannot be deleted"):
            xray.delete_sampling_rule(**kwargs)
    assert _records(xray)["Default"]["SamplingRule"]["FixedRate"] == 0.2


def test_rule_lifecycle(xray: Any, sandbox: dict[str, Any]) -> None:
    spec = _rule("checkout-get", Attributes={"tier": "web"}, SamplingRateBoost={"MaxRate": 0.5, "CooldownWindowMinutes": 1})
    before = datetime.datetime.now(datetime.timezone.utc)
    record = xray.create_sampling_rule(SamplingRule=spec, Tags=[{"Key": "managed-by", "Value": "tracing.xray"}])["SamplingRuleRecord"]
    rule = record["SamplingRule"]
    arn = f"arn:aws:xray:{sandbox['region']}:{sandbox['account_id']}:sampling-rule/checkout-get"
    assert rule == dict(spec, RuleARN=arn)
    assert record["CreatedAt"] == record["ModifiedAt"]
    assert abs((record["CreatedAt"] - before).total_seconds()) < 5
    assert _records(xray)["checkout-get"] == record

    time.sleep(0.01)
    updated = xray.update_sampling_rule(SamplingRuleUpdate={"RuleARN": arn, "Priority": 7, "FixedRate": 0.0, "Attributes": {}})["SamplingRuleRecord"]
    assert updated["SamplingRule"]["Priority"] == 7
    assert updated["SamplingRule"]["FixedRate"] == 0.0
    assert updated["SamplingRule"]["Attributes"] == {}
    assert updated["SamplingRule"]["ServiceName"] == "checkout"  # untouched members stay
    assert updated["CreatedAt"] == record["CreatedAt"] and updated["ModifiedAt"] > record["ModifiedAt"]
    updated = xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "checkout-get", "HTTPMethod": "POST", "ResourceARN": "arn:aws:eks:*"})
    assert updated["SamplingRuleRecord"]["SamplingRule"]["HTTPMethod"] == "POST"

    deleted = xray.delete_sampling_rule(RuleName="checkout-get")["SamplingRuleRecord"]
    assert deleted["SamplingRule"]["RuleName"] == "checkout-get"
    assert deleted["SamplingRule"]["HTTPMethod"] == "POST"
    assert list(_records(xray)) == ["Default"]
    for call in (
        lambda: xray.delete_sampling_rule(RuleName="checkout-get"),
        lambda: xray.delete_sampling_rule(RuleARN=arn),
        lambda: xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "checkout-get", "Priority": 3}),
    ):
        with pytest.raises(xray.exceptions.InvalidRequestException, match="Sampling rule does not exist"):
            call()


def test_rules_sorted_and_paginated(xray: Any) -> None:
    for i in range(8):
        xray.create_sampling_rule(SamplingRule=_rule(f"r{i}", Priority=100 - i))
    first = xray.get_sampling_rules()
    assert len(first["SamplingRuleRecords"]) == 5 and first["NextToken"]
    second = xray.get_sampling_rules(NextToken=first["NextToken"])
    assert "NextToken" not in second
    ordered = [r["SamplingRule"]["RuleName"] for r in first["SamplingRuleRecords"] + second["SamplingRuleRecords"]]
    assert ordered == [f"r{i}" for i in range(7, -1, -1)] + ["Default"]
    with pytest.raises(xray.exceptions.InvalidRequestException, match="Invalid NextToken"):
        xray.get_sampling_rules(NextToken="garbage")
    groups_token = base64.urlsafe_b64encode(b'["groups",["x"]]').decode()  # well-formed, other listing
    with pytest.raises(xray.exceptions.InvalidRequestException, match="Invalid NextToken"):
        xray.get_sampling_rules(NextToken=groups_token)


def test_rule_limit(xray: Any) -> None:
    for i in range(25):
        xray.create_sampling_rule(SamplingRule=_rule(f"limit-{i}"))
    with pytest.raises(xray.exceptions.RuleLimitExceededException):
        xray.create_sampling_rule(SamplingRule=_rule("limit-25"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Priority": 10000}, "priority.*less than or equal to 9999"),
        ({"FixedRate": 1.5}, "fixedRate.*less than or equal to 1"),
        ({"Version": 2}, "only version is 1"),
        ({"ServiceName": "s" * 65}, "serviceName.*less than or equal to 64"),
        ({"ServiceType": "s" * 65}, "serviceType.*less than or equal to 64"),
        ({"Host": "h" * 65}, "host.*less than or equal to 64"),
        ({"HTTPMethod": "METHODTOOLONG"}, "less than or equal to 10"),
        ({"URLPath": "/" * 129}, "less than or equal to 128"),
        ({"ResourceARN": "a" * 501}, "less than or equal to 500"),
        ({"RuleName": "n" * 33}, "ruleName.*less than or equal to 32"),
        ({"RuleName": "Default"}, "reserved"),
        ({"RuleName": None}, "Missing required parameter: samplingRule.ruleName"),
        ({"Attributes": {f"k{i}": "v" for i in range(6)}}, "attributes.*less than or equal to 5"),
        ({"Attributes": {"k": "v" * 33}}, "between 1 and 32"),
        ({"SamplingRateBoost": {"MaxRate": 2.0, "CooldownWindowMinutes": 1}}, "maxRate"),
    ],
)
def test_rule_validation_server_side(xray: Any, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(xray.exceptions.InvalidRequestException, match=message):
        xray.create_sampling_rule(SamplingRule={k: v for k, v in _rule("invalid", **overrides).items() if v is not None})
    assert "invalid" not in _records(xray)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (_rule("neg", Priority=0), "greater than or equal to 1"),
        (_rule("neg", ReservoirSize=-1), "greater than or equal to 0"),
        (_rule("neg", FixedRate=-0.1), "greater than or equal to 0"),
        ({k: v for k, v in _rule("neg").items() if k != "URLPath"}, "Missing required parameter: samplingRule.uRLPath"),
        (_rule("neg", Priority="high"), "expected an integer"),
    ],
)
def test_rule_validation_behind_botocore(xray: Any, xray_raw: Any, rule: dict[str, Any], message: str) -> None:
    # botocore already refuses these client-side; the server refuses them too.
    with pytest.raises(ParamValidationError):
        xray.create_sampling_rule(SamplingRule=rule)
    with pytest.raises(xray_raw.exceptions.InvalidRequestException, match=message):
        xray_raw.create_sampling_rule(SamplingRule=rule)


def test_rule_create_and_update_conflicts(xray: Any, sandbox: dict[str, Any]) -> None:
    xray.create_sampling_rule(SamplingRule=_rule("once"))
    with pytest.raises(xray.exceptions.InvalidRequestException, match="already exists"):
        xray.create_sampling_rule(SamplingRule=_rule("once", Priority=5))
    with pytest.raises(xray.exceptions.InvalidRequestException, match="not both"):
        xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "once", "RuleARN": "arn:x", "Priority": 2})
    with pytest.raises(xray.exceptions.InvalidRequestException, match="RuleName or RuleARN"):
        xray.update_sampling_rule(SamplingRuleUpdate={"Priority": 2})
    with pytest.raises(xray.exceptions.InvalidRequestException, match="less than or equal to 9999"):
        xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "once", "Priority": 10001})
    with pytest.raises(xray.exceptions.InvalidRequestException, match="less than or equal to 1"):
        xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "once", "FixedRate": 1.01})
    assert _records(xray)["once"]["SamplingRule"]["Priority"] == 100


def test_sampling_targets(xray: Any) -> None:
    xray.create_sampling_rule(SamplingRule=_rule("targeted", FixedRate=0.25, ReservoirSize=3))
    now = datetime.datetime.now(datetime.timezone.utc)
    docs = [
        {"RuleName": "targeted", "ClientID": "0" * 24, "Timestamp": now, "RequestCount": 10, "SampledCount": 3},
        {"RuleName": "Default", "ClientID": "0" * 24, "Timestamp": now, "RequestCount": 1, "SampledCount": 1},
        {"RuleName": "unknown", "ClientID": "0" * 24, "Timestamp": now, "RequestCount": 1, "SampledCount": 0},
    ]
    out = xray.get_sampling_targets(SamplingStatisticsDocuments=docs)
    targets = {t["RuleName"]: t for t in out["SamplingTargetDocuments"]}
    assert set(targets) == {"targeted", "Default"}
    assert (targets["targeted"]["FixedRate"], targets["targeted"]["ReservoirQuota"], targets["targeted"]["Interval"]) == (0.25, 3, 10)
    assert targets["targeted"]["ReservoirQuotaTTL"] > now
    assert out["UnprocessedStatistics"] == [{"RuleName": "unknown", "ErrorCode": "400", "Message": "Unknown rule"}]
    assert out["LastRuleModification"] >= now - datetime.timedelta(seconds=5)


# --- encryption ---------------------------------------------------------------------------------------------


def test_encryption_default_is_none_active(xray: Any) -> None:
    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}


def test_encryption_kms_updating_then_active(xray: Any) -> None:
    key_arn = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    put = xray.put_encryption_config(Type="KMS", KeyId=key_arn)["EncryptionConfig"]
    assert put == {"Type": "KMS", "KeyId": key_arn, "Status": "UPDATING"}
    assert xray.get_encryption_config()["EncryptionConfig"]["Status"] == "UPDATING"
    deadline = time.monotonic() + 10 * ENCRYPTION_DELAY
    while xray.get_encryption_config()["EncryptionConfig"]["Status"] != "ACTIVE":
        assert time.monotonic() < deadline, "encryption config never became ACTIVE"
        time.sleep(0.05)
    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "KMS", "KeyId": key_arn, "Status": "ACTIVE"}
    for key_id in ("alias/aws/xray", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:us-west-2:123456789012:alias/tracing"):
        assert xray.put_encryption_config(Type="KMS", KeyId=key_id)["EncryptionConfig"]["KeyId"] == key_id
    back = xray.put_encryption_config(Type="NONE")["EncryptionConfig"]
    assert back == {"Type": "NONE", "Status": "UPDATING"}
    assert "KeyId" not in xray.get_encryption_config()["EncryptionConfig"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"Type": "KMS"}, "KeyId is required"),
        ({"Type": "NONE", "KeyId": "alias/aws/xray"}, "KeyId must be omitted"),
        ({"Type": "KMS", "KeyId": "not a key"}, "Invalid KeyId"),
        ({"Type": "AES"}, "enum value set"),
    ],
)
def test_encryption_errors(xray: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(xray.exceptions.InvalidRequestException, match=message):
        xray.put_encryption_config(**kwargs)
    assert xray.get_encryption_config()["EncryptionConfig"] == {"Type": "NONE", "Status": "ACTIVE"}
