#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s
version_added: 0.2.0
short_description: Manage Kubernetes objects with kubernetes.core.k8s, in Ansible's worker process
description:
  - Runs M(kubernetes.core.k8s), unchanged, with the same options and the same return values; see that module for
    both. Its action plugin and its module are kubernetes.core's own.
  - Where the task runs on the controller (C(ansible_connection=local), no C(become), no C(async),
    C(ansible_python_interpreter) is the playbook's own Python), the module runs inside the worker process that
    Ansible forks for the task, instead of a new Python process; the Kubernetes client is imported once per
    playbook run, not once per task. Anywhere else, and with C(xray_in_worker=false), it runs as
    M(kubernetes.core.k8s) always does.
  - The roles of this collection use it for every Kubernetes task; it is in the action group C(tracing.xray.k8s),
    so C(module_defaults) of that group (kubeconfig, context) reach it.
author:
  - tracing.xray maintainers (@tracing-xray)
options: {}
notes:
  - This file only documents the module; the action plugin of the same name runs M(kubernetes.core.k8s).
seealso:
  - module: kubernetes.core.k8s
"""

EXAMPLES = r"""
- name: Apply the objects in one server-side apply
  tracing.xray.k8s:
    state: present
    apply: true
    server_side_apply:
      field_manager: tracing.xray
    definition: "{{ manifests }}"
"""

RETURN = r"""
# The return values of kubernetes.core.k8s.
"""
