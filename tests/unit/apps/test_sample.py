"""The sample application (apps/sample) and its load generator, without a daemon: the SDK's UDP segments are
read from a socket of this test. What goes to X-Ray end to end is tests/integration/test_e2e.py's subject."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "apps", "sample"))

from xray_sample import loadgen  # noqa: E402
from xray_sample.local import LocalSample  # noqa: E402


class Capture:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.docs: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recvfrom(65535)[0]
            except socket.timeout:
                continue
            header, body = data.decode().split("\n", 1)
            assert json.loads(header) == {"format": "json", "version": 1}
            self.docs.append(json.loads(body))

    def wait_for(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.docs) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.docs)

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def capture():
    cap = Capture()
    yield cap
    cap.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/api", "http://127.0.0.5:8080/", "http://localhost:9/x", "http://[::1]:9/"])
def test_loopback_targets_are_accepted(url):
    try:
        assert loadgen.check_loopback(url) == url
    except loadgen.NotLoopback as exc:  # a machine without ::1 or a localhost entry
        assert "cannot resolve" in str(exc)


@pytest.mark.parametrize("url", ["http://10.0.0.1/api", "http://8.8.8.8/", "http://192.168.1.10:8080/", "ftp://127.0.0.1/", "http:///nohost",
                                 "http://example.invalid/"])
def test_other_targets_are_refused(url):
    with pytest.raises(loadgen.NotLoopback):
        loadgen.check_loopback(url)


@pytest.mark.parametrize("kwargs, message", [
    ({"count": 0, "duration": 1}, "count must be between 1"),
    ({"count": loadgen.MAX_COUNT + 1, "duration": 1}, "count must be between 1"),
    ({"count": 1, "duration": 0}, "duration must be in"),
    ({"count": 1, "duration": loadgen.MAX_DURATION + 1}, "duration must be in"),
    ({"count": 1, "duration": 1, "concurrency": 0}, "concurrency"),
    ({"count": 1, "duration": 1, "rate": -1}, "rate must be positive"),
])
def test_bounds_are_enforced(kwargs, message):
    with pytest.raises(ValueError, match=message):
        loadgen.run("http://127.0.0.1:9/", **kwargs)


def test_cli_refuses_a_remote_target(capsys):
    assert loadgen.main(["http://10.1.2.3/api", "--count", "1"]) == 2
    assert "outside what the load generator targets: 127.0.0.0/8 or ::1" in capsys.readouterr().err


def test_allowed_networks_are_accepted_and_nothing_else():
    assert loadgen.check_loopback("http://10.0.0.7/api", ("10.0.0.0/24",)) == "http://10.0.0.7/api"
    assert loadgen.check_loopback("http://127.0.0.1:9/", ("10.0.0.0/24",)) == "http://127.0.0.1:9/"
    with pytest.raises(loadgen.NotLoopback, match="10.0.1.7"):
        loadgen.check_loopback("http://10.0.1.7/api", ("10.0.0.0/24",))


def test_cli_rejects_a_malformed_network(capsys):
    assert loadgen.main(["http://127.0.0.1:9/", "--count", "1", "--allow-cidr", "10.0.0.0/33"]) == 2
    assert "10.0.0.0/33" in capsys.readouterr().err


def test_duration_bounds_the_load():
    began = time.monotonic()
    result = loadgen.run("http://127.0.0.1:9/", 10_000, 0.5, rate=20)  # nothing listens on the discard port
    assert time.monotonic() - began < 3
    assert result["sent"] <= 12 and result["answered"] == 0 and sum(result["failed_without_answer"].values()) == result["sent"]


def test_requests_become_linked_segments_and_a_killed_back_end_faults(capture, tmp_path):
    with LocalSample(capture.address, workdir=str(tmp_path), front_name="t-front", back_name="t-back") as app:
        ok = loadgen.run(app.front_url, 12, 20, concurrency=3)
        assert ok["ok"] == 12 and len(set(ok["trace_ids"])) == 12
        docs = capture.wait_for(24)
        app.kill_backend()
        failed = loadgen.run(app.front_url, 3, 20)
        assert failed["status"] == {"502": 3}
        docs_after = capture.wait_for(27)
        app.restart_backend()
        again = loadgen.run(app.front_url, 2, 20)
        assert again["ok"] == 2

    fronts = {d["trace_id"]: d for d in docs if d["name"] == "t-front"}
    backs = {d["trace_id"]: d for d in docs if d["name"] == "t-back"}
    assert set(fronts) == set(backs) == set(ok["trace_ids"])  # N requests -> N traces, nothing sampled away
    for trace_id, front in fronts.items():
        call = front["subsegments"][0]
        assert (call["name"], call["namespace"], call["http"]["response"]["status"]) == ("t-back", "remote", 200)
        assert backs[trace_id]["parent_id"] == call["id"]  # the trace header went with the call
        assert backs[trace_id]["subsegments"][0]["name"] == "t-back-gen"
        assert "fault" not in front and "parent_id" not in front
    faulted = [d for d in docs_after[len(docs):] if d["name"] == "t-front"]
    assert len(faulted) == 3
    for front in faulted:
        assert front["fault"] is True and front["http"]["response"]["status"] == 502
        call = front["subsegments"][0]
        assert call["fault"] is True and call["cause"]["exceptions"][0]["remote"] is True
    assert not any(d["name"] == "t-back" for d in docs_after[len(docs):])


def test_health_checks_are_not_traced(capture, tmp_path):
    import urllib.request

    with LocalSample(capture.address, workdir=str(tmp_path)) as app:
        for _attempt in range(5):
            with urllib.request.urlopen(app.front_url.replace("/api", "/healthz"), timeout=5) as response:
                assert response.status == 200
        time.sleep(0.5)
    assert capture.docs == []


@pytest.mark.parametrize(
    "env, url, name",
    [
        ({}, "http://x-ray-sample-back-k8s:8080/api", "x-ray-sample-back-k8s"),
        ({"DOWNSTREAM_URLS": "http://x-ray-sample-back-k8s.xray-apps.svc:80"}, "http://x-ray-sample-back-k8s.xray-apps.svc:80/api", "x-ray-sample-back-k8s"),
        ({"DOWNSTREAM_URLS": "http://b.ns.svc:80/rand, http://c:1"}, "http://b.ns.svc:80/rand", "b"),
        ({"SAMPLE_BACKEND_URL": "http://127.0.0.1:9000/api", "DOWNSTREAM_URLS": "http://b:1"}, "http://127.0.0.1:9000/api", "127.0.0.1"),
        ({"SAMPLE_BACKEND_URL": "http://127.0.0.1:9000/api", "SAMPLE_BACKEND_NAME": "back"}, "http://127.0.0.1:9000/api", "back"),
    ],
)
def test_front_end_finds_its_back_end(monkeypatch, env, url, name):
    from xray_sample.frontend import BackendConfig

    for key in ("SAMPLE_BACKEND_URL", "SAMPLE_BACKEND_NAME", "DOWNSTREAM_URLS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    backend = BackendConfig()
    assert (backend.url, backend.name) == (url, name)
