"""Issue #17 (wrapper side) and #22: hostile input must not freeze, crash or take over the server.

Every test runs a real uvicorn on 127.0.0.1 with the in-test EchoBackend (a test tool), real
clients (httpx, raw sockets) and real processes for the parent-pid tests.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any, ClassVar

import httpx
import psutil
import pytest
from conftest import AUTH, EchoBackend, data_url, png_bytes, start
from pydantic import BaseModel, ConfigDict, ValidationError
from vlmhb_api_wrapper import ParentWatch, ServerSettings, main, scrubbed_env
from vlmhb_api_wrapper.cli import SettingsError, build_parser, settings_from_args

TESTS = Path(__file__).parent
#: How long a liveness probe may take while the server is busy: a bound for "not frozen",
#: not a performance figure (the issue's failures blocked /health for 9-16 s).
LIVENESS_S = 3.0


def chat(url: str, body: dict, headers: dict | None = None, **kw: Any) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions", json=body, headers=AUTH if headers is None else headers, **kw
    )


def image_body(url: str) -> dict:
    return {
        "model": "echo-1",
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
        ],
    }


def text_body(text: str = "hello", **extra: Any) -> dict:
    return {"model": "echo-1", "messages": [{"role": "user", "content": text}], **extra}


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height``: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\0" * 1024)  # a few rows; the rest would be zeros, never decoded
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --- #17.2 pixel limit, body limit, nothing CPU-bound on the loop ----------------------------


@pytest.mark.parametrize("side", [13_000, 20_000])
def test_image_bombs_are_413_before_decoding(server, side):
    bomb = png_header_only(side, side)
    assert len(bomb) < 2000
    answer = chat(server.url, image_body(data_url(bomb)))
    assert answer.status_code == 413, answer.text
    message = answer.json()["error"]["message"]
    assert "messages[0].content[0].image_url" in message
    assert "pixels" in message or "too large to decode" in message
    assert httpx.get(f"{server.url}/health").status_code == 200


def test_pixel_limit_is_a_setting(echo):
    with start(echo, max_image_pixels=1000) as server:
        server.wait_ready(AUTH)
        answer = chat(server.url, image_body(data_url(png_bytes((40, 40)))))
        assert answer.status_code == 413
        assert (
            "40x40 = 1600 pixels, over the limit of 1000 pixels"
            in answer.json()["error"]["message"]
        )
        assert chat(server.url, image_body(data_url(png_bytes((20, 20))))).status_code == 200


def test_pixel_limit_from_cli_and_env(monkeypatch):
    parse = build_parser().parse_args
    assert settings_from_args(parse(["--backend", "x"])).max_image_pixels == 50_000_000
    monkeypatch.setenv("VLMHB_MAX_IMAGE_PIXELS", "1234")
    assert settings_from_args(parse(["--backend", "x"])).max_image_pixels == 1234
    flag = parse(["--backend", "x", "--max-image-pixels", "99"])
    assert settings_from_args(flag).max_image_pixels == 99
    monkeypatch.setenv("VLMHB_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(SettingsError, match=r"\$VLMHB_MAX_IMAGE_PIXELS: expected an integer"):
        settings_from_args(parse(["--backend", "x"]))


def _probe_health(url: str, stop: threading.Event, took: list[float]) -> None:
    with httpx.Client(timeout=LIVENESS_S * 3) as client:
        while not stop.is_set():
            started = time.monotonic()
            assert client.get(f"{url}/health").status_code == 200
            took.append(time.monotonic() - started)
            time.sleep(0.02)


def test_health_answers_while_a_big_request_is_parsed(echo):
    """A 40 MB body is received, parsed and validated off the event loop."""
    with start(echo) as server:
        server.wait_ready(AUTH)
        stop, took = threading.Event(), []
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            probe = pool.submit(_probe_health, server.url, stop, took)
            big = pool.submit(chat, server.url, text_body("x " * 20_000_000), timeout=120)
            answer = big.result()
            stop.set()
            probe.result()
        assert answer.status_code == 200
        assert took, "no /health answer while the request ran"
        assert max(took) < LIVENESS_S, took


def test_unauthenticated_body_is_not_read(server):
    """401 from the headers alone: a client announcing 60 MB gets it after sending 1 KB."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 62914560\r\n\r\n" + b"[" * 1024
        )
        reply = sock.recv(65536).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 401"), reply[:200]
    assert "missing or wrong API key" in reply


def test_unauthenticated_oversized_body_is_401_not_413(echo):
    with start(echo, max_request_bytes=1000) as server:
        answer = chat(server.url, text_body("x" * 5000), headers={})
        assert answer.status_code == 401


# --- #17.6 auth everywhere, keys, schemas ----------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_docs_are_behind_the_key(server, path):
    assert httpx.get(f"{server.url}{path}").status_code == 401
    if path != "/docs/oauth2-redirect":
        assert httpx.get(f"{server.url}{path}", headers=AUTH).status_code == 200


@pytest.mark.parametrize("key", [" ", "   ", "\t", " key-with-space", "key\n"])
def test_blank_or_padded_key_is_refused(key, capsys):
    with pytest.raises(ValidationError, match="API key"):
        ServerSettings(api_key=key)
    assert main(["--backend", "echo", "--api-key", key]) == 2
    err = capsys.readouterr().err
    assert "vlmhb-serve:" in err and "key" in err
    assert "Traceback" not in err


def test_empty_key_opens_the_server_with_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    settings = ServerSettings(api_key="")
    assert settings.api_key is None
    with start(EchoBackend(), api_key="") as server:
        server.wait_ready()
        assert httpx.get(f"{server.url}/ready").status_code == 200
    assert "every endpoint is open" in caplog.text


def test_short_key_gets_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    with start(EchoBackend(), api_key="abc") as server:
        server.wait_ready({"X-API-Key": "abc"})
    assert "the API key has 3 characters" in caplog.text


def test_api_key_from_file_and_env(tmp_path, monkeypatch):
    parse = build_parser().parse_args
    key_file = tmp_path / "key"
    key_file.write_text("file-key-0123456789\n")
    settings = settings_from_args(parse(["--backend", "x", "--api-key-file", str(key_file)]))
    assert settings.api_key.get_secret_value() == "file-key-0123456789"
    monkeypatch.setenv("VLMHB_API_KEY", "env-key-0123456789")
    assert settings_from_args(parse(["--backend", "x"])).api_key.get_secret_value() == (
        "env-key-0123456789"
    )
    with pytest.raises(SettingsError, match="not both"):
        settings_from_args(
            parse(["--backend", "x", "--api-key", "k", "--api-key-file", str(key_file)])
        )
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SettingsError, match=r"empty.*the file is empty"):
        settings_from_args(parse(["--backend", "x", "--api-key-file", str(tmp_path / "empty")]))
    with pytest.raises(SettingsError, match=r"missing: not a regular file"):
        settings_from_args(parse(["--backend", "x", "--api-key-file", str(tmp_path / "missing")]))


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"type": "object", "properties": ["a", "b"]}, "json_schema.schema.properties"),
        ({"type": "object", "properties": {"a": 3}}, "json_schema.schema.properties.a"),
        ({"type": "array", "items": "string"}, "json_schema.schema.items"),
        ({"type": "object", "required": "a"}, "json_schema.schema.required"),
    ],
)
def test_malformed_json_schema_is_422(server, schema, where):
    body = text_body(
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )
    answer = chat(server.url, body)
    assert answer.status_code == 422, answer.text
    assert where in answer.json()["error"]["message"]


def test_deeply_nested_json_is_422_not_500(server):
    deep = b'{"model": "echo-1", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = httpx.post(
        f"{server.url}/v1/chat/completions",
        content=deep,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text[:300]
    assert httpx.get(f"{server.url}/health").status_code == 200


# --- #17.3 per-backend config models; #17.6 secrets a backend does not take ------------------


class StrictConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "strict-1"
    size: int = 1
    hub_token: str | None = None


class StrictEchoBackend(EchoBackend):
    """Test tool: the echo backend with a config model."""

    name: ClassVar[str] = "strict-echo"
    config_model: ClassVar[type[BaseModel]] = StrictConfig

    def default_config(self) -> dict[str, Any]:
        return {"model": "strict-1"}


def test_config_model_refuses_unknown_fields_and_keeps_the_model(caplog):
    backend = StrictEchoBackend()
    with start(backend) as server:
        server.wait_ready(AUTH)
        load = f"{server.url}/v1/models/load"
        bad = httpx.post(load, json={"config": {"model": "x", "cmd": "/bin/sh"}}, headers=AUTH)
        assert bad.status_code == 422
        error = bad.json()["error"]
        assert "config.cmd" in error["message"] and error["param"] == "config.cmd"
        wrong_type = httpx.post(load, json={"config": {"size": "big"}}, headers=AUTH)
        assert wrong_type.status_code == 422 and "config.size" in wrong_type.text
        # the model that was loaded is still loaded and serving
        assert httpx.get(f"{server.url}/ready", headers=AUTH).status_code == 200
        assert chat(server.url, {**text_body(), "model": "strict-1"}).status_code == 200
        ok = httpx.post(
            load,
            json={
                "config": {"model": "strict-2"},
                "secrets": {"hub_token": "hub-secret-123456", "aws_key": "aws-secret-123456"},
            },
            headers=AUTH,
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["ignored_secrets"] == ["aws_key"]
        assert backend.loaded_config == {"model": "strict-2", "hub_token": "hub-secret-123456"}
        assert "hub-secret-123456" not in ok.text


def test_failed_load_says_no_model_is_loaded(server):
    answer = httpx.post(
        f"{server.url}/v1/models/load", json={"config": {"fail": "disk full"}}, headers=AUTH
    )
    assert answer.status_code == 500
    message = answer.json()["error"]["message"]
    assert "disk full" in message
    assert "no model is loaded now (the previous model 'echo-1' was unloaded first" in message
    assert chat(server.url, text_body()).status_code == 409


# --- #17.4 unload while requests are in flight -----------------------------------------------


def test_unload_waits_for_requests_in_flight(echo):
    with start(echo) as server:
        server.wait_ready(AUTH)
        echo.generate_gate = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            held = [pool.submit(chat, server.url, text_body(f"r{i}"), timeout=60) for i in range(5)]
            _wait_for(lambda: _models(server)["in_flight"] == 5)
            unload = pool.submit(
                httpx.post, f"{server.url}/v1/models/unload", headers=AUTH, timeout=60
            )
            _wait_for(lambda: _models(server)["state"] == "unloading")
            late = chat(server.url, text_body("late"))
            assert late.status_code == 409 and "being unloaded" in late.text
            assert not unload.done()
            echo.generate_gate.set()
            assert [f.result().status_code for f in held] == [200] * 5
            assert unload.result().status_code == 200
        assert _models(server)["state"] == "empty"


def test_unload_gives_up_with_409_when_requests_do_not_finish(echo):
    with start(echo, unload_drain_s=0.3) as server:
        server.wait_ready(AUTH)
        echo.generate_gate = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            held = pool.submit(chat, server.url, text_body("slow"), timeout=60)
            _wait_for(lambda: _models(server)["in_flight"] == 1)
            unload = httpx.post(f"{server.url}/v1/models/unload", headers=AUTH)
            assert unload.status_code == 409
            assert "1 request(s) still in flight" in unload.json()["error"]["message"]
            reload = httpx.post(f"{server.url}/v1/models/load", json={}, headers=AUTH)
            assert reload.status_code == 409
            assert _models(server)["state"] == "loaded"  # the model stays
            echo.generate_gate.set()
            assert held.result().status_code == 200
        assert httpx.post(f"{server.url}/v1/models/unload", headers=AUTH).status_code == 200


def test_unload_and_reload_under_load_never_5xx(echo):
    with start(echo) as server:
        server.wait_ready(AUTH)
        statuses: list[int] = []
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(chat, server.url, text_body(f"r{i}")) for i in range(200)]
            for _ in range(3):
                assert httpx.post(f"{server.url}/v1/models/unload", headers=AUTH).status_code in (
                    200,
                    409,
                )
                load = httpx.post(f"{server.url}/v1/models/load", json={}, headers=AUTH)
                assert load.status_code in (200, 409)
            statuses = [f.result().status_code for f in futures]
        assert set(statuses) <= {200, 409}, sorted(set(statuses))
        assert statuses.count(200) > 0


def _models(server) -> dict:
    return httpx.get(f"{server.url}/v1/models", headers=AUTH).json()


def _wait_for(condition, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# --- #17.5 children get no secrets ------------------------------------------------------------


def test_child_processes_get_a_scrubbed_environment(monkeypatch):
    for name in ("VLMHB_API_KEY", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "MY_SECRET_X", "FOO_KEY"):
        monkeypatch.setenv(name, "leak-me-123456")
    monkeypatch.setenv("KEEP_ME", "fine")
    env = scrubbed_env()
    out = subprocess.run(["env"], env=env, capture_output=True, text=True, check=True).stdout
    assert "leak-me-123456" not in out
    assert "KEEP_ME=fine" in out and "PATH=" in out


# --- #22 parent pid ----------------------------------------------------------------------------


def test_in_process_server_stops_when_its_parent_is_gone(echo):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with start(echo, parent_pid=parent.pid, watchdog_interval_s=0.05) as server:
            server.wait_ready(AUTH)
            assert server.running
            parent.kill()  # not reaped yet: a zombie counts as gone
            _wait_for(lambda: not server.running, timeout_s=15)
    finally:
        parent.kill()
        parent.wait()


def test_parent_watch_refuses_a_missing_pid(capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with pytest.raises(ValueError, match=f"parent pid {dead.pid}: no such process"):
        ParentWatch(dead.pid)
    assert main(["--backend", "echo", "--parent-pid", str(dead.pid)]) == 2
    assert f"parent pid {dead.pid}" in capsys.readouterr().err


_PARENT = """
import os, subprocess, sys, time
server = subprocess.Popen(
    [sys.executable, "-c", {server!r}, "--parent-pid", str(os.getpid())],
    env={{**os.environ, "VLMHB_API_KEY": "parent-test-key-0123456789"}},
)
print(server.pid, flush=True)
time.sleep(300)
"""

_SERVER = """
import sys
sys.path.insert(0, {tests!r})
from conftest import EchoBackend
from vlmhb_api_wrapper import main, register_backend
register_backend(EchoBackend)
sys.exit(main(["--backend", "echo", "--port", "{port}", "--log-level", "warning"] + sys.argv[1:]))
"""


def test_vlmhb_serve_exits_when_its_parent_is_killed():
    """A real parent starts a real vlmhb-serve with --parent-pid, then is SIGKILLed."""
    from vlmhb_api_wrapper.testing import free_port

    port = free_port()
    server_code = _SERVER.format(tests=str(TESTS), port=port)
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT.format(server=server_code)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    server_pid = None
    try:
        server_pid = int(parent.stdout.readline())
        headers = {"X-API-Key": "parent-test-key-0123456789"}
        _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/ready", headers), timeout_s=30)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        server = psutil.Process(server_pid)
        server.wait(timeout=15)  # raises TimeoutExpired when the server outlives its parent
        assert not psutil.pid_exists(server_pid) or server.status() == psutil.STATUS_ZOMBIE
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if server_pid is not None and psutil.pid_exists(server_pid):
            with contextlib.suppress(psutil.Error):
                psutil.Process(server_pid).kill()  # only after a failure: leave nothing behind


def _answers(url: str, headers: dict[str, str]) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_parent_pid_from_env(monkeypatch):
    monkeypatch.setenv("VLMHB_PARENT_PID", str(os.getpid()))
    assert settings_from_args(build_parser().parse_args(["--backend", "x"])).parent_pid == (
        os.getpid()
    )


def test_base64_image_of_a_bomb_in_a_file_url(echo, tmp_path):
    """The pixel check covers file:// images too."""
    (tmp_path / "bomb.png").write_bytes(png_header_only(15_000, 15_000))
    with start(echo, data_root=tmp_path) as server:
        server.wait_ready(AUTH)
        answer = chat(server.url, image_body((tmp_path / "bomb.png").as_uri()))
        assert answer.status_code == 413
