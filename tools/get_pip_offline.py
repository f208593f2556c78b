#!/usr/bin/env python3
"""Offline stand-in for the get-pip.py script that ansible-test downloads.

ansible-test bootstraps pip in each sanity virtualenv with a get-pip.py it fetches from a host that is
not reachable from our build machines. It looks for a cached copy first, at
``~/.ansible/test/cache/get_pip_<version>.py``; ``make sanity`` installs this file there.

It does what get-pip.py does, from what the interpreter already has: the bundled ``ensurepip`` wheel,
then ``pip install`` of the requested packages (pip itself, at the version ansible-test asks for) from
the package index, which is reachable. ``--no-setuptools`` / ``--no-wheel`` are get-pip options that
pip does not know, so they are dropped.
"""

from __future__ import annotations

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main(argv: list[str]) -> int:
    args = [arg for arg in argv if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    if args:
        subprocess.run([sys.executable, "-m", "pip", "install", *args], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
