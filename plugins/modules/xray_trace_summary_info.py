#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_trace_summary_info
version_added: 0.1.0
short_description: Read and summarise AWS X-Ray trace summaries for a time window
description:
  - Calls C(GetTraceSummaries) for a time window with an optional filter expression, following every page up to
    O(max_traces) traces.
  - Returns the trace summaries and one summary of them all, with how many traces had faults, errors or throttles,
    the duration and response time percentiles, the services the traces passed through and the HTTP status codes.
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
  time_range_type:
    description:
      - What the window applies to, the trace's start (V(TraceId)), its last update (V(Event)) or its segments' end
        (V(Service)). X-Ray uses V(TraceId) when this is not set.
    type: str
    choices: [TraceId, Event, Service]
  filter_expression:
    description:
      - An X-Ray filter expression, for example V(service("x-ray-sample-front-k8s"\) AND fault).
    type: str
  sampling:
    description:
      - Ask X-Ray for a sample of the matching traces instead of all of them.
    type: bool
  max_traces:
    description:
      - Stop reading pages after this many traces; RV(truncated) tells whether more were there.
    type: int
    default: 1000
  include_traces:
    description:
      - Return the trace summaries themselves in RV(traces), not only RV(summary) and RV(trace_ids).
    type: bool
    default: true
  percentiles:
    description:
      - Duration and response time percentiles to compute, each between 0 and 100.
    type: list
    elements: float
    default: [50, 90, 99]
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.info_module
notes:
  - Durations in X-Ray are seconds; the summary reports milliseconds (C(_ms) fields).
seealso:
  - module: tracing.xray.xray_service_graph_info
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Traces of the last 10 minutes
  tracing.xray.xray_trace_summary_info:
    include_traces: false
  register: recent

- name: How many failed
  ansible.builtin.debug:
    msg: "{{ recent.summary.traces }} traces, {{ recent.summary.fault_percent }} % with a fault"

- name: Slow front-end requests in the last hour, at most 100
  tracing.xray.xray_trace_summary_info:
    start_time: "-1h"
    filter_expression: service("x-ray-sample-front-k8s") AND responsetime > 1
    max_traces: 100
  register: slow
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
trace_ids:
  description: IDs of the traces read (at most O(max_traces)).
  returned: always
  type: list
  elements: str
  sample: ["1-6b01f3c1-927c27461ad2b9af483a1536"]
truncated:
  description: Whether X-Ray had more traces than O(max_traces).
  returned: always
  type: bool
  sample: false
traces_processed_count:
  description: X-Ray's C(TracesProcessedCount), the number of traces it looked at.
  returned: always
  type: int
  sample: 200
approximate_time:
  description: X-Ray's C(ApproximateTime), the time of the most recent results (ISO 8601).
  returned: always
  type: str
summary:
  description: Statistics of the traces read.
  returned: always
  type: dict
  contains:
    traces:
      description: Number of traces.
      returned: always
      type: int
      sample: 200
    ok:
      description: Traces without fault, error or throttle.
      returned: always
      type: int
    with_fault:
      description: Traces whose root segment had a fault (5xx).
      returned: always
      type: int
    with_error:
      description: Traces whose root segment had an error (4xx).
      returned: always
      type: int
    with_throttle:
      description: Traces with a throttled (429) segment.
      returned: always
      type: int
    partial:
      description: Traces with a segment still in progress.
      returned: always
      type: int
    fault_percent:
      description: Traces with a fault, in percent.
      returned: always
      type: float
    error_percent:
      description: Traces with an error, in percent.
      returned: always
      type: float
    throttle_percent:
      description: Traces with a throttle, in percent.
      returned: always
      type: float
    traces_per_minute:
      description: Traces divided by the window's length in minutes.
      returned: always
      type: float
    duration_ms:
      description: Average, maximum and percentiles of the trace durations, in milliseconds.
      returned: always
      type: dict
      sample: {"average": 8.1, "max": 20.0, "p50": 7.0, "p90": 12.0, "p99": 19.0}
    response_time_ms:
      description: Average, maximum and percentiles of the root segments' response times, in milliseconds.
      returned: always
      type: dict
    services:
      description: Number of traces per service name (from the summaries' service IDs).
      returned: always
      type: dict
      sample: {"x-ray-sample-back-k8s": 200, "x-ray-sample-front-k8s": 200}
    http_status:
      description: Number of traces per HTTP status of the root request.
      returned: always
      type: dict
      sample: {"200": 198, "502": 2}
traces:
  description: The trace summaries in snake_case (annotation names are kept as they are), when O(include_traces=true).
  returned: when O(include_traces=true)
  type: list
  elements: dict
  contains:
    id:
      description: The trace ID.
      returned: always
      type: str
    duration:
      description: Duration of the trace in seconds.
      returned: when X-Ray reports it
      type: float
    response_time:
      description: Response time of the root segment in seconds.
      returned: when X-Ray reports it
      type: float
    has_fault:
      description: Whether the root segment had a fault.
      returned: when X-Ray reports it
      type: bool
    has_error:
      description: Whether the root segment had an error.
      returned: when X-Ray reports it
      type: bool
    has_throttle:
      description: Whether a segment was throttled.
      returned: when X-Ray reports it
      type: bool
"""

import time

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result

from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_paginate
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import WindowError
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import iso
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import resolve_window
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import summarize_traces
from ansible_collections.tracing.xray.plugins.module_utils.xray_stats import to_epoch


def main():
    argument_spec = dict(
        start_time=dict(type="str"),
        end_time=dict(type="str"),
        window_minutes=dict(type="float", default=10),
        time_range_type=dict(type="str", choices=["TraceId", "Event", "Service"]),
        filter_expression=dict(type="str"),
        sampling=dict(type="bool"),
        max_traces=dict(type="int", default=1000),
        include_traces=dict(type="bool", default=True),
        percentiles=dict(type="list", elements="float", default=[50, 90, 99]),
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        start, end = resolve_window(params["start_time"], params["end_time"], params["window_minutes"], time.time())
    except WindowError as e:
        module.fail_json(msg=str(e))
    if params["max_traces"] < 1:
        module.fail_json(msg=f"max_traces must be at least 1, got {params['max_traces']}")
    bad = [p for p in params["percentiles"] if not 0 < p <= 100]
    if bad:
        module.fail_json(msg=f"percentiles must each be greater than 0 and at most 100, got {bad}")
    if params["filter_expression"] is not None and not params["filter_expression"].strip():
        module.fail_json(msg="filter_expression must not be empty: leave it unset for every trace")

    request = {"StartTime": start, "EndTime": end, "PaginationConfig": {"MaxItems": params["max_traces"]}}
    if params["time_range_type"]:
        request["TimeRangeType"] = params["time_range_type"]
    if params["filter_expression"]:
        request["FilterExpression"] = params["filter_expression"]
    if params["sampling"] is not None:
        request["Sampling"] = params["sampling"]

    client = xray_client(module)
    try:
        response = xray_paginate(client, "get_trace_summaries", **request)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to read X-Ray trace summaries (GetTraceSummaries)")

    summaries = response.get("TraceSummaries", [])[: params["max_traces"]]
    result = dict(
        changed=False,
        start_time=iso(start),
        end_time=iso(end),
        trace_ids=[s.get("Id") for s in summaries if s.get("Id")],
        truncated=bool(response.get("NextToken")),
        traces_processed_count=int(response.get("TracesProcessedCount") or 0),
        approximate_time=iso(to_epoch(response.get("ApproximateTime"))),
        summary=summarize_traces(summaries, start, end, percentiles=params["percentiles"]),
    )
    if params["include_traces"]:
        result["traces"] = [camel_dict_to_snake_dict(normalize_boto3_result(s), ignore_list=["Annotations"]) for s in summaries]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
