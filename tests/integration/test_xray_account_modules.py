"""The X-Ray account configuration modules through ansible-playbook against the sandbox AWS endpoint (moto + the
sandbox's X-Ray EMULATION of Transaction Search, indexing rules and resource policies: not AWS).

xray_trace_segment_destination, xray_indexing_rule(_info), xray_resource_policy(_info) and the sampling rule's
rate boost: create, identical rerun unchanged, update, check mode changes nothing (read back with boto3),
delete, and bad input refused before any call. "Before any call" is proven by running the bad tasks against
a closed loopback port: a module that called AWS would fail with a connection error instead of naming the field.

The destination and the indexing rule are account-wide: every test puts them back (XRay, 1 %).
"""

from __future__ import annotations

import json
import secrets
import socket
import time

import boto3
import pytest

SUFFIX = secrets.token_hex(3)


def name(base: str) -> str:
    return f"it-{base}-{SUFFIX}"


def _closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def play(aws_endpoint, run_playbook, no_ambient_aws):
    """Run tasks in one play on localhost; connection settings only from module_defaults (``endpoint_url`` overrides)."""

    def _play(tasks: list[dict], *, check: bool = False, diff: bool = False, endpoint_url: str | None = None):
        playbook = [
            {
                "name": "X-Ray account modules against the sandbox endpoint",
                "hosts": "localhost",
                "gather_facts": False,
                "module_defaults": {
                    "group/tracing.xray.aws": {
                        "endpoint_url": endpoint_url or aws_endpoint["endpoint_url"],
                        "region": aws_endpoint["region"],
                        "access_key": aws_endpoint["access_key_id"],
                        "secret_key": aws_endpoint["secret_access_key"],
                    }
                },
                "tasks": tasks,
            }
        ]
        return run_playbook(json.dumps(playbook, indent=1), check=check, diff=diff)

    return _play


@pytest.fixture
def logs(aws_endpoint):
    return boto3.client(
        "logs",
        endpoint_url=aws_endpoint["endpoint_url"],
        region_name=aws_endpoint["region"],
        aws_access_key_id=aws_endpoint["access_key_id"],
        aws_secret_access_key=aws_endpoint["secret_access_key"],
    )


@pytest.fixture
def account_defaults(xray, logs):
    """Puts the account back as it was found: destination XRay, Default indexing rule 1 %, no logs policy of ours."""
    yield
    deadline = time.monotonic() + 30
    while xray.get_trace_segment_destination()["Status"] != "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.2)
    if xray.get_trace_segment_destination()["Destination"] != "XRay":
        xray.update_trace_segment_destination(Destination="XRay")
        while xray.get_trace_segment_destination()["Status"] != "ACTIVE" and time.monotonic() < deadline:
            time.sleep(0.2)
    xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": 1.0}})
    for policy in logs.describe_resource_policies().get("resourcePolicies", []):
        if policy["policyName"].startswith("it-"):
            logs.delete_resource_policy(policyName=policy["policyName"])


def ok(run, task: str) -> dict:
    result = run.results().get(task)
    assert result is not None, f"task {task!r} did not run\n{run.explain()}"
    assert not result.get("failed"), f"task {task!r} failed: {result.get('msg')}\n{run.explain()}"
    return result


def failed(run, task: str) -> dict:
    result = run.results().get(task)
    assert result is not None, f"task {task!r} did not run\n{run.explain()}"
    assert result.get("failed"), f"task {task!r} should have failed\n{run.explain()}"
    return result


def task(title: str, module: str, **args) -> dict:
    return {"name": title, f"tracing.xray.{module}": args}


def refused(title: str, module: str, **args) -> dict:
    return {**task(title, module, **args), "ignore_errors": True}


def assert_refused_before_any_call(play, cases: dict[str, tuple[str, dict, str]]) -> None:
    """Each case (module, args, text the message must contain) fails against a closed port with that text."""
    run = play([refused(title, module, **args) for title, (module, args, _text) in cases.items()], endpoint_url=_closed_port())
    for title, (_module, _args, text) in cases.items():
        msg = failed(run, title)["msg"]
        assert text in msg, (title, msg)
        assert "Could not connect" not in msg and "Connect timeout" not in msg, (title, msg)


# --- xray_trace_segment_destination -------------------------------------------------------------------------


def test_trace_segment_destination(play, xray, logs, account_defaults):
    dest = "xray_trace_segment_destination"
    # Without the CloudWatch Logs resource policy: refused before UpdateTraceSegmentDestination, naming what is missing.
    run = play([refused("no logs policy", dest, destination="CloudWatchLogs")])
    result = failed(run, "no logs policy")
    assert "no statement allows the principal xray.amazonaws.com" in result["msg"] and "aws/spans" in result["msg"]
    required = result["required_logs_policy"]
    assert xray.get_trace_segment_destination()["Destination"] == "XRay"

    # The policy the module asked for, put by the user (here boto3).
    logs.put_resource_policy(policyName=name("spans"), policyDocument=json.dumps(required))

    run = play([task("check", dest, destination="CloudWatchLogs")], check=True, diff=True)
    result = ok(run, "check")
    assert result["changed"] is True and result["diff"] == {"before": {"destination": "XRay"}, "after": {"destination": "CloudWatchLogs"}}
    assert xray.get_trace_segment_destination()["Destination"] == "XRay"

    run = play([task("on", dest, destination="CloudWatchLogs", wait_timeout=60), task("on again", dest, destination="CloudWatchLogs")])
    assert ok(run, "on")["changed"] is True
    assert ok(run, "on")["trace_segment_destination"] == {"destination": "CloudWatchLogs", "status": "ACTIVE"}
    assert ok(run, "on again")["changed"] is False
    assert xray.get_trace_segment_destination()["Destination"] == "CloudWatchLogs"
    assert logs.describe_log_groups(logGroupNamePrefix="aws/spans")["logGroups"], "X-Ray creates aws/spans"

    run = play([task("off", dest, destination="XRay", wait=False), task("off again", dest, destination="XRay")])
    assert ok(run, "off")["trace_segment_destination"]["destination"] == "XRay"
    assert ok(run, "off")["changed"] is True
    assert ok(run, "off again")["changed"] is False  # waited for the PENDING change first, then nothing to do
    live = xray.get_trace_segment_destination()
    assert (live["Destination"], live["Status"]) == ("XRay", "ACTIVE")

    assert_refused_before_any_call(
        play,
        {
            "bad destination": (dest, {"destination": "S3"}, "destination"),
            "negative timeout": (dest, {"destination": "XRay", "wait_timeout": -1}, "wait_timeout=-1 is out of range"),
        },
    )


# --- xray_indexing_rule -------------------------------------------------------------------------------------


def test_indexing_rule(play, xray, account_defaults):
    def live() -> float:
        return xray.get_indexing_rules()["IndexingRules"][0]["Rule"]["Probabilistic"]["DesiredSamplingPercentage"]

    run = play(
        [
            task("five", "xray_indexing_rule", desired_sampling_percentage=5),
            task("five again", "xray_indexing_rule", name="Default", desired_sampling_percentage=5.0),
        ]
    )
    assert ok(run, "five")["changed"] is True and ok(run, "five")["indexing_rule"]["desired_sampling_percentage"] == 5.0
    assert ok(run, "five again")["changed"] is False
    assert live() == 5.0

    run = play([task("fifty", "xray_indexing_rule", desired_sampling_percentage=50)], check=True, diff=True)
    assert ok(run, "fifty")["changed"] is True
    assert ok(run, "fifty")["diff"]["after"]["desired_sampling_percentage"] == 50.0
    assert live() == 5.0

    run = play([task("info", "xray_indexing_rule_info"), task("one", "xray_indexing_rule_info", name="Default", include_destination=False)])
    info = ok(run, "info")
    assert [r["name"] for r in info["indexing_rules"]] == ["Default"] and info["indexing_rules"][0]["desired_sampling_percentage"] == 5.0
    assert info["trace_segment_destination"] == {"destination": "XRay", "status": "ACTIVE"}
    assert "trace_segment_destination" not in ok(run, "one")

    run = play([refused("unknown", "xray_indexing_rule", name="Custom", desired_sampling_percentage=3)])
    assert "no indexing rule of that name" in failed(run, "unknown")["msg"]

    run = play([task("back", "xray_indexing_rule", desired_sampling_percentage=1)])
    assert ok(run, "back")["changed"] is True and live() == 1.0

    assert_refused_before_any_call(
        play,
        {
            "over 100": ("xray_indexing_rule", {"desired_sampling_percentage": 101}, "desired_sampling_percentage=101.0 is out of range"),
            "negative": ("xray_indexing_rule", {"desired_sampling_percentage": -1}, "desired_sampling_percentage=-1.0 is out of range"),
            "long name": ("xray_indexing_rule", {"name": "n" * 33, "desired_sampling_percentage": 1}, "name is 33 characters long"),
        },
    )


# --- xray_resource_policy -----------------------------------------------------------------------------------


def _policy(*actions: str, service: str = "sns.amazonaws.com") -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Access", "Effect": "Allow", "Principal": {"Service": service}, "Action": list(actions) or ["xray:PutTraceSegments"], "Resource": "*"}
        ],
    }


def _live_policies(xray) -> dict[str, dict]:
    return {p["PolicyName"]: p for page in xray.get_paginator("list_resource_policies").paginate() for p in page["ResourcePolicies"]}


def test_resource_policy_lifecycle(play, xray):
    policy = name("sns")
    doc = _policy("xray:PutTraceSegments", "xray:GetSamplingRules")
    # The same policy written differently: keys reordered, actions reordered, one statement as an object.
    same = {
        "Statement": {
            "Resource": "*",
            "Action": ["xray:GetSamplingRules", "xray:PutTraceSegments"],
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Sid": "Access",
        },
        "Version": "2012-10-17",
    }
    changed_doc = _policy("xray:PutTraceSegments", "xray:GetSamplingRules", "xray:GetSamplingTargets")
    rp = "xray_resource_policy"
    try:
        run = play([task("create (check)", rp, policy_name=policy, policy_document=doc)], check=True)
        assert ok(run, "create (check)")["changed"] is True
        assert policy not in _live_policies(xray)

        run = play([task("create", rp, policy_name=policy, policy_document=doc), task("same", rp, policy_name=policy, policy_document=json.dumps(same))])
        created = ok(run, "create")
        assert created["changed"] is True and created["resource_policy"]["policy_document"] == doc
        revision = created["resource_policy"]["policy_revision_id"]
        assert ok(run, "same")["changed"] is False
        assert json.loads(_live_policies(xray)[policy]["PolicyDocument"]) == doc

        run = play([task("update (check)", rp, policy_name=policy, policy_document=changed_doc)], check=True, diff=True)
        assert ok(run, "update (check)")["changed"] is True
        assert ok(run, "update (check)")["diff"]["after"]["policy_document"] == changed_doc
        assert _live_policies(xray)[policy]["PolicyRevisionId"] == revision

        run = play(
            [
                refused("stale revision", rp, policy_name=policy, policy_document=changed_doc, policy_revision_id="999"),
                task("update", rp, policy_name=policy, policy_document=changed_doc, policy_revision_id=revision),
                task("update again", rp, policy_name=policy, policy_document=changed_doc),
                task("info", "xray_resource_policy_info", name_prefix=f"it-sns-{SUFFIX}"),
            ]
        )
        assert "read it again" in failed(run, "stale revision")["msg"]
        updated = ok(run, "update")
        assert updated["changed"] is True and updated["resource_policy"]["policy_revision_id"] != revision
        assert ok(run, "update again")["changed"] is False
        assert [p["policy_name"] for p in ok(run, "info")["resource_policies"]] == [policy]
        assert json.loads(_live_policies(xray)[policy]["PolicyDocument"]) == changed_doc

        run = play([task("delete (check)", rp, policy_name=policy, state="absent")], check=True)
        assert ok(run, "delete (check)")["changed"] is True and policy in _live_policies(xray)
        run = play([task("delete", rp, policy_name=policy, state="absent"), task("delete again", rp, policy_name=policy, state="absent")])
        assert ok(run, "delete")["changed"] is True and ok(run, "delete again")["changed"] is False
        assert policy not in _live_policies(xray)
    finally:
        if policy in _live_policies(xray):
            xray.delete_resource_policy(PolicyName=policy)


def test_resource_policy_limits_and_lockout(play, xray):
    rp = "xray_resource_policy"
    fillers = [name(f"fill{n}") for n in range(5 - len(_live_policies(xray)))]
    locking = name("deny")
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "xray:*", "Resource": "*"}]}
    try:
        run = play([refused("lockout", rp, policy_name=locking, policy_document=deny)])
        assert "bypass_policy_lockout_check=true" in failed(run, "lockout")["msg"] and locking not in _live_policies(xray)
        run = play([task("bypass", rp, policy_name=locking, policy_document=deny, bypass_policy_lockout_check=True)])
        assert ok(run, "bypass")["changed"] is True
        xray.delete_resource_policy(PolicyName=locking)

        for filler in fillers:
            xray.put_resource_policy(PolicyName=filler, PolicyDocument=json.dumps(_policy()))
        assert len(_live_policies(xray)) == 5
        run = play([refused("sixth", rp, policy_name=name("sixth"), policy_document=_policy())])
        msg = failed(run, "sixth")["msg"]
        assert "already has 5 resource policies" in msg and "X-Ray allows 5" in msg
        assert name("sixth") not in _live_policies(xray)
    finally:
        for leftover in [*fillers, locking]:
            if leftover in _live_policies(xray):
                xray.delete_resource_policy(PolicyName=leftover)

    big = _policy()
    big["Statement"][0]["Sid"] = "s" * 5200
    assert_refused_before_any_call(
        play,
        {
            "too big": (rp, {"policy_name": name("big"), "policy_document": big}, "X-Ray allows at most 5120 bytes"),
            "no principal": (
                rp,
                {"policy_name": name("np"), "policy_document": {"Statement": [{"Effect": "Allow", "Action": "xray:*"}]}},
                "Principal is required",
            ),
            "bad name": (rp, {"policy_name": "it bad", "policy_document": _policy()}, "policy_name='it bad'"),
            "not json": (rp, {"policy_name": name("nj"), "policy_document": "{nope"}, "policy_document is not valid JSON"),
            "no document": (rp, {"policy_name": name("nd")}, "policy_document is required"),
        },
    )


# --- xray_sampling_rule: SamplingRateBoost -------------------------------------------------------------------


def test_sampling_rule_rate_boost(play, xray):
    rule = name("boost")[:32]
    base = {"rule_name": rule, "priority": 321, "fixed_rate": 0.1, "reservoir_size": 1, "service_name": "checkout"}
    boost = {"max_rate": 0.5, "cooldown_window_minutes": 10}

    def live_boost():
        for page in xray.get_paginator("get_sampling_rules").paginate():
            for record in page["SamplingRuleRecords"]:
                if record["SamplingRule"]["RuleName"] == rule:
                    return record["SamplingRule"].get("SamplingRateBoost")
        return "missing"

    sr = "xray_sampling_rule"
    try:
        run = play([task("create", sr, **base, sampling_rate_boost=boost), task("again", sr, **base, sampling_rate_boost=boost)])
        assert ok(run, "create")["changed"] is True and ok(run, "create")["sampling_rule"]["sampling_rate_boost"] == boost
        assert ok(run, "again")["changed"] is False
        assert live_boost() == {"MaxRate": 0.5, "CooldownWindowMinutes": 10}

        run = play([task("longer cooldown (check)", sr, rule_name=rule, sampling_rate_boost=dict(boost, cooldown_window_minutes=30))], check=True)
        assert ok(run, "longer cooldown (check)")["changed"] is True
        assert live_boost() == {"MaxRate": 0.5, "CooldownWindowMinutes": 10}

        run = play(
            [
                task("longer cooldown", sr, rule_name=rule, sampling_rate_boost=dict(boost, cooldown_window_minutes=30)),
                task("untouched", sr, rule_name=rule, fixed_rate=0.1),
            ]
        )
        assert ok(run, "longer cooldown")["changed"] is True and ok(run, "untouched")["changed"] is False
        assert live_boost() == {"MaxRate": 0.5, "CooldownWindowMinutes": 30}

        run = play([task("delete", sr, rule_name=rule, state="absent")])
        assert ok(run, "delete")["changed"] is True and live_boost() == "missing"
    finally:
        if live_boost() != "missing":
            xray.delete_sampling_rule(RuleName=rule)

    assert_refused_before_any_call(
        play,
        {
            "rate over 1": (
                sr,
                {**base, "sampling_rate_boost": {"max_rate": 1.5, "cooldown_window_minutes": 1}},
                "sampling_rate_boost.max_rate=1.5 is out of range",
            ),
            "negative cooldown": (
                sr,
                {**base, "sampling_rate_boost": {"max_rate": 0.5, "cooldown_window_minutes": -1}},
                "cooldown_window_minutes=-1 is out of range",
            ),
            "on Default": (sr, {"rule_name": "Default", "sampling_rate_boost": boost}, "sampling_rate_boost cannot be set on the built-in Default"),
        },
    )
