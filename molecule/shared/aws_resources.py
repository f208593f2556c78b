"""List the AWS resources that carry the tag managed-by=tracing.xray, as JSON on stdout.

Used by the molecule scenarios to assert against the AWS endpoint, independently of the collection's own
modules: plain boto3 calls to whatever endpoint AWS_ENDPOINT_URL names (the sandbox's moto server with its
X-Ray emulation, or real AWS). Credentials and region come from the usual boto3 environment variables.

    python molecule/shared/aws_resources.py [--role-name NAME]

Output keys: iam_roles, oidc_providers, xray_groups, sampling_rules (each a list of dicts with the resource's
name/ARN and tags) and, with --role-name, role (that IAM role with its trust policy and attached policies, or
null when it does not exist).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse

import boto3
from botocore.exceptions import ClientError

OWNER_KEY = "managed-by"
OWNER_VALUE = "tracing.xray"


def tag_dict(tags, key="Key", value="Value"):
    return {t[key]: t[value] for t in tags or []}


def ours(tags):
    return tags.get(OWNER_KEY) == OWNER_VALUE


def iam_roles(iam):
    out = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            tags = tag_dict(iam.list_role_tags(RoleName=role["RoleName"]).get("Tags"))
            if ours(tags):
                out.append({"name": role["RoleName"], "arn": role["Arn"], "tags": tags})
    return out


def oidc_providers(iam):
    out = []
    for provider in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        arn = provider["Arn"]
        tags = tag_dict(iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn).get("Tags"))
        if ours(tags):
            out.append({"arn": arn, "tags": tags})
    return out


def xray_groups(xray):
    out = []
    for page in xray.get_paginator("get_groups").paginate():
        for group in page.get("Groups", []):
            if group.get("GroupName") == "Default":
                continue
            tags = tag_dict(xray.list_tags_for_resource(ResourceARN=group["GroupARN"]).get("Tags"))
            if ours(tags):
                out.append({"name": group["GroupName"], "arn": group["GroupARN"], "tags": tags})
    return out


def sampling_rules(xray):
    out = []
    for page in xray.get_paginator("get_sampling_rules").paginate():
        for record in page.get("SamplingRuleRecords", []):
            rule = record["SamplingRule"]
            if rule.get("RuleName") == "Default":
                continue
            tags = tag_dict(xray.list_tags_for_resource(ResourceARN=rule["RuleARN"]).get("Tags"))
            if ours(tags):
                out.append({"name": rule["RuleName"], "arn": rule["RuleARN"], "tags": tags})
    return out


def role_details(iam, name):
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchEntity":
            return None
        raise
    trust = role.get("AssumeRolePolicyDocument")
    if isinstance(trust, str):
        trust = json.loads(urllib.parse.unquote(trust))
    attached = iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", [])
    return {
        "name": role["RoleName"],
        "arn": role["Arn"],
        "trust_policy": trust,
        "attached_policy_arns": sorted(p["PolicyArn"] for p in attached),
        "tags": tag_dict(iam.list_role_tags(RoleName=name).get("Tags")),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role-name", help="also describe this IAM role")
    args = parser.parse_args(argv)
    session = boto3.session.Session()
    iam = session.client("iam")
    xray = session.client("xray")
    result = {
        "iam_roles": iam_roles(iam),
        "oidc_providers": oidc_providers(iam),
        "xray_groups": xray_groups(xray),
        "sampling_rules": sampling_rules(xray),
    }
    if args.role_name:
        result["role"] = role_details(iam, args.role_name)
    json.dump(result, sys.stdout, indent=1, sort_keys=True, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
