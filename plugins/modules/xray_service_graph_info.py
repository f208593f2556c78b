#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_service_graph_info
version_added: 0.1.0
short_description: Read the AWS X-Ray service graph (service map) for a time window
description:
  - Calls C(GetServiceGraph) for a time window (all pages), optionally for one X-Ray group, and summarises it.
  - Under CloudWatch Transaction Search it can build the graph from every trace of the window instead of the indexed
    share (O(transaction_search)).
  - Every service (node) and every edge (caller to callee) is returned with its request count, ok, error, throttle
    and fault counts and percentages, requests per minute over the window, average latency and latency percentiles
    computed from X-Ray's response time histograms.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  start_time:
    description:
      - Start of the window. An ISO 8601 date-time (UTC when it has no offset), epoch seconds, V(now), or a time
        relative to now such as V(-15m), V(-2h), V(-30s).
      - When not set, the window is the O(window_minutes) before O(end_time).
    type: str
  end_time:
    description:
      - End of the window, in the same forms as O(start_time). Defaults to now.
    type: str
  window_minutes:
    description:
      - Length of the window in minutes when O(start_time) is not set.
    type: float
    default: 10
  group_name:
    description:
      - Build the graph only from the traces of this X-Ray group (its filter expression).
      - Mutually exclusive with O(group_arn).
    type: str
  group_arn:
    description:
      - Build the graph only from the traces of the X-Ray group with this ARN.
      - Mutually exclusive with O(group_name).
    type: str
  merge_same_name:
    description:
      - Report nodes that share a name as one service, and their edges as one edge.
      - X-Ray adds an inferred V(remote) node for calls that no traced segment answered, for example calls to a back
        end that was down; with this option those failed calls count on the edge to that back end.
      - Nodes of type V(client) are always reported as one node named V(clients).
    type: bool
    default: true
  percentiles:
    description:
      - Latency percentiles to compute from the response time histograms, each between 0 and 100.
    type: list
    elements: float
    default: [50, 90, 99]
  include_raw:
    description:
      - Also return the C(Services) of the response (snake_case), histograms included.
    type: bool
    default: false
  transaction_search:
    description:
      - With CloudWatch Transaction Search (trace segment destination V(CloudWatchLogs)) C(GetServiceGraph) only sees
        the indexed share of the traces (1 % by default), see M(tracing.xray.xray_indexing_rule).
      - V(ignore) reads C(GetServiceGraph) whatever the destination.
      - V(auto) reads the destination (C(GetTraceSegmentDestination)); with V(CloudWatchLogs) the graph is built from
        every trace of the window instead - the trace IDs of the spans in the CloudWatch Logs log group C(aws/spans)
        (C(logs:FilterLogEvents)), retrieved with C(StartTraceRetrieval) and C(GetRetrievedTracesGraph). Without
        permission to read the destination it warns and reads C(GetServiceGraph).
      - V(retrieve) always builds the graph from the retrieved traces.
      - Retrieval has no group filter; with O(group_name) or O(group_arn) the module reads C(GetServiceGraph).
    type: str
    choices: [ignore, auto, retrieve]
    default: ignore
  max_retrieved_traces:
    description:
      - Retrieve at most this many traces (the oldest of the window first); 100 per C(StartTraceRetrieval).
    type: int
    default: 1000
  retrieval_timeout:
    description:
      - Seconds to wait for the trace retrievals to complete.
    type: int
    default: 120
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.info_module
notes:
  - Response times in X-Ray are seconds; this module reports milliseconds (C(_ms) fields).
  - Percentiles are nearest-rank values of the histograms X-Ray returns, so they are as coarse as its buckets.
  - Permissions - C(xray:GetServiceGraph); with O(transaction_search) also C(xray:GetTraceSegmentDestination),
    C(logs:FilterLogEvents) on C(aws/spans), C(xray:StartTraceRetrieval) and C(xray:GetRetrievedTracesGraph).
seealso:
  - module: tracing.xray.xray_trace_summary_info
  - module: tracing.xray.xray_group_info
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: The service map of the last 10 minutes
  tracing.xray.xray_service_graph_info:
  register: graph

- name: Requests per service
  ansible.builtin.debug:
    msg: "{{ graph.services | items2dict(key_name='name', value_name='requests') }}"

- name: The service map of one group for an explicit window
  tracing.xray.xray_service_graph_info:
    group_name: front-end-slow
    start_time: "2026-01-31T12:00:00Z"
    end_time: "2026-01-31T12:30:00Z"
    percentiles: [50, 95, 99.9]
  register: slow

- name: The service map of every trace, also under Transaction Search (not just the indexed 1 %)
  tracing.xray.xray_service_graph_info:
    transaction_search: auto
    window_minutes: 5
  register: full

- name: Fail when the front end calls the back end with more than 1 % faults
  ansible.builtin.assert:
    that:
      - graph.edges | selectattr('source', '==', 'x-ray-sample-front-k8s') | selectattr('target', '==', 'x-ray-sample-back-k8s')
        | map(attribute='fault_percent') | max <= 1
"""

RETURN = r"""
start_time:
  description: Start of the window (ISO 8601, UTC).
  returned: always
  type: str
  sample: "2026-01-31T12:00:00Z"
end_time:
  description: End of the window (ISO 8601, UTC).
  returned: always
  type: str
  sample: "2026-01-31T12:10:00Z"
window_minutes:
  description: Length of the window in minutes (the denominator of the per-minute rates).
  returned: always
  type: float
  sample: 10.0
contains_old_group_versions:
  description: Whether the group's filter expression changed within the window (X-Ray's C(ContainsOldGroupVersions)).
  returned: always
  type: bool
  sample: false
services:
  description: One entry per service (node) of the graph.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the service (V(clients) for the client node).
      returned: always
      type: str
      sample: x-ray-sample-front-k8s
    names:
      description: Every name X-Ray gives the service.
      returned: always
      type: list
      elements: str
    types:
      description: Node types (for example V(client), V(remote), V(AWS::EKS::Container)); empty for services without an origin.
      returned: always
      type: list
      elements: str
    reference_ids:
      description: X-Ray reference IDs of the node(s) behind this entry.
      returned: always
      type: list
      elements: int
    root:
      description: Whether the service is a root service (receives requests from clients).
      returned: always
      type: bool
    client:
      description: Whether this is the client node.
      returned: always
      type: bool
    account_id:
      description: The AWS account of the service, when X-Ray reports it.
      returned: always
      type: str
    states:
      description: X-Ray states of the node(s), for example V(active) or V(unknown).
      returned: always
      type: list
      elements: str
    start_time:
      description: First segment of the service in the window (ISO 8601).
      returned: always
      type: str
    end_time:
      description: Last segment of the service in the window (ISO 8601).
      returned: always
      type: str
    requests:
      description: Requests the service served in the window (0 for the client node).
      returned: always
      type: int
      sample: 200
    ok:
      description: Requests answered without error, throttle or fault.
      returned: always
      type: int
    errors:
      description: Client errors (4xx) other than throttling.
      returned: always
      type: int
    throttles:
      description: Throttled requests (429).
      returned: always
      type: int
    faults:
      description: Server faults (5xx).
      returned: always
      type: int
    error_percent:
      description: RV(services[].errors) as a percentage of the requests.
      returned: always
      type: float
    throttle_percent:
      description: Throttles as a percentage of the requests.
      returned: always
      type: float
    fault_percent:
      description: Faults as a percentage of the requests.
      returned: always
      type: float
    failed_percent:
      description: Errors, throttles and faults together as a percentage of the requests.
      returned: always
      type: float
    requests_per_minute:
      description: Requests divided by the window's length in minutes.
      returned: always
      type: float
    average_latency_ms:
      description: Average response time in milliseconds (null without requests).
      returned: always
      type: float
    latency_ms:
      description: Response time percentiles in milliseconds, keyed V(p50), V(p90), ... after O(percentiles).
      returned: always
      type: dict
      sample: {"p50": 5.0, "p90": 9.0, "p99": 14.0}
edges:
  description: One entry per edge (caller to callee) of the graph, with the same statistics as RV(services), from the caller's view.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: The calling service (V(clients) for requests from outside).
      returned: always
      type: str
      sample: x-ray-sample-front-k8s
    target:
      description: The called service.
      returned: always
      type: str
      sample: x-ray-sample-back-k8s
    target_types:
      description: Node types of the called service.
      returned: always
      type: list
      elements: str
    edge_types:
      description: X-Ray edge types, when reported.
      returned: always
      type: list
      elements: str
    aliases:
      description: Alias names of the called service on this edge.
      returned: always
      type: list
      elements: str
    requests:
      description: Calls on the edge.
      returned: always
      type: int
      sample: 200
    faults:
      description: Calls that ended in a fault (5xx, or no answer at all).
      returned: always
      type: int
    fault_percent:
      description: Faults as a percentage of the calls.
      returned: always
      type: float
    average_latency_ms:
      description: Average response time of the calls in milliseconds.
      returned: always
      type: float
    latency_ms:
      description: Response time percentiles of the calls in milliseconds.
      returned: always
      type: dict
source:
  description: Where the graph comes from, V(GetServiceGraph) or V(GetRetrievedTracesGraph) (Transaction Search).
  returned: always
  type: str
  sample: GetServiceGraph
trace_segment_destination:
  description: The trace segment destination read with O(transaction_search=auto).
  returned: when O(transaction_search=auto) and the destination could be read
  type: str
  sample: CloudWatchLogs
retrieved_traces:
  description: How many traces the retrieved graph is built from.
  returned: when RV(source=GetRetrievedTracesGraph)
  type: int
  sample: 240
retrieval_truncated:
  description: Whether the window had more traces than O(max_retrieved_traces).
  returned: when RV(source=GetRetrievedTracesGraph)
  type: bool
  sample: false
raw_services:
  description: The C(Services) of the response in snake_case, when O(include_raw=true).
  returned: when O(include_raw=true)
  type: list
  elements: dict
"""

import time

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result


from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry
from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_paginate
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_retry
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import RetrievalError
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import get_destination
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import retrieve_graph
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import spans_trace_ids
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import WindowError
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import combine_graphs
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import iso
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import resolve_window
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import summarize_graph

POLL_INTERVAL = 5


def use_retrieval(module, client, result):
    """Whether to build the graph from retrieved traces (Transaction Search) instead of GetServiceGraph."""
    mode = module.params["transaction_search"]
    if mode == "ignore":
        return False
    if module.params["group_name"] or module.params["group_arn"]:
        module.warn("transaction_search: trace retrieval has no group filter; reading GetServiceGraph for the group")
        return False
    if mode == "retrieve":
        return True
    try:
        destination = get_destination(client).get("Destination")
    except (BotoCoreError, ClientError) as e:
        module.warn(f"Could not read the trace segment destination ({e}); reading GetServiceGraph")
        return False
    result["trace_segment_destination"] = destination
    return destination == "CloudWatchLogs"


def retrieved_services(module, client, start, end, result):
    """Services of the graph of every trace of the window in aws/spans (StartTraceRetrieval + GetRetrievedTracesGraph)."""
    params = module.params
    try:
        logs = module.client("logs", retry_decorator=aws_retry())
        trace_ids, truncated = xray_retry()(spans_trace_ids)(logs, start, end, params["max_retrieved_traces"])
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to read the trace IDs of the window from the CloudWatch Logs log group aws/spans (FilterLogEvents)")
    try:
        graphs = retrieve_graph(client, trace_ids, start, end, params["retrieval_timeout"], POLL_INTERVAL, sleep=time.sleep) if trace_ids else []
    except RetrievalError as e:
        module.fail_json(msg=f"Failed to retrieve the traces of the window: {e}; raise retrieval_timeout or lower max_retrieved_traces")
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to retrieve X-Ray traces (StartTraceRetrieval/GetRetrievedTracesGraph)")
    result.update(source="GetRetrievedTracesGraph", retrieved_traces=len(trace_ids), retrieval_truncated=truncated)
    return combine_graphs(graphs)


def main():
    argument_spec = dict(
        start_time=dict(type="str"),
        end_time=dict(type="str"),
        window_minutes=dict(type="float", default=10),
        group_name=dict(type="str"),
        group_arn=dict(type="str"),
        merge_same_name=dict(type="bool", default=True),
        percentiles=dict(type="list", elements="float", default=[50, 90, 99]),
        include_raw=dict(type="bool", default=False),
        transaction_search=dict(type="str", choices=["ignore", "auto", "retrieve"], default="ignore"),
        max_retrieved_traces=dict(type="int", default=1000),
        retrieval_timeout=dict(type="int", default=120),
    )
    module = TracingAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("group_name", "group_arn")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        start, end = resolve_window(params["start_time"], params["end_time"], params["window_minutes"], time.time())
    except WindowError as e:
        module.fail_json(msg=str(e))
    bad = [p for p in params["percentiles"] if not 0 < p <= 100]
    if bad:
        module.fail_json(msg=f"percentiles must each be greater than 0 and at most 100, got {bad}")
    if params["group_name"] == "" or params["group_arn"] == "":
        module.fail_json(msg="group_name and group_arn must not be empty: leave both unset for every trace")
    if params["max_retrieved_traces"] < 1:
        module.fail_json(msg=f"max_retrieved_traces={params['max_retrieved_traces']} is out of range: give 1 or more")
    if params["retrieval_timeout"] < 0:
        module.fail_json(msg=f"retrieval_timeout={params['retrieval_timeout']} is out of range: give 0 or more seconds")

    request = {"StartTime": start, "EndTime": end}
    if params["group_name"]:
        request["GroupName"] = params["group_name"]
    if params["group_arn"]:
        request["GroupARN"] = params["group_arn"]

    client = xray_client(module)
    result = dict(changed=False, source="GetServiceGraph")
    retrieve = use_retrieval(module, client, result)
    if retrieve:
        raw = retrieved_services(module, client, start, end, result)
        response = {}
    else:
        try:
            response = xray_paginate(client, "get_service_graph", **request)
        except (BotoCoreError, ClientError) as e:
            module.fail_json_aws(e, msg="Failed to read the X-Ray service graph (GetServiceGraph)")
        raw = response.get("Services", [])

    services, edges = summarize_graph(raw, start, end, merge_same_name=params["merge_same_name"], percentiles=params["percentiles"])
    result.update(
        start_time=iso(start),
        end_time=iso(end),
        window_minutes=round((end - start) / 60.0, 3),
        contains_old_group_versions=bool(response.get("ContainsOldGroupVersions", False)),
        services=services,
        edges=edges,
    )
    if params["include_raw"]:
        result["raw_services"] = [camel_dict_to_snake_dict(normalize_boto3_result(s)) for s in raw]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
