#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_ownership
version_added: 0.2.0
short_description: Refuse to take over Kubernetes objects that carry someone else's name
description:
  - Reads the Kubernetes objects a role is about to apply (by C(apiVersion), C(kind), C(metadata.name) and
    C(metadata.namespace)) and finds those that already exist without every label of O(owner_labels).
  - With O(on_foreign=fail) (the present path of the roles) the module fails before anything is applied, naming
    each foreign object, its labels and field managers, and the O(adopt) entry that takes it over. With
    O(on_foreign=report) (the absent path) it only returns and warns about them, so teardown goes on.
  - Objects that do not exist yet, and objects that carry the labels, pass.
  - Reads only; never changes anything, so it runs the same way in check mode.
  - The same call reads the objects a role's decisions depend on (O(read), for example its namespace or a
    ServiceAccount it does not create) and returns what exists in RV(live), so a role needs one task, not one per
    object.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  objects:
    description:
      - The objects (full manifests or just C(apiVersion), C(kind) and C(metadata)).
    type: list
    elements: dict
    required: true
  owner_labels:
    description: The labels that mark an object as ours.
    type: dict
    required: true
  adopt:
    description:
      - Objects the user explicitly allows to be taken over, as C(<Kind>/<namespace>/<name>) (namespaced) or
        C(<Kind>/<name>) (cluster-scoped); the roles pass the shared C(xray_adopt) list.
    type: list
    elements: str
    default: []
  adopt_variable:
    description: The name of the variable the user sets to adopt, quoted in messages.
    type: str
    default: xray_adopt
  read:
    description:
      - More objects to read (not checked for ownership), given like O(objects). Those that exist are in RV(live).
    type: list
    elements: dict
    default: []
    version_added: 0.2.0
  on_foreign:
    description: Fail, or only report, when a foreign object is found.
    type: str
    choices: [fail, report]
    default: fail
  require:
    description:
      - Objects that must exist, each with the message to fail with when it does not. The module reads them (and the
        namespace of a namespaced one) with the other objects, and fails on the missing ones after the ownership check.
      - A namespaced object counts as missing only when its namespace exists; require the Namespace itself with an
        entry of its own where the role may not create it. All messages of the missing objects are joined into one
        failure, and nothing is changed (the module only reads).
    type: list
    elements: dict
    default: []
    version_added: 0.2.0
    suboptions:
      object:
        description: The object, given like the items of O(objects).
        type: dict
        required: true
      msg:
        description: The failure message when the object does not exist; name the variable that decides it.
        type: str
        required: true
attributes:
  check_mode:
    description: Can run in check mode.
    support: full
  diff_mode:
    description: Returns a diff.
    support: none
  platform:
    description: Target it acts on.
    support: full
    platforms: kubernetes
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
requirements:
  - kubernetes
"""

EXAMPLES = r"""
- name: Stop before applying over objects we did not create
  tracing.xray.k8s_ownership:
    objects: "{{ manifests }}"
    owner_labels: {app.kubernetes.io/managed-by: tracing.xray, app.kubernetes.io/component: daemon}
    adopt: "{{ xray_adopt | default([]) }}"

- name: The same, and fail when the namespace does not exist
  tracing.xray.k8s_ownership:
    objects: "{{ manifests | rejectattr('kind', 'equalto', 'Namespace') | list }}"
    owner_labels: {app.kubernetes.io/managed-by: tracing.xray}
    require:
      - object: {apiVersion: v1, kind: Namespace, metadata: {name: xray-system}}
        msg: namespace xray-system does not exist and create_namespace is false.
"""

RETURN = r"""
foreign:
  description: The objects that exist without the owner labels (and are not adopted).
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: Kind., type: str}
    namespace: {description: Namespace (empty for cluster-scoped objects)., type: str}
    name: {description: Name., type: str}
    labels: {description: The object's labels., type: dict}
    managers: {description: Field managers that wrote the object (metadata.managedFields)., type: list, elements: str}
    adopt_entry: {description: The O(adopt) entry that would take it over., type: str}
adopted:
  description: The O(adopt) entries that matched a foreign object (it may be taken over).
  returned: always
  type: list
  elements: str
owned:
  description: How many of O(objects) exist and carry the owner labels.
  returned: always
  type: int
live:
  description:
    - Every object of O(objects), O(read) and O(require) (and the namespace of a required namespaced object) that
      exists, keyed by its O(adopt) entry (C(<Kind>/<namespace>/<name>) or C(<Kind>/<name>)). Only labels and the
      selector, never the rest of the object (a Secret's data stays out).
  returned: always
  type: dict
  sample: {"Namespace/xray": {"labels": {"app.kubernetes.io/managed-by": "tracing.xray"}, "match_labels": {}}}
  version_added: 0.2.0
"""

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import api_failure_message
from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import connection_message
from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import first_answer_deadline
from ansible_collections.tracing.xray.plugins.module_utils.k8s_ownership import adopt_entry
from ansible_collections.tracing.xray.plugins.module_utils.k8s_ownership import describe_foreign
from ansible_collections.tracing.xray.plugins.module_utils.k8s_ownership import foreign_message
from ansible_collections.tracing.xray.plugins.module_utils.k8s_ownership import live_summary
from ansible_collections.tracing.xray.plugins.module_utils.k8s_ownership import missing_required
from ansible_collections.tracing.xray.plugins.module_utils.k8s_ownership import object_ref
from ansible_collections.tracing.xray.plugins.module_utils.k8s_ownership import with_required_reads

try:
    from kubernetes.dynamic.exceptions import NotFoundError
except ImportError:
    pass  # AnsibleK8SModule reports the missing library


def read(client, ref):
    """The live object of ``ref`` as a dict, or None."""
    resource = client.resource(ref["kind"], ref["api_version"])
    try:
        obj = client.get(resource, name=ref["name"], namespace=ref["namespace"] or None)
    except NotFoundError:
        return None
    return obj.to_dict()


def main():
    argument_spec = dict(
        objects=dict(type="list", elements="dict", required=True),
        owner_labels=dict(type="dict", required=True),
        adopt=dict(type="list", elements="str", default=[]),
        adopt_variable=dict(type="str", default="xray_adopt"),
        read=dict(type="list", elements="dict", default=[]),
        on_foreign=dict(type="str", choices=["fail", "report"], default="fail"),
        require=dict(type="list", elements="dict", default=[],
                     options=dict(object=dict(type="dict", required=True), msg=dict(type="str", required=True))),
    )
    argument_spec.update(AUTH_ARG_SPEC)
    module = AnsibleK8SModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        refs = [object_ref(obj) for obj in params["objects"]]
    except ValueError as e:
        module.fail_json(msg=f"objects: {e}")
    try:
        extra = [object_ref(obj) for obj in params["read"]]
    except ValueError as e:
        module.fail_json(msg=f"read: {e}")
    try:
        required = [(object_ref(item["object"]), item["msg"]) for item in params["require"]]
    except ValueError as e:
        module.fail_json(msg=f"require: {e}")
    extra = with_required_reads(refs, extra, [ref for ref, _msg in required])
    try:
        with first_answer_deadline():
            client = get_api_client(module=module)
        found = [(ref, read(client, ref)) for ref in refs]
        # a ref of O(read) that is also in O(objects) was read above
        extra_found = [(ref, read(client, ref)) for ref in extra if ref not in refs]
    except CoreException as e:
        module.fail_json(msg=connection_message(module.params, e))
    except Exception as e:  # pylint: disable=broad-exception-caught  # the client raises many kinds; one clean message
        module.fail_json(msg=api_failure_message(module.params, e, "Could not read the objects from the Kubernetes API server"))

    foreign, adopted, owned = describe_foreign(found, params["owner_labels"], params["adopt"])
    live = {adopt_entry(ref): live_summary(obj) for ref, obj in found + extra_found if obj is not None}
    result = dict(changed=False, foreign=foreign, adopted=adopted, owned=owned, live=live)
    if foreign:
        message = foreign_message(foreign, params["owner_labels"], params["adopt_variable"])
        if params["on_foreign"] == "fail":
            module.fail_json(msg=message, **result)
        module.warn(message.split("; refusing", maxsplit=1)[0] + "; leaving it in place.")
    missing = missing_required(required, live)
    if missing:
        module.fail_json(msg=" ".join(missing), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
