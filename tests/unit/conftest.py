"""Make the checkout importable as ``ansible_collections.tracing.xray`` for pytest.

``make setup`` links the checkout at ``.cache/collections/ansible_collections/tracing/xray``; the
``ansible`` package provides ``ansible_collections.amazon.aws`` and ``ansible_collections.kubernetes.core``
in site-packages. Both halves are namespace packages, so adding the link's root to ``sys.path`` is enough.
"""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_ROOT = os.path.join(REPO, ".cache", "collections")
LINK = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "tracing", "xray")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)
if REPO not in sys.path:
    sys.path.insert(0, REPO)
