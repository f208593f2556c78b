from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import check_artifact  # noqa: E402
import get_pip_offline  # noqa: E402

GOOD = ["MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.rst", "COPYING", "changelogs/changelog.yaml",
        "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
        "plugins", "plugins/modules", "plugins/modules/x.py", "roles/daemon/tasks/main.yml", "docs/README.md"]


def test_clean_artifact_has_no_problems():
    assert check_artifact.problems(GOOD) == []


@pytest.mark.parametrize("path", ["sandbox/sandbox.py", "bench/run.py", "tests/output/junit.xml",
                                  "plugins/modules/__pycache__/x.pyc", ".cache/build/x",
                                  "molecule/default/converge.yml", "tests/unit/test_x.py", "tools/check_artifact.py"])
def test_development_paths_are_reported(path):
    assert check_artifact.problems([*GOOD, path]) == [f"development-only path in artifact: {path}"]


@pytest.mark.parametrize("path", ["Makefile", "requirements.txt", "constraints.txt", "ansible.cfg", "site.yml"])
def test_paths_off_the_allow_list_are_reported(path):
    assert check_artifact.problems([*GOOD, path]) == [f"not on the allow-list of what a user needs: {path}"]


def test_dotfiles_are_reported():
    assert check_artifact.problems([*GOOD, "roles/daemon/.yamllint"]) == ["dotfile in artifact: roles/daemon/.yamllint"]


def test_missing_manifest_is_reported():
    assert check_artifact.problems(GOOD[1:]) == ["missing from artifact: MANIFEST.json"]


def test_main_reads_a_tarball(tmp_path, capsys):
    path = tmp_path / "c.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in [*GOOD, "sandbox/x"]:
            info = tarfile.TarInfo(name)
            info.size = 0
            tar.addfile(info, io.BytesIO(b""))
    assert check_artifact.main(str(path)) == 1
    assert "sandbox/x" in capsys.readouterr().err


def test_get_pip_standin_drops_get_pip_only_options(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    assert get_pip_offline.main(["--quiet", "--no-setuptools", "pip==24.2", "--no-wheel"]) == 0
    assert calls[0][1:] == ["-m", "ensurepip", "--default-pip"]
    assert calls[1][1:] == ["-m", "pip", "install", "--quiet", "pip==24.2"]
