"""The guardian process of one model server container (see ``guardian.py`` for why).

Run by path, not as a module of the package, so that it starts in a fraction of a second
and imports nothing but the docker SDK. Born with SIGTERM/SIGINT/SIGHUP blocked; it installs
its handler, unblocks them (a signal that came meanwhile is delivered now), writes "armed" on
``--ready-fd``, then waits: for a signal (the run died: ``PR_SET_PDEATHSIG``), for its parent
to change (the run died before the kernel was told), or for the container to be gone (it was
stopped normally). In the first two cases it removes the container.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

POLL_S = 2.0
"""How often the guardian checks that the container and the run still exist."""
SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vlmhb-docker-guardian")
    parser.add_argument("container", help="id of the container to remove when the run dies")
    parser.add_argument("--parent-pid", type=int, required=True, help="the run's pid")
    parser.add_argument("--ready-fd", type=int, default=None, help="pipe to say 'armed' on")
    parser.add_argument("--docker-host", default=None, help="engine URL (default DOCKER_HOST)")
    args = parser.parse_args(argv)

    fired = threading.Event()
    for sig in SIGNALS:
        signal.signal(sig, lambda *_: fired.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    import docker
    from docker.errors import DockerException, NotFound

    client = (
        docker.DockerClient(base_url=args.docker_host, timeout=60)
        if args.docker_host
        else docker.from_env(timeout=60)
    )
    if args.ready_fd is not None:
        os.write(args.ready_fd, b"armed\n")
        os.close(args.ready_fd)
    reason = "the run ended"
    while not fired.wait(POLL_S):
        if os.getppid() != args.parent_pid:  # died before PR_SET_PDEATHSIG was in place
            reason = f"the run (pid {args.parent_pid}) is gone"
            break
        try:
            client.api.inspect_container(args.container)
        except NotFound:
            return 0  # stopped and removed normally: nothing to guard
        except DockerException:
            continue  # the engine did not answer this time; try again
    try:
        client.api.remove_container(args.container, force=True)
        print(f"[vlmhb guardian] {reason}: removed container {args.container[:12]}", flush=True)
    except NotFound:
        pass
    except DockerException as exc:
        print(f"[vlmhb guardian] could not remove {args.container[:12]}: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
