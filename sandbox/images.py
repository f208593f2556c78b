"""Container images for the sandbox's real kubelet node, built locally (nothing can be pulled).

Every image is a **local stand-in** built from this repository under the exact name the roles' default
manifests use, so pods run unchanged with ``imagePullPolicy: IfNotPresent``. The definitions are the data
in ``IMAGES`` below (one entry per image: layers, config, names); names are read from the role files.

=====================  ================================================  ==========================================
archive (``id``)       names (as containerd stores them)                  what is inside
=====================  ================================================  ==========================================
``pause``              ``registry.k8s.io/pause:3.10``                     ``sandbox/go/pause`` (our own Go program)
``xray-daemon``        ``public.ecr.aws/xray/aws-xray-daemon:<tag>``      the sandbox's daemon binary (3.0.1), laid
                       (``roles/daemon/vars/flavors/xray.yml``)           out like the upstream image
``python``             ``chaos_image`` (``roles/chaos/defaults``)         Debian 12 + python3 3.11 (mmdebstrap)
``sample``             the ``workshop`` preset's two images               python + ``apps/sample`` + its pinned
                       (``roles/apps/vars``)                              requirements; front/back configs
=====================  ================================================  ==========================================

Tools: umoci assembles the OCI images (``umoci new``/``tag``/``raw add-layer``/``config``), mmdebstrap makes
the Debian root filesystem, layer tars are written here with ``tarfile``; the per-image archive is an OCI
layout tar whose ``index.json`` names each manifest with ``io.containerd.image.name`` (full, normalised name)
and ``org.opencontainers.image.ref.name`` (the tag), which ``ctr images import`` (containerd 1.6) uses as is.

Cache: ``${TRACING_XRAY_CACHE:-~/.cache/tracing-xray}/images/``: ``<id>.tar`` + ``<id>.json`` (stamp: the
key, a hash of every input), ``layers/`` (cached layer tars), ``oci/`` (umoci's working layout); log in
``<cache>/logs/images.log``. A warm ``build()`` only hashes inputs and compares stamps.

CLI: ``python3 sandbox/images.py build [--force] | list [--json] | import --address SOCK [--ctr ctr]``.
Standard library only.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import debpkgs  # noqa: E402  (sibling modules; the script directory is not a package here)
import gobuild  # noqa: E402

BUILDER_VERSION = "1"  # bump when the way images are built changes (invalidates every stamp)
EPOCH = 315532800  # 1980-01-01: mtime of the files we put in layers, `created` of every image
CREATED = "1980-01-01T00:00:00Z"
AUTHOR = "tracing.xray sandbox (sandbox/images.py)"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"  # containerd's sandbox_image on the real node
NAMESPACE = "k8s.io"  # containerd namespace the CRI plugin (and so kubelet) uses
TOOLS = ["umoci", "mmdebstrap"]
STAND_IN = "tracing.xray.sandbox/stand-in"
STAND_IN_FOR = "tracing.xray.sandbox/stand-in-for"
DESCRIPTION = "org.opencontainers.image.description"
PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CMD_TIMEOUT = 1800  # seconds for any one tool run (mmdebstrap, pip, umoci, ctr)

DEBIAN_SOURCES = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

XRAY_PASSWD = """\
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
xray:x:10001:10001:xray:/home/xray:/sbin/nologin
"""
XRAY_GROUP = "root:x:0:\nnobody:x:65534:\nxray:x:10001:\n"
# The daemon's built-in defaults, as upstream's image ships them in /etc/amazon/xray/cfg.yaml (the daemon
# role passes its own file with --config, so this only matters when the image runs without arguments).
XRAY_DEFAULT_CFG = """\
TotalBufferSizeMB: 0
Concurrency: 8
Region: ""
Endpoint: ""
Socket:
  UDPAddress: "127.0.0.1:2000"
  TCPAddress: "127.0.0.1:2000"
Logging:
  LogRotation: true
  LogLevel: "prod"
  LogPath: ""
LocalMode: false
ResourceARN: ""
RoleARN: ""
NoVerifySSL: false
ProxyAddress: ""
Version: 2
"""

# The image definitions: the one place to add an image. Per entry:
#   id      archive name (<cache>/images/<id>.tar)
#   base    optional id of another entry: start from its layers and common config
#   layers  list of layers, each one of
#             {"files": [{"path", "mode", one of "gobin" (gobuild component) | "host" (file) | "text"}]}
#             {"tree": <repo dir>, "path": <dir in image>}               (no __pycache__/*.pyc)
#             {"pip": {"requirements", "constraints"}, "path": <dir>}    (.venv's pip, --target)
#             {"mmdebstrap": {"suite", "variant", "include", "hooks", "dpkg_exclude", "sources"}}
#   config  common image config: Entrypoint, Cmd, User, WorkingDir, Env (dict), ExposedPorts, Labels
#   refs    one manifest per entry: {"name": <name spec>, "config": <overrides>}; a name spec is a literal
#           image reference or {"role", "file", "image"[, "tag"]} (top-level keys of roles/<role>/<file>/main.yml)
#           or {"role", "file", "preset", "service"} (an _apps_presets service's image).
# Labels may use "{version:<gobuild component>}". Every ref also gets the labels STAND_IN=true and
# STAND_IN_FOR=<its normalised name>.
IMAGES: list[dict] = [
    {
        "id": "pause",
        "layers": [{"files": [{"path": "/pause", "gobin": "pause", "mode": 0o755}]}],
        "config": {
            "Entrypoint": ["/pause"],
            "User": "65535:65535",  # as upstream's pause image
            "Labels": {DESCRIPTION: "tracing.xray sandbox pause (sandbox/go/pause, {version:pause}): PID 1 of pod sandboxes; "
                                    "local stand-in for the upstream pause image"},
        },
        "refs": [{"name": PAUSE_IMAGE}],
    },
    {
        "id": "xray-daemon",
        "layers": [{"files": [
            {"path": "/xray", "gobin": "xray", "mode": 0o755},
            {"path": "/etc/passwd", "text": XRAY_PASSWD, "mode": 0o644},
            {"path": "/etc/group", "text": XRAY_GROUP, "mode": 0o644},
            {"path": "/etc/ssl/certs/ca-certificates.crt", "host": "/etc/ssl/certs/ca-certificates.crt", "mode": 0o644},
            {"path": "/etc/amazon/xray/cfg.yaml", "text": XRAY_DEFAULT_CFG, "mode": 0o644},
        ]}],
        "config": {
            # Upstream (aws/aws-xray-daemon Dockerfile): FROM scratch, /xray, USER xray (10001), this ENTRYPOINT.
            "Entrypoint": ["/xray", "-t", "0.0.0.0:2000", "-b", "0.0.0.0:2000"],
            "User": "10001",
            "ExposedPorts": ["2000/udp", "2000/tcp"],
            "Labels": {
                DESCRIPTION: "local stand-in: the AWS X-Ray daemon {version:xray} built from the Go module proxy "
                             "(github.com/aws/aws-xray-daemon), not the version of this image's tag",
                "org.opencontainers.image.version": "{version:xray}",
            },
        },
        # The xray flavor's image: roles/daemon/defaults leaves daemon_image empty for the flavor's own.
        "refs": [{"name": {"role": "daemon", "path": "vars/flavors/xray.yml", "image": "_daemon_flavor_image",
                           "tag": "_daemon_flavor_image_tag"}}],
    },
    {
        "id": "python",
        "layers": [{"mmdebstrap": {
            "suite": "bookworm",
            "variant": "custom",  # only these packages and their dependencies (no apt, no perl)
            "include": ["base-files", "base-passwd", "dpkg", "dash", "coreutils", "diffutils", "libc-bin", "sed", "grep",
                        "findutils", "debianutils", "netbase", "python3"],
            "hooks": ["merged-usr"],  # usr-is-merged instead of usrmerge (which pulls in perl)
            "dpkg_exclude": ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*"],
            "sources": DEBIAN_SOURCES,
        }}],
        "config": {
            "Env": {"PATH": PATH_ENV, "LANG": "C.UTF-8"},
            "Cmd": ["python3"],
            "Labels": {DESCRIPTION: "Debian 12 (bookworm) with its python3 (3.11), made by mmdebstrap"},
        },
        "refs": [{
            "name": {"role": "chaos", "file": "defaults", "image": "chaos_image"},
            "config": {"Labels": {DESCRIPTION: "local stand-in for the chaos role's image: Debian 12 (bookworm) with "
                                               "python3 3.11, not Alpine or Python 3.13; the role only needs python3 on PATH"}},
        }],
    },
    {
        "id": "sample",
        "base": "python",
        "layers": [
            {"pip": {"requirements": "apps/sample/requirements.txt", "constraints": "constraints.txt"}, "path": "/app/site-packages"},
            {"tree": "apps/sample/xray_sample", "path": "/app/xray_sample"},
        ],
        "config": {
            # As apps/sample/Dockerfile (its dependencies live in /app/site-packages here, hence PYTHONPATH).
            "Env": {"PYTHONPATH": "/app:/app/site-packages", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
                    "SAMPLE_HOST": "0.0.0.0", "SAMPLE_PORT": "8080", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR"},
            "WorkingDir": "/app",
            "User": "10001:10001",
            "Entrypoint": ["python3", "-m", "xray_sample"],
            "ExposedPorts": ["8080/tcp"],
            "Labels": {DESCRIPTION: "local stand-in: the tracing.xray sample app (apps/sample, Python, AWS X-Ray SDK) "
                                    "on Debian 12 python3 3.11, not the EKS workshop's image"},
        },
        "refs": [
            {"name": {"role": "apps", "file": "vars", "preset": "workshop", "service": "x-ray-sample-front-k8s"},
             "config": {"Cmd": ["frontend"]}},
            {"name": {"role": "apps", "file": "vars", "preset": "workshop", "service": "x-ray-sample-back-k8s"},
             "config": {"Cmd": ["backend"]}},
        ],
    },
]


class ImageBuildError(RuntimeError):
    """A step failed; the message names it (and the log file)."""


# --------------------------------------------------------------------------------------------- names


def _unquote(value: str) -> str:
    value = value.strip()
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else value[1:]
    return re.sub(r"\s+#.*$", "", value).strip()


def yaml_top_level(path: str, key: str) -> str:
    """The scalar value of a top-level ``key:`` in a simple YAML file (our role defaults)."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            match = re.match(re.escape(key) + r":\s*(.*?)\s*$", line)
            if match:
                value = _unquote(match.group(1))
                if not value or "{{" in value:
                    raise ImageBuildError(f"{path}: {key} is not a plain image string: {match.group(1)!r}")
                return value
    raise ImageBuildError(f"{path}: no top-level key {key}")


def preset_images(path: str, preset: str) -> dict[str, str]:
    """Service name -> image of ``_apps_presets.<preset>.services`` in roles/apps/vars/main.yml."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "_apps_presets:"), None)
    if start is None:
        raise ImageBuildError(f"{path}: no _apps_presets")
    result: dict[str, str] = {}
    indent = None
    name = None
    for line in lines[start + 1:]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:
            break
        if indent is None:
            if re.match(r"\s+" + re.escape(preset) + r":\s*$", line):
                indent = depth
            continue
        if depth <= indent:
            break
        match = re.match(r"\s*-\s+name:\s*(.+)$", line)
        if match:
            name = _unquote(match.group(1))
            continue
        match = re.match(r"\s*image:\s*(.+)$", line)
        if match and name:
            result[name] = _unquote(match.group(1))
    if not result:
        raise ImageBuildError(f"{path}: no services with an image in preset {preset}")
    return result


def normalize_ref(ref: str) -> str:
    """The fully qualified name containerd stores and kubelet/CRI resolve (docker's normalisation rules):
    ``rnzdocker1/x:t`` -> ``docker.io/rnzdocker1/x:t``, ``python:3`` -> ``docker.io/library/python:3``,
    a missing tag -> ``:latest``."""
    name, digest = (ref.split("@", 1) + [""])[:2]
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first, _, rest = name.partition("/")
    if rest and (("." in first) or (":" in first) or first == "localhost" or first.lower() != first):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    if not tag and not digest:
        tag = "latest"
    return f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def resolve_name(spec, repo: str = REPO) -> str:
    """A ref's name spec -> the normalised image name."""
    if isinstance(spec, str):
        return normalize_ref(spec)
    path = os.path.join(repo, "roles", spec["role"], *(spec["path"].split("/") if "path" in spec else (spec["file"], "main.yml")))
    if "preset" in spec:
        images = preset_images(path, spec["preset"])
        if spec["service"] not in images:
            raise ImageBuildError(f"{path}: preset {spec['preset']} has no service {spec['service']} (has {', '.join(images)})")
        return normalize_ref(images[spec["service"]])
    image = yaml_top_level(path, spec["image"])
    if "tag" in spec:
        image = f"{image}:{yaml_top_level(path, spec['tag'])}"
    return normalize_ref(image)


def tag_of(name: str) -> str:
    """The tag of a normalised name (its ``org.opencontainers.image.ref.name``)."""
    name = name.split("@", 1)[0]
    return name.rsplit(":", 1)[1] if name.rfind(":") > name.rfind("/") else "latest"


# --------------------------------------------------------------------------------------------- keys


def cache_dir() -> str:
    return os.path.join(gobuild.cache_root(), "images")


def log_path() -> str:
    return os.path.join(gobuild.cache_root(), "logs", "images.log")


def venv_python() -> str:
    candidate = os.path.join(REPO, ".venv", "bin", "python")
    return candidate if os.access(candidate, os.X_OK) else sys.executable


def _python_identity(python: str) -> str:
    """What identifies the interpreter pip installs with (no subprocess: pyvenv.cfg, else the path)."""
    cfg = os.path.join(os.path.dirname(os.path.dirname(python)), "pyvenv.cfg")
    try:
        with open(cfg, encoding="utf-8") as handle:
            return "".join(line for line in handle if line.startswith(("version", "home")))
    except OSError:
        return os.path.realpath(python) + " " + ".".join(map(str, sys.version_info[:3]))


def _update_file(digest, path: str) -> None:
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)


def tree_files(root: str) -> list[tuple[str, str]]:
    """(relative path, full path) of the files under ``root``, sorted, without bytecode."""
    result = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for filename in sorted(filenames):
            if filename.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, filename)
            result.append((os.path.relpath(full, root), full))
    return sorted(result)


def layer_key(layer: dict, binaries: dict[str, str], repo: str = REPO) -> str:
    """Hash of everything a layer is made from (the definition, file bytes, requirements, interpreter)."""
    digest = hashlib.sha256()
    digest.update(f"layer/{BUILDER_VERSION}\0".encode())
    digest.update(json.dumps(layer, sort_keys=True).encode())
    for entry in layer.get("files", []):
        digest.update(b"\0file\0" + entry["path"].encode())
        if "gobin" in entry:
            _update_file(digest, binaries[entry["gobin"]])
        elif "host" in entry:
            _update_file(digest, entry["host"])
    if "tree" in layer:
        for rel, full in tree_files(os.path.join(repo, layer["tree"])):
            digest.update(b"\0tree\0" + rel.encode() + b"\0")
            _update_file(digest, full)
    if "pip" in layer:
        for key in ("requirements", "constraints"):
            digest.update(f"\0{key}\0".encode())
            _update_file(digest, os.path.join(repo, layer["pip"][key]))
        digest.update(_python_identity(venv_python()).encode())
    return digest.hexdigest()


def _substitute(value, versions: dict[str, str]):
    if isinstance(value, str):
        return re.sub(r"\{version:([\w-]+)\}", lambda m: versions[m.group(1)].lstrip("v"), value)
    if isinstance(value, dict):
        return {k: _substitute(v, versions) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, versions) for v in value]
    return value


def plan(definitions: list[dict] | None = None, binaries: dict[str, str] | None = None, repo: str = REPO,
         versions: dict[str, str] | None = None) -> dict[str, dict]:
    """id -> resolved definition: names resolved, labels substituted, ``layer_keys`` and ``key`` added."""
    definitions = IMAGES if definitions is None else definitions
    binaries = gobuild.binaries() if binaries is None else binaries
    versions = gobuild.versions() if versions is None else versions
    result: dict[str, dict] = {}
    by_id = {d["id"]: d for d in definitions}

    def resolve(ident: str, seen: tuple = ()) -> dict:
        if ident in result:
            return result[ident]
        if ident in seen:
            raise ImageBuildError(f"image definitions: base cycle through {ident}")
        spec = _substitute(copy.deepcopy(by_id[ident]), versions)
        base = resolve(spec["base"], seen + (ident,)) if spec.get("base") else None
        for ref in spec["refs"]:
            ref["name"] = resolve_name(ref["name"], repo)
        spec["layer_keys"] = [layer_key(layer, binaries, repo) for layer in spec["layers"]]
        digest = hashlib.sha256(f"image/{BUILDER_VERSION}\0".encode())
        digest.update(json.dumps({k: v for k, v in spec.items() if k != "layer_keys"}, sort_keys=True).encode())
        digest.update("\0".join(spec["layer_keys"]).encode())
        digest.update(b"\0base\0" + (base["key"].encode() if base else b"-"))
        spec["key"] = digest.hexdigest()
        result[ident] = spec
        return spec

    for definition in definitions:
        resolve(definition["id"])
    return result


def stamp_path(ident: str) -> str:
    return os.path.join(cache_dir(), f"{ident}.json")


def archive_path(ident: str) -> str:
    return os.path.join(cache_dir(), f"{ident}.tar")


def read_stamp(ident: str) -> dict | None:
    try:
        with open(stamp_path(ident), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def is_current(spec: dict, stamp: dict | None = None) -> bool:
    """The archive exists, has the recorded size, and its stamp carries this key."""
    stamp = read_stamp(spec["id"]) if stamp is None else stamp
    if not stamp or stamp.get("key") != spec["key"]:
        return False
    try:
        return os.path.getsize(stamp["archive"]) == stamp["size"]
    except (OSError, KeyError, TypeError):
        return False


# --------------------------------------------------------------------------------------------- build steps


def _run(cmd: list[str], step: str, stdin: str | None = None, env: dict | None = None, cwd: str | None = None) -> str:
    os.makedirs(os.path.dirname(log_path()), exist_ok=True)
    with open(log_path(), "a", encoding="utf-8") as handle:
        handle.write(f"\n$ {shlex.join(cmd)}\n")
        handle.flush()
        try:
            proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, cwd=cwd, check=False,
                                  timeout=CMD_TIMEOUT)
        except subprocess.TimeoutExpired as err:
            raise ImageBuildError(f"{step}: timed out after {CMD_TIMEOUT}s: {shlex.join(cmd)}; log: {log_path()}") from err
        except FileNotFoundError as err:
            raise ImageBuildError(f"{step}: {cmd[0]} not found") from err
        handle.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n  ".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ImageBuildError(f"{step} failed (exit {proc.returncode}): {shlex.join(cmd)}\n  {tail}\n(log: {log_path()})")
    return proc.stdout


def _tarinfo(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


class _LayerWriter:
    """A deterministic layer tar: root-owned, fixed mtimes, parent directories added once."""

    def __init__(self, path: str):
        self.tar = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)
        self.dirs: set[str] = set()

    def _parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i])
            if directory not in self.dirs:
                self.dirs.add(directory)
                self.tar.addfile(_tarinfo(directory, tarfile.DIRTYPE, 0o755))

    def add_bytes(self, path: str, data: bytes, mode: int) -> None:
        name = path.strip("/")
        self._parents(name)
        self.tar.addfile(_tarinfo(name, mode=mode, size=len(data)), io.BytesIO(data))

    def add_file(self, path: str, source: str, mode: int) -> None:
        name = path.strip("/")
        self._parents(name)
        with open(source, "rb") as handle:
            self.tar.addfile(_tarinfo(name, mode=mode, size=os.fstat(handle.fileno()).st_size), handle)

    def add_tree(self, path: str, root: str) -> int:
        count = 0
        for rel, full in tree_files(root):
            executable = os.stat(full).st_mode & 0o111
            self.add_file(os.path.join(path, rel), full, 0o755 if executable else 0o644)
            count += 1
        return count

    def close(self) -> None:
        self.tar.close()


def _files_layer(layer: dict, out: str, binaries: dict[str, str]) -> None:
    writer = _LayerWriter(out)
    for entry in layer["files"]:
        if "gobin" in entry:
            writer.add_file(entry["path"], binaries[entry["gobin"]], entry["mode"])
        elif "host" in entry:
            writer.add_file(entry["path"], entry["host"], entry["mode"])
        else:
            writer.add_bytes(entry["path"], entry["text"].encode(), entry["mode"])
    writer.close()


def _tree_layer(layer: dict, out: str) -> None:
    writer = _LayerWriter(out)
    if not writer.add_tree(layer["path"], os.path.join(REPO, layer["tree"])):
        raise ImageBuildError(f"tree layer: no files under {layer['tree']}")
    writer.close()


def _pip_layer(layer: dict, out: str, work: str) -> None:
    target = os.path.join(work, "site-packages")
    python = venv_python()
    _run([python, "-m", "pip", "install", "--target", target, "--no-compile", "--only-binary=:all:",
          "--disable-pip-version-check", "--no-input", "--no-warn-script-location", "--quiet",
          "-r", os.path.join(REPO, layer["pip"]["requirements"]), "-c", os.path.join(REPO, layer["pip"]["constraints"])],
         f"pip install {layer['pip']['requirements']}", cwd=REPO)
    shutil.rmtree(os.path.join(target, "bin"), ignore_errors=True)  # console scripts with the host's shebang
    writer = _LayerWriter(out)
    writer.add_tree(layer["path"], target)
    writer.close()


def _mmdebstrap_layer(layer: dict, out: str) -> None:
    spec = layer["mmdebstrap"]
    if os.geteuid() != 0:
        raise ImageBuildError("the python base image runs mmdebstrap in root mode: run the image build as root")
    cmd = ["mmdebstrap", "--mode=root", f"--variant={spec['variant']}", "--include=" + ",".join(spec["include"]),
           *[f"--hook-dir=/usr/share/mmdebstrap/hooks/{hook}" for hook in spec.get("hooks", [])],
           "--skip=output/dev", *[f"--dpkgopt=path-exclude={pattern}" for pattern in spec.get("dpkg_exclude", [])],
           "--format=tar", spec["suite"], out, "-"]
    _run(cmd, f"mmdebstrap {spec['suite']}", stdin=spec["sources"])


def _layer_description(layer: dict) -> str:
    if "files" in layer:
        return "files " + " ".join(entry["path"] for entry in layer["files"])
    if "tree" in layer:
        return f"{layer['tree']} -> {layer['path']}"
    if "pip" in layer:
        return f"pip install -r {layer['pip']['requirements']} -c {layer['pip']['constraints']} --target {layer['path']}"
    spec = layer["mmdebstrap"]
    return f"mmdebstrap --variant={spec['variant']} {spec['suite']} (+{','.join(spec['include'])})"


def _layer_tar(layer: dict, key: str, binaries: dict[str, str], log, timings: dict) -> str:
    """The cached layer tar for ``layer`` (built if missing)."""
    kind = next(k for k in ("files", "tree", "pip", "mmdebstrap") if k in layer)
    path = os.path.join(cache_dir(), "layers", f"{kind}-{key[:24]}.tar")
    if os.path.isfile(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".work-") as work:
        tmp = os.path.join(work, "layer.tar")
        if kind == "files":
            _files_layer(layer, tmp, binaries)
        elif kind == "tree":
            _tree_layer(layer, tmp)
        elif kind == "pip":
            _pip_layer(layer, tmp, work)
        else:
            _mmdebstrap_layer(layer, tmp)
        os.replace(tmp, path)
    elapsed = time.monotonic() - start
    timings[f"layer {kind}"] = round(timings.get(f"layer {kind}", 0) + elapsed, 1)
    log(f"images: layer {kind} ({_layer_description(layer)}): {elapsed:.1f}s, {os.path.getsize(path) / 2**20:.1f} MiB")
    return path


def _config_args(config: dict) -> list[str]:
    args: list[str] = []
    for key, flag in (("Entrypoint", "config.entrypoint"), ("Cmd", "config.cmd")):
        if key in config:
            args.append(f"--clear={flag}")
            args += [f"--{flag}={item}" for item in config[key]]
    if "User" in config:
        args.append(f"--config.user={config['User']}")
    if "WorkingDir" in config:
        args.append(f"--config.workingdir={config['WorkingDir']}")
    args += [f"--config.env={key}={value}" for key, value in config.get("Env", {}).items()]
    args += [f"--config.exposedports={port}" for port in config.get("ExposedPorts", [])]
    args += [f"--config.label={key}={value}" for key, value in config.get("Labels", {}).items()]
    return args


def _layout() -> str:
    return os.path.join(cache_dir(), "oci")


def _layout_index() -> dict:
    try:
        with open(os.path.join(_layout(), "index.json"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {"manifests": []}


def _layout_tags() -> dict[str, dict]:
    return {d.get("annotations", {}).get("org.opencontainers.image.ref.name"): d for d in _layout_index().get("manifests") or []}


def _umoci(args: list[str], step: str) -> None:
    _run(["umoci", *args], f"umoci {step}")


def _common_tag(spec: dict) -> str:
    return f"{spec['id']}-{spec['key'][:16]}"


def _ensure_common(spec: dict, plans: dict[str, dict], binaries: dict[str, str], log, timings: dict) -> str:
    """The umoci tag holding the image's layers and common config (built in the working layout if missing)."""
    tag = _common_tag(spec)
    layout = _layout()
    if not os.path.isfile(os.path.join(layout, "index.json")):
        _umoci(["init", f"--layout={layout}"], "init")
    if tag in _layout_tags():
        return tag
    wip = tag + "-wip"
    if wip in _layout_tags():
        _umoci(["rm", f"--image={layout}:{wip}"], "rm")
    if spec.get("base"):
        base_tag = _ensure_common(plans[spec["base"]], plans, binaries, log, timings)
        _umoci(["tag", f"--image={layout}:{base_tag}", wip], "tag")
    else:
        _umoci(["new", f"--image={layout}:{wip}"], "new")
    for layer, key in zip(spec["layers"], spec["layer_keys"], strict=True):
        path = _layer_tar(layer, key, binaries, log, timings)
        start = time.monotonic()
        _umoci(["raw", "add-layer", f"--image={layout}:{wip}", f"--history.created={CREATED}", f"--history.author={AUTHOR}",
                f"--history.created_by={_layer_description(layer)}", path], "raw add-layer")
        timings["umoci add-layer"] = round(timings.get("umoci add-layer", 0) + time.monotonic() - start, 1)
    _umoci(["config", f"--image={layout}:{wip}", f"--created={CREATED}", f"--author={AUTHOR}", "--no-history",
            "--os=linux", *_config_args(spec["config"])], "config")
    _umoci(["tag", f"--image={layout}:{wip}", tag], "tag")
    _umoci(["rm", f"--image={layout}:{wip}"], "rm")
    return tag


def _blob(layout: str, digest: str) -> str:
    algorithm, hexdigest = digest.split(":", 1)
    return os.path.join(layout, "blobs", algorithm, hexdigest)


def _read_json_blob(layout: str, digest: str) -> dict:
    with open(_blob(layout, digest), encoding="utf-8") as handle:
        return json.load(handle)


def write_archive(layout: str, entries: list[tuple[str, str]], out: str) -> dict[str, str]:
    """An OCI layout tar with the manifests of ``entries`` ((umoci tag, image name) pairs), each named for
    containerd; returns name -> manifest digest."""
    with open(os.path.join(layout, "index.json"), encoding="utf-8") as handle:
        tags = {d.get("annotations", {}).get("org.opencontainers.image.ref.name"): d for d in json.load(handle).get("manifests") or []}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    blobs: list[str] = []
    names: dict[str, str] = {}
    for tag, name in entries:
        descriptor = {k: v for k, v in tags[tag].items() if k in ("mediaType", "digest", "size")}
        manifest = _read_json_blob(layout, descriptor["digest"])
        config = _read_json_blob(layout, manifest["config"]["digest"])
        descriptor["annotations"] = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag_of(name)}
        descriptor["platform"] = {"architecture": config["architecture"], "os": config["os"]}
        index["manifests"].append(descriptor)
        names[name] = descriptor["digest"]
        for digest in [descriptor["digest"], manifest["config"]["digest"], *[layer["digest"] for layer in manifest["layers"]]]:
            if digest not in blobs:
                blobs.append(digest)
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", json.dumps(index, indent=1).encode())):
            tar.addfile(_tarinfo(name, size=len(data)), io.BytesIO(data))
        tar.addfile(_tarinfo("blobs", tarfile.DIRTYPE, 0o755))
        tar.addfile(_tarinfo("blobs/sha256", tarfile.DIRTYPE, 0o755))
        for digest in blobs:
            path = _blob(layout, digest)
            with open(path, "rb") as handle:
                tar.addfile(_tarinfo("blobs/" + digest.replace(":", "/"), size=os.fstat(handle.fileno()).st_size), handle)
    os.replace(tmp, out)
    return names


def _build_image(spec: dict, plans: dict[str, dict], binaries: dict[str, str], log) -> dict:
    start = time.monotonic()
    timings: dict[str, float] = {}
    layout = _layout()
    common = _ensure_common(spec, plans, binaries, log, timings)
    entries = []
    step = time.monotonic()
    for number, ref in enumerate(spec["refs"]):
        tag = f"{common}-{number}"
        config = copy.deepcopy(ref.get("config", {}))
        config.setdefault("Labels", {}).update({STAND_IN: "true", STAND_IN_FOR: ref["name"]})
        if tag in _layout_tags():
            _umoci(["rm", f"--image={layout}:{tag}"], "rm")
        _umoci(["config", f"--image={layout}:{common}", f"--tag={tag}", f"--created={CREATED}", f"--author={AUTHOR}",
                "--no-history", *_config_args(config)], "config")
        entries.append((tag, ref["name"]))
    timings["umoci config"] = round(time.monotonic() - step, 1)
    step = time.monotonic()
    names = write_archive(layout, entries, archive_path(spec["id"]))
    timings["archive"] = round(time.monotonic() - step, 1)
    elapsed = time.monotonic() - start
    stamp = {"id": spec["id"], "key": spec["key"], "archive": archive_path(spec["id"]), "size": os.path.getsize(archive_path(spec["id"])),
             "names": names, "labels": {STAND_IN: "true"}, "seconds": round(elapsed, 1), "steps": timings,
             "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with open(stamp_path(spec["id"]) + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(stamp, handle, indent=2)
    os.replace(stamp_path(spec["id"]) + ".tmp", stamp_path(spec["id"]))
    log(f"images: built {spec['id']} in {elapsed:.1f}s ({', '.join(f'{k} {v}s' for k, v in timings.items())}): "
        f"{stamp['size'] / 2**20:.1f} MiB, {', '.join(names)}")
    return stamp


def _prune(plans: dict[str, dict]) -> None:
    """Drop working tags and layer tars no current definition uses, then let umoci collect the blobs."""
    keep_tags = set()
    keep_layers = set()
    for spec in plans.values():
        common = _common_tag(spec)
        keep_tags.add(common)
        keep_tags.update(f"{common}-{n}" for n in range(len(spec["refs"])))
        keep_layers.update(key[:24] for key in spec["layer_keys"])
    layout = _layout()
    removed = False
    for tag in _layout_tags():
        if tag and tag not in keep_tags:
            _umoci(["rm", f"--image={layout}:{tag}"], "rm")
            removed = True
    if removed:
        _umoci(["gc", f"--layout={layout}"], "gc")
    layers = os.path.join(cache_dir(), "layers")
    for name in os.listdir(layers) if os.path.isdir(layers) else ():
        if name.rsplit("-", 1)[-1].removesuffix(".tar") not in keep_layers:
            os.remove(os.path.join(layers, name))


@contextlib.contextmanager
def _lock():
    os.makedirs(cache_dir(), exist_ok=True)
    with open(os.path.join(cache_dir(), ".lock"), "w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_tools(log=print) -> None:
    """umoci and mmdebstrap, installed with apt-get when missing (that needs root; a clear error otherwise)."""
    try:
        debpkgs.ensure(TOOLS, log)
    except debpkgs.DebPkgError as err:
        raise ImageBuildError(f"image tools: {err}") from err


def _gobins(definitions: list[dict]) -> list[str]:
    return sorted({entry["gobin"] for d in definitions for layer in d["layers"] for entry in layer.get("files", []) if "gobin" in entry})


def _summary(spec: dict, stamp: dict, built: bool) -> dict:
    return {"id": spec["id"], "archive": stamp["archive"], "names": list(stamp["names"]), "digests": stamp["names"],
            "size": stamp["size"], "built": built, "seconds": stamp.get("seconds")}


def build(log=print, force: bool = False) -> list[dict]:
    """Build the archives whose inputs changed (all with ``force``); one dict per archive: ``id``,
    ``archive``, ``names``, ``digests`` (name -> manifest digest), ``size``, ``built`` (this call)."""
    start = time.monotonic()
    try:
        binaries = gobuild.build(_gobins(IMAGES), log=log)
    except gobuild.BuildError as err:
        raise ImageBuildError(f"Go binaries for the images: {err}") from err
    binaries = {**gobuild.binaries(), **binaries}
    plans = plan(IMAGES, binaries)
    stale = [spec for spec in plans.values() if force or not is_current(spec)]
    results = []
    if stale:
        ensure_tools(log)
        with _lock():
            if force:  # everything from scratch, Debian packages and pip downloads included
                shutil.rmtree(_layout(), ignore_errors=True)
                shutil.rmtree(os.path.join(cache_dir(), "layers"), ignore_errors=True)
            for spec in stale:
                _build_image(spec, plans, binaries, log)
            _prune(plans)
    for spec in plans.values():
        stamp = read_stamp(spec["id"])
        results.append(_summary(spec, stamp, spec in stale))
    elapsed = time.monotonic() - start
    if stale:
        log(f"images: {len(stale)} of {len(plans)} archive(s) built in {elapsed:.1f}s ({cache_dir()})")
    else:
        log(f"images: {len(plans)} archive(s) up to date ({elapsed:.2f}s)")
    return results


# --------------------------------------------------------------------------------------------- containerd


def _ctr(ctr: str, address: str, args: list[str], step: str, timeout: int = 600) -> str:
    cmd = [ctr, "--address", address, "--namespace", NAMESPACE, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise ImageBuildError(f"{step}: `{shlex.join(cmd)}` timed out after {timeout}s") from err
    if proc.returncode != 0:
        raise ImageBuildError(f"{step} failed (exit {proc.returncode}): {shlex.join(cmd)}\n  {(proc.stdout + proc.stderr).strip()}")
    return proc.stdout


def parse_ctr_images(text: str) -> dict[str, str]:
    """``ctr images ls`` output -> name -> target digest."""
    result = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        digest = next((f for f in fields[1:] if f.startswith("sha256:")), None)
        if fields and digest:
            result[fields[0]] = digest
    return result


def import_images(ctr: str, address: str, log=print) -> list[str]:
    """Import every archive (built first if needed) into namespace k8s.io of the containerd at ``address``
    (its unix socket), skipping archives whose names all exist with the same digest; returns the names."""
    archives = build(log=log)
    present = parse_ctr_images(_ctr(ctr, address, ["images", "ls"], "ctr images ls"))
    imported = []
    for item in archives:
        if all(present.get(name) == digest for name, digest in item["digests"].items()):
            log(f"images: {item['id']}: {', '.join(item['names'])} already in containerd ({NAMESPACE})")
            continue
        start = time.monotonic()
        _ctr(ctr, address, ["images", "import", item["archive"]], f"ctr images import {item['archive']}")
        imported.append(item)
        log(f"images: imported {item['id']} ({', '.join(item['names'])}) in {time.monotonic() - start:.1f}s")
    present = parse_ctr_images(_ctr(ctr, address, ["images", "ls"], "ctr images ls"))
    names = []
    for item in archives:
        for name, digest in item["digests"].items():
            if present.get(name) != digest:
                raise ImageBuildError(f"after import, containerd ({address}, namespace {NAMESPACE}) has {name} at "
                                      f"{present.get(name) or 'nothing'}, expected {digest}")
            names.append(name)
    for item in imported:
        for name in item["names"]:
            _ctr(ctr, address, ["images", "label", name, f"{STAND_IN}=true"], f"ctr images label {name}")
    return names


# --------------------------------------------------------------------------------------------- CLI


def list_images() -> list[dict]:
    """Every definition with its names and cache state (no build; missing Go binaries count as missing)."""
    binaries = gobuild.binaries()
    missing_bins = [name for name in _gobins(IMAGES) if not os.path.isfile(binaries[name])]
    rows = []
    if missing_bins:
        for definition in IMAGES:
            names = [resolve_name(ref["name"]) for ref in definition["refs"]]
            rows.append({"id": definition["id"], "names": names, "state": f"missing Go binaries: {', '.join(missing_bins)}",
                         "archive": archive_path(definition["id"]), "size": None})
        return rows
    for spec in plan(IMAGES, binaries).values():
        stamp = read_stamp(spec["id"])
        state = "built" if is_current(spec, stamp) else ("stale" if stamp else "missing")
        rows.append({"id": spec["id"], "names": [ref["name"] for ref in spec["refs"]], "state": state,
                     "archive": archive_path(spec["id"]), "size": stamp.get("size") if stamp else None,
                     "seconds": stamp.get("seconds") if stamp else None})
    return rows


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build the archives whose inputs changed")
    build_cmd.add_argument("--force", action="store_true", help="rebuild everything (new Debian packages too)")
    list_cmd = sub.add_parser("list", help="image names and cache state")
    list_cmd.add_argument("--json", action="store_true")
    import_cmd = sub.add_parser("import", help="build, then import into a containerd's k8s.io namespace")
    import_cmd.add_argument("--address", required=True, help="containerd's unix socket")
    import_cmd.add_argument("--ctr", default=shutil.which("ctr") or "ctr")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for item in build(force=args.force):
                print(f"{item['archive']} ({item['size'] / 2**20:.1f} MiB): {' '.join(item['names'])}")
        elif args.command == "list":
            rows = list_images()
            if args.json:
                print(json.dumps(rows, indent=2))
            for row in rows if not args.json else ():
                size = f"{row['size'] / 2**20:.1f} MiB" if row.get("size") else "-"
                print(f"{row['id']:<12} {row['state']:<8} {size:>10}  {' '.join(row['names'])}")
        else:
            for name in import_images(args.ctr, args.address):
                print(name)
    except (ImageBuildError, gobuild.BuildError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
