#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: xray_trace_segment_destination
version_added: 0.1.0
short_description: Set where AWS X-Ray sends trace segments (Transaction Search)
description:
  - Sets the destination of the data sent to X-Ray's C(PutTraceSegments) for an account and region, V(XRay) (the
    default) or V(CloudWatchLogs), which turns on CloudWatch Transaction Search. Calls
    C(UpdateTraceSegmentDestination) only when the destination differs.
  - X-Ray reports the change C(PENDING) until it applies; by default the module waits (bounded by
    O(wait_timeout)) until it is C(ACTIVE). A change that is still C(PENDING) when the task starts is waited for
    first, because X-Ray applies one change at a time.
  - Before switching to V(CloudWatchLogs) the module checks (C(logs:DescribeResourcePolicies)) that a CloudWatch
    Logs resource policy lets C(xray.amazonaws.com) call C(logs:PutLogEvents) on the C(aws/spans) log group, and
    fails naming what is missing, with the documented policy in RV(required_logs_policy), instead of leaving X-Ray
    to refuse the change.
  - Terraform's equivalent is C(aws_xray_trace_segment_destination); CloudFormation's is
    C(AWS::XRay::TransactionSearchConfig).
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  destination:
    description:
      - V(XRay) stores segments in X-Ray (the default of every account).
      - V(CloudWatchLogs) ingests every span into the CloudWatch Logs log group C(aws/spans) and indexes a share of
        them as X-Ray trace summaries (see M(tracing.xray.xray_indexing_rule)).
    type: str
    choices: [XRay, CloudWatchLogs]
    required: true
  wait:
    description:
      - Wait until X-Ray reports the destination C(ACTIVE).
    type: bool
    default: true
  wait_timeout:
    description:
      - How long to wait, in seconds, for a C(PENDING) change (before and after the update).
    type: int
    default: 300
  check_logs_policy:
    description:
      - Check the CloudWatch Logs resource policies before switching to V(CloudWatchLogs).
      - Without C(logs:DescribeResourcePolicies) or C(sts:GetCallerIdentity) the module warns and skips the check.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.check_diff
notes:
  - Supports C(check_mode) (the CloudWatch Logs check runs too, as it only reads) and C(diff).
  - The destination is an account setting with no O(ignore:state); V(XRay) is the default to return to.
  - Permissions - C(xray:GetTraceSegmentDestination), C(xray:UpdateTraceSegmentDestination), and for the check
    C(logs:DescribeResourcePolicies) and C(sts:GetCallerIdentity). X-Ray itself needs C(logs:CreateLogGroup),
    C(logs:CreateLogStream) and C(logs:PutRetentionPolicy) on C(aws/spans) when it switches.
seealso:
  - module: tracing.xray.xray_indexing_rule
  - name: Enable Transaction Search
    description: The permissions and the CloudWatch Logs resource policy Transaction Search needs.
    link: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Enable-TransactionSearch.html
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Turn on Transaction Search (spans to CloudWatch Logs) and wait until it applies
  tracing.xray.xray_trace_segment_destination:
    destination: CloudWatchLogs
    wait_timeout: 600

- name: Back to X-Ray's default destination, without waiting
  tracing.xray.xray_trace_segment_destination:
    destination: XRay
    wait: false
"""

RETURN = r"""
trace_segment_destination:
  description: The destination after the task (in check mode, what it would be).
  returned: always
  type: dict
  contains:
    destination:
      description: V(XRay) or V(CloudWatchLogs).
      returned: always
      type: str
      sample: CloudWatchLogs
    status:
      description: V(ACTIVE), or V(PENDING) while X-Ray applies a change.
      returned: always
      type: str
      sample: ACTIVE
required_logs_policy:
  description:
    - The CloudWatch Logs resource policy the Transaction Search documentation gives for this account and region
      (put it with C(logs:PutResourcePolicy)), when the check finds it missing.
  returned: when the CloudWatch Logs check fails
  type: dict
"""

import time

try:
    from botocore.exceptions import BotoCoreError
    from botocore.exceptions import ClientError
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry
from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.xray import exit_with_diff
from ansible_collections.tracing.xray.plugins.module_utils.xray import is_error_code
from ansible_collections.tracing.xray.plugins.module_utils.xray import xray_client
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import get_destination
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import normalize_destination
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import required_spans_policy
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import spans_policy_problem
from ansible_collections.tracing.xray.plugins.module_utils.xray_account import wait_until

POLL_INTERVAL = 5


def read(module, client):
    try:
        return get_destination(client)
    except (BotoCoreError, ClientError) as e:
        module.fail_json_aws(e, msg="Failed to read the X-Ray trace segment destination (GetTraceSegmentDestination)")


def wait_active(module, client, current, when):
    params = module.params

    def _read():
        return read(module, client)

    if current.get("Status") == "ACTIVE":
        return current
    destination, reached = wait_until(_read, lambda d: d.get("Status") == "ACTIVE", params["wait_timeout"], POLL_INTERVAL, sleep=time.sleep)
    if not reached:
        module.fail_json(
            msg=f"Timed out after {params['wait_timeout']} seconds {when} waiting for the X-Ray trace segment destination "
            f"{destination.get('Destination')} to become ACTIVE (status {destination.get('Status')}); raise wait_timeout or set wait=false",
            trace_segment_destination=normalize_destination(destination),
        )
    return destination


def account_of(module):
    """(account ID, partition) of the caller, or None when STS does not tell."""
    try:
        sts = module.client("sts", retry_decorator=aws_retry())
        identity = sts.get_caller_identity(aws_retry=True)
    except (BotoCoreError, ClientError) as e:
        module.warn(f"Could not read the account with sts:GetCallerIdentity ({e}); the CloudWatch Logs resource policy was not checked")
        return None
    parsed = parse_aws_arn(identity["Arn"]) or {}
    return identity["Account"], parsed.get("partition") or "aws"


def check_logs_policy(module):
    """Fail, naming what is missing, when no CloudWatch Logs resource policy lets X-Ray write aws/spans."""
    account = account_of(module)
    if account is None:
        return
    account_id, partition = account
    try:
        logs = module.client("logs", retry_decorator=aws_retry())
        policies = []
        params = {}
        while True:
            response = logs.describe_resource_policies(aws_retry=True, **params)
            policies.extend(response.get("resourcePolicies", []))
            if not response.get("nextToken"):
                break
            params["nextToken"] = response["nextToken"]
    except (BotoCoreError, ClientError) as e:
        module.warn(f"Could not read the CloudWatch Logs resource policies with logs:DescribeResourcePolicies ({e}); not checked")
        return
    problem = spans_policy_problem(policies, module.region, account_id, partition)
    if problem:
        module.fail_json(
            msg=f"destination=CloudWatchLogs needs a CloudWatch Logs resource policy first: {problem}. "
            "Put the policy in required_logs_policy with logs:PutResourcePolicy (for example the Transaction Search "
            "documentation's TransactionSearchAccess), then run the task again",
            required_logs_policy=required_spans_policy(module.region, account_id, partition),
        )


def main():
    argument_spec = dict(
        destination=dict(type="str", choices=["XRay", "CloudWatchLogs"], required=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        check_logs_policy=dict(type="bool", default=True),
    )
    module = TracingAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if params["wait_timeout"] < 0:
        module.fail_json(msg=f"wait_timeout={params['wait_timeout']} is out of range: give 0 or more seconds")

    client = xray_client(module)
    current = read(module, client)
    if current.get("Status") == "PENDING" and params["wait"] and not module.check_mode:
        current = wait_active(module, client, current, "before the update")

    wanted = params["destination"]
    changed = current.get("Destination") != wanted
    after = current
    if changed:
        if wanted == "CloudWatchLogs" and params["check_logs_policy"]:
            check_logs_policy(module)
        if module.check_mode:
            after = {"Destination": wanted, "Status": "ACTIVE" if params["wait"] else "PENDING"}
        else:
            try:
                response = client.update_trace_segment_destination(aws_retry=True, Destination=wanted)
            except (BotoCoreError, ClientError) as e:
                hint = ""
                if is_error_code(e, "AccessDeniedException", "AccessDenied") and wanted == "CloudWatchLogs":
                    hint = (
                        ": X-Ray needs a CloudWatch Logs resource policy allowing xray.amazonaws.com logs:PutLogEvents on "
                        "the aws/spans log group, and the caller logs:CreateLogGroup/CreateLogStream/PutRetentionPolicy on it"
                    )
                module.fail_json_aws(e, msg=f"Failed to set the X-Ray trace segment destination to {wanted}{hint}")
            after = {"Destination": response.get("Destination", wanted), "Status": response.get("Status")}
            if params["wait"]:
                after = wait_active(module, client, after, "after the update")

    exit_with_diff(
        module,
        {"destination": current.get("Destination")},
        {"destination": after.get("Destination")},
        changed=changed,
        trace_segment_destination=normalize_destination(after),
    )


if __name__ == "__main__":
    main()
