# -*- coding: utf-8 -*-

# Copyright: Contributors to the tracing.xray project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ownership contract for Kubernetes objects (see docs/ownership.md): an object with one of our names that
lacks our labels is someone else's; it is neither taken over nor deleted unless the user adopts it.

Pure functions (no client), used by the ``k8s_ownership`` module and its unit tests.
"""

from __future__ import annotations


def object_ref(obj):
    """``{api_version, kind, name, namespace}`` of a manifest or reference; ValueError names what is missing."""
    if not isinstance(obj, dict):
        raise ValueError(f"each object must be a mapping, got {type(obj).__name__}")
    meta = obj.get("metadata") or {}
    ref = dict(api_version=obj.get("apiVersion") or obj.get("api_version") or "", kind=obj.get("kind") or "",
               name=meta.get("name") or obj.get("name") or "", namespace=meta.get("namespace") or obj.get("namespace") or "")
    missing = [key for key in ("api_version", "kind", "name") if not ref[key]]
    if missing:
        raise ValueError(f"{ref['kind'] or 'an object'} {ref['name']!r} lacks {', '.join(missing)}")
    return ref


def adopt_entry(ref):
    """The ``xray_adopt`` entry of an object: ``Kind/namespace/name`` or ``Kind/name``."""
    return "/".join(part for part in (ref["kind"], ref["namespace"], ref["name"]) if part)


def live_summary(obj):
    """What a role decides on from a live object: its labels and its selector's matchLabels (nothing else, so a
    Secret's data never leaves the module)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    selector = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
    return dict(labels=meta.get("labels") or {}, match_labels=selector.get("matchLabels") or {})


def namespace_ref(ref):
    """The reference of the Namespace of a namespaced object ``ref`` (None for a cluster-scoped one)."""
    if not ref["namespace"]:
        return None
    return dict(api_version="v1", kind="Namespace", name=ref["namespace"], namespace="")


def with_required_reads(objects, extra, required):
    """``extra`` (the refs read besides ``objects``) with the ``required`` refs and the namespaces of the namespaced ones
    added, so that each object is read once."""
    out = list(extra)
    for ref in list(required) + [namespace_ref(ref) for ref in required]:
        if ref is not None and ref not in objects and ref not in out:
            out.append(ref)
    return out


def missing_required(required, live):
    """The messages of the required objects that do not exist. ``required`` is a list of ``(ref, msg)``; ``live`` holds
    the adopt entries of the objects that exist. A namespaced object counts only when its namespace exists: in a
    namespace that does not exist yet it cannot exist either, and the Namespace is required by an entry of its own
    when the role may not create it."""
    missing = []
    for ref, msg in required:
        if adopt_entry(ref) in live:
            continue
        namespace = namespace_ref(ref)
        if namespace is not None and adopt_entry(namespace) not in live:
            continue
        missing.append(msg)
    return missing


def has_labels(labels, wanted):
    return all((labels or {}).get(key) == value for key, value in (wanted or {}).items())


def describe_foreign(found, owner_labels, adopt):
    """(foreign objects, adopted entries, number owned) from ``(ref, live object or None)`` pairs."""
    foreign, adopted, owned = [], [], 0
    for ref, live in found:
        if live is None:
            continue
        meta = live.get("metadata") or {}
        labels = meta.get("labels") or {}
        if has_labels(labels, owner_labels):
            owned += 1
            continue
        entry = adopt_entry(ref)
        if entry in adopt:
            adopted.append(entry)
            continue
        managers = sorted({m.get("manager", "") for m in meta.get("managedFields") or []} - {""})
        foreign.append(dict(kind=ref["kind"], namespace=ref["namespace"], name=ref["name"], labels=labels,
                            managers=managers, adopt_entry=entry))
    return foreign, adopted, owned


def foreign_message(foreign, owner_labels, adopt_variable="xray_adopt"):
    """One message for every foreign object: what it is, who appears to own it, and the ways out."""
    wanted = ", ".join(f"{k}={v}" for k, v in sorted(owner_labels.items()))
    parts = []
    for item in foreign:
        where = f"{item['namespace']}/{item['name']}" if item["namespace"] else item["name"]
        labels = ", ".join(f"{k}={v}" for k, v in sorted(item["labels"].items())) or "no labels"
        managers = f"; written by {', '.join(item['managers'])}" if item["managers"] else ""
        parts.append(f"{item['kind']} {where} ({labels}{managers})")
    entries = ", ".join(repr(item["adopt_entry"]) for item in foreign)
    return (f"tracing.xray: {'; '.join(parts)} already exist{'s' if len(foreign) == 1 else ''} without the labels {wanted}, "
            f"so tracing.xray did not create {'it' if len(foreign) == 1 else 'them'}; refusing to take {'it' if len(foreign) == 1 else 'them'} over. "
            f"Give ours other names (see the role's *_name and *_namespace variables), remove yours, or add {entries} "
            f"to {adopt_variable} to let tracing.xray take {'it' if len(foreign) == 1 else 'them'} over (replacing spec and labels).")
