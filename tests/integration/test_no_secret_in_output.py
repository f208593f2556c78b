"""No credential value reaches the output of a run, at -vvv and in diff mode (issue 17).

The apps role with the ``usermgmt`` preset takes ``apps_usermgmt_db_password`` and ``apps_usermgmt_smtp_password``
(and the SMTP user name, also stored in the Secret). The role runs against the sandbox with recognisable values at
``-vvv --diff``: in check mode before the namespace exists and for real (default stdout callback), in check mode with
changed credentials (a server-side dry run against the stored Secret) and for real with them (json callback, which
prints whole results), then its absent path through tracing.xray.cleanup. No value may appear in stdout or stderr, neither as given nor base64
encoded (as a Secret's ``data`` carries it) nor JSON-escaped.
"""

from __future__ import annotations

import base64
import json
import os
import secrets

import pytest
from plays import role_play

SUFFIX = secrets.token_hex(3)


def _forms(value: str) -> set[str]:
    """The value as given, base64 encoded (Secret data) and without base64 padding, and JSON-quoted."""
    encoded = base64.b64encode(value.encode()).decode()
    return {value, encoded, encoded.rstrip("="), json.dumps(value)[1:-1]}


def _credentials(tag: str) -> dict:
    token = secrets.token_hex(8)
    return {
        "apps_usermgmt_db_password": f"LEAKCHECK-db-{tag}-{token}",
        "apps_usermgmt_smtp_username": f"LEAKCHECK-smtpuser-{tag}-{token}",
        "apps_usermgmt_smtp_password": f"LEAKCHECK-smtp-{tag}-{token}",
    }


@pytest.fixture
def play(run_playbook, repo, sandbox):
    def _play(text, callback="ansible.builtin.default", **kw):
        env = {"ANSIBLE_STDOUT_CALLBACK": callback, "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml"}
        return run_playbook(text, inventory=os.path.join(repo, "inventories", "sandbox"), env=env, verbosity=3, diff=True, **kw)

    return _play


def test_apps_usermgmt_credentials_never_in_output(play):
    ns = f"it-leak-{SUFFIX}"
    first, second = _credentials("one"), _credentials("two")
    base = dict(apps_namespace=ns, apps_preset="usermgmt", apps_ingress_enabled=True, apps_wait=False)
    # The human stdout callback and the json one (which prints whole results); each run at -vvv --diff.
    steps = [
        ("check mode, namespace missing", first, {"check": True}, "ansible.builtin.default"),
        ("apply", first, {}, "ansible.builtin.default"),
        ("check mode, credentials changed", second, {"check": True}, "ansible.posix.json"),
        ("apply, credentials changed", second, {}, "ansible.posix.json"),
    ]
    runs = []
    try:
        for label, creds, kw, callback in steps:
            run = play(role_play("apps", **base, **creds), callback, **kw)
            runs.append((label, run))
            assert run.rc == 0, f"{label}: {run.explain()}"
            # really -vvv: the connection plugin's messages are there
            assert "ESTABLISH LOCAL CONNECTION" in run.stdout, f"{label}: not verbose"
    finally:
        # the apps role's absent path (Secrets deleted, the API answers with them), then the namespace
        gone = play(role_play("cleanup", cleanup_roles=["apps"], cleanup_namespaces=[ns], xray_apps_namespace=ns))
        runs.append(("cleanup (apps absent path)", gone))
    assert gone.rc == 0, gone.explain()

    leaks = []
    for label, run in runs:
        for stream, text in (("stdout", run.stdout), ("stderr", run.stderr)):
            for name, value in list(first.items()) + list(second.items()):
                for form in _forms(value):
                    if form in text:
                        at = text.index(form)
                        leaks.append(f"{label} {stream}: {name} ({form!r}) ...{text[max(0, at - 300):at + 80]}...")
    assert not leaks, "credentials in the output:\n" + "\n\n".join(leaks[:5])
