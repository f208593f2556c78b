# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the input-check filters (``apps_problems``, ``daemon_problems``, ``irsa_problems``) share: Ansible's and Jinja's
semantics for the tests and filters the roles' checks were written with, so that a check moved from Jinja to Python
accepts and refuses the same values."""

from __future__ import annotations

import re

from ansible.module_utils.common.text.converters import to_text

# The names and the region every role checks (the same patterns as the roles' remaining Jinja checks).
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DNS1035_LABEL = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
REGION = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"


def match(pattern, value):
    """Ansible's ``match`` test: ``re.match`` on the value as text."""
    return re.match(pattern, to_text(value, errors="surrogate_or_strict")) is not None


def jinja_int(value):
    """Jinja's ``int`` filter: the integer, or 0 when the value is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return 0
