# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Runs tracing.xray.xray_trace_summary_info in Ansible's worker where it may (plugins/plugin_utils/in_worker.py)."""

from __future__ import annotations

from ansible_collections.tracing.xray.plugins.plugin_utils.in_worker import action_for

ActionModule = action_for(__name__)
