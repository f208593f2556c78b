"""Unit tests of the sandbox's image builder (sandbox/images.py) and apt helper (sandbox/debpkgs.py): pure logic only."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tarfile

import pytest
import yaml

from sandbox import debpkgs
from sandbox import images

REPO = images.REPO


def _load(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# --------------------------------------------------------------------------------------------- names


@pytest.mark.parametrize("ref, expected", [
    ("rnzdocker1/x:t", "docker.io/rnzdocker1/x:t"),
    ("python:3.13-alpine", "docker.io/library/python:3.13-alpine"),
    ("docker.io/library/python:3.13-alpine", "docker.io/library/python:3.13-alpine"),
    ("index.docker.io/library/python:3", "docker.io/library/python:3"),
    ("busybox", "docker.io/library/busybox:latest"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("public.ecr.aws/xray/aws-xray-daemon:3.6.6", "public.ecr.aws/xray/aws-xray-daemon:3.6.6"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("localhost/app:1", "localhost/app:1"),
    ("quay.io/a/b@sha256:" + "0" * 64, "quay.io/a/b@sha256:" + "0" * 64),
])
def test_normalize_ref_like_kubelet(ref, expected):
    assert images.normalize_ref(ref) == expected


def test_tag_of():
    assert images.tag_of("docker.io/rnzdocker1/x:abc") == "abc"
    assert images.tag_of("localhost:5000/app:1") == "1"
    assert images.tag_of("localhost:5000/app") == "latest"


def test_names_are_read_from_the_role_files():
    names = {d["id"]: [images.resolve_name(ref["name"]) for ref in d["refs"]] for d in images.IMAGES}
    daemon = _load("roles", "daemon", "vars", "flavors", "xray.yml")
    chaos = _load("roles", "chaos", "defaults", "main.yml")
    workshop = _load("roles", "apps", "vars", "main.yml")["_apps_presets"]["workshop"]["services"]
    assert names["pause"] == [images.PAUSE_IMAGE]
    assert names["xray-daemon"] == [images.normalize_ref(f"{daemon['_daemon_flavor_image']}:{daemon['_daemon_flavor_image_tag']}")]
    assert names["python"] == [images.normalize_ref(chaos["chaos_image"])]
    assert names["sample"] == [images.normalize_ref(svc["image"]) for svc in workshop]
    # the names kubelet resolves the manifests' strings to
    assert all(n.startswith("docker.io/rnzdocker1/eks-workshop-x-ray-sample-") for n in names["sample"])


def test_sample_refs_run_frontend_and_backend():
    sample = next(d for d in images.IMAGES if d["id"] == "sample")
    cmds = {ref["name"]["service"]: ref["config"]["Cmd"] for ref in sample["refs"]}
    assert cmds == {"x-ray-sample-front-k8s": ["frontend"], "x-ray-sample-back-k8s": ["backend"]}
    assert sample["config"]["Entrypoint"] == ["python3", "-m", "xray_sample"]


def test_preset_images_and_top_level_parser(tmp_path):
    path = tmp_path / "main.yml"
    path.write_text(
        "---\n"
        "image_a: 'example.com/a:1'  # comment\n"
        "image_b: b   # trailing\n"
        "templated: \"{{ x }}\"\n"
        "_apps_presets:\n"
        "  one:\n"
        "    services:\n"
        "      - name: s1\n"
        "        image: org/s1:v1\n"
        "        env: {name: nope}\n"
        "      # a comment\n"
        "      - name: s2\n"
        "        port: 1\n"
        "        image: \"org/s2:v2\"\n"
        "  two:\n"
        "    services:\n"
        "      - name: s3\n"
        "        image: org/s3:v3\n"
        "other: 1\n")
    assert images.yaml_top_level(str(path), "image_a") == "example.com/a:1"
    assert images.yaml_top_level(str(path), "image_b") == "b"
    with pytest.raises(images.ImageBuildError):
        images.yaml_top_level(str(path), "templated")
    with pytest.raises(images.ImageBuildError):
        images.yaml_top_level(str(path), "image")
    assert images.preset_images(str(path), "one") == {"s1": "org/s1:v1", "s2": "org/s2:v2"}
    assert images.preset_images(str(path), "two") == {"s3": "org/s3:v3"}
    with pytest.raises(images.ImageBuildError):
        images.preset_images(str(path), "three")


# --------------------------------------------------------------------------------------------- keys


@pytest.fixture()
def fake_repo(tmp_path):
    """A tiny repository with everything a definition can read."""
    repo = tmp_path / "repo"
    (repo / "roles" / "r" / "defaults").mkdir(parents=True)
    (repo / "roles" / "r" / "defaults" / "main.yml").write_text("r_image: org/app\nr_tag: \"1.0\"\n")
    (repo / "app" / "pkg").mkdir(parents=True)
    (repo / "app" / "pkg" / "__init__.py").write_text("x = 1\n")
    (repo / "requirements.txt").write_text("flask==3\n")
    (repo / "constraints.txt").write_text("flask==3\nwerkzeug==3\n")
    binary = tmp_path / "bin" / "tool"
    binary.parent.mkdir()
    binary.write_bytes(b"\x7fELF v1")
    definitions = [
        {"id": "base", "layers": [{"files": [{"path": "/tool", "gobin": "tool", "mode": 0o755},
                                             {"path": "/etc/x", "text": "x\n", "mode": 0o644}]}],
         "config": {"Entrypoint": ["/tool"], "Labels": {"v": "{version:tool}"}}, "refs": [{"name": "example.com/base:1"}]},
        {"id": "app", "base": "base",
         "layers": [{"pip": {"requirements": "requirements.txt", "constraints": "constraints.txt"}, "path": "/app/site"},
                    {"tree": "app/pkg", "path": "/app/pkg"}],
         "config": {"Cmd": ["run"]},
         "refs": [{"name": {"role": "r", "file": "defaults", "image": "r_image", "tag": "r_tag"}}]},
    ]
    return {"repo": repo, "binary": binary, "definitions": definitions}


def _keys(fake, **overrides):
    plans = images.plan(overrides.get("definitions", fake["definitions"]), {"tool": str(fake["binary"])}, str(fake["repo"]),
                        overrides.get("versions", {"tool": "v1.0"}))
    return {ident: spec["key"] for ident, spec in plans.items()}, plans


def test_plan_resolves_names_and_versions(fake_repo):
    plans = _keys(fake_repo)[1]
    assert plans["app"]["refs"][0]["name"] == "docker.io/org/app:1.0"
    assert plans["base"]["config"]["Labels"]["v"] == "1.0"
    assert len(plans["app"]["layer_keys"]) == 2


def test_key_is_stable(fake_repo):
    assert _keys(fake_repo)[0] == _keys(fake_repo)[0]


@pytest.mark.parametrize("change, changed", [
    ("binary", {"base", "app"}),  # the base's layer changes, and with it every image built on it
    ("tree", {"app"}),
    ("requirements", {"app"}),
    ("constraints", {"app"}),
    ("role tag", {"app"}),
    ("definition", {"base", "app"}),
    ("version", {"base", "app"}),
    ("pycache only", set()),
])
def test_key_changes_with_each_input(fake_repo, change, changed):
    before = _keys(fake_repo)[0]
    repo = fake_repo["repo"]
    kwargs = {}
    if change == "binary":
        fake_repo["binary"].write_bytes(b"\x7fELF v2")
    elif change == "tree":
        (repo / "app" / "pkg" / "__init__.py").write_text("x = 2\n")
    elif change == "requirements":
        (repo / "requirements.txt").write_text("flask==3.1\n")
    elif change == "constraints":
        (repo / "constraints.txt").write_text("flask==3\nwerkzeug==3.1\n")
    elif change == "role tag":
        (repo / "roles" / "r" / "defaults" / "main.yml").write_text("r_image: org/app\nr_tag: \"1.1\"\n")
    elif change == "definition":
        definitions = copy.deepcopy(fake_repo["definitions"])
        definitions[0]["config"]["Entrypoint"] = ["/tool", "-x"]
        kwargs["definitions"] = definitions
    elif change == "version":
        kwargs["versions"] = {"tool": "v1.1"}
    elif change == "pycache only":
        (repo / "app" / "pkg" / "__pycache__").mkdir()
        (repo / "app" / "pkg" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"junk")
    after = _keys(fake_repo, **kwargs)[0]
    assert {ident for ident in before if before[ident] != after[ident]} == changed


def test_every_real_definition_has_names_and_known_layer_kinds():
    kinds = {"files", "tree", "pip", "mmdebstrap"}
    ids = [d["id"] for d in images.IMAGES]
    assert len(ids) == len(set(ids))
    for definition in images.IMAGES:
        assert definition["refs"], definition["id"]
        assert definition.get("base") in (None, *ids)
        for layer in definition["layers"]:
            assert len(kinds & set(layer)) == 1, layer


# --------------------------------------------------------------------------------------------- stamps


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACING_XRAY_CACHE", str(tmp_path / "cache"))
    os.makedirs(images.cache_dir())
    return tmp_path / "cache"


def _write_stamp(ident, key, size=None, archive_bytes=b"archive"):
    archive = images.archive_path(ident)
    with open(archive, "wb") as handle:
        handle.write(archive_bytes)
    stamp = {"key": key, "archive": archive, "size": len(archive_bytes) if size is None else size, "names": {}}
    with open(images.stamp_path(ident), "w", encoding="utf-8") as handle:
        json.dump(stamp, handle)
    return stamp


def test_stamp_check(cache):
    spec = {"id": "x", "key": "k1"}
    assert not images.is_current(spec)  # no stamp
    _write_stamp("x", "k1")
    assert images.is_current(spec)
    assert not images.is_current({"id": "x", "key": "k2"})  # an input changed
    _write_stamp("x", "k1", size=999)
    assert not images.is_current(spec)  # truncated/replaced archive
    _write_stamp("x", "k1")
    os.remove(images.archive_path("x"))
    assert not images.is_current(spec)  # archive gone
    with open(images.stamp_path("x"), "w", encoding="utf-8") as handle:
        handle.write("{not json")
    assert images.read_stamp("x") is None
    assert not images.is_current(spec)


def test_cache_lives_under_tracing_xray_cache(cache):
    assert images.cache_dir() == os.path.join(str(cache), "images")
    assert images.archive_path("pause") == os.path.join(str(cache), "images", "pause.tar")


# --------------------------------------------------------------------------------------------- archive, ctr, config


def _blob(layout, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def test_write_archive_names_each_manifest_for_containerd(tmp_path):
    layout = tmp_path / "oci"
    layer = _blob(layout, b"layer-bytes")
    config = _blob(layout, json.dumps({"architecture": "amd64", "os": "linux", "config": {}}).encode())
    manifest = _blob(layout, json.dumps({"schemaVersion": 2, "config": config, "layers": [layer]}).encode())
    unrelated = _blob(layout, b"not referenced")
    descriptor = {"mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest}
    index = {"schemaVersion": 2, "manifests": [
        {**descriptor, "annotations": {"org.opencontainers.image.ref.name": "t-0"}},
        {**descriptor, "annotations": {"org.opencontainers.image.ref.name": "t-1"}},
    ]}
    (layout / "index.json").write_text(json.dumps(index))
    out = tmp_path / "out.tar"
    names = images.write_archive(str(layout), [("t-0", "docker.io/org/a:1"), ("t-1", "example.com/b:2")], str(out))
    assert names == {"docker.io/org/a:1": manifest["digest"], "example.com/b:2": manifest["digest"]}
    with tarfile.open(out) as tar:
        members = tar.getnames()
        written = json.load(tar.extractfile("index.json"))
    assert "oci-layout" in members
    assert "blobs/" + unrelated["digest"].replace(":", "/") not in members
    for blob in (layer, config, manifest):
        assert "blobs/" + blob["digest"].replace(":", "/") in members
    assert [m["annotations"] for m in written["manifests"]] == [
        {"io.containerd.image.name": "docker.io/org/a:1", "org.opencontainers.image.ref.name": "1"},
        {"io.containerd.image.name": "example.com/b:2", "org.opencontainers.image.ref.name": "2"},
    ]
    assert written["manifests"][0]["platform"] == {"architecture": "amd64", "os": "linux"}


def test_parse_ctr_images():
    text = (
        "REF                          TYPE                                       DIGEST        SIZE      PLATFORMS   LABELS\n"
        "registry.k8s.io/pause:3.10   application/vnd.oci.image.manifest.v1+json sha256:aaa  739.2 KiB linux/amd64 a=b\n"
        "sha256:343bf44b8b4e          application/vnd.oci.image.manifest.v1+json sha256:aaa  739.2 KiB linux/amd64 -\n")
    assert images.parse_ctr_images(text) == {"registry.k8s.io/pause:3.10": "sha256:aaa", "sha256:343bf44b8b4e": "sha256:aaa"}
    assert images.parse_ctr_images("") == {}


def test_config_args():
    args = images._config_args({"Entrypoint": ["python3", "-m", "x"], "Cmd": ["frontend"], "User": "10001:10001",
                                "WorkingDir": "/app", "Env": {"A": "1=2"}, "ExposedPorts": ["8080/tcp"], "Labels": {"k": "v"}})
    assert args == ["--clear=config.entrypoint", "--config.entrypoint=python3", "--config.entrypoint=-m", "--config.entrypoint=x",
                    "--clear=config.cmd", "--config.cmd=frontend", "--config.user=10001:10001", "--config.workingdir=/app",
                    "--config.env=A=1=2", "--config.exposedports=8080/tcp", "--config.label=k=v"]


# --------------------------------------------------------------------------------------------- debpkgs


def test_debpkgs_nothing_to_do(monkeypatch):
    monkeypatch.setattr(debpkgs, "is_installed", lambda name: True)
    monkeypatch.setattr(debpkgs, "_apt", lambda *a, **k: pytest.fail("apt-get must not run"))
    debpkgs.ensure(["umoci", "mmdebstrap"], log=lambda msg: None)


def test_debpkgs_needs_root(monkeypatch):
    monkeypatch.setattr(debpkgs, "is_installed", lambda name: name != "umoci")
    monkeypatch.setattr(debpkgs.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(debpkgs.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(debpkgs, "_apt", lambda *a, **k: pytest.fail("apt-get must not run"))
    with pytest.raises(debpkgs.DebPkgError, match=r"needs root.*apt-get install -y --no-install-recommends umoci"):
        debpkgs.ensure(["umoci", "mmdebstrap"], log=lambda msg: None)


def test_debpkgs_updates_once_when_install_fails(monkeypatch):
    installed = set()
    calls = []

    class Proc:
        def __init__(self, rc):
            self.returncode, self.stdout, self.stderr = rc, "", "E: Unable to locate package"

    def apt(args, log):
        calls.append(args[0])
        if args[0] == "update":
            return Proc(0)
        if calls.count("install") == 1:
            return Proc(100)
        installed.update(args[3:])
        return Proc(0)

    monkeypatch.setattr(debpkgs, "is_installed", lambda name: name in installed)
    monkeypatch.setattr(debpkgs.os, "geteuid", lambda: 0)
    monkeypatch.setattr(debpkgs.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(debpkgs, "_apt", apt)
    debpkgs.ensure(["umoci"], log=lambda msg: None)
    assert calls == ["install", "update", "install"]
    assert installed == {"umoci"}
