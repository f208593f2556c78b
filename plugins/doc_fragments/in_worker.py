# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """What C(tracing.xray.k8s) and C(tracing.xray.k8s_info) share: kubernetes.core's module, run in the worker."""

    DOCUMENTATION = r"""
options: {}
notes:
  - Where the task runs on the controller (C(ansible_connection=local), no C(become), no C(async),
    C(ansible_python_interpreter) is the playbook's own Python), the module runs inside the worker process that
    Ansible forks for the task, instead of a new Python process; the Kubernetes client is imported once per
    playbook run, not once per task. Anywhere else, and with C(xray_in_worker=false), it runs the normal way.
  - It is in the action group C(tracing.xray.k8s), so C(module_defaults) of that group (kubeconfig, context) reach it.
  - The module file only documents it; the action plugin of the same name runs kubernetes.core's module.
"""
