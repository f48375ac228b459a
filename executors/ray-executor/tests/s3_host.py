"""An S3-compatible storage server (moto) for the namespace cluster, restartable on SIGUSR1.

Run on one host of :class:`netns_cluster.NetnsCluster`::

    python s3_host.py --host 10.213.7.11 --port 9000 --down-file /tmp/vc-x/ctl/s3-down-s

It creates no bucket: the test's clients do that, as against a real store. Its data lives in
this process (moto's in-memory backends), so it survives a restart of the listener but not
the process, as a server with a disk survives a restart but not the loss of its machine.

On SIGUSR1 it closes its listener *and every open connection*, stays down for the number of
seconds written in ``--down-file`` (read at the signal; 5 when the file is absent), then
listens again on the same address with the same data: "the storage server restarted". A
client meanwhile gets its connection refused or reset. It prints one line per event
(``listening``, ``down``, ``up``), flushed, which is how the harness follows it.

Moto's own ``ThreadedMotoServer`` is not used: its ``stop()`` keeps the listening socket open
(clients would hang in the backlog instead of being refused, and listening again on the same
port would fail) and leaves keep-alive connections served by their threads.
"""

from __future__ import annotations

import argparse
import signal
import socket
import threading
from pathlib import Path

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer

DEFAULT_DOWN_S = 5.0


class _Server(ThreadedWSGIServer):
    """A threaded WSGI server that can cut every connection it accepted (a process restart
    would close them all; merely stopping the accept loop would not)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        with self._lock:
            self._open.add(connection)
        return connection, address

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self._lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client closed it first


def _listen(app: DomainDispatcherApplication, host: str, port: int) -> _Server:
    server = _Server(host, port, app, handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="s3-http", daemon=True).start()
    return server


def _down_seconds(down_file: Path | None) -> float:
    try:
        return float(down_file.read_text().strip()) if down_file else DEFAULT_DOWN_S
    except (OSError, ValueError):
        return DEFAULT_DOWN_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", required=True, help="address to listen on")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--down-file", type=Path, help="holds how many seconds a restart stays down"
    )
    args = parser.parse_args()

    restart = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: restart.set())
    app = DomainDispatcherApplication(create_backend_app)  # one app: the same data throughout
    server = _listen(app, args.host, args.port)
    print(f"listening {args.host}:{args.port}", flush=True)
    while True:
        if not restart.wait(0.2):
            continue
        restart.clear()
        down_s = _down_seconds(args.down_file)
        server.shutdown()  # the accept loop ends...
        server.server_close()  # ...the listening socket closes: new connections are refused
        server.cut_connections()  # ...and open keep-alive connections are reset
        print(f"down {down_s}", flush=True)
        threading.Event().wait(down_s)
        server = _listen(app, args.host, args.port)
        print("up", flush=True)


if __name__ == "__main__":
    main()
