# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Module attributes (check mode, diff mode, platform), in the layout ansible-core's own modules use.

    Every module extends C(tracing.xray.attributes) (the descriptions and the platform) and one of
    C(tracing.xray.attributes.check_diff) (modules that change AWS) or C(tracing.xray.attributes.info_module)
    (modules that only read).
    """

    # The descriptions, and the platform every module of this collection acts on.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: aws
"""

    # Modules that change AWS: full check mode and diff support.
    CHECK_DIFF = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

    # Modules that only read.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
"""
