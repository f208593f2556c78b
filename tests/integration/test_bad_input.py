"""The bad-input matrix (issue 17): what a new user gets wrong, run against the sandbox.

Every case asserts three things: the run fails; the failure message names the field (or the cause) and what is
allowed; and nothing changed in the cluster or at the AWS endpoint (a snapshot of namespaces, DaemonSets,
Deployments, ConfigMaps, Services and ServiceAccounts, and of X-Ray groups, sampling rules, resource policies,
encryption, IAM roles and OIDC providers, taken before and after the whole matrix). No case may print a Python
traceback, and none may take 60 seconds or more.

Most cases run playbooks/site.yml with the sandbox inventory and one bad extra variable, so they fail in the validate
phase; the others run one module (``play``) or call the sandbox's X-Ray API directly (``api``). The cases run in
parallel (they touch nothing when they are refused). ``known_gap`` cases document a bad input that is still accepted:
they run only the owning role's ``validate`` entry point (so they change nothing either) and are expected to fail
until the gap is fixed (strict xfail). docs/bad-input.md is generated from CASES by tools/bad_input_table.py.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import re
import time

import pytest

SITE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "playbooks", "site.yml")
MAX_SECONDS = 60
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".*\", line \d+", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    area: str
    bad: str  # what is wrong, for the table
    vars: dict  # extra vars (site.yml) or the module's arguments (play)
    expect: tuple  # fragments of the failure message: the field (or the cause) and what is allowed
    kind: str = "site"  # site: playbooks/site.yml; play: one module task; api: boto3 against the sandbox
    module: str = ""  # kind=play: the module
    known_gap: str = ""  # still accepted: why, and where the fix belongs


def _group(name, **more):
    return {"name": name, "filter_expression": "error = true", **more}


def _rule(name, **more):
    return {"name": name, "priority": 100, "fixed_rate": 0.1, "reservoir_size": 1, "service_name": "*", **more}


GOOD_GROUP = _group("bi-first-ok")
MANY_TAGS = {f"k{i}": "v" for i in range(51)}
EXTERNAL = "public.ecr.aws/docker/library/nginx"

CASES = [
    # --- names ----------------------------------------------------------------------------------------------
    Case("irsa-role-name-empty", "irsa", "irsa_role_name: ''", {"irsa_role_name": ""},
         ("irsa_role_name must be 1-64 characters", "+=,.@_-")),
    Case("irsa-role-name-too-long", "irsa", "irsa_role_name of 65 characters", {"irsa_role_name": "r" * 65},
         ("irsa_role_name must be 1-64 characters",)),
    Case("daemon-namespace-characters", "daemon", "daemon_namespace: Bad_NS", {"daemon_namespace": "Bad_NS"},
         ("daemon_namespace must be a DNS-1123 label", '"Bad_NS"')),
    Case("apps-namespace-too-long", "apps", "apps_namespace of 64 characters", {"apps_namespace": "a" * 64},
         ("apps_namespace must be a DNS-1123 label",)),
    Case("apps-service-name", "apps", "an apps_services name with _ and capitals",
         {"apps_preset": "none", "apps_services": [{"name": "Bad_Name", "image": EXTERNAL + ":1.27", "port": 80}]},
         ("apps_services[0]: name must be a DNS-1035 label", "lowercase letters, digits and '-'")),
    Case("group-name-space", "groups", "second group named 'front end' (partial list)",
         {"groups_xray_groups": [GOOD_GROUP, _group("front end")]},
         ("groups_xray_groups[1] (front end)", "has characters X-Ray refuses", "A-Z and a-z, digits and _.-")),
    Case("group-name-default", "groups", "a group named Default (reserved)", {"groups_xray_groups": [_group("Default")]},
         ("groups_xray_groups[0] (Default)", "reserved by X-Ray")),
    Case("group-name-too-long", "groups", "a group name of 33 characters", {"groups_xray_groups": [_group("g" * 33)]},
         ("group_name is 33 characters long", "1 to 32 characters")),
    Case("group-name-empty", "groups", "a group with name ''", {"groups_xray_groups": [_group("")]},
         ("group_name must not be empty", "1 to 32 characters")),
    Case("rule-name-too-long", "groups", "a sampling rule name of 33 characters", {"groups_sampling_rules": [_rule("r" * 33)]},
         ("rule_name is 33 characters long", "1 to 32 characters")),
    # --- numbers: range and type ------------------------------------------------------------------------------
    Case("daemon-port-0", "daemon", "daemon_port: 0", {"daemon_port": 0}, ("daemon_port must be 1-65535",)),
    Case("daemon-port-70000", "daemon", "daemon_port: 70000", {"daemon_port": 70000}, ("daemon_port must be 1-65535",)),
    Case("daemon-port-abc", "daemon", "daemon_port: abc", {"daemon_port": "abc"}, ("daemon_port", "int")),
    Case("rule-priority-0", "groups", "priority: 0", {"groups_sampling_rules": [_rule("bi-prio", priority=0)]},
         ("priority=0 is out of range", "1 to 9999")),
    Case("rule-priority-text", "groups", "priority: high", {"groups_sampling_rules": [_rule("bi-prio", priority="high")]},
         ("argument 'priority' is of type str", "convert to int")),
    Case("rule-fixed-rate-2", "groups", "fixed_rate: 2", {"groups_sampling_rules": [_rule("bi-rate", fixed_rate=2)]},
         ("fixed_rate=2", "is out of range", "0 to 1")),
    Case("apps-usermgmt-credentials", "apps", "apps_preset: usermgmt without its credentials", {"apps_preset": "usermgmt"},
         ("preset usermgmt needs apps_usermgmt_db_password, apps_usermgmt_smtp_username and apps_usermgmt_smtp_password",
          "keep them in Ansible Vault")),
    Case("apps-port-70000", "apps", "an apps_services port of 70000",
         {"apps_preset": "none", "apps_services": [{"name": "web", "image": EXTERNAL + ":1.27", "port": 70000}]},
         ("apps_services[0]: port must be an integer 1-65535",)),
    Case("chaos-interval-0", "chaos", "chaos_interval_min: 0 (chaos enabled)", {"xray_chaos_enabled": True, "chaos_interval_min": 0},
         ("need 1 <= chaos_interval_min <= chaos_interval_max",)),
    Case("verify-error-percent", "verify", "verify_max_error_percent: 150 (verify enabled)",
         {"xray_verify_enabled": True, "verify_max_error_percent": 150},
         ("verify_max_error_percent in [0, 100]", "verify_max_error_percent=150")),
    # --- refused only after part of a list was applied (issue 17, fixed in groups_problems) ---------------------
    Case("group-tag-value-dict", "groups", "a tag value that is a dict (second group)",
         {"groups_xray_groups": [GOOD_GROUP, _group("bi-tagged", tags={"team": {"name": "web"}})]},
         ("groups_xray_groups[1] (bi-tagged)", "tags value of 'team' must be a string")),
    Case("group-51-tags", "groups", "51 tags on a group", {"groups_xray_groups": [GOOD_GROUP, _group("bi-many", tags=MANY_TAGS)]},
         ("groups_xray_groups[1] (bi-many)", "X-Ray allows at most 50")),
    Case("rule-version-2", "groups", "sampling rule version: 2", {"groups_sampling_rules": [_rule("bi-ok"), _rule("bi-v2", version=2)]},
         ("groups_sampling_rules[1] (bi-v2)", "version=2 is not supported", "version 1")),
    # --- accepted silently before issue 17 ----------------------------------------------------------------------
    Case("group-filter-unbalanced", "groups", "filter expression with an unclosed parenthesis (second group)",
         {"groups_xray_groups": [GOOD_GROUP, _group("bi-filter", filter_expression='service("front-end") AND (error = true')]},
         ("groups_xray_groups[1] (bi-filter): filter_expression", "never closed", "Allowed:")),
    Case("group-filter-trailing-and", "groups", "filter expression ending in AND",
         {"groups_xray_groups": [_group("bi-filter", filter_expression="error = true AND")]},
         ("filter_expression", "needs an operand after it", "AND, OR, NOT")),
    Case("daemon-prot-typo", "site", "daemon_prot: 2000 (typo of daemon_port)", {"daemon_prot": 2000},
         ("daemon_prot is not a variable of tracing.xray.daemon", "did you mean daemon_port?")),
    # An empty daemon_image_tag means the flavor's pinned tag (never "repository:"); a malformed one is refused.
    Case("daemon-image-tag-bad", "daemon", "daemon_image_tag: '3.6.6 latest'", {"daemon_image_tag": "3.6.6 latest"},
         ("daemon_image_tag must be an image tag", "or empty for the flavor's pinned tag")),
    Case("daemon-image-with-tag", "daemon", "daemon_image with a tag in it", {"daemon_image": "public.ecr.aws/xray/aws-xray-daemon:3.6.6"},
         ("daemon_image must be an image repository without tag or digest",)),
    Case("apps-image-no-tag", "apps", "apps image without tag",
         {"apps_preset": "none", "apps_services": [{"name": "web", "image": EXTERNAL, "port": 80}]},
         ("apps_services[0]: image must be pinned with a tag or a digest", "repository@sha256")),
    Case("apps-image-empty-tag", "apps", "apps image 'repo:' (empty tag)",
         {"apps_preset": "none", "apps_services": [{"name": "web", "image": EXTERNAL + ":", "port": 80}]},
         ("apps_services[0]: image must be pinned with a tag or a digest",)),
    Case("kms-alias-missing", "xray_encryption_config", "key_id: alias/bi-does-not-exist",
         {"encryption_type": "KMS", "key_id": "alias/bi-does-not-exist"},
         ("key_id 'alias/bi-does-not-exist' does not exist", "existing symmetric KMS key"), kind="play", module="tracing.xray.xray_encryption_config"),
    # --- unknown role variables -------------------------------------------------------------------------------
    Case("groups-var-typo", "site", "groups_xray_group (typo of groups_xray_groups)", {"groups_xray_group": [GOOD_GROUP]},
         ("groups_xray_group is not a variable of tracing.xray.groups", "did you mean groups_xray_groups?")),
    Case("irsa-var-unknown", "site", "irsa_rolename (no such variable)", {"irsa_rolename": "x"},
         ("irsa_rolename is not a variable of tracing.xray.irsa", "README")),
    # --- ARNs, URLs and regions ---------------------------------------------------------------------------------
    Case("irsa-policy-arn", "irsa", "irsa_managed_policy_arns: [arn:aws:iam::123:policy/x]",
         {"irsa_managed_policy_arns": ["arn:aws:iam::123:policy/x"]},
         ("irsa_managed_policy_arns entries must be IAM policy ARNs or AWS managed policy names",)),
    Case("irsa-boundary-arn", "irsa", "irsa_permissions_boundary: a role ARN", {"irsa_permissions_boundary": "arn:aws:iam::123456789012:role/x"},
         ("irsa_permissions_boundary must be empty or a managed policy ARN",)),
    Case("irsa-issuer-http", "irsa", "irsa_issuer: http://...", {"irsa_issuer": "http://oidc.example.com/id/X"},
         ("irsa_issuer must be an https URL",)),
    Case("region-eu-west", "site", "xray_region: eu-west", {"xray_region": "eu-west"},
         ("xray_region must be an AWS region such as eu-west-1", '"eu-west"')),
    # --- connection and environment -----------------------------------------------------------------------------
    # kubernetes.core treats kubeconfig as no_log (it may be an inline config), so Ansible masks the path in messages.
    Case("kubeconfig-missing", "connection", "xray_kubeconfig: a file that does not exist", {"xray_kubeconfig": "/nonexistent/bi-kubeconfig"},
         ("Could not reach the Kubernetes API server with kubeconfig", "Check xray_kubeconfig and xray_kube_context")),
    Case("cluster-unknown", "irsa", "irsa_cluster_name that EKS does not know", {"irsa_cluster_name": "bi-no-such-cluster"},
         ("EKS cluster bi-no-such-cluster does not exist", "irsa_cluster_name")),
    Case("aws-unreachable", "connection", "xray_aws_endpoint_url: http://127.0.0.1:1", {"xray_aws_endpoint_url": "http://127.0.0.1:1"},
         ("at http://127.0.0.1:1 refused the connection", "check xray_aws_endpoint_url and xray_region")),
    Case("apiserver-unreachable", "connection", "a kubeconfig whose server is https://127.0.0.1:1", {"xray_kubeconfig": "{unreachable_kubeconfig}"},
         ("The Kubernetes API server at https://127.0.0.1:1", "refused the connection", "check xray_kubeconfig and xray_kube_context")),
    # --- the module and the API ----------------------------------------------------------------------------------
    Case("module-group-filter", "xray_group", "xray_group with filter_expression 'responsetime >'",
         {"group_name": "bi-module-filter", "filter_expression": "responsetime >"},
         ("filter_expression 'responsetime >' is not a valid X-Ray filter expression", "needs a string, number or true/false"),
         kind="play", module="tracing.xray.xray_group"),
    Case("api-create-group-filter", "X-Ray API", "CreateGroup with FilterExpression 'fault = true OR'",
         {"GroupName": "bi-api-filter", "FilterExpression": "fault = true OR"},
         ("InvalidRequestException", "Invalid filter expression", "needs an operand after it"), kind="api"),
]


def case_ids():
    return [case.id for case in CASES]


# --- snapshot of everything a case could change -------------------------------------------------------------------


def snapshot(kube, aws) -> dict:
    core, apps = kube
    namespaces = core.list_namespace().items
    out = {"namespaces": sorted(n.metadata.name for n in namespaces),
           # Namespaces another test is still deleting (on the real node, pods take their grace period): what is in
           # them may vanish during the matrix without any case having done it (see _settled).
           "terminating": sorted(n.metadata.name for n in namespaces if n.metadata.deletion_timestamp)}
    for kind, items in (("daemonsets", apps.list_daemon_set_for_all_namespaces().items),
                        ("deployments", apps.list_deployment_for_all_namespaces().items),
                        ("configmaps", core.list_config_map_for_all_namespaces().items),
                        ("services", core.list_service_for_all_namespaces().items),
                        ("serviceaccounts", core.list_service_account_for_all_namespaces().items)):
        out[kind] = sorted((o.metadata.namespace, o.metadata.name, o.metadata.generation, json.dumps(o.metadata.labels or {}, sort_keys=True),
                            json.dumps(o.metadata.annotations or {}, sort_keys=True)) for o in items
                           if o.metadata.name != "kube-root-ca.crt")
    xray, iam = aws
    out["groups"] = sorted(json.dumps(g, sort_keys=True, default=str) for g in xray.get_groups()["Groups"])
    out["rules"] = sorted(json.dumps(r["SamplingRule"], sort_keys=True, default=str) for r in xray.get_sampling_rules()["SamplingRuleRecords"])
    out["policies"] = sorted(p["PolicyName"] for p in xray.list_resource_policies().get("ResourcePolicies", []))
    encryption = xray.get_encryption_config()["EncryptionConfig"]
    out["encryption"] = [encryption.get("Type"), encryption.get("KeyId")]
    out["iam_roles"] = sorted(r["RoleName"] for r in iam.list_roles()["Roles"])
    out["oidc_providers"] = sorted(p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
    return out


# --- running the cases ---------------------------------------------------------------------------------------------


def _format(value, context):
    if isinstance(value, str):
        return value.format(**context) if "{" in value and "}" in value and value.startswith("{") else value
    if isinstance(value, dict):
        return {k: _format(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_format(v, context) for v in value]
    return value


def _module_play(case):
    from plays import connected_play

    task = {"name": "The module", case.module: case.vars}
    return json.dumps([connected_play("One module", tasks=[task])], indent=1)


def _validate_play(case):
    """A known gap: only the owning role's validate entry point, so nothing can change."""
    from plays import role_play

    return role_play(case.area, tasks_from="validate", **case.vars)


class Outcome:
    def __init__(self, failed, message, output, seconds):
        self.failed, self.message, self.output, self.seconds = failed, message, output, seconds


def _run_case(case, run_playbook, inventory, context, aws_clients):
    started = time.monotonic()
    if case.kind == "api":
        from botocore.exceptions import ClientError

        xray = aws_clients[0]
        try:
            xray.create_group(**case.vars)
        except ClientError as e:
            error = e.response["Error"]
            return Outcome(True, f"{error['Code']}: {error['Message']}", str(e), time.monotonic() - started)
        return Outcome(False, "", "created", time.monotonic() - started)
    if case.known_gap:
        playbook, extra = _validate_play(case), None
    elif case.kind == "play":
        playbook, extra = _module_play(case), None
    else:
        playbook = SITE
        extra = dict(_format(case.vars, context), xray_verify_enabled=case.vars.get("xray_verify_enabled", False))
    run = run_playbook(playbook, inventory=inventory, extra_vars=extra, timeout=300)
    messages = []
    for result in run.results().values():
        if result.get("failed") or result.get("unreachable"):
            messages.append(str(result.get("msg", "")))
            messages += [str(item.get("msg", "")) for item in result.get("results") or [] if isinstance(item, dict) and item.get("failed")]
    message = "\n".join(messages)
    if run.rc != 0 and not message:
        message = run.stderr + run.stdout[-3000:]
    return Outcome(run.rc != 0, message, run.stdout + run.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def clients(sandbox):
    import boto3
    import kubernetes

    api = kubernetes.config.new_client_from_config(config_file=sandbox["kubeconfig"], persist_config=False)
    kube = (kubernetes.client.CoreV1Api(api), kubernetes.client.AppsV1Api(api))
    connection = dict(endpoint_url=sandbox["aws_endpoint_url"], region_name=sandbox["region"],
                      aws_access_key_id=sandbox["aws_access_key_id"], aws_secret_access_key=sandbox["aws_secret_access_key"])
    aws = (boto3.client("xray", **connection), boto3.client("iam", **connection))
    return kube, aws


@pytest.fixture(scope="module")
def matrix(sandbox, clients, run_playbook, repo, tmp_path_factory):
    """Every case's outcome, and the snapshots before and after the whole matrix."""
    kube, aws = clients
    with open(sandbox["kubeconfig"], encoding="utf-8") as handle:
        text = handle.read()
    unreachable = tmp_path_factory.mktemp("bad-input") / "kubeconfig"
    unreachable.write_text(re.sub(r"server: https?://[^\s]+", "server: https://127.0.0.1:1", text), encoding="utf-8")
    context = {"unreachable_kubeconfig": str(unreachable)}
    inventory = os.path.join(repo, "inventories", "sandbox")
    before = snapshot(kube, aws)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = {case.id: pool.submit(_run_case, case, run_playbook, inventory, context, aws) for case in CASES}
        outcomes = {case_id: future.result() for case_id, future in futures.items()}
    after = snapshot(kube, aws)
    return {"outcomes": outcomes, "before": before, "after": after, "seconds": time.monotonic() - started}


def test_matrix_has_enough_cases():
    assert len(CASES) >= 30
    assert len(set(case_ids())) == len(CASES)


def _settled(snap, terminating):
    """The snapshot without what was already being deleted when the matrix started."""
    out = {}
    for key, items in snap.items():
        if key == "terminating":
            continue
        if key == "namespaces":
            out[key] = [n for n in items if n not in terminating]
        elif items and isinstance(items[0], tuple):
            out[key] = [item for item in items if item[0] not in terminating]
        else:
            out[key] = items
    return out


def test_nothing_changed_in_the_cluster_or_at_aws(matrix):
    terminating = set(matrix["before"]["terminating"])
    before, after = _settled(matrix["before"], terminating), _settled(matrix["after"], terminating)
    changed = {key: {"before": before[key], "after": after[key]} for key in before if before[key] != after[key]}
    assert not changed, json.dumps(changed, indent=1)


@pytest.mark.parametrize("case", CASES, ids=case_ids())
def test_bad_input_is_refused_cleanly(case, matrix):
    if case.known_gap and not matrix["outcomes"][case.id].failed:
        pytest.xfail(f"known gap: {case.known_gap}")
    outcome = matrix["outcomes"][case.id]
    assert outcome.failed, f"{case.id}: accepted\n{outcome.output[-4000:]}"
    for fragment in case.expect:
        assert fragment in outcome.message, f"{case.id}: {fragment!r} not in the message:\n{outcome.message}"
    assert not TRACEBACK.search(outcome.output), f"{case.id}: Python traceback in the output:\n{outcome.output[-6000:]}"
    assert outcome.seconds < MAX_SECONDS, f"{case.id}: took {outcome.seconds:.0f} s"
