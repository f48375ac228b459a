"""Session fixtures: a real Docker engine, the base image and the OCR image.

With ``DOCKER_HOST`` set and answering, that engine is used (it must have the images, or this
checkout's ``scripts/docker_engine.py`` builds them). Otherwise a private engine of
``scripts/docker_engine.py`` is started for this session in its own short folder under /tmp
(so concurrent test sessions never stop each other's engine), and stopped and deleted at the
end; with ``$VLMHB_DOCKER_ROOT`` set, the engine there is reused (or started, and then stopped
at the end). Tests are skipped only when no engine can be had, with the reason; an image that
cannot be built is an error.

At the end of the session, no container this package's tests started may be left: a leftover
fails the run (issue #22: nothing outlives its run).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.errors import DockerException
from engine_script import engine as script
from vlmhb_docker_executor import ROLE_LABEL

OCR_IMAGE = "vlmhb-ocr:bookworm"


@dataclass
class Engine:
    base_url: str
    root: Path | None


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    given = os.environ.get("DOCKER_HOST")
    if given:
        try:
            docker.DockerClient(base_url=given, timeout=10).ping()
            yield Engine(base_url=given, root=None)
            return
        except DockerException as exc:
            pytest.skip(f"DOCKER_HOST={given} does not answer: {exc}")
    if script is None:
        pytest.skip("no DOCKER_HOST and no scripts/docker_engine.py to start an engine with")
    shared = os.environ.get("VLMHB_DOCKER_ROOT")
    # Short: dockerd's exec-root holds unix sockets, whose paths are limited to 108 bytes.
    root = Path(shared) if shared else Path(tempfile.mkdtemp(prefix="vlmhb-d-", dir="/tmp"))
    try:
        started = script.ensure_engine(root)
    except script.EngineError as exc:
        pytest.skip(f"no Docker engine could be started: {exc}")
    try:
        yield Engine(base_url=started.base_url, root=root)
    finally:
        started.stop(remove=not shared)


def _ensure_image(client: docker.DockerClient, tag: str) -> str:
    if script is not None:  # also replaces an image built from an older package list
        return script.ensure_base_image(client, tag)
    return str(client.images.get(tag).id)


@pytest.fixture(scope="session")
def docker_client(docker_engine: Engine) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=docker_engine.base_url, timeout=600)
    _ensure_image(client, "vlmhb-base:bookworm")
    try:
        yield client
        left = client.containers.list(all=True, filters={"label": ROLE_LABEL})
        assert not left, f"containers left behind by the tests: {[c.name for c in left]}"
    finally:
        client.close()


@pytest.fixture(scope="session")
def ocr_image(docker_client: docker.DockerClient) -> str:
    """The base image plus Tesseract (rus+eng), for the OCR adapter's model server."""
    _ensure_image(docker_client, OCR_IMAGE)
    return OCR_IMAGE
