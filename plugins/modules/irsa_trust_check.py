#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: irsa_trust_check
version_added: 0.1.0
short_description: Check that an IAM role's trust policy admits a ServiceAccount's real token (IRSA doctor)
description:
  - The check AWS tooling does not make before a pod fails with C(AccessDenied) from
    C(AssumeRoleWithWebIdentity).
  - In O(mode=irsa) the module requests a token for the ServiceAccount from the Kubernetes API
    (C(TokenRequest), audience O(audience)), decodes its claims (issuer, subject, audience) and evaluates
    the role's trust policy against them the way STS does - the C(Federated) principal must be the IAM OIDC
    provider of the token's issuer in the role's account, and the C(StringEquals)/C(StringLike) conditions on
    C(<issuer>:sub) and C(<issuer>:aud) must hold. It also checks that the IAM OIDC provider exists and lists
    the audience as a client ID, that the ServiceAccount's C(eks.amazonaws.com/role-arn) annotation names the
    role, and (with O(cluster_name) or O(issuer)) that the token comes from the expected issuer.
  - In O(mode=pod_identity) it checks that the role trusts C(pods.eks.amazonaws.com) with C(sts:AssumeRole) and
    C(sts:TagSession) and that an EKS Pod Identity association maps the ServiceAccount to the role.
  - Every mismatch is reported in plain words, for example
    C(trust policy expects namespace xray-system, the ServiceAccount is in default).
  - The token's signature is not verified (the check is about the policy, not the token), the token is never
    returned or logged, and the TokenRequest creates no stored object. Nothing is changed, so check mode
    behaves like a normal run.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  role_name:
    description:
      - The IAM role, by name or ARN.
    type: str
    required: true
    aliases: [role, role_arn]
  namespace:
    description:
      - The ServiceAccount's namespace.
    type: str
    required: true
  service_account:
    description:
      - The ServiceAccount's name.
    type: str
    required: true
  mode:
    description:
      - V(irsa) checks IAM roles for service accounts; V(pod_identity) checks EKS Pod Identity.
    type: str
    choices: [irsa, pod_identity]
    default: irsa
  audience:
    description:
      - The audience to request the token for.
      - Defaults to the ServiceAccount's C(eks.amazonaws.com/audience) annotation, else V(sts.amazonaws.com).
    type: str
  cluster_name:
    description:
      - The EKS cluster. With O(mode=irsa), the token's issuer is compared with the cluster's OIDC issuer.
      - Required with O(mode=pod_identity) (associations belong to a cluster).
    type: str
  issuer:
    description:
      - The issuer the token is expected to come from (C(https://) optional). Compared with the token's C(iss).
    type: str
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig as a dictionary.
      - Defaults to E(K8S_AUTH_KUBECONFIG), then E(KUBECONFIG), then C(~/.kube/config), then the in-cluster configuration.
    type: raw
  context:
    description:
      - The kubeconfig context to use (default E(K8S_AUTH_CONTEXT), else the kubeconfig's current context).
    type: str
  token_expiration:
    description:
      - Lifetime in seconds of the requested token (the API server enforces at least 600).
    type: int
    default: 600
  fail_on_problems:
    description:
      - Fail when a problem is found. With V(false) the module succeeds and returns RV(passed) and RV(problems).
    type: bool
    default: true
notes:
  - The Kubernetes API is reached with the C(kubernetes) Python client; the caller needs C(get) on the
    ServiceAccount and C(create) on C(serviceaccounts/token).
requirements:
  - kubernetes
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - tracing.xray.attributes
  - tracing.xray.attributes.info_module
"""

EXAMPLES = r"""
- name: Does the role admit the X-Ray daemon's ServiceAccount?
  tracing.xray.irsa_trust_check:
    role_name: xray-daemon
    namespace: xray-system
    service_account: xray-daemon
    cluster_name: observability-workshop
    kubeconfig: ~/.kube/config

- name: Report without failing
  tracing.xray.irsa_trust_check:
    role_name: xray-daemon
    namespace: xray-system
    service_account: xray-daemon
    fail_on_problems: false
  register: doctor

- name: Show what is wrong
  ansible.builtin.debug:
    var: doctor.problems
  when: not doctor.passed

- name: Check an EKS Pod Identity set-up instead
  tracing.xray.irsa_trust_check:
    mode: pod_identity
    role_name: xray-daemon
    namespace: xray-system
    service_account: xray-daemon
    cluster_name: observability-workshop
"""

RETURN = r"""
passed:
  description: Whether no problem was found.
  returned: always
  type: bool
problems:
  description: Each mismatch, in plain words.
  returned: always
  type: list
  elements: str
  sample:
    - trust policy expects namespace xray-system, the ServiceAccount is in default
notices:
  description: Findings that do not stop the role from being assumed but deserve attention (also shown as warnings).
  returned: always
  type: list
  elements: str
checks:
  description: Each check made, with its outcome.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check (C(role), C(service_account), C(annotation), C(token), C(issuer), C(oidc_provider),
        C(trust_policy), C(association)).
      type: str
    passed:
      description: Its outcome.
      type: bool
    details:
      description: What was found.
      type: list
      elements: str
role_arn:
  description: The role's ARN.
  returned: when the role exists
  type: str
provider_arn:
  description: The ARN of the IAM OIDC provider STS uses for the token's issuer (in the role's account).
  returned: in O(mode=irsa) when a token was obtained
  type: str
claims:
  description: The token's public claims (issuer, subject, audience, times, namespace and ServiceAccount); never the token.
  returned: in O(mode=irsa) when a token was obtained
  type: dict
  sample:
    iss: https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
    sub: system:serviceaccount:xray-system:xray-daemon
    aud: [sts.amazonaws.com]
trust_policy:
  description: The role's trust policy as evaluated.
  returned: when the role exists
  type: dict
service_account:
  description: The ServiceAccount's namespace, name and annotations.
  returned: when the ServiceAccount exists
  type: dict
association:
  description: The EKS Pod Identity association found (O(mode=pod_identity)).
  returned: in O(mode=pod_identity) when one exists
  type: dict
"""

import json
import traceback
from urllib.parse import quote

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

K8S_IMPORT_ERROR = None
try:
    import kubernetes
    from kubernetes.client.exceptions import ApiException
except ImportError:
    K8S_IMPORT_ERROR = traceback.format_exc()

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.tracing.xray.plugins.module_utils.aws import aws_retry
from ansible_collections.tracing.xray.plugins.module_utils.aws import TracingAWSModule
from ansible_collections.tracing.xray.plugins.module_utils.identity import find_pod_identity_association
from ansible_collections.tracing.xray.plugins.module_utils.irsa import AUDIENCE_ANNOTATION
from ansible_collections.tracing.xray.plugins.module_utils.irsa import DEFAULT_AUDIENCE
from ansible_collections.tracing.xray.plugins.module_utils.irsa import ROLE_ARN_ANNOTATION
from ansible_collections.tracing.xray.plugins.module_utils.irsa import IrsaError
from ansible_collections.tracing.xray.plugins.module_utils.irsa import check_provider_audience
from ansible_collections.tracing.xray.plugins.module_utils.irsa import check_role_annotation
from ansible_collections.tracing.xray.plugins.module_utils.irsa import decode_jwt_claims
from ansible_collections.tracing.xray.plugins.module_utils.irsa import evaluate_pod_identity_trust
from ansible_collections.tracing.xray.plugins.module_utils.irsa import evaluate_web_identity_trust
from ansible_collections.tracing.xray.plugins.module_utils.irsa import load_policy
from ansible_collections.tracing.xray.plugins.module_utils.irsa import normalize_issuer
from ansible_collections.tracing.xray.plugins.module_utils.irsa import public_claims
from ansible_collections.tracing.xray.plugins.module_utils.irsa import token_audiences
from ansible_collections.tracing.xray.plugins.module_utils.irsa import validate_k8s_name
from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import api_failure_message
from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import first_answer_deadline


class Report:
    """Collects checks, problems and warnings."""

    def __init__(self):
        self.checks = []
        self.problems = []
        self.warnings = []

    def add(self, name, problems, details=None):
        problems = list(problems)
        self.problems.extend(problems)
        self.checks.append({"name": name, "passed": not problems, "details": problems or list(details or [])})
        return not problems


class CoreV1:
    """The two calls of the core/v1 API the doctor makes, on the kubernetes client's own ``ApiClient`` (its request
    building, authentication, TLS and errors: ``ApiException`` for an answer that is not 2xx), with JSON dicts in and
    out. Not ``kubernetes.client.CoreV1Api``: importing it builds several hundred pydantic models, 0.5 s of every
    converge (issue 15), for two requests."""

    def __init__(self, api_client):
        self.api_client = api_client

    def _call(self, method, path, body=None):
        client = self.api_client
        request = client.param_serialize(method, path, header_params={"Accept": "application/json", "Content-Type": "application/json"},
                                         body=body, auth_settings=["BearerToken"])
        response = client.call_api(*request)
        response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response)  # status, reason and the body (the API server's Status) as the client gives them
        return json.loads(response.data or b"{}")

    def read_namespaced_service_account(self, name, namespace):
        return self._call("GET", f"/api/v1/namespaces/{quote(namespace, safe='')}/serviceaccounts/{quote(name, safe='')}")

    def create_namespaced_service_account_token(self, name, namespace, body):
        return self._call("POST", f"/api/v1/namespaces/{quote(namespace, safe='')}/serviceaccounts/{quote(name, safe='')}/token", body)


def core_v1_api(module):
    """The core/v1 calls (``CoreV1``) for the configured cluster (tests replace this function)."""
    if K8S_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=K8S_IMPORT_ERROR)
    kubeconfig = module.params["kubeconfig"]
    context = module.params["context"]
    try:
        if isinstance(kubeconfig, dict):
            api_client = kubernetes.config.new_client_from_config_dict(kubeconfig, context=context, persist_config=False)
        else:
            # The kubernetes client expands "~" and reads KUBECONFIG (else ~/.kube/config) when no path is given.
            try:
                api_client = kubernetes.config.new_client_from_config(config_file=kubeconfig or None, context=context, persist_config=False)
            except kubernetes.config.ConfigException:
                if kubeconfig or context:
                    raise
                kubernetes.config.load_incluster_config()
                api_client = kubernetes.client.ApiClient()
    except (kubernetes.config.ConfigException, OSError, ValueError, TypeError) as e:
        module.fail_json(msg=f"kubeconfig: cannot load the Kubernetes client configuration: {e}")
    return CoreV1(api_client)


def read_service_account(module, api, namespace, name):
    try:
        with first_answer_deadline():  # the first request to the API server
            sa = api.read_namespaced_service_account(name, namespace)
    except ApiException as e:
        if e.status == 404:
            return None
        module.fail_json(msg=f"Failed to read ServiceAccount {namespace}/{name}: {e.status} {e.reason}")
    except Exception as e:  # pylint: disable=broad-exception-caught  # urllib3's connection errors: one clean sentence
        module.fail_json(msg=api_failure_message(module.params, e, f"Failed to read ServiceAccount {namespace}/{name}"))
    return {"namespace": namespace, "name": name, "annotations": dict((sa.get("metadata") or {}).get("annotations") or {})}


def request_token(module, api, namespace, name, audience):
    """A ServiceAccount token from the TokenRequest API (returned to the caller only, never output)."""
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [audience], "expirationSeconds": module.params["token_expiration"]}}
    try:
        response = api.create_namespaced_service_account_token(name, namespace, body)
    except ApiException as e:
        module.fail_json(msg=f"TokenRequest for ServiceAccount {namespace}/{name} failed: {e.status} {e.reason} {e.body or ''}".strip())
    except Exception as e:  # pylint: disable=broad-exception-caught  # urllib3's connection errors: one clean sentence
        module.fail_json(msg=api_failure_message(module.params, e, f"TokenRequest for ServiceAccount {namespace}/{name} failed"))
    return (response.get("status") or {}).get("token")


def get_role(module, iam, role_name):
    try:
        return iam.get_role(RoleName=role_name, aws_retry=True)["Role"]
    except is_boto3_error_code("NoSuchEntity"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to read IAM role {role_name}")


def get_provider(module, iam, arn):
    try:
        return iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn, aws_retry=True)
    except is_boto3_error_code("NoSuchEntity"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to read IAM OIDC provider {arn}")


def cluster_issuer(module, eks, cluster_name):
    try:
        cluster = eks.describe_cluster(name=cluster_name, aws_retry=True)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe EKS cluster {cluster_name}")
    return ((cluster.get("identity") or {}).get("oidc") or {}).get("issuer") or ""


def find_association(module, eks, cluster_name, namespace, name):
    try:
        return find_pod_identity_association(eks, cluster_name, namespace, name)
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to list the pod identity associations of cluster {cluster_name}")


def check_irsa(module, report, result, role, sa, api, iam):
    params = module.params
    namespace, name = params["namespace"], params["service_account"]
    role_arn = role["Arn"] if role else None
    if role and sa is not None:
        report.add("annotation", check_role_annotation(sa["annotations"], role_arn), [f"{ROLE_ARN_ANNOTATION}: {role_arn}"])
    if sa is None:
        return
    audience = params["audience"] or sa["annotations"].get(AUDIENCE_ANNOTATION) or DEFAULT_AUDIENCE
    token = request_token(module, api, namespace, name, audience)
    try:
        claims = decode_jwt_claims(token)
    except IrsaError as e:
        report.add("token", [f"the API server returned a token that cannot be decoded: {e}"])
        return
    token = None  # the token itself is not needed any more and must not leak
    result["claims"] = public_claims(claims)
    token_problems = []
    if not claims.get("iss"):
        token_problems.append("the ServiceAccount token has no iss (issuer) claim; the API server runs without --service-account-issuer")
    if audience not in token_audiences(claims):
        token_problems.append(f"the ServiceAccount token's audience is {token_audiences(claims)}, requested {audience}")
    report.add("token", token_problems, [f"iss={claims.get('iss')}", f"sub={claims.get('sub')}", f"aud={audience}"])
    if not claims.get("iss"):
        return
    token_issuer = normalize_issuer(str(claims["iss"]))

    expected = []
    if params["issuer"]:
        try:
            expected.append(("the expected issuer", normalize_issuer(params["issuer"])))
        except IrsaError as e:
            module.fail_json(msg=str(e))
    if params["cluster_name"]:
        issuer = cluster_issuer(module, module.client("eks", retry_decorator=aws_retry()), params["cluster_name"])
        if issuer is None:
            report.add("issuer", [f"EKS cluster {params['cluster_name']} does not exist"])
        elif not issuer:
            report.add("issuer", [f"EKS cluster {params['cluster_name']} has no OIDC issuer"])
        else:
            expected.append((f"EKS cluster {params['cluster_name']}'s OIDC issuer", normalize_issuer(issuer)))
    if expected:
        report.add(
            "issuer",
            [
                f"{what} is https://{host_path}, the ServiceAccount token is issued by https://{token_issuer} "
                "(does the kubeconfig point at another cluster?)"
                for what, host_path in expected
                if host_path != token_issuer
            ],
            [f"https://{token_issuer}"],
        )

    if not role:
        return
    evaluation = evaluate_web_identity_trust(role["AssumeRolePolicyDocument"], claims, role_arn, audience=audience)
    provider_arn = evaluation["provider_arn"]
    result["provider_arn"] = provider_arn
    provider = get_provider(module, iam, provider_arn)
    if provider is None:
        report.add(
            "oidc_provider",
            [f"no IAM OIDC provider exists for the token's issuer https://{token_issuer} in account {(parse_aws_arn(provider_arn) or {}).get('account_id')} "
             f"(expected {provider_arn}); STS rejects the token"],
        )
    else:
        report.add("oidc_provider", check_provider_audience(provider.get("ClientIDList"), audience, provider_arn), [provider_arn])
    report.add("trust_policy", evaluation["problems"], [f"statement {evaluation['matched_statement']} admits {claims.get('sub')}"])
    report.warnings.extend(evaluation["warnings"])


def check_pod_identity(module, report, result, role, sa):
    params = module.params
    namespace, name = params["namespace"], params["service_account"]
    role_arn = role["Arn"] if role else None
    if role:
        evaluation = evaluate_pod_identity_trust(role["AssumeRolePolicyDocument"])
        report.add("trust_policy", evaluation["problems"], ["trusts pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession"])
        report.warnings.extend(evaluation["warnings"])
    if sa is not None and sa["annotations"].get(ROLE_ARN_ANNOTATION):
        report.warnings.append(
            f"the ServiceAccount also carries {ROLE_ARN_ANNOTATION} (IRSA); AWS SDKs try IRSA credentials before EKS Pod Identity ones"
        )
    eks = module.client("eks", retry_decorator=aws_retry())
    association = find_association(module, eks, params["cluster_name"], namespace, name)
    if association is None:
        report.add("association", [f"no EKS Pod Identity association maps ServiceAccount {namespace}/{name} in cluster {params['cluster_name']} to a role"])
        return
    result["association"] = {
        "association_id": association.get("associationId"),
        "association_arn": association.get("associationArn"),
        "role_arn": association.get("roleArn"),
    }
    problems = []
    if role_arn and association.get("roleArn") != role_arn:
        problems.append(f"the EKS Pod Identity association of {namespace}/{name} points at role {association.get('roleArn')}, the role is {role_arn}")
    report.add("association", problems, [association.get("associationId")])


def main():
    argument_spec = dict(
        role_name=dict(type="str", required=True, aliases=["role", "role_arn"]),
        namespace=dict(type="str", required=True),
        service_account=dict(type="str", required=True),
        mode=dict(type="str", default="irsa", choices=["irsa", "pod_identity"]),
        audience=dict(type="str"),
        cluster_name=dict(type="str"),
        issuer=dict(type="str"),
        kubeconfig=dict(type="raw", no_log=True, fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
        context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
        token_expiration=dict(type="int", default=600, no_log=False),
        fail_on_problems=dict(type="bool", default=True),
    )
    module = TracingAWSModule(
        argument_spec=argument_spec,
        required_if=[("mode", "pod_identity", ["cluster_name"])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        validate_k8s_name("namespace", params["namespace"])
        validate_k8s_name("service_account", params["service_account"])
    except IrsaError as e:
        module.fail_json(msg=str(e))
    if params["token_expiration"] < 600:
        module.fail_json(msg="token_expiration: must be at least 600 seconds (the API server's minimum)")

    role_name = params["role_name"]
    if role_name.startswith("arn:"):
        role_name = role_name.rsplit("/", 1)[-1]
    namespace, name = params["namespace"], params["service_account"]
    report = Report()
    result = dict(changed=False)

    iam = module.client("iam", retry_decorator=aws_retry())
    role = get_role(module, iam, role_name)
    if role is None:
        report.add("role", [f"IAM role {role_name} does not exist"])
    else:
        try:
            role["AssumeRolePolicyDocument"] = load_policy(role.get("AssumeRolePolicyDocument") or {})
        except IrsaError as e:
            module.fail_json(msg=f"IAM role {role_name}: cannot read its trust policy: {e}")
        result["role_arn"] = role["Arn"]
        result["trust_policy"] = role["AssumeRolePolicyDocument"]
        report.add("role", [], [role["Arn"]])

    api = core_v1_api(module)
    sa = read_service_account(module, api, namespace, name)
    if sa is None:
        report.add("service_account", [f"ServiceAccount {namespace}/{name} does not exist"])
    else:
        result["service_account"] = sa
        report.add("service_account", [], [f"{namespace}/{name}"])

    if params["mode"] == "irsa":
        check_irsa(module, report, result, role, sa, api, iam)
    else:
        check_pod_identity(module, report, result, role, sa)

    result.update(passed=not report.problems, problems=report.problems, notices=report.warnings, checks=report.checks)
    for warning in report.warnings:
        module.warn(warning)
    if report.problems and params["fail_on_problems"]:
        subject = f"ServiceAccount {namespace}/{name} and IAM role {role_name}"
        module.fail_json(msg=f"IRSA check failed for {subject}: " + "; ".join(report.problems), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
