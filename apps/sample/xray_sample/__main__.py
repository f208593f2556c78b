# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m xray_sample frontend|backend``: run one of the two services (see ``common`` for the environment)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    role = args[0] if args else ""
    if role not in ("frontend", "backend"):
        sys.stderr.write("usage: python -m xray_sample frontend|backend\n")
        return 2

    from . import backend, frontend
    from .common import configure_recorder, serve, settings, setup_logging

    setup_logging()
    module = frontend if role == "frontend" else backend
    conf = settings(module.DEFAULT_NAME)
    configure_recorder(conf)
    serve(module.create_app(conf), conf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
