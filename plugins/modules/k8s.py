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
    both. Its action plugin and its module are kubernetes.core's own. The roles of this collection use it for every
    Kubernetes task.
author:
  - tracing.xray maintainers (@tracing-xray)
extends_documentation_fragment:
  - tracing.xray.in_worker
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
