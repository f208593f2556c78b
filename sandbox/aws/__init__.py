"""EMULATION: the sandbox's AWS-shaped endpoint (moto 5.2.5 in server mode + an X-Ray extension).

``start_server`` / ``stop_server`` live in ``sandbox.aws.server``; they are re-exported lazily so that
``python -m sandbox.aws.server`` does not import the module twice. See README.md beside this file.
"""

from __future__ import annotations

from typing import Any

_LAZY = ("start_server", "stop_server")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import server

        return getattr(server, name)
    raise AttributeError(name)
