# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""tracing.xray.k8s_info: kubernetes.core.k8s_info (its action plugin and its module, unchanged), with the module run in Ansible's
worker where it may (plugins/plugin_utils/in_worker.py)."""

from __future__ import annotations

from ansible_collections.kubernetes.core.plugins.action.k8s_info import ActionModule as KubernetesCoreAction
from ansible_collections.tracing.xray.plugins.plugin_utils.in_worker import InWorkerMixin
from ansible_collections.tracing.xray.plugins.plugin_utils.in_worker import warm

warm("ansible_collections.kubernetes.core.plugins.modules.k8s_info")


class ActionModule(InWorkerMixin, KubernetesCoreAction):
    IN_WORKER_MODULE = "kubernetes.core.k8s_info"
