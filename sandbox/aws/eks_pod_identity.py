"""EMULATION: EKS Pod Identity, which moto 5.2.5 lacks.

(a) The EKS API for pod identity associations - CreatePodIdentityAssociation, DescribePodIdentityAssociation,
    ListPodIdentityAssociations (paginated), UpdatePodIdentityAssociation, DeletePodIdentityAssociation, and
    TagResource / UntagResource / ListTagsForResource on association ARNs (other ARNs stay with moto).
    Request paths, members and error codes follow botocore's ``eks/2017-11-01`` model. State lives on moto's
    own ``EKSBackend`` object (attribute ``_sandbox_pod_identity``), per account and region, so
    ``/moto-api/reset`` clears it; associations of a deleted cluster disappear with it.
(b) EKS Auth ``AssumeRoleForPodIdentity`` (botocore service ``eks-auth``, ``POST
    /clusters/{clusterName}/assume-role-for-pod-identity`` with ``{"token": ...}``), what the EKS Pod Identity
    Agent calls: the cluster must exist, the token's ``iss`` must be the cluster's OIDC issuer, its signature
    must verify with the JWKS published for that issuer (``oidc_jwks.py``), ``exp``/``nbf``/``iat`` must be
    sane and ``aud`` must contain ``pods.eks.amazonaws.com``; then the association of the token's namespace and
    ServiceAccount is looked up, and the role's trust policy must admit the service principal
    ``pods.eks.amazonaws.com`` with ``sts:AssumeRole`` and ``sts:TagSession`` (the doctor's
    ``evaluate_pod_identity_trust``; a Deny statement for that principal and those actions denies).
    Credentials come from moto's STS (``assume_role``), so moto knows the session.

Nothing here talks HTTP: ``middleware.py`` routes requests to ``handle_eks`` / ``handle_eks_auth``.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import secrets
import string
import threading
import time
import uuid
from typing import Any

from . import oidc_jwks
from .sts_web_identity import doctor_irsa, remember_session

POD_IDENTITY_AUDIENCE = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = ("sts:AssumeRole", "sts:TagSession")
SESSION_SECONDS = 3600  # sandbox choice; AWS does not document the lifetime of these credentials
DEFAULT_MAX_RESULTS = 100  # sandbox choice (the model's maximum)
MAX_TAGS = 50

IDENTITY_APIS = [
    "CreatePodIdentityAssociation",
    "DescribePodIdentityAssociation",
    "ListPodIdentityAssociations",
    "UpdatePodIdentityAssociation",
    "DeletePodIdentityAssociation",
    "TagResource (pod identity associations)",
    "UntagResource (pod identity associations)",
    "ListTagsForResource (pod identity associations)",
    "eks-auth:AssumeRoleForPodIdentity",
]

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@/-]*/)?[\w+=,.@-]{1,64}$")
_ASSOC_PATH = re.compile(r"^/clusters/(?P<cluster>[^/]+)/pod-identity-associations(?:/(?P<id>[^/]+))?/?$")
_AUTH_PATH = re.compile(r"^/clusters/(?P<cluster>[^/]+)/assume-role-for-pod-identity/?$")
_ASSOC_ARN = re.compile(r"^arn:aws[a-z-]*:eks:[a-z0-9-]+:\d{12}:podidentityassociation/(?P<cluster>[^/]+)/(?P<id>a-[a-z0-9]+)$")
_ID_CHARS = string.ascii_lowercase + string.digits
_LOCK = threading.Lock()

Response = tuple[int, dict[str, str], str]


class EksApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **members: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.members = status, code, message, members

    def response(self) -> Response:
        body = dict(self.members, message=self.message)
        return self.status, {"x-amzn-ErrorType": self.code, "Content-Type": "application/json"}, json.dumps(body)


def _ok(body: dict[str, Any], status: int = 200) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def is_association_path(path: str) -> bool:
    return bool(_ASSOC_PATH.match(path))


def is_auth_path(path: str) -> bool:
    return bool(_AUTH_PATH.match(path))


def association_arn_of_tags_path(path: str) -> str | None:
    """``/tags/<url-encoded ARN>`` naming a pod identity association -> the ARN, else None (moto's)."""
    from urllib.parse import unquote

    if not path.startswith("/tags/"):
        return None
    arn = unquote(path[len("/tags/"):])
    return arn if ":podidentityassociation/" in arn else None


# --- state -------------------------------------------------------------------------------------------


def _eks_backend(account_id: str, region: str) -> Any:
    from moto.eks.models import eks_backends

    return eks_backends[account_id][region]


def _store(backend: Any) -> dict[str, dict[str, Any]]:
    with _LOCK:
        store = backend.__dict__.get("_sandbox_pod_identity")
        if store is None:
            store = {}
            backend._sandbox_pod_identity = store  # type: ignore[attr-defined]
        # EKS deletes a cluster's associations with the cluster (also when one of the same name is created again).
        for assoc_id in [i for i, a in store.items() if backend.clusters.get(a["clusterName"]) is not a["_cluster"]]:
            del store[assoc_id]
        return store


def _cluster(backend: Any, name: str) -> Any:
    cluster = backend.clusters.get(name)
    if cluster is None:
        raise EksApiError(404, "ResourceNotFoundException", f"No cluster found for name: {name}.", clusterName=name)
    return cluster


def _new_id(existing: dict[str, Any]) -> str:
    while True:
        candidate = "a-" + "".join(secrets.choice(_ID_CHARS) for _ in range(17))
        if candidate not in existing:
            return candidate


def _check_tags(tags: Any, what: str = "tags") -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise EksApiError(400, "InvalidParameterException", f"{what} must map strings to strings")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise EksApiError(400, "InvalidParameterException", f"Tag key must be 1-128 and value at most 256 characters: {key!r}")
        if key.lower().startswith("aws:"):
            raise EksApiError(400, "InvalidParameterException", f"Tag keys starting with aws: are reserved: {key!r}")
    return dict(tags)


def _check_role(value: Any, member: str) -> str:
    if not isinstance(value, str) or not _ROLE_ARN.match(value):
        raise EksApiError(400, "InvalidParameterException", f"{member} {value!r} is not a valid IAM role ARN")
    return value


def _check_name(value: Any, member: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 253 or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", value):
        raise EksApiError(400, "InvalidParameterException", f"{member} {value!r} is not a valid Kubernetes name")
    return value


def _bool(value: Any, member: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise EksApiError(400, "InvalidParameterException", f"{member} must be a boolean")


def _public(assoc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in assoc.items() if not k.startswith("_") and v is not None}
    out["tags"] = dict(assoc.get("tags") or {})
    return out


def _summary(assoc: dict[str, Any]) -> dict[str, Any]:
    keys = ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId", "ownerArn")
    return {k: assoc[k] for k in keys if assoc.get(k) is not None}


def _find(store: dict[str, dict[str, Any]], cluster: str, assoc_id: str) -> dict[str, Any]:
    assoc = store.get(assoc_id)
    if assoc is None or assoc["clusterName"] != cluster:
        raise EksApiError(404, "ResourceNotFoundException", f"Association {assoc_id} not found in cluster {cluster}.", clusterName=cluster)
    return assoc


def find_association(account_id: str, region: str, cluster: str, namespace: str, service_account: str) -> dict[str, Any] | None:
    store = _store(_eks_backend(account_id, region))
    with _LOCK:
        for assoc in store.values():
            if (assoc["clusterName"], assoc["namespace"], assoc["serviceAccount"]) == (cluster, namespace, service_account):
                return {k: v for k, v in assoc.items() if k != "_cluster"}
    return None


# --- EKS API -----------------------------------------------------------------------------------------


def _create(backend: Any, cluster: Any, params: dict[str, Any]) -> Response:
    namespace = _check_name(params.get("namespace"), "namespace")
    service_account = _check_name(params.get("serviceAccount"), "serviceAccount")
    role_arn = _check_role(params.get("roleArn"), "roleArn")
    target = params.get("targetRoleArn")
    if target is not None:
        _check_role(target, "targetRoleArn")
    tags = _check_tags(params.get("tags"))
    if len(tags) > MAX_TAGS:
        raise EksApiError(400, "InvalidParameterException", f"At most {MAX_TAGS} tags per resource")
    disable = _bool(params.get("disableSessionTags"), "disableSessionTags")
    policy = params.get("policy")
    store = _store(backend)
    with _LOCK:
        for other in store.values():
            if (other["clusterName"], other["namespace"], other["serviceAccount"]) == (cluster.name, namespace, service_account):
                token = params.get("clientRequestToken")
                if token and other["_clientRequestToken"] == token and other["roleArn"] == role_arn:
                    return _ok({"association": _public(other)})  # a retried request (idempotency token)
                raise EksApiError(409, "ResourceInUseException", f"Association already exists: {other['associationId']}", clusterName=cluster.name)
        assoc_id = _new_id(store)
        now = time.time()
        assoc = {
            "clusterName": cluster.name,
            "namespace": namespace,
            "serviceAccount": service_account,
            "roleArn": role_arn,
            "associationArn": f"arn:{backend.partition}:eks:{backend.region_name}:{backend.account_id}:podidentityassociation/{cluster.name}/{assoc_id}",
            "associationId": assoc_id,
            "tags": tags,
            "createdAt": now,
            "modifiedAt": now,
            "disableSessionTags": bool(disable),
            "targetRoleArn": target,
            "externalId": str(uuid.uuid4()) if target else None,
            "policy": policy,
            "_clientRequestToken": params.get("clientRequestToken"),
            "_cluster": cluster,
        }
        store[assoc_id] = assoc
        return _ok({"association": _public(assoc)})


def _update(store: dict[str, dict[str, Any]], cluster: Any, assoc_id: str, params: dict[str, Any]) -> Response:
    changes: dict[str, Any] = {}
    if params.get("roleArn") is not None:
        changes["roleArn"] = _check_role(params["roleArn"], "roleArn")
    if params.get("targetRoleArn") is not None:
        changes["targetRoleArn"] = _check_role(params["targetRoleArn"], "targetRoleArn") if params["targetRoleArn"] else None
    if params.get("disableSessionTags") is not None:
        changes["disableSessionTags"] = _bool(params["disableSessionTags"], "disableSessionTags")
    if params.get("policy") is not None:
        changes["policy"] = params["policy"] or None
    with _LOCK:
        assoc = _find(store, cluster.name, assoc_id)
        if "targetRoleArn" in changes and changes["targetRoleArn"] and not assoc.get("externalId"):
            changes["externalId"] = str(uuid.uuid4())
        assoc.update(changes)
        assoc["modifiedAt"] = time.time()
        return _ok({"association": _public(assoc)})


def _list(store: dict[str, dict[str, Any]], cluster: Any, query: dict[str, list[str]]) -> Response:
    namespace = (query.get("namespace") or [None])[0]
    service_account = (query.get("serviceAccount") or [None])[0]
    raw_max = (query.get("maxResults") or [None])[0]
    try:
        max_results = DEFAULT_MAX_RESULTS if raw_max is None else int(raw_max)
    except ValueError:
        raise EksApiError(400, "InvalidParameterException", f"maxResults {raw_max!r} is not a number") from None
    if not 1 <= max_results <= 100:
        raise EksApiError(400, "InvalidParameterException", "maxResults must be between 1 and 100")
    with _LOCK:
        found = sorted(
            (a for a in store.values() if a["clusterName"] == cluster.name
             and (namespace is None or a["namespace"] == namespace)
             and (service_account is None or a["serviceAccount"] == service_account)),
            key=lambda a: (a["createdAt"], a["associationId"]),
        )
    token = (query.get("nextToken") or [None])[0]
    start = 0
    if token:
        try:
            after = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
            keys = [(a["createdAt"], a["associationId"]) for a in found]
            start = next(i for i, k in enumerate(keys) if list(k) > list(after))
        except StopIteration:
            start = len(found)
        except (ValueError, TypeError, KeyError):
            raise EksApiError(400, "InvalidParameterException", "The nextToken is not valid") from None
    page = found[start:start + max_results]
    body: dict[str, Any] = {"associations": [_summary(a) for a in page]}
    if start + max_results < len(found):
        last = page[-1]
        body["nextToken"] = base64.urlsafe_b64encode(json.dumps([last["createdAt"], last["associationId"]]).encode()).decode()
    return _ok(body)


def _tags(account_id: str, region: str, method: str, arn: str, query: dict[str, list[str]], params: dict[str, Any]) -> Response:
    match = _ASSOC_ARN.match(arn)
    if not match:
        raise EksApiError(400, "BadRequestException", f"{arn} is not a valid resource ARN")
    backend = _eks_backend(account_id, region)
    store = _store(backend)
    with _LOCK:
        assoc = store.get(match.group("id"))
        if assoc is None or assoc["associationArn"] != arn:
            raise EksApiError(404, "NotFoundException", f"Resource {arn} not found")
        if method == "GET":
            return _ok({"tags": dict(assoc["tags"])})
        if method == "POST":
            tags = _check_tags(params.get("tags"))
            if not tags:
                raise EksApiError(400, "BadRequestException", "tags must not be empty")
            merged = dict(assoc["tags"], **tags)
            if len(merged) > MAX_TAGS:
                raise EksApiError(400, "BadRequestException", f"At most {MAX_TAGS} tags per resource")
            assoc["tags"] = merged
            return _ok({})
        if method == "DELETE":
            for key in query.get("tagKeys") or []:
                assoc["tags"].pop(key, None)
            return _ok({})
    raise EksApiError(405, "BadRequestException", f"method {method} not allowed")


def handle_eks(account_id: str, region: str, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Response:
    """An EKS request this module owns (``is_association_path`` or an association's ``/tags/``)."""
    try:
        params = json.loads(body) if body else {}
        if not isinstance(params, dict):
            raise ValueError("not an object")
    except ValueError:
        return EksApiError(400, "InvalidParameterException", "The request body is not a JSON object").response()
    try:
        arn = association_arn_of_tags_path(path)
        if arn is not None:
            return _tags(account_id, region, method, arn, query, params)
        match = _ASSOC_PATH.match(path)
        if not match:
            raise EksApiError(404, "ResourceNotFoundException", f"No such path {path}")
        backend = _eks_backend(account_id, region)
        cluster = _cluster(backend, match.group("cluster"))
        assoc_id = match.group("id")
        if assoc_id is None:
            if method == "POST":
                return _create(backend, cluster, params)
            if method == "GET":
                return _list(_store(backend), cluster, query)
        else:
            store = _store(backend)
            if method == "GET":
                with _LOCK:
                    return _ok({"association": _public(_find(store, cluster.name, assoc_id))})
            if method == "POST":
                return _update(store, cluster, assoc_id, params)
            if method == "DELETE":
                with _LOCK:
                    assoc = _find(store, cluster.name, assoc_id)
                    del store[assoc_id]
                    return _ok({"association": _public(assoc)})
        raise EksApiError(405, "InvalidRequestException", f"method {method} not allowed on {path}")
    except EksApiError as err:
        return err.response()


# --- EKS Auth ----------------------------------------------------------------------------------------


def _auth_error(status: int, code: str, message: str) -> EksApiError:
    return EksApiError(status, code, message)


def pod_identity_trust(policy_document: Any) -> dict[str, Any]:
    """The doctor's ``evaluate_pod_identity_trust`` plus Deny statements (which it does not look at)."""
    irsa = doctor_irsa()
    policy = irsa.load_policy(policy_document)
    result = irsa.evaluate_pod_identity_trust(policy)
    for index, statement in enumerate(irsa._as_list(policy.get("Statement"))):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        if not irsa._principal_matches(statement.get("Principal"), "Service", POD_IDENTITY_AUDIENCE):
            continue
        denied = [a for a in POD_IDENTITY_ACTIONS if irsa._statement_actions_match(statement, a)]
        if denied:
            label = statement.get("Sid") or f"#{index + 1}"
            result["problems"].append(f"trust policy statement {label} denies {', '.join(denied)} to {POD_IDENTITY_AUDIENCE}"
                                      + (" (its conditions are not evaluated: fails closed)" if statement.get("Condition") else ""))
            result["allowed"] = False
    return result


def _subject(claims: dict[str, Any]) -> tuple[str, str] | None:
    k8s = claims.get("kubernetes.io")
    ns = sa = None
    if isinstance(k8s, dict):
        ns = k8s.get("namespace")
        sa = (k8s.get("serviceaccount") or {}).get("name") if isinstance(k8s.get("serviceaccount"), dict) else None
    sub = claims.get("sub")
    from_sub = None
    if isinstance(sub, str) and sub.startswith("system:serviceaccount:") and sub.count(":") == 3:
        from_sub = tuple(sub.split(":")[2:4])
    if ns and sa:
        if from_sub and from_sub != (ns, sa):
            return None
        return ns, sa
    return from_sub  # type: ignore[return-value]


def _epoch(moment: datetime.datetime) -> float:
    """moto keeps naive UTC datetimes."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _pod_name(claims: dict[str, Any]) -> str:
    k8s = claims.get("kubernetes.io")
    pod = k8s.get("pod") if isinstance(k8s, dict) else None
    return str(pod.get("name")) if isinstance(pod, dict) and pod.get("name") else "pod"


def handle_eks_auth(account_id: str, region: str, path: str, body: bytes, now: float | None = None) -> tuple[Response, dict[str, Any]]:
    """AssumeRoleForPodIdentity -> (response, record for the call log)."""
    record: dict[str, Any] = {}
    try:
        match = _AUTH_PATH.match(path)
        if not match:
            raise _auth_error(404, "ResourceNotFoundException", f"No such path {path}")
        try:
            params = json.loads(body) if body else {}
        except ValueError:
            raise _auth_error(400, "InvalidRequestException", "The request body is not a JSON object") from None
        token = params.get("token") if isinstance(params, dict) else None
        if not isinstance(token, str) or not token:
            raise _auth_error(400, "InvalidParameterException", "token is required")
        backend = _eks_backend(account_id, region)
        cluster_name = match.group("cluster")
        cluster = backend.clusters.get(cluster_name)
        if cluster is None:
            raise _auth_error(404, "ResourceNotFoundException", f"No cluster found for name: {cluster_name}.")
        record["cluster"] = cluster_name
        try:
            _h, claims, _i, _s = oidc_jwks.decode_unverified(token)
        except oidc_jwks.TokenError as err:
            raise _auth_error(400, "InvalidTokenException", err.message) from None
        issuer = oidc_jwks.normalize_issuer(cluster.identity["oidc"]["issuer"])
        try:
            token_issuer = oidc_jwks.normalize_issuer(claims.get("iss"))
        except oidc_jwks.JwksError:
            token_issuer = None
        if token_issuer != issuer:
            raise _auth_error(400, "InvalidTokenException", f"The token's issuer {claims.get('iss')!r} is not the cluster's OIDC issuer {issuer}")
        try:
            oidc_jwks.verify_signature(token)
            oidc_jwks.check_times(claims, now)
        except oidc_jwks.TokenError as err:
            if err.kind == "expired":
                raise _auth_error(400, "ExpiredTokenException", err.message) from None
            raise _auth_error(400, "InvalidTokenException", err.message) from None
        audiences = oidc_jwks.token_audiences(claims)
        if POD_IDENTITY_AUDIENCE not in audiences:
            raise _auth_error(400, "InvalidTokenException", f"The token's audience {audiences} does not include {POD_IDENTITY_AUDIENCE}")
        subject = _subject(claims)
        if subject is None:
            raise _auth_error(400, "InvalidTokenException", "The token names no ServiceAccount (kubernetes.io claims or sub)")
        namespace, service_account = subject
        record["subject"] = f"system:serviceaccount:{namespace}:{service_account}"
        assoc = find_association(account_id, region, cluster_name, namespace, service_account)
        if assoc is None:
            raise _auth_error(404, "ResourceNotFoundException",
                              f"No Pod Identity association for namespace {namespace} and service account {service_account} in cluster {cluster_name}.")
        role_arn = assoc["roleArn"]
        record.update(role_arn=role_arn, association_id=assoc["associationId"])
        from moto.iam.models import iam_backends

        role_account = role_arn.split(":")[4]
        iam = iam_backends[role_account][role_arn.split(":")[1]]
        role = next((r for r in iam.roles.values() if r.arn == role_arn), None)
        if role is None:
            raise _auth_error(400, "AccessDeniedException", f"The role {role_arn} of association {assoc['associationId']} does not exist.")
        trust = pod_identity_trust(role.assume_role_policy_document)
        if not trust["allowed"]:
            record["problems"] = trust["problems"]
            raise _auth_error(400, "AccessDeniedException",
                              f"EKS Pod Identity cannot assume role {role_arn}: {'; '.join(trust['problems'])}")
        from moto.sts.models import sts_backends

        session_name = f"eks-{cluster_name}-{_pod_name(claims)}-{uuid.uuid4()}"[:64]
        partition = role_arn.split(":")[1]
        assumed = sts_backends[role_account][partition].assume_role(
            region_name=region, role_session_name=session_name, role_arn=role_arn, policy=assoc.get("policy"),
            duration=SESSION_SECONDS, external_id=None,
        )
        session_tags = {} if assoc.get("disableSessionTags") else {
            "eks-cluster-arn": cluster.arn,
            "eks-cluster-name": cluster_name,
            "kubernetes-namespace": namespace,
            "kubernetes-service-account": service_account,
            "kubernetes-pod-name": _pod_name(claims),
            "kubernetes-pod-uid": str(((claims.get("kubernetes.io") or {}).get("pod") or {}).get("uid", "")),
        }
        remember_session(
            assumed.access_key_id, principal_arn=assumed.arn, role_arn=role_arn, session_name=session_name,
            source="eks-auth:AssumeRoleForPodIdentity", subject=record["subject"], association_id=assoc["associationId"],
            session_tags=session_tags, expiration=_epoch(assumed.expiration),
        )
        record.update(issued_access_key_id=assumed.access_key_id, principal_arn=assumed.arn)
        response = {
            "subject": {"namespace": namespace, "serviceAccount": service_account},
            "audience": POD_IDENTITY_AUDIENCE,
            "podIdentityAssociation": {"associationArn": assoc["associationArn"], "associationId": assoc["associationId"]},
            "assumedRoleUser": {"arn": assumed.arn, "assumeRoleId": f"{role.id}:{session_name}"},
            "credentials": {
                "sessionToken": assumed.session_token,
                "secretAccessKey": assumed.secret_access_key,
                "accessKeyId": assumed.access_key_id,
                "expiration": _epoch(assumed.expiration),
            },
        }
        return _ok(response), record
    except EksApiError as err:
        record.update(error_code=err.code, reason=err.message)
        return err.response(), record
