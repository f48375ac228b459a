"""Building an environment inside a container: the second builder behind the same cache.

Why: a stage or a model server may need system libraries, a CUDA runtime or GPUs that the
host's Python should not see. The image gives it a fixed base, while the packages still come
from the sources, installed with uv as on the host. The environment is a uv venv created by the
image's Python into ``<cache>/<key>/`` (mounted at the same absolute path), so every later
container of that image runs it from the same path. Its key holds the image id instead of the
host interpreter, so host venvs and container builds never share a folder.

This module does not talk to a container engine: ``ContainerBuilder`` is given a
``ContainerRunner``, a callable that runs a command in a container of an image with bind
mounts and environment variables and returns its exit code and output lines (the docker
executor passes one made with the Docker SDK). The host's uv binary and uv cache are mounted
into the build container, so installs are as fast as local ones; the host's CA bundle and
proxy / index variables are passed through, so uv in the container reaches the package index
the way the host does.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import InstallError
from .manager import LOCK_FILE, environment_key, install_error
from .resolve import ResolvedSource

Volumes = dict[str, dict[str, str]]
"""Host path -> ``{"bind": path in the container, "mode": "ro" | "rw"}`` (docker SDK's form)."""
ContainerRunner = Callable[[str, list[str], Volumes, dict[str, str]], tuple[int, list[str]]]
"""``run(image, command, volumes, environment) -> (exit code, output lines)``; the container
runs as the host user on the host's network and is removed afterwards."""

CONTAINER_UV = "/usr/local/bin/uv"
CONTAINER_CA_BUNDLE = "/etc/ssl/certs/vlmhb-host-ca.crt"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSED_THROUGH = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_OFFLINE",
    "UV_EXCLUDE_NEWER",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
)
"""Host variables an install needs to reach the package index the way the host does."""
_INTERPRETER_MARK = "VLMHB-INTERPRETER "
_PROBE = (
    "import json, platform, sys, sysconfig; print('" + _INTERPRETER_MARK + "' + json.dumps("
    "{'executable': sys.executable, 'version': platform.python_version(), "
    "'implementation': sys.implementation.name, 'platform': sysconfig.get_platform()}))"
)


def default_uv_cache_dir() -> Path:
    """The host's uv cache (``$UV_CACHE_DIR`` or ``~/.cache/uv``), shared with containers."""
    configured = os.environ.get("UV_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "uv"


def find_uv_binary() -> Path:
    """The uv executable (a real binary, not a shim) to mount into build containers.

    Looked up in ``$VLMHB_UV``, the ``uv`` wheel, then PATH; a pyenv shim is followed to the
    binary it runs, since a shell script calling pyenv cannot run inside the container.
    """
    candidates: list[str] = []
    if os.environ.get("VLMHB_UV"):
        candidates.append(os.environ["VLMHB_UV"])
    try:
        from uv import find_uv_bin

        candidates.append(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    on_path = shutil.which("uv")
    if on_path:
        candidates.append(on_path)
        pyenv = shutil.which("pyenv")
        if pyenv:
            found = subprocess.run(
                [pyenv, "which", "uv"], capture_output=True, text=True, check=False
            )
            if found.returncode == 0 and found.stdout.strip():
                candidates.append(found.stdout.strip().splitlines()[-1])
    for candidate in candidates:
        path = Path(candidate).resolve()
        if _is_elf(path):
            return path
    raise FileNotFoundError(
        "no uv binary found to mount into containers (looked at "
        f"{', '.join(candidates) or 'nothing'}); set VLMHB_UV to the uv executable"
    )


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def host_network_environment(volumes: Volumes) -> dict[str, str]:
    """Proxy and index variables of the host, and its CA bundle mounted in (adds to
    ``volumes``): what a container needs to reach the network the way the host does."""
    environment = {n: os.environ[n] for n in PASSED_THROUGH if os.environ.get(n)}
    ca = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
    if ca.is_file():
        volumes[str(ca.resolve())] = {"bind": CONTAINER_CA_BUNDLE, "mode": "ro"}
        environment["SSL_CERT_FILE"] = CONTAINER_CA_BUNDLE
        environment["REQUESTS_CA_BUNDLE"] = CONTAINER_CA_BUNDLE
        environment["GIT_SSL_CAINFO"] = CONTAINER_CA_BUNDLE
    return environment


def source_volumes(resolved: Iterable[ResolvedSource], *, editable_only: bool) -> Volumes:
    """Local package folders (and local git repositories) at their own paths.

    With ``editable_only`` (running, not building): only editable folders, which the installed
    environment refers to. Read-write: an editable build may write into the package (egg-info).
    """
    volumes: Volumes = {}
    for source in resolved:
        if source.type == "local" and source.location and (source.editable or not editable_only):
            volumes[source.location] = {"bind": source.location, "mode": "rw"}
        if (
            not editable_only
            and source.type == "git"
            and source.location
            and source.location.startswith("file://")
        ):
            repo = Path(source.location.removeprefix("file://"))
            volumes[str(repo)] = {"bind": str(repo), "mode": "ro"}
    return volumes


def install_script(env_dir: Path, python: str, resolved: list[ResolvedSource]) -> str:
    """Shell script run in the build container: venv, wheels of built local sources, install,
    freeze, and a line describing the image's interpreter. ``set -e``: the first failing step
    fails the build."""
    q = shlex.quote
    env_python = f"{env_dir}/bin/python"
    lines = ["set -eu", f"uv venv --allow-existing --python {q(python)} {q(str(env_dir))}"]
    requirements: list[str] = []
    for index, source in enumerate(resolved):
        if source.type == "local" and not source.editable:
            out = f"/tmp/vlmhb-wheels/{index}"
            extras = f"[{','.join(source.extras)}]" if source.extras else ""
            lines.append(
                f"uv build --wheel --python {q(python)} --out-dir {out} {q(str(source.location))}"
            )
            lines.append(f'wheel_{index}="$(ls {out}/*.whl | tail -n 1)"')
            requirements.append(q(f"{source.name}{extras} @ file://") + f'"$wheel_{index}"')
        else:
            requirements += [q(arg) for arg in source.requirement()]
    if requirements:
        lines.append(f"uv pip install --python {q(env_python)} {' '.join(requirements)}")
    lock = q(str(env_dir / LOCK_FILE))
    lines.append(f"uv pip freeze --python {q(env_python)} > {lock}.partial")
    lines.append(f"mv {lock}.partial {lock}")
    lines.append(f"{q(python)} -c {q(_PROBE)}")
    return "\n".join(lines)


class ContainerBuilder:
    """Builds environments in containers of ``image`` through ``run_container``.

    ``image_id`` is the engine's id of ``image`` (it goes into the key: a rebuilt image is a
    new environment); ``python`` is the image's interpreter environments are created from;
    ``uv_binary`` and ``uv_cache_dir`` default to the host's (``find_uv_binary``,
    ``default_uv_cache_dir``). Use it with ``EnvironmentManager.ensure(..., builder=...)``.
    """

    kind = "container"

    def __init__(
        self,
        run_container: ContainerRunner,
        image: str,
        image_id: str,
        *,
        python: str = "/usr/bin/python3",
        uv_binary: str | os.PathLike[str] | None = None,
        uv_cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not image_id:
            raise ValueError(f"image {image!r}: an image id is needed for the environment key")
        self.run_container = run_container
        self.image = image
        self.image_id = image_id
        self.python = python
        self._uv_binary = Path(uv_binary) if uv_binary else None
        self.uv_cache_dir = (
            (Path(uv_cache_dir) if uv_cache_dir else default_uv_cache_dir()).expanduser().resolve()
        )

    @property
    def uv_binary(self) -> Path:
        if self._uv_binary is None:
            self._uv_binary = find_uv_binary()
        return self._uv_binary

    def key(self, resolved: list[ResolvedSource]) -> str:
        material: Mapping[str, object] = {
            "kind": self.kind,
            "image_id": self.image_id,
            "python": self.python,
        }
        return environment_key(resolved, builder=material)

    def build(self, env_dir: Path, resolved: list[ResolvedSource]) -> dict[str, Any]:
        """Run the install script in a container; the image's interpreter, as metadata."""
        env_dir = env_dir.absolute()
        names = [r.name for r in resolved]
        try:
            uv_binary = self.uv_binary
        except FileNotFoundError as exc:
            raise InstallError(names, str(exc)) from exc
        self.uv_cache_dir.mkdir(parents=True, exist_ok=True)
        volumes = source_volumes(resolved, editable_only=False)
        volumes[str(env_dir)] = {"bind": str(env_dir), "mode": "rw"}
        volumes[str(self.uv_cache_dir)] = {"bind": str(self.uv_cache_dir), "mode": "rw"}
        volumes[str(uv_binary)] = {"bind": CONTAINER_UV, "mode": "ro"}
        environment = {
            "HOME": "/tmp",
            "PATH": SYSTEM_PATH,
            "UV_CACHE_DIR": str(self.uv_cache_dir),
            "UV_LINK_MODE": "copy",  # the cache and the env are different mounts: no hardlinks
            "UV_NO_PROGRESS": "1",
            "UV_PYTHON_DOWNLOADS": "never",  # the image's Python, never a downloaded one
        }
        environment.update(host_network_environment(volumes))
        # stderr joins stdout in the container, so uv's messages keep their order.
        command = ["/bin/sh", "-c", f"( {install_script(env_dir, self.python, resolved)} ) 2>&1"]
        exit_code, lines = self.run_container(self.image, command, volumes, environment)
        if exit_code != 0:
            error = install_error(resolved, "\n".join(lines))
            raise type(error)(
                error.packages,
                f"installing the environment in a container of {self.image!r} failed "
                f"(exit {exit_code}): {error.cause}",
                error.detail,
            )
        interpreter = None
        for line in lines:
            if line.startswith(_INTERPRETER_MARK):
                interpreter = json.loads(line[len(_INTERPRETER_MARK) :])
        if interpreter is None:
            raise InstallError(names, f"the build container of {self.image!r} named no Python")
        return {"python": interpreter, "image": self.image, "image_id": self.image_id}


__all__ = [
    "CONTAINER_CA_BUNDLE",
    "CONTAINER_UV",
    "PASSED_THROUGH",
    "SYSTEM_PATH",
    "ContainerBuilder",
    "ContainerRunner",
    "Volumes",
    "default_uv_cache_dir",
    "find_uv_binary",
    "host_network_environment",
    "install_script",
    "source_volumes",
]
