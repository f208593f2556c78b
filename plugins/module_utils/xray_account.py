# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Helpers for the X-Ray account configuration modules: Transaction Search (trace segment destination, indexing
rules) and X-Ray resource policies.

- Reads: ``get_destination()``, ``list_indexing_rules()``, ``list_resource_policies()`` (all pages, retried).
- Normalisation into the snake_case results the modules return.
- Resource policy documents: ``load_policy_document()`` and the documented limits live in ``xray_limits`` (shared
  with the groups role's ``groups_problems`` filter).
- The CloudWatch Logs resource policy Transaction Search needs: ``spans_policy_problem()`` says what is
  missing from the account's policies, ``required_spans_policy()`` is the documented policy.
- ``wait_until()``: a bounded poll.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time

try:
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result

from ansible_collections.tracing.xray.plugins.module_utils.xray import is_error_code
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_paginate
from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_retry

DEFAULT_DESTINATION = "XRay"
DEFAULT_INDEXING_RULE = "Default"
# "By default you will also index 1% of ingested spans" (CloudWatch, Enable Transaction Search).
DEFAULT_INDEXING_PERCENTAGE = 1.0

SPANS_LOG_GROUP = "aws/spans"
APPLICATION_SIGNALS_LOG_GROUP = "/aws/application-signals/data"
XRAY_SERVICE_PRINCIPAL = "xray.amazonaws.com"


# --- reads --------------------------------------------------------------------------------------------------


def get_destination(client):
    """GetTraceSegmentDestination as ``{"Destination", "Status"}``."""
    response = client.get_trace_segment_destination(aws_retry=True)
    return {"Destination": response.get("Destination"), "Status": response.get("Status")}


def list_indexing_rules(client):
    """Every indexing rule (GetIndexingRules, all pages; botocore has no paginator for it)."""

    @xray_retry()
    def _run():
        rules, params = [], {}
        while True:
            response = client.get_indexing_rules(**params)
            rules.extend(response.get("IndexingRules", []))
            if not response.get("NextToken"):
                return rules
            params["NextToken"] = response["NextToken"]

    return _run()


def list_resource_policies(client):
    """Every X-Ray resource policy of the account (ListResourcePolicies, all pages)."""
    return xray_paginate(client, "list_resource_policies").get("ResourcePolicies", [])


# --- normalisation ------------------------------------------------------------------------------------------


def normalize_destination(destination):
    return {"destination": destination.get("Destination"), "status": destination.get("Status")}


def normalize_indexing_rule(rule):
    """``{name, modified_at, desired_sampling_percentage, actual_sampling_percentage}``."""
    if not rule:
        return {}
    probabilistic = ((rule.get("Rule") or {}).get("Probabilistic")) or {}
    out = {
        "name": rule.get("Name"),
        "desired_sampling_percentage": probabilistic.get("DesiredSamplingPercentage"),
        "actual_sampling_percentage": probabilistic.get("ActualSamplingPercentage"),
        "modified_at": None,
    }
    if rule.get("ModifiedAt") is not None:
        out["modified_at"] = normalize_boto3_result({"value": rule["ModifiedAt"]})["value"]
    return out


def parse_document(text):
    """A policy document string as a dict (or the string itself when it is not JSON)."""
    if isinstance(text, dict):
        return text
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def normalize_resource_policy(policy):
    """``{policy_name, policy_document (parsed), policy_revision_id, last_updated_time}``."""
    if not policy:
        return {}
    out = camel_dict_to_snake_dict({k: v for k, v in policy.items() if k not in ("PolicyDocument", "LastUpdatedTime")})
    out["policy_document"] = parse_document(policy.get("PolicyDocument"))
    out.setdefault("policy_revision_id", None)
    out["last_updated_time"] = None
    if policy.get("LastUpdatedTime") is not None:
        out["last_updated_time"] = normalize_boto3_result({"value": policy["LastUpdatedTime"]})["value"]
    return out


# --- the CloudWatch Logs resource policy Transaction Search needs -------------------------------------------------


def spans_resource(region, account_id, partition="aws", log_group=SPANS_LOG_GROUP):
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{log_group}:*"


def required_spans_policy(region, account_id, partition="aws"):
    """The CloudWatch Logs resource policy of the Transaction Search documentation ("Enable Transaction Search",
    step 1): X-Ray may put log events into ``aws/spans`` (and Application Signals' log group) of this account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TransactionSearchXRayAccess",
                "Effect": "Allow",
                "Principal": {"Service": XRAY_SERVICE_PRINCIPAL},
                "Action": "logs:PutLogEvents",
                "Resource": [
                    spans_resource(region, account_id, partition),
                    spans_resource(region, account_id, partition, APPLICATION_SIGNALS_LOG_GROUP),
                ],
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:xray:{region}:{account_id}:*"},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            }
        ],
    }


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _allows_principal(statement, service):
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and (service in _as_list(principal.get("Service")) or "*" in _as_list(principal.get("AWS")))


def _allows_action(statement, action):
    if "Action" in statement:
        return any(isinstance(p, str) and fnmatch.fnmatchcase(action.lower(), p.lower()) for p in _as_list(statement["Action"]))
    return not any(isinstance(p, str) and fnmatch.fnmatchcase(action.lower(), p.lower()) for p in _as_list(statement.get("NotAction")))


def _covers_resource(statement, resource):
    if "Resource" in statement:
        return any(isinstance(p, str) and fnmatch.fnmatchcase(resource, p) for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(isinstance(p, str) and fnmatch.fnmatchcase(resource, p) for p in _as_list(statement["NotResource"]))
    return True


def spans_policy_problem(policies, region, account_id, partition="aws"):
    """None when one of the CloudWatch Logs resource policies ``[{policyName, policyDocument}]`` lets X-Ray write
    spans, else a sentence saying what is missing.

    Needed: a statement with Effect Allow, Principal ``{"Service": "xray.amazonaws.com"}`` (or ``*``), an action
    covering ``logs:PutLogEvents`` and a resource covering ``arn:<partition>:logs:<region>:<account>:log-group:aws/spans:*``.
    Conditions are not evaluated.
    """
    target = spans_resource(region, account_id, partition)
    allowing = []
    for policy in policies:
        document = parse_document(policy.get("policyDocument"))
        if isinstance(document, dict):
            allowing += [s for s in _as_list(document.get("Statement")) if isinstance(s, dict) and s.get("Effect") == "Allow"]
    with_principal = [s for s in allowing if _allows_principal(s, XRAY_SERVICE_PRINCIPAL)]
    with_action = [s for s in with_principal if _allows_action(s, "logs:PutLogEvents")]
    if any(_covers_resource(s, target) for s in with_action):
        return None
    names = ", ".join(sorted(str(p.get("policyName")) for p in policies)) or "none"
    if not with_principal:
        missing = f"no statement allows the principal {XRAY_SERVICE_PRINCIPAL} (Principal {{\"Service\": \"{XRAY_SERVICE_PRINCIPAL}\"}})"
    elif not with_action:
        missing = f"no statement allowing {XRAY_SERVICE_PRINCIPAL} grants the action logs:PutLogEvents"
    else:
        missing = f"no statement allowing {XRAY_SERVICE_PRINCIPAL} logs:PutLogEvents covers the resource {target}"
    return (
        f"CloudWatch Logs does not let X-Ray write spans to the log group {SPANS_LOG_GROUP} in {region}: {missing}. "
        f"CloudWatch Logs resource policies checked: {names}"
    )


# --- Transaction Search: traces outside the indexed share ----------------------------------------------------------

RETRIEVAL_BATCH = 100  # StartTraceRetrieval takes at most 100 trace IDs
RETRIEVAL_DONE = ("COMPLETE", "FAILED", "CANCELLED", "TIMEOUT")


class RetrievalError(Exception):
    """A trace retrieval that did not complete (message says why)."""


def xray_trace_id(otel_trace_id):
    """``5759e988bd862e3fe1be46a994272793`` -> ``1-5759e988-bd862e3fe1be46a994272793`` (X-Ray IDs pass unchanged)."""
    text = str(otel_trace_id or "")
    if re.match(r"^[0-9a-fA-F]{32}$", text):
        return f"1-{text[:8]}-{text[8:]}"
    return text if re.match(r"^1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}$", text) else None


def spans_trace_ids(logs_client, start, end, limit):
    """(trace IDs of the spans in ``aws/spans`` between ``start`` and ``end`` (epoch seconds), oldest first, at most
    ``limit``; whether there were more). No log group yet: no traces. The read is retried as a whole on throttling."""

    @aws_retry(retries=10)
    def _read():
        found = []
        paginator = logs_client.get_paginator("filter_log_events")
        pages = paginator.paginate(logGroupName=SPANS_LOG_GROUP, startTime=int(start * 1000), endTime=int(end * 1000))
        for page in pages:
            for event in page.get("events", []):
                try:
                    span = json.loads(event.get("message") or "")
                except ValueError:
                    continue
                trace_id = xray_trace_id(span.get("traceId")) if isinstance(span, dict) else None
                if trace_id and trace_id not in found:
                    if len(found) >= limit:
                        return found, True
                    found.append(trace_id)
        return found, False

    try:
        return _read()
    except ClientError as e:
        if is_error_code(e, "ResourceNotFoundException"):
            return [], False
        raise


def retrieve_graph(client, trace_ids, start, end, timeout, interval=5, sleep=None, clock=None):
    """``Services`` of the graph of ``trace_ids`` through StartTraceRetrieval + GetRetrievedTracesGraph, one
    retrieval per 100 IDs, each polled (bounded by ``timeout`` seconds overall) until COMPLETE; the graphs are
    returned as a list (see ``xray_stats.combine_graphs``). RetrievalError when a retrieval ends otherwise."""
    clock = clock or time.monotonic
    deadline = clock() + timeout
    graphs = []
    for first in range(0, len(trace_ids), RETRIEVAL_BATCH):
        batch = trace_ids[first:first + RETRIEVAL_BATCH]
        token = client.start_trace_retrieval(aws_retry=True, TraceIds=batch, StartTime=start, EndTime=end)["RetrievalToken"]

        def _read(token=token):
            return client.get_retrieved_traces_graph(aws_retry=True, RetrievalToken=token)

        response, _reached = wait_until(
            _read, lambda r: r.get("RetrievalStatus") in RETRIEVAL_DONE, max(0.0, deadline - clock()), interval, sleep=sleep, clock=clock
        )
        status = response.get("RetrievalStatus")
        if status != "COMPLETE":
            raise RetrievalError(
                f"trace retrieval of {len(batch)} traces is {status} after {timeout} seconds"
                if status not in RETRIEVAL_DONE
                else f"trace retrieval of {len(batch)} traces ended {status}"
            )
        services = [s.get("Service") or {} for s in response.get("Services", [])]
        while response.get("NextToken"):
            response = client.get_retrieved_traces_graph(aws_retry=True, RetrievalToken=token, NextToken=response["NextToken"])
            services += [s.get("Service") or {} for s in response.get("Services", [])]
        graphs.append(services)
    return graphs


# --- waiting ----------------------------------------------------------------------------------------------------


def wait_until(read, done, timeout, interval, sleep=None, clock=None):
    """Call ``read()`` until ``done(value)`` or ``timeout`` seconds passed; returns (value, reached).

    Polls after 1, 2, 4, ... seconds, at most every ``interval`` seconds.
    """
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    deadline = clock() + timeout
    value = read()
    pause = 1
    while not done(value):
        if clock() >= deadline:
            return value, False
        sleep(min(pause, interval))
        pause *= 2
        value = read()
    return value, True
