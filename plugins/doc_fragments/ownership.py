# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The ownership contract of the modules that manage tagged AWS resources (module_utils/ownership.py).
    DOCUMENTATION = r"""
options:
  ownership_tags:
    description:
      - Tags that mark the resource as managed by the caller, given as a dictionary, for example C(managed-by=tracing.xray)
        and C(tracing.xray/cluster=cluster-a). A resource is the caller's (the modules return C(owned=true))
        when it carries every one of them with the same value.
      - A resource the module creates carries them in addition to O(tags); they win over O(tags) on the same key.
      - With O(state=present), an existing resource that lacks any of them belongs to someone else (another team, or
        another cluster of the same account and region) and the module B(fails before any change), naming the
        resource, the tags it carries (who appears to own it) and what to do - choose another name, or set
        O(adopt=true). (Exception - M(tracing.xray.iam_oidc_provider) uses such a provider as it is, because IAM has one
        provider per issuer that everyone using the issuer shares.)
      - With O(state=absent), an existing resource that lacks any of them is B(not deleted); the module returns
        C(changed=false) and C(owned=false) with a warning naming it, and never fails (so a teardown goes on and
        reports what it left).
      - When not set, every resource counts as the caller's (plain module use - the module manages whatever exists
        under that name).
    type: dict
  adopt:
    description:
      - With O(state=present) and O(ownership_tags), take over an existing resource that lacks the ownership tags
        instead of failing - set the ownership tags on it (and O(tags)), removing other tags as O(purge_tags) says, and
        update it like one of the caller's own. A warning records the tags it had.
      - Has no effect on a resource that is already the caller's, and none with O(state=absent) (a resource that is not
        the caller's is never deleted).
      - The tracing.xray roles set it from the shared C(xray_adopt) list (entries like C(XRayGroup/front-end-errors)
        or C(XRaySamplingRule/back-end-all)).
    type: bool
    default: false
"""
