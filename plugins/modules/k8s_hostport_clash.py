#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_hostport_clash
version_added: 0.2.0
short_description: Find collectors that are not ours and already hold our ports on the nodes
description:
  - Lists the DaemonSets of every namespace and the bare pods (pods without an owner) and finds those that hold one of
    O(ports) on their nodes, that is a container port with that C(hostPort), or C(hostNetwork=true) with that
    C(containerPort). Objects that carry every label of O(owner_labels) are ours and are skipped; with O(instance),
    only the DaemonSet it names is.
  - With O(on_clash=fail) (the daemon role's pre-check) the module fails, before anything is applied, with a message
    that names each collector (kind, namespace, name, images, ports) and the ways out. With O(on_clash=report) it only
    returns them.
  - Typical case, the EKS add-on C(amazon-cloudwatch-observability), whose agent DaemonSet in namespace
    C(amazon-cloudwatch) holds hostPorts 4315, 4316 and 2000.
  - Reads only; never changes anything, so it runs the same way in check mode.
author:
  - tracing.xray maintainers (@tracing-xray)
options:
  ports:
    description: The ports the collector is to hold on every node (UDP or TCP).
    type: list
    elements: int
    required: true
  owner_labels:
    description: The labels that mark an object as ours.
    type: dict
    required: true
  instance:
    description:
      - The namespace and name of the collector DaemonSet this run manages.
      - When given, only that DaemonSet is skipped. Another collector that carries O(owner_labels) and holds the ports
        is a clash as well, for example the collector of another inventory host on the same cluster, or ours under
        another namespace or name from an earlier run.
      - When omitted, every object that carries O(owner_labels) is skipped.
    type: dict
    version_added: 0.2.0
    suboptions:
      namespace:
        description: Namespace of the DaemonSet.
        type: str
        required: true
      name:
        description: Name of the DaemonSet.
        type: str
        required: true
  on_clash:
    description: Fail, or only report, when a collector is found.
    type: str
    choices: [fail, report]
    default: fail
  service_hint:
    description: The C(<service>.<namespace>) the failure message suggests for C(apps_daemon_service_address); empty for a placeholder.
    type: str
    default: ""
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
- name: Stop when another collector already holds port 2000 on the nodes
  tracing.xray.k8s_hostport_clash:
    ports: [2000]
    owner_labels: {app.kubernetes.io/managed-by: tracing.xray}
    instance: {namespace: xray-system, name: xray-daemon}
"""

RETURN = r"""
clashes:
  description: The collectors that hold one of O(ports) on their nodes and are not ours.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: C(DaemonSet) or C(Pod)., type: str}
    namespace: {description: Namespace., type: str}
    name: {description: Name., type: str}
    images: {description: Images of its containers., type: list, elements: str}
    host_network: {description: Whether its pods run in the host network., type: bool}
    ports: {description: 'Which of O(ports) it holds, as C(<port>/<protocol>).', type: list, elements: str}
    node_selector: {description: Its pods' node selector., type: dict}
    labels: {description: Its labels., type: dict}
"""

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import api_failure_message
from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import connection_message
from ansible_collections.tracing.xray.plugins.module_utils.k8s_connection import first_answer_deadline

from ansible_collections.tracing.xray.plugins.module_utils.collector_clash import clash_message
from ansible_collections.tracing.xray.plugins.module_utils.collector_clash import find_clashes


def list_all(client, api_version, kind):
    """Every object of a kind in every namespace, as dicts."""
    resource = client.resource(kind, api_version)
    return [item.to_dict() for item in client.get(resource).items]


def main():
    argument_spec = dict(
        ports=dict(type="list", elements="int", required=True),
        owner_labels=dict(type="dict", required=True),
        instance=dict(type="dict", options=dict(namespace=dict(type="str", required=True), name=dict(type="str", required=True))),
        on_clash=dict(type="str", choices=["fail", "report"], default="fail"),
        service_hint=dict(type="str", default=""),
    )
    argument_spec.update(AUTH_ARG_SPEC)
    module = AnsibleK8SModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        with first_answer_deadline():
            client = get_api_client(module=module)
        daemon_sets = list_all(client, "apps/v1", "DaemonSet")
        pods = list_all(client, "v1", "Pod")
    except CoreException as e:
        module.fail_json(msg=connection_message(module.params, e))
    except Exception as e:  # pylint: disable=broad-exception-caught  # the client raises many kinds; one clean message
        module.fail_json(msg=api_failure_message(module.params, e, "Could not list the DaemonSets and pods from the Kubernetes API server"))

    clashes = find_clashes(daemon_sets, pods, params["ports"], params["owner_labels"], params["instance"])
    result = dict(changed=False, clashes=clashes)
    if clashes and params["on_clash"] == "fail":
        module.fail_json(msg=clash_message(clashes, params["ports"], params["service_hint"] or None), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
