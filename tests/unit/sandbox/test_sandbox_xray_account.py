"""Transaction Search (trace segment destination, indexing rules, trace retrieval) and X-Ray resource policies
(EMULATION) through boto3; every response is also checked against botocore's output shape (conftest.py)."""

from __future__ import annotations

import itertools
import json
import random
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.aws.xray_account import indexed, lockout_problem, logs_policy_problem, otel_trace_id, parse_policy, PolicyError

DESTINATION_DELAY = 0.3  # as configured in conftest.py
RETRIEVAL_DELAY = 0.2  # as configured in conftest.py
_ids = itertools.count(1)


def _logs(info: dict[str, Any]) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=info["endpoint_url"],
        region_name=info["region"],
        aws_access_key_id=info["access_key_id"],
        aws_secret_access_key=info["secret_access_key"],
    )


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Code"]


def _message(err: pytest.ExceptionInfo[ClientError]) -> str:
    return err.value.response["Error"]["Message"]


def _wait(xray: Any, method: str, field: str, value: str, **kwargs: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 40 * max(DESTINATION_DELAY, RETRIEVAL_DELAY)
    while True:
        result = getattr(xray, method)(**kwargs)
        if result[field] == value or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def _spans_policy(sandbox: dict[str, Any], **statement: Any) -> str:
    """The CloudWatch Logs resource policy the Transaction Search documentation gives, with overrides."""
    account, region = sandbox["account_id"], sandbox["region"]
    body = {
        "Sid": "TransactionSearchXRayAccess",
        "Effect": "Allow",
        "Principal": {"Service": "xray.amazonaws.com"},
        "Action": "logs:PutLogEvents",
        "Resource": [
            f"arn:aws:logs:{region}:{account}:log-group:aws/spans:*",
            f"arn:aws:logs:{region}:{account}:log-group:/aws/application-signals/data:*",
        ],
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:xray:{region}:{account}:*"}, "StringEquals": {"aws:SourceAccount": account}},
    }
    body.update(statement)
    return json.dumps({"Version": "2012-10-17", "Statement": [body]})


def _enable_transaction_search(xray: Any, sandbox: dict[str, Any]) -> None:
    _logs(sandbox).put_resource_policy(policyName="TransactionSearchAccess", policyDocument=_spans_policy(sandbox))
    xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    assert _wait(xray, "get_trace_segment_destination", "Status", "ACTIVE")["Destination"] == "CloudWatchLogs"


def _trace_ids(base: float, count: int, percentage: float | None = None) -> list[str]:
    """``count`` new trace IDs of the time ``base``; with ``percentage``, half inside the indexed share, half outside."""
    out: list[str] = []
    while len(out) < count:
        trace_id = f"1-{int(base):08x}-{random.getrandbits(96):024x}"
        if percentage is None or indexed(trace_id, percentage) == (len(out) % 2 == 0):
            out.append(trace_id)
    return out


def _send_traces(xray: Any, base: float, count: int, front: str, back: str, trace_ids: list[str] | None = None) -> list[str]:
    """``count`` traces front -> back (one remote call each), all ok; returns their trace IDs."""
    trace_ids = list(trace_ids or _trace_ids(base, count))
    for n, trace_id in enumerate(trace_ids):
        start = base + n * 0.5
        front_id, call_id, back_id = (f"{next(_ids) + 0x7000000:016x}" for _n in range(3))
        docs = [
            {
                "trace_id": trace_id,
                "id": front_id,
                "name": front,
                "origin": "AWS::EKS::Container",
                "start_time": start,
                "end_time": start + 0.2,
                "http": {"request": {"method": "GET", "url": f"http://{front}/"}, "response": {"status": 200}},
                "subsegments": [{"id": call_id, "name": back, "namespace": "remote", "start_time": start + 0.01, "end_time": start + 0.15}],
            },
            {
                "trace_id": trace_id,
                "id": back_id,
                "parent_id": call_id,
                "name": back,
                "origin": "AWS::EKS::Container",
                "start_time": start + 0.02,
                "end_time": start + 0.14,
                "http": {"request": {"method": "GET", "url": f"http://{back}/"}, "response": {"status": 200}},
            },
        ]
        assert xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])["UnprocessedTraceSegments"] == []
    return trace_ids


# --- trace segment destination --------------------------------------------------------------------------------


def test_destination_defaults_to_xray_active(xray: Any) -> None:
    result = xray.get_trace_segment_destination()
    assert (result["Destination"], result["Status"]) == ("XRay", "ACTIVE")
    assert xray.update_trace_segment_destination(Destination="XRay")["Status"] == "ACTIVE"  # no change: no PENDING


def test_cloudwatch_logs_refused_without_the_logs_resource_policy(xray: Any, sandbox: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as err:
        xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    assert _code(err) == "AccessDeniedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "no statement allows the principal xray.amazonaws.com" in _message(err) and "aws/spans" in _message(err)
    assert xray.get_trace_segment_destination()["Destination"] == "XRay"

    logs = _logs(sandbox)
    target = f"arn:aws:logs:{sandbox['region']}:{sandbox['account_id']}:log-group:aws/spans:*"
    partial = [
        ({"Principal": {"Service": "logs.amazonaws.com"}}, "no statement allows the principal xray.amazonaws.com"),
        ({"Action": "logs:CreateLogStream"}, "no statement allows xray.amazonaws.com the action logs:PutLogEvents"),
        ({"Resource": f"arn:aws:logs:{sandbox['region']}:{sandbox['account_id']}:log-group:other:*"}, f"covers the resource {target}"),
        ({"Effect": "Deny"}, "no statement allows the principal xray.amazonaws.com"),
    ]
    for overrides, missing in partial:
        logs.put_resource_policy(policyName="almost", policyDocument=_spans_policy(sandbox, **overrides))
        with pytest.raises(ClientError) as err:
            xray.update_trace_segment_destination(Destination="CloudWatchLogs")
        assert _code(err) == "AccessDeniedException" and missing in _message(err), (overrides, _message(err))
        assert "almost" in _message(err)


def test_cloudwatch_logs_pending_then_active_and_back(xray: Any, sandbox: dict[str, Any]) -> None:
    _logs(sandbox).put_resource_policy(policyName="TransactionSearchAccess", policyDocument=_spans_policy(sandbox))
    started = time.monotonic()
    result = xray.update_trace_segment_destination(Destination="CloudWatchLogs")
    assert (result["Destination"], result["Status"]) == ("CloudWatchLogs", "PENDING")
    assert xray.get_trace_segment_destination()["Status"] == "PENDING"
    # A second change while the first is PENDING is refused (sandbox rule).
    with pytest.raises(ClientError) as err:
        xray.update_trace_segment_destination(Destination="XRay")
    assert _code(err) == "InvalidRequestException" and "PENDING" in _message(err)
    active = _wait(xray, "get_trace_segment_destination", "Status", "ACTIVE")
    assert active["Destination"] == "CloudWatchLogs" and time.monotonic() - started >= DESTINATION_DELAY * 0.9
    # X-Ray created the spans log group.
    groups = _logs(sandbox).describe_log_groups(logGroupNamePrefix="aws/spans")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["aws/spans"]
    # Same destination again: nothing changes. Back to XRay: PENDING, then ACTIVE; no logs policy needed.
    assert xray.update_trace_segment_destination(Destination="CloudWatchLogs")["Status"] == "ACTIVE"
    assert xray.update_trace_segment_destination(Destination="XRay")["Status"] == "PENDING"
    assert _wait(xray, "get_trace_segment_destination", "Status", "ACTIVE")["Destination"] == "XRay"


def test_destination_validation(xray: Any, xray_raw: Any, sandbox: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as err:
        xray_raw.update_trace_segment_destination(Destination="S3")
    assert _code(err) == "InvalidRequestException" and "[XRay, CloudWatchLogs]" in _message(err)
    with pytest.raises(ClientError) as err:
        xray.update_trace_segment_destination(Destination="XRay", CloudWatchLogsConfiguration={"SpansLogGroupKmsKeyId": "x"})
    assert _code(err) == "InvalidRequestException" and "only be given with Destination CloudWatchLogs" in _message(err)
    _logs(sandbox).put_resource_policy(policyName="TransactionSearchAccess", policyDocument=_spans_policy(sandbox))
    with pytest.raises(ClientError) as err:
        xray.update_trace_segment_destination(Destination="CloudWatchLogs", CloudWatchLogsConfiguration={"SpansLogGroupKmsKeyId": "alias/spans"})
    assert _code(err) == "InvalidRequestException" and "key IDs and alias ARNs are not supported" in _message(err)
    logs = _logs(sandbox)
    if not logs.describe_log_groups(logGroupNamePrefix="aws/spans")["logGroups"]:
        logs.create_log_group(logGroupName="aws/spans")
    key = f"arn:aws:kms:{sandbox['region']}:{sandbox['account_id']}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with pytest.raises(ClientError) as err:
        xray.update_trace_segment_destination(Destination="CloudWatchLogs", CloudWatchLogsConfiguration={"SpansLogGroupKmsKeyId": key})
    assert _code(err) == "InvalidRequestException" and "aws/spans already exists" in _message(err)
    assert xray.get_trace_segment_destination()["Destination"] == "XRay"


# --- indexing rules --------------------------------------------------------------------------------------------


def test_indexing_rules_default_and_update(xray: Any, xray_raw: Any) -> None:
    rules = xray.get_indexing_rules()["IndexingRules"]
    assert [r["Name"] for r in rules] == ["Default"]
    assert rules[0]["Rule"] == {"Probabilistic": {"DesiredSamplingPercentage": 1.0, "ActualSamplingPercentage": 1.0}}
    updated = xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": 12.5}})["IndexingRule"]
    assert updated["Name"] == "Default" and updated["Rule"]["Probabilistic"]["DesiredSamplingPercentage"] == 12.5
    assert updated["ModifiedAt"] >= rules[0]["ModifiedAt"]
    assert xray.get_indexing_rules()["IndexingRules"][0]["Rule"]["Probabilistic"]["DesiredSamplingPercentage"] == 12.5

    for pct in (-1, 100.5):
        with pytest.raises(ClientError) as err:
            xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": pct}})
        assert _code(err) == "InvalidRequestException" and "desiredSamplingPercentage" in _message(err)
    with pytest.raises(ClientError) as err:
        xray.update_indexing_rule(Name="Other", Rule={"Probabilistic": {"DesiredSamplingPercentage": 5}})
    assert _code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        xray_raw.update_indexing_rule(Name="Default", Rule={})
    assert _code(err) == "InvalidRequestException" and "Probabilistic" in _message(err)


# --- the indexed share and trace retrieval ----------------------------------------------------------------------


def test_indexed_share_and_retrieval(xray: Any, sandbox: dict[str, Any]) -> None:
    _enable_transaction_search(xray, sandbox)
    xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": 30}})
    base = time.time() - 11 * 3600 - random.uniform(0, 600)
    trace_ids = _send_traces(xray, base, 12, "front-ts", "back-ts", _trace_ids(base, 12, percentage=30))
    expected_indexed = {t for t in trace_ids if indexed(t, 30)}
    assert len(expected_indexed) == 6

    # X-Ray's own APIs see only the indexed share.
    summaries = xray.get_trace_summaries(StartTime=base - 5, EndTime=base + 30)["TraceSummaries"]
    assert {s["Id"] for s in summaries} == expected_indexed
    graph = xray.get_service_graph(StartTime=base - 5, EndTime=base + 30)["Services"]
    front = next(s for s in graph if s["Name"] == "front-ts" and s.get("Type") == "AWS::EKS::Container")
    assert front["SummaryStatistics"]["TotalCount"] == len(expected_indexed)

    # Every span went to CloudWatch Logs aws/spans, with the trace ID in OpenTelemetry form.
    events = _logs(sandbox).filter_log_events(logGroupName="aws/spans", startTime=int((base - 5) * 1000), endTime=int((base + 30) * 1000))["events"]
    spans = [json.loads(e["message"]) for e in events]
    assert {s["traceId"] for s in spans} == {otel_trace_id(t) for t in trace_ids}
    assert len(spans) == 2 * len(trace_ids) and {s["name"] for s in spans} == {"front-ts", "back-ts"}

    # Retrieval reads every one of them.
    token = xray.start_trace_retrieval(TraceIds=trace_ids + ["1-00000000-000000000000000000000000"], StartTime=base - 5, EndTime=base + 30)["RetrievalToken"]
    first = xray.list_retrieved_traces(RetrievalToken=token)
    assert first["RetrievalStatus"] == "RUNNING" and "Traces" not in first
    assert xray.get_retrieved_traces_graph(RetrievalToken=token).get("Services") is None
    time.sleep(RETRIEVAL_DELAY)
    pages, kwargs = [], {"RetrievalToken": token}
    while True:  # botocore has no paginator for ListRetrievedTraces
        page = xray.list_retrieved_traces(**kwargs)
        pages.append(page)
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    assert len(pages) == 3  # 12 traces, 5 per page
    assert all(p["RetrievalStatus"] == "COMPLETE" and p["TraceFormat"] == "XRAY" and len(p["Traces"]) <= 5 for p in pages)
    retrieved = [t for p in pages for t in p["Traces"]]
    assert sorted(t["Id"] for t in retrieved) == sorted(trace_ids)
    one = retrieved[0]
    assert one["Duration"] == pytest.approx(0.2) and len(one["Spans"]) == 2
    assert {json.loads(s["Document"])["name"] for s in one["Spans"]} == {"front-ts", "back-ts"}

    otel = xray.list_retrieved_traces(RetrievalToken=token, TraceFormat="OTEL")
    assert otel["TraceFormat"] == "OTEL" and "traceId" in json.loads(otel["Traces"][0]["Spans"][0]["Document"])

    graph = xray.get_retrieved_traces_graph(RetrievalToken=token)
    assert graph["RetrievalStatus"] == "COMPLETE"
    services = {(s["Service"]["Name"], s["Service"].get("Type")): s["Service"] for s in graph["Services"]}
    assert services[("front-ts", "AWS::EKS::Container")]["SummaryStatistics"]["TotalCount"] == len(trace_ids)
    back_ref = services[("back-ts", "AWS::EKS::Container")]["ReferenceId"]
    edge = next(e for e in services[("front-ts", "AWS::EKS::Container")]["Edges"] if e["ReferenceId"] == back_ref)
    assert edge["SummaryStatistics"]["TotalCount"] == len(trace_ids)
    assert all(s["Links"] == [] for s in graph["Services"])

    # Outside the time range: nothing.
    late = xray.start_trace_retrieval(TraceIds=trace_ids, StartTime=base + 3600, EndTime=base + 7200)["RetrievalToken"]
    time.sleep(RETRIEVAL_DELAY)
    assert xray.list_retrieved_traces(RetrievalToken=late)["Traces"] == []


def test_traces_sent_before_transaction_search_are_not_in_the_log_group(xray: Any, sandbox: dict[str, Any]) -> None:
    base = time.time() - 12 * 3600 - random.uniform(0, 600)
    trace_ids = _send_traces(xray, base, 3, "front-pre", "back-pre")
    assert len(xray.get_trace_summaries(StartTime=base - 5, EndTime=base + 30)["TraceSummaries"]) == 3
    token = xray.start_trace_retrieval(TraceIds=trace_ids, StartTime=base - 5, EndTime=base + 30)["RetrievalToken"]
    time.sleep(RETRIEVAL_DELAY)
    assert xray.list_retrieved_traces(RetrievalToken=token)["Traces"] == []


def test_retrieval_errors_and_cancel(xray: Any, xray_raw: Any) -> None:
    for call in (xray.list_retrieved_traces, xray.get_retrieved_traces_graph, xray.cancel_trace_retrieval):
        with pytest.raises(ClientError) as err:
            call(RetrievalToken="unknown")
        assert _code(err) == "ResourceNotFoundException" and err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    now = time.time()
    with pytest.raises(ClientError) as err:
        xray.start_trace_retrieval(TraceIds=[f"1-00000000-{n:024x}" for n in range(101)], StartTime=now - 60, EndTime=now)
    assert _code(err) == "InvalidRequestException" and "less than or equal to 100" in _message(err)
    with pytest.raises(ClientError) as err:
        xray.start_trace_retrieval(TraceIds=[], StartTime=now, EndTime=now - 60)
    assert _code(err) == "InvalidRequestException"
    with pytest.raises(ClientError) as err:
        token = xray.start_trace_retrieval(TraceIds=[], StartTime=now - 1, EndTime=now)["RetrievalToken"]
        xray_raw.list_retrieved_traces(RetrievalToken=token, TraceFormat="JSON")
    assert _code(err) == "InvalidRequestException" and "[XRAY, OTEL]" in _message(err)

    token = xray.start_trace_retrieval(TraceIds=[], StartTime=now - 60, EndTime=now)["RetrievalToken"]
    xray.cancel_trace_retrieval(RetrievalToken=token)
    time.sleep(RETRIEVAL_DELAY)
    assert xray.list_retrieved_traces(RetrievalToken=token)["RetrievalStatus"] == "CANCELLED"
    assert xray.get_retrieved_traces_graph(RetrievalToken=token)["RetrievalStatus"] == "CANCELLED"


# --- resource policies -----------------------------------------------------------------------------------------


def _policy(*principals: str, effect: str = "Allow", action: Any = "xray:PutTraceSegments") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Access", "Effect": effect, "Principal": {"Service": list(principals) or "sns.amazonaws.com"}, "Action": action, "Resource": "*"}
            ],
        }
    )


def test_resource_policy_lifecycle_and_revisions(xray: Any) -> None:
    created = xray.put_resource_policy(PolicyName="sns-access", PolicyDocument=_policy())["ResourcePolicy"]
    assert created["PolicyName"] == "sns-access" and created["PolicyDocument"] == _policy()
    first = created["PolicyRevisionId"]
    assert first and "LastUpdatedTime" in created

    updated = xray.put_resource_policy(PolicyName="sns-access", PolicyDocument=_policy("sns.amazonaws.com", "lambda.amazonaws.com"), PolicyRevisionId=first)
    second = updated["ResourcePolicy"]["PolicyRevisionId"]
    assert second != first
    with pytest.raises(ClientError) as err:  # stale revision
        xray.put_resource_policy(PolicyName="sns-access", PolicyDocument=_policy(), PolicyRevisionId=first)
    assert _code(err) == "InvalidPolicyRevisionIdException"
    with pytest.raises(ClientError) as err:  # "0": create only
        xray.put_resource_policy(PolicyName="sns-access", PolicyDocument=_policy(), PolicyRevisionId="0")
    assert _code(err) == "InvalidPolicyRevisionIdException" and "already exists" in _message(err)
    with pytest.raises(ClientError) as err:  # a revision for a policy that does not exist
        xray.put_resource_policy(PolicyName="other", PolicyDocument=_policy(), PolicyRevisionId="7")
    assert _code(err) == "InvalidPolicyRevisionIdException"
    assert xray.put_resource_policy(PolicyName="other", PolicyDocument=_policy(), PolicyRevisionId="0")["ResourcePolicy"]["PolicyRevisionId"]

    listed = xray.list_resource_policies()["ResourcePolicies"]
    assert [p["PolicyName"] for p in listed] == ["other", "sns-access"]
    assert listed[1]["PolicyRevisionId"] == second

    with pytest.raises(ClientError) as err:
        xray.delete_resource_policy(PolicyName="sns-access", PolicyRevisionId=first)
    assert _code(err) == "InvalidPolicyRevisionIdException"
    xray.delete_resource_policy(PolicyName="sns-access", PolicyRevisionId=second)
    xray.delete_resource_policy(PolicyName="other")
    assert xray.list_resource_policies()["ResourcePolicies"] == []
    with pytest.raises(ClientError) as err:
        xray.delete_resource_policy(PolicyName="other")
    assert _code(err) == "InvalidRequestException" and "not found" in _message(err)


def test_resource_policy_limits(xray: Any, xray_raw: Any) -> None:
    for n in range(5):
        xray.put_resource_policy(PolicyName=f"policy-{n}", PolicyDocument=_policy())
    with pytest.raises(ClientError) as err:
        xray.put_resource_policy(PolicyName="policy-5", PolicyDocument=_policy())
    assert _code(err) == "PolicyCountLimitExceededException"
    xray.put_resource_policy(PolicyName="policy-4", PolicyDocument=_policy("lambda.amazonaws.com"))  # updating is not counted

    statement = {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "xray:*", "Sid": "x" * 5100}
    big = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    assert len(big) > 5120
    with pytest.raises(ClientError) as err:
        xray.put_resource_policy(PolicyName="policy-0", PolicyDocument=big)
    assert _code(err) == "PolicySizeLimitExceededException" and "5120" in _message(err)

    for document, message in (
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        (json.dumps({"Version": "2012-10-17"}), "no Statement"),
        (json.dumps({"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "xray:*"}]}), "Effect must be Allow or Deny"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Action": "xray:*"}]}), "Principal is required"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*"}]}), "Action or NotAction"),
    ):
        with pytest.raises(ClientError) as err:
            xray.put_resource_policy(PolicyName="policy-0", PolicyDocument=document)
        assert _code(err) == "MalformedPolicyDocumentException" and message in _message(err), document
    with pytest.raises(ClientError) as err:
        xray_raw.put_resource_policy(PolicyName="bad name!", PolicyDocument=_policy())
    assert _code(err) == "InvalidRequestException" and "policyName" in _message(err)


def test_resource_policy_lockout(xray: Any, sandbox: dict[str, Any]) -> None:
    account = sandbox["account_id"]
    locking = [
        {"Effect": "Deny", "Principal": "*", "Action": "xray:*"},
        {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "xray:PutResourcePolicy"},
        {"Effect": "Deny", "Principal": {"AWS": account}, "Action": ["xray:Put*"]},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "NotAction": "xray:GetSamplingRules"},
    ]
    for statement in locking:
        document = json.dumps({"Version": "2012-10-17", "Statement": [dict(statement, Resource="*")]})
        with pytest.raises(ClientError) as err:
            xray.put_resource_policy(PolicyName="deny", PolicyDocument=document)
        assert _code(err) == "LockoutPreventionException", statement
        assert "BypassPolicyLockoutCheck" in _message(err)
    # Not a lockout: another account, another action, an Allow.
    for statement in (
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "xray:*"},
        {"Effect": "Deny", "Principal": "*", "Action": "xray:PutTraceSegments"},
        {"Effect": "Allow", "Principal": "*", "Action": "xray:*"},
    ):
        xray.put_resource_policy(PolicyName="ok", PolicyDocument=json.dumps({"Statement": [statement]}))
    document = json.dumps({"Statement": [locking[0]]})
    assert xray.put_resource_policy(PolicyName="deny", PolicyDocument=document, BypassPolicyLockoutCheck=True)["ResourcePolicy"]["PolicyName"] == "deny"


# --- the pure rules ------------------------------------------------------------------------------------------


def test_logs_policy_rule_accepts_wildcards() -> None:
    region, account = "eu-west-1", "123456789012"
    for statement in (
        {"Effect": "Allow", "Principal": "*", "Action": "logs:*", "Resource": "*"},
        {
            "Effect": "Allow",
            "Principal": {"Service": ["xray.amazonaws.com", "logs.amazonaws.com"]},
            "Action": ["logs:Put*"],
            "Resource": "arn:aws:logs:*:*:log-group:aws/spans:*",
        },
    ):
        assert logs_policy_problem([("p", json.dumps({"Statement": [statement]}))], region, account) is None
    assert "none" in logs_policy_problem([], region, account)  # type: ignore[operator]
    assert "not authorized" in logs_policy_problem([("broken", "{")], region, account)  # type: ignore[operator]


def test_parse_policy_and_lockout_rule() -> None:
    with pytest.raises(PolicyError):
        parse_policy(json.dumps({"Version": "2099-01-01", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*"}}))
    policy = parse_policy(json.dumps({"Statement": {"Effect": "Deny", "Principal": {"AWS": "arn:aws:sts::123456789012:assumed-role/x/y"}, "Action": "*"}}))
    assert lockout_problem(policy, "123456789012")
    assert lockout_problem(policy, "999999999999") is None
