#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_info
version_added: 0.2.0
short_description: Read Kubernetes objects with kubernetes.core.k8s_info, in Ansible's worker process
description:
  - Runs M(kubernetes.core.k8s_info), unchanged, with the same options and the same return values; see that module for
    both. Its action plugin and its module are kubernetes.core's own. The roles of this collection use it for every
    Kubernetes task.
author:
  - tracing.xray maintainers (@tracing-xray)
extends_documentation_fragment:
  - tracing.xray.in_worker
seealso:
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Read the DaemonSet
  tracing.xray.k8s_info:
    kind: DaemonSet
    namespace: xray-system
    name: xray-daemon
  register: daemonset
"""

RETURN = r"""
# The return values of kubernetes.core.k8s_info.
"""
