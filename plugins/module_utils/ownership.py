# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ownership contract of the AWS resources this collection manages, in one place.

A resource is *ours* when it carries every one of the module's ``ownership_tags`` (same key, same value; values
compared as strings). With ``ownership_tags`` given:

- a resource the module creates carries ``tags`` plus ``ownership_tags``;
- ``state=present`` on an existing resource that is not ours fails before any change, with the message of
  ``refusal_message()`` (who appears to own it and what to do), unless ``adopt=true``, which takes it over: the
  ownership tags are set and other tags removed as ``purge_tags`` says. (``iam_oidc_provider`` is the exception:
  an OIDC provider is shared per issuer, so a foreign one is used as it is, with a warning.)
- ``state=absent`` on an existing resource that is not ours does not delete it: ``changed=false``, ``owned=false``
  and the warning of ``not_deleting_message()``; it never fails, so a teardown continues and reports.

Without ``ownership_tags`` every resource counts as ours (plain module use, as before this contract).

The groups role exposes ``adopt`` as the shared ``xray_adopt`` list; ``adopt_entry()`` builds its entries
(``XRayGroup/<name>``, ``XRaySamplingRule/<name>``) and the refusal message names the exact entry.

Pure Python apart from amazon.aws' tag comparison (no botocore), so the controller-side filters use it too.
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

# Argument-spec fragment of every module that follows the contract (documented by the
# ``tracing.xray.ownership`` doc fragment).
OWNERSHIP_OPTIONS = dict(
    ownership_tags=dict(type="dict"),
    adopt=dict(type="bool", default=False),
)

# The kinds of the ``xray_adopt`` entries (``<kind>/<name>``) and how the messages name them.
KIND_LABELS = {
    "XRayGroup": "X-Ray group",
    "XRaySamplingRule": "X-Ray sampling rule",
    "IAMOIDCProvider": "IAM OIDC provider",
    "EKSPodIdentityAssociation": "EKS Pod Identity association",
    "IAMRole": "IAM role",
}


def adopt_entry(kind, name):
    """The ``xray_adopt`` entry that lets the roles take over ``kind`` ``name``, e.g. ``XRayGroup/front-end-errors``."""
    return f"{kind}/{name}"


def _text(value):
    return "" if value is None else str(value)


def format_tags(tags):
    """``k=v, k2=v2`` (sorted), or ``no tags``."""
    if not tags:
        return "no tags"
    return ", ".join(f"{key}={_text(value)}" for key, value in sorted(tags.items(), key=lambda kv: str(kv[0])))


def is_owned(current_tags, ownership_tags):
    """True when ``current_tags`` carries every key and value of ``ownership_tags`` (values compared as strings).

    Without ``ownership_tags`` everything is ours.
    """
    current = {str(key): _text(value) for key, value in (current_tags or {}).items()}
    return all(current.get(str(key)) == _text(value) for key, value in (ownership_tags or {}).items())


def missing_ownership_tags(current_tags, ownership_tags):
    """The ownership tags ``current_tags`` lacks or carries with another value."""
    current = {str(key): _text(value) for key, value in (current_tags or {}).items()}
    return {str(k): _text(v) for k, v in (ownership_tags or {}).items() if current.get(str(k)) != _text(v)}


def _resource(kind, name, arn=None):
    label = KIND_LABELS.get(kind, kind)
    return f"{label} {name!r}" + (f" ({arn})" if arn and arn != name else "")


def refusal_message(kind, name, current_tags, ownership_tags, arn=None, adopt_hint=None):
    """Why ``state=present`` refuses an existing resource that is not ours, who appears to own it, and what to do.

    ``kind`` is one of ``KIND_LABELS`` (or any label); ``adopt_hint`` the exact ``xray_adopt`` entry of the roles
    (``adopt_entry(kind, name)``), mentioned when given.
    """
    missing = missing_ownership_tags(current_tags, ownership_tags)
    todo = "choose another name, or take it over with adopt: true on the module"
    if adopt_hint:
        todo += f" (in the tracing.xray roles: add {adopt_hint!r} to xray_adopt)"
    return (
        f"{_resource(kind, name, arn)} already exists and is not ours: it lacks the ownership tags {format_tags(missing)} "
        f"and appears to belong to whoever set its tags ({format_tags(current_tags)}). Nothing was changed. "
        f"To manage it here, {todo}."
    )


def not_deleting_message(kind, name, current_tags, ownership_tags, arn=None):
    """The warning of ``state=absent`` on a resource that is not ours."""
    missing = missing_ownership_tags(current_tags, ownership_tags)
    return (
        f"{_resource(kind, name, arn)} lacks the ownership tags {format_tags(missing)} (its tags: {format_tags(current_tags)}): "
        "not deleting it, it is not ours"
    )


def desired_tags(params):
    """The tags a resource should carry: the module's ``tags`` plus its ``ownership_tags`` (values as strings)."""
    tags = {str(k): _text(v) for k, v in (params.get("tags") or {}).items()}
    tags.update({str(k): _text(v) for k, v in (params.get("ownership_tags") or {}).items()})
    return tags


def ownership_tag_changes(params, current_tags):
    """(tags to set, sorted by key; sorted tag keys to remove) to go from ``current_tags`` to ``desired_tags(params)``.

    Nothing changes when neither ``tags`` nor ``ownership_tags`` is given; other tags are removed only when
    ``purge_tags`` is set and ``tags`` is given.
    """
    if params.get("tags") is None and not params.get("ownership_tags"):
        return {}, []
    purge = bool(params.get("purge_tags")) and params.get("tags") is not None
    to_set, to_remove = compare_aws_tags(current_tags or {}, desired_tags(params), purge_tags=purge)
    # compare_aws_tags builds its result from sets: sort, so that requests (and diffs) do not depend on hash order.
    return dict(sorted(to_set.items())), sorted(to_remove)


def tags_after(current_tags, to_set, to_remove):
    """The tags a resource carries once ``to_remove`` are removed and ``to_set`` are set."""
    tags = {k: v for k, v in (current_tags or {}).items() if k not in to_remove}
    tags.update({k: _text(v) for k, v in to_set.items()})
    return tags


def check_present(module, kind, name, current_tags, arn=None, adopt_hint=None):
    """For ``state=present`` on an existing resource: True when it is ours or adopted; fails the module otherwise.

    Call it before any change. ``module.params`` must carry ``ownership_tags`` and ``adopt`` (``OWNERSHIP_OPTIONS``).
    """
    params = module.params
    ownership = params.get("ownership_tags") or {}
    if is_owned(current_tags, ownership):
        return True
    if params.get("adopt"):
        module.warn(f"adopting {_resource(kind, name, arn)} (adopt=true): its tags were {format_tags(current_tags)}")
        return True
    module.fail_json(msg=refusal_message(kind, name, current_tags, ownership, arn=arn, adopt_hint=adopt_hint), owned=False, changed=False)
    return False  # not reached outside tests


def check_absent(module, kind, name, current_tags, arn=None):
    """For ``state=absent`` on an existing resource: True when it is ours (may be deleted); otherwise warns and
    returns False (the caller exits with ``changed=false``, ``owned=false``). Never fails."""
    ownership = module.params.get("ownership_tags") or {}
    if is_owned(current_tags, ownership):
        return True
    module.warn(not_deleting_message(kind, name, current_tags, ownership, arn=arn))
    return False
