"""A private Docker engine and the images the docker executor runs in: test infrastructure.

Why this exists: CI machines and developer sandboxes often have the Docker client and
Debian's ``dockerd`` but no running engine and no reachable image registry. So the tests (the
docker-executor package's ``tests/conftest.py`` loads this file) and developers
(``scripts/docker-engine.sh start``) start their own engine with private paths, and images are
built locally with ``debootstrap`` instead of pulled. The product never starts an engine: the
executor uses ``DOCKER_HOST`` or the default socket, like every Docker client.

Images: ``vlmhb-base:bookworm`` (Python 3.11, venv, git, CA certificates) and
``vlmhb-ocr:bookworm`` (the same plus Tesseract with Russian and English data and the libGL
and GLib that RapidOCR's OpenCV loads, for the OCR model servers). Each root filesystem
tarball is cached (``~/.cache/vlmhb/base-images/``, one per package list), so only the first
build on a machine pays for debootstrap (about a minute); later ones import the tarball (a few
seconds). An image carries its package list as a label, so an engine kept between runs
rebuilds an image made from an older list instead of running without the new packages.

Only the standard library, ``docker`` and ``filelock`` are needed (``docker-engine.sh`` runs
it with ``uv run --with docker --with filelock``).

The flags are those that work without iptables or bridges (nested containers, sandboxes):
``--iptables=false --bridge=none``, with ``--storage-driver=overlay2`` where the kernel allows
it and ``vfs`` (slower: each container copies the image) where not; containers therefore use
``network_mode="host"``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import DockerException, ImageNotFound
from filelock import FileLock

BASE_IMAGE = "vlmhb-base:bookworm"
"""Tag of the base image stages run in: Debian bookworm with Python 3.11, venv and git."""
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "git")
"""git is there because uv installs git sources with the git CLI."""
OCR_IMAGE = "vlmhb-ocr:bookworm"
"""The base image plus what both OCR engines need: where the OCR adapter's model server runs."""
OCR_PACKAGES = (
    *BASE_PACKAGES,
    "tesseract-ocr",
    "tesseract-ocr-rus",
    "tesseract-ocr-eng",
    "libgl1",
    "libglib2.0-0",
)
"""Tesseract with Russian and English data; libGL and GLib for OpenCV (``opencv-python``, which
RapidOCR requires, loads ``libGL.so.1`` at import; minbase has neither)."""
IMAGES = {BASE_IMAGE: BASE_PACKAGES, OCR_IMAGE: OCR_PACKAGES}
"""The images this script knows how to build, by tag."""
PACKAGES_LABEL = "org.vlmhyperbench.debian-packages"
"""Label of a built image: its Debian package list, so an image built from an older list (an
engine kept between runs) is rebuilt rather than used as if it held the new packages."""
DEFAULT_ROOT = Path("/tmp/vlmhb-docker")
"""Short on purpose: dockerd's exec-root holds unix sockets, whose paths are limited to 108."""
_TRIMMED = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
            "usr/share/locale")  # fmt: skip
"""Folders emptied in the base image: every container of the vfs driver copies the image."""


class EngineError(RuntimeError):
    """No Docker engine could be started or reached, or the base image could not be built."""


def engine_root() -> Path:
    """``$VLMHB_DOCKER_ROOT`` or ``/tmp/vlmhb-docker``: the engine's sockets, data and log."""
    return Path(os.environ.get("VLMHB_DOCKER_ROOT") or DEFAULT_ROOT)


def base_image_cache() -> Path:
    """Where root filesystem tarballs are kept between runs (``~/.cache/vlmhb/base-images``)."""
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "vlmhb" / "base-images"


@dataclass
class DockerEngine:
    """A reachable Docker engine; ``started`` says whether this process started it."""

    base_url: str
    root: Path
    pid: int | None = None
    started: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def client(self, timeout: int = 600) -> docker.DockerClient:
        """A docker SDK client for this engine."""
        return docker.DockerClient(base_url=self.base_url, timeout=timeout)

    def stop(self, timeout: float = 30, *, remove: bool = False) -> None:
        """Stop the engine if this process started it (a reused engine is left running);
        ``remove`` also deletes its folder (images, containers, log)."""
        if self.started and self.pid is not None:
            _terminate(self.pid, timeout)
            if self.process is not None:
                self.process.wait(timeout)  # reaps it; dockerd is gone by now
            self.started = False
            _unmount_below(self.root)
            if remove:
                shutil.rmtree(self.root, ignore_errors=True)


def ping(base_url: str) -> bool:
    """Whether an engine answers at ``base_url``."""
    try:
        client = docker.DockerClient(base_url=base_url, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except DockerException:
        return False
    except OSError:
        return False


def ensure_engine(
    root: Path | None = None, *, timeout: float = 60, storage_driver: str | None = None
) -> DockerEngine:
    """The private engine under ``root``: reused if it answers, else started and awaited.

    ``storage_driver``: ``overlay2`` is tried first (fast container creation) and ``vfs``
    (works everywhere, copies the image per container) if the kernel or filesystem refuses
    it; ``$VLMHB_DOCKER_STORAGE_DRIVER`` or the argument forces one. Raises ``EngineError``
    with the reason (no ``dockerd``, not root, dockerd died and its log's last lines) when
    none can be had.
    """
    root = Path(root) if root is not None else engine_root()
    root.mkdir(parents=True, exist_ok=True)
    socket = root / "docker.sock"
    base_url = f"unix://{socket}"
    forced = storage_driver or os.environ.get("VLMHB_DOCKER_STORAGE_DRIVER")
    drivers = [forced] if forced else ["overlay2", "vfs"]
    with FileLock(str(root / "engine.lock"), timeout=timeout + 30):
        pid = _read_pid(root / "dockerd.pid")
        if socket.exists() and ping(base_url):
            return DockerEngine(base_url=base_url, root=root, pid=pid, started=False)
        if pid is not None and _alive(pid):
            _terminate(pid, 20)  # a dockerd that does not answer is useless; start afresh
        dockerd = shutil.which("dockerd") or (
            "/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").exists() else None
        )
        if dockerd is None:
            raise EngineError("dockerd is not installed (Debian/Ubuntu: apt-get install docker.io)")
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            raise EngineError("starting dockerd needs root; or point DOCKER_HOST at an engine")
        failures: list[str] = []
        for driver in drivers:
            process, failure = _start_dockerd(dockerd, root, driver, timeout)
            if process is not None:
                return DockerEngine(
                    base_url=base_url, root=root, pid=process.pid, started=True, process=process
                )
            failures.append(f"--storage-driver={driver}: {failure}")
        raise EngineError("dockerd could not be started:\n" + "\n".join(failures))


def _start_dockerd(
    dockerd: str, root: Path, driver: str, timeout: float
) -> tuple[subprocess.Popen[bytes] | None, str]:
    """Start dockerd with ``driver``; the running process, or None and why it failed."""
    socket = root / "docker.sock"
    base_url = f"unix://{socket}"
    socket.unlink(missing_ok=True)
    log_path = root / "dockerd.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    argv = [
        dockerd,
        "--iptables=false",
        "--bridge=none",
        f"--storage-driver={driver}",
        f"--host={base_url}",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'x'}",
        f"--pidfile={root / 'dockerd.pid'}",
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the caller's Ctrl-C until stopped on purpose
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _unmount_below(root)  # a dockerd that died at start leaves its data-root mounted
            return None, f"exited with status {process.returncode}; {log_path}:\n" + _tail(
                log_path, offset=offset
            )
        if socket.exists() and ping(base_url):
            return process, ""
        time.sleep(0.2)
    _terminate(process.pid, 10)
    process.wait(10)
    _unmount_below(root)
    return None, f"no answer within {timeout:g} s; {log_path}:\n" + _tail(log_path, offset=offset)


def stop_engine(root: Path | None = None, timeout: float = 30) -> bool:
    """Stop the private engine under ``root`` whoever started it; False if none was running."""
    root = Path(root) if root is not None else engine_root()
    pid = _read_pid(root / "dockerd.pid")
    if pid is None or not _alive(pid):
        return False
    _terminate(pid, timeout)
    _unmount_below(root)
    return True


def ensure_base_image(
    client: docker.DockerClient,
    tag: str = BASE_IMAGE,
    *,
    cache_dir: Path | None = None,
    packages: tuple[str, ...] | None = None,
) -> str:
    """The id of image ``tag``: present with these packages, or imported from the cached
    tarball, or built with debootstrap first (needs root and a reachable Debian mirror).
    ``packages``: the Debian packages it holds (default: those ``IMAGES`` lists for ``tag``,
    else the base's). An image of that tag with another package list (its ``PACKAGES_LABEL``),
    or none, is replaced: the tag then names the new image."""
    if packages is None:
        packages = IMAGES.get(tag, BASE_PACKAGES)
    wanted = " ".join(packages)
    stale: str | None = None
    try:
        present = client.images.get(tag)
        if (present.labels or {}).get(PACKAGES_LABEL) == wanted:
            return str(present.id)
        stale = str(present.id)
    except ImageNotFound:
        pass
    tarball = base_rootfs_tarball(cache_dir, packages)
    repository, _, version = tag.rpartition(":")
    if not repository:
        repository, version = tag, "latest"
    client.api.import_image_from_file(
        str(tarball),
        repository=repository,
        tag=version,
        changes=["ENV LANG=C.UTF-8", 'CMD ["python3"]', f'LABEL {PACKAGES_LABEL}="{wanted}"'],
    )
    image_id = str(client.images.get(tag).id)
    if stale is not None and stale != image_id:
        try:  # untagged now; an engine kept between runs need not keep it
            client.images.remove(stale)
        except DockerException:
            pass  # a container still uses it: the engine keeps it until that one is gone
    return image_id


def base_rootfs_tarball(
    cache_dir: Path | None = None, packages: tuple[str, ...] = BASE_PACKAGES
) -> Path:
    """The cached root filesystem tarball holding ``packages``, built with debootstrap if
    absent (named by the package list, so each list is built once per machine)."""
    cache_dir = Path(cache_dir) if cache_dir is not None else base_image_cache()
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = f"{BASE_SUITE}-minbase-{'-'.join(packages)}.tar.gz"
    tarball = cache_dir / name
    with FileLock(str(cache_dir / f"{name}.lock"), timeout=1800):
        if tarball.is_file():
            return tarball
        debootstrap = shutil.which("debootstrap") or (
            "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
        )
        if debootstrap is None:
            raise EngineError("debootstrap is not installed (apt-get install debootstrap)")
        with tempfile.TemporaryDirectory(prefix="vlmhb-rootfs-", dir=cache_dir) as tmp:
            rootfs = Path(tmp) / "rootfs"
            built = subprocess.run(
                [
                    debootstrap,
                    "--variant=minbase",
                    f"--include={','.join(packages)}",
                    BASE_SUITE,
                    str(rootfs),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if built.returncode != 0:
                raise EngineError(
                    f"debootstrap of {BASE_SUITE} failed (status {built.returncode}):\n"
                    + "\n".join((built.stdout + built.stderr).strip().splitlines()[-15:])
                )
            for relative in _TRIMMED:
                folder = rootfs / relative
                if folder.is_dir():
                    for child in folder.iterdir():
                        if child.is_dir() and not child.is_symlink():
                            shutil.rmtree(child)
                        else:
                            child.unlink()
            partial = cache_dir / f"{name}.partial"
            with partial.open("wb") as out:
                tar = subprocess.Popen(
                    ["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
                )
                gzip = subprocess.run(["gzip", "-1"], stdin=tar.stdout, stdout=out, check=False)
                assert tar.stdout is not None
                tar.stdout.close()
                if tar.wait() != 0 or gzip.returncode != 0:
                    partial.unlink(missing_ok=True)
                    raise EngineError(f"packing the root filesystem into {tarball} failed")
            os.replace(partial, tarball)  # only a complete tarball is ever found
    return tarball


def _unmount_below(root: Path) -> None:
    """Unmount what a stopped dockerd leaves mounted under ``root`` (its netns file)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    prefix = str(root.resolve()).rstrip("/") + "/"
    points = [line.split()[4] for line in lines if len(line.split()) > 4]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM (dockerd stops its containers and containerd), SIGKILL after ``timeout``."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _tail(path: Path, lines: int = 15, offset: int = 0) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
        return "\n".join(text.strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    """``scripts/docker_engine.py start|stop|image|status``."""
    parser = argparse.ArgumentParser(
        prog="scripts/docker-engine.sh",
        description="Start/stop a private Docker engine and build the vlmhb images.",
    )
    parser.add_argument("action", choices=["start", "stop", "image", "status"])
    parser.add_argument(
        "--root", type=Path, default=None, help=f"engine folder (default {DEFAULT_ROOT})"
    )
    parser.add_argument(
        "--tag",
        action="append",
        choices=sorted(IMAGES),
        help=f"image to build with `image` (repeatable; default {BASE_IMAGE})",
    )
    args = parser.parse_args(argv)
    try:
        if args.action == "stop":
            print("stopped" if stop_engine(args.root) else "not running")
            return 0
        if args.action == "status":
            root = args.root or engine_root()
            up = ping(f"unix://{root / 'docker.sock'}")
            print(f"unix://{root / 'docker.sock'} {'running' if up else 'not running'}")
            return 0 if up else 1
        engine = ensure_engine(args.root)
        if args.action == "image":
            client = engine.client()
            for tag in args.tag or [BASE_IMAGE]:
                print(f"{tag} {ensure_base_image(client, tag)}")
        # Printed so a shell can do: export $(scripts/docker-engine.sh start | tail -n 1)
        print(f"DOCKER_HOST={engine.base_url}")
        return 0
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


__all__ = [
    "BASE_IMAGE",
    "IMAGES",
    "OCR_IMAGE",
    "PACKAGES_LABEL",
    "DockerEngine",
    "EngineError",
    "base_rootfs_tarball",
    "engine_root",
    "ensure_base_image",
    "ensure_engine",
    "ping",
    "stop_engine",
]

if __name__ == "__main__":
    sys.exit(main())
