"""Running a real uvicorn server on 127.0.0.1 in a thread: for tests and benchmarks.

Shipped in the package (not in a conftest) because adapter packages test their backends
through the real server too, and the runner may embed a server the same way.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """``with ServerThread(app) as server: httpx.get(server.url + "/health")``."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, host=host, port=self.port, log_level="info", lifespan="on")
        self._server = uvicorn.Server(config)
        state = getattr(getattr(app, "state", None), "server", None)
        if state is not None:  # a parent-pid shutdown stops this thread, not the whole process
            state.request_shutdown = self.stop
        self._thread = threading.Thread(target=self._server.run, name="vlmhb-server", daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def wait_ready(self, headers: dict[str, str] | None = None, timeout_s: float = 60) -> None:
        """Block until GET /ready says 200 (the startup load can take a while)."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            last = httpx.get(f"{self.url}/ready", headers=headers or {})
            if last.status_code == 200:
                return
            if "last load failed" in last.text:
                break
            time.sleep(0.05)
        raise RuntimeError(f"server not ready: {last.text if last else 'no answer'}")

    def stop(self) -> None:
        """Ask uvicorn to shut down (from any thread); ``__exit__`` waits for it."""
        self._server.should_exit = True

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._thread.join(timeout=30)
