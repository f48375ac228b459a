"""Model servers in containers: the real OCR adapter (Tesseract, RapidOCR) behind the real API
wrapper.

The server is started as the core's serve stage starts it (``vlmhb-serve ... --api-key-file
{secret:api_key}``), in the OCR image (the base image plus Tesseract), its environment built
in a container of that image. Checked: it answers ``/ready``, it is a container process, the
data is mounted read-only, the key appears nowhere in ``docker inspect``; it stops; a server
left by a dead run is removed from its record; and SIGKILL of the process group of a run that
started one removes its container within seconds (issue #22). RapidOCR loads and reads a page in
the OCR image (issue 29: its OpenCV needs libGL, which a bare Debian image lacks).
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import docker
import httpx
import pytest
from conftest import Engine
from docker.errors import NotFound
from engine_script import REPO_ROOT
from PIL import Image, ImageDraw, ImageFont
from vlmhb_dependency_injector import EnvironmentManager, LocalSource
from vlmhb_docker_executor import ROLE_LABEL, SECRETS_IN_CONTAINER, DockerExecutor
from vlmhb_executor_api import ServiceSpec

pytestmark = pytest.mark.docker
API_KEY = "sk-test-Zq7Yx0-never-in-inspect"
SOURCES = [
    LocalSource(type="local", name="vlmhb-api-wrapper", path=str(REPO_ROOT / "adapters/api-wrapper")),
    LocalSource(type="local", name="vlmhb-ocr-adapter", path=str(REPO_ROOT / "adapters/ocr-adapter")),
]  # fmt: skip


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-envs")


@pytest.fixture
def executor(docker_engine: Engine, ocr_image: str, env_cache: Path):
    executor = DockerExecutor(EnvironmentManager(env_cache), docker_host=docker_engine.base_url)
    yield executor
    executor.close()


def ocr_spec(tmp_path: Path, image: str) -> ServiceSpec:
    """The ServiceSpec the core's serve stage makes for registries/models/tesseract.yaml."""
    log_dir = tmp_path / "servers" / "tesseract"
    log_dir.mkdir(parents=True, exist_ok=True)
    config = log_dir / "model_config.json"
    config.write_text(json.dumps({"engine": "tesseract", "languages": "rus+eng"}))
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return ServiceSpec(
        name="serve-tesseract",
        sources=SOURCES,
        command=[
            "vlmhb-serve", "--backend", "ocr", "--model-config", str(config),
            "--host", "{host}", "--port", "{port}", "--api-key-file", "{secret:api_key}",
        ],
        log_dir=log_dir,
        mounts=[data],
        secrets={"api_key": API_KEY},
        memory_gb=2,
        cpus=1,
        labels={"org.vlmhyperbench.model": "tesseract"},
        image=image,
    )  # fmt: skip


def wait_ready(service, log: Path, timeout_s: float = 300) -> httpx.Response:
    """Poll /ready with the key until it answers 200 (or the container dies)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert service.alive(), f"the server died; {log}:\n{log.read_text(errors='replace')}"
        try:
            response = httpx.get(f"{service.base_url}/ready", headers=headers, timeout=5)
            if response.status_code == 200:
                return response
            if response.json().get("state") == "failed":  # say why now, not at the timeout
                raise AssertionError(f"the model failed to load: {response.json()}; {log}")
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not ready; {log}:\n{log.read_text(errors='replace')}")


def service_containers(client: docker.DockerClient) -> list:
    return client.containers.list(all=True, filters={"label": f"{ROLE_LABEL}=service"})


def test_ocr_server_in_a_container(
    executor: DockerExecutor, docker_client: docker.DockerClient, ocr_image: str, tmp_path: Path
) -> None:
    spec = ocr_spec(tmp_path, ocr_image)
    service = executor.start_service(spec)
    try:
        wait_ready(service, spec.log_dir / "server.log")
        assert httpx.get(f"{service.base_url}/ready", timeout=5).status_code == 401  # no key
        models = httpx.get(
            f"{service.base_url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}
        )
        assert models.status_code == 200, models.text

        container = docker_client.containers.get(service.container_id)
        top = container.top(ps_args="-ww -eo pid,args")["Processes"]  # -ww: no truncation
        processes = " ".join(" ".join(p) for p in top)
        assert "vlmhb-serve" in processes  # the model server is a container process
        assert API_KEY not in processes
        inspected = json.dumps(docker_client.api.inspect_container(service.container_id))
        assert API_KEY not in inspected  # not in Cmd, Env, Labels, anywhere
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        assert mounts[f"{SECRETS_IN_CONTAINER}/api_key"]["RW"] is False
        assert mounts[str((tmp_path / "data").resolve())]["RW"] is False
        assert container.attrs["HostConfig"]["Memory"] == 2 * 1024**3
        assert container.attrs["HostConfig"]["NanoCpus"] == 10**9
        assert (spec.log_dir / "secrets" / "api_key").stat().st_mode & 0o777 == 0o600

        record = service.record()
        assert record["kind"] == "container" and record["container"] == service.container_id
        assert record["port"] == service.port
    finally:
        service.stop()
    assert not service.alive()
    with pytest.raises(NotFound):
        docker_client.containers.get(service.container_id)
    assert "Uvicorn running" in (spec.log_dir / "server.log").read_text(errors="replace")
    assert service_containers(docker_client) == []


def test_server_left_by_a_dead_run_is_removed_from_its_record(
    executor: DockerExecutor, docker_client: docker.DockerClient, ocr_image: str, tmp_path: Path
) -> None:
    service = executor.start_service(ocr_spec(tmp_path, ocr_image))
    record = service.record()
    assert executor.stop_recorded(record) is True
    with pytest.raises(NotFound):
        docker_client.containers.get(record["container"])
    assert executor.stop_recorded(record) is False  # already gone: nothing to do
    service.stop()  # ends its guardian; the container is gone already


PARENT = textwrap.dedent(
    """
    import json, sys, time
    from vlmhb_dependency_injector import EnvironmentManager
    from vlmhb_docker_executor import DockerExecutor
    from vlmhb_executor_api import ServiceSpec

    host, cache, spec = sys.argv[1:4]
    executor = DockerExecutor(EnvironmentManager(cache), docker_host=host)
    service = executor.start_service(ServiceSpec.model_validate_json(open(spec).read()))
    print(json.dumps(service.record()), flush=True)
    time.sleep(600)
    """
)


def test_sigkill_of_the_run_removes_its_server_container(
    docker_engine: Engine,
    docker_client: docker.DockerClient,
    ocr_image: str,
    env_cache: Path,
    tmp_path: Path,
) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(ocr_spec(tmp_path, ocr_image).model_dump_json())
    run = subprocess.Popen(
        [sys.executable, "-c", PARENT, docker_engine.base_url, str(env_cache), str(spec_file)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: the kill below hits the run, not pytest
    )
    try:
        assert run.stdout is not None
        line = run.stdout.readline()
        assert line, "the run printed no record"
        container_id = json.loads(line)["container"]
        assert docker_client.containers.get(container_id).status == "running"
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the whole group, as a terminal or scheduler does
        run.wait()
    deadline = time.monotonic() + 60  # generous: an upper bound, not a measurement
    while time.monotonic() < deadline:
        try:
            docker_client.containers.get(container_id)
        except NotFound:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"container {container_id[:12]} outlived its SIGKILLed run")
    assert service_containers(docker_client) == []


def _page(text: str) -> bytes:
    """A white page with ``text`` in black, as a PNG."""
    image = Image.new("L", (520, 120), 255)
    ImageDraw.Draw(image).text((20, 30), text, fill=0, font=ImageFont.load_default(size=48))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_rapidocr_server_loads_and_reads_in_the_ocr_image(
    executor: DockerExecutor, ocr_image: str, tmp_path: Path
) -> None:
    """As registries/models/rapidocr.yaml is served: the ``rapidocr`` extra, in the OCR image
    (before issue 29 the import failed there: OpenCV loads libGL, which the image lacked)."""
    spec = ocr_spec(tmp_path, ocr_image)
    (spec.log_dir / "model_config.json").write_text(json.dumps({"engine": "rapidocr"}))
    sources = [SOURCES[0], SOURCES[1].model_copy(update={"extras": ("rapidocr",)})]
    spec = spec.model_copy(update={"name": "serve-rapidocr", "sources": sources})
    service = executor.start_service(spec)
    try:
        wait_ready(service, spec.log_dir / "server.log")
        image = "data:image/png;base64," + base64.b64encode(_page("INVOICE 4721")).decode()
        response = httpx.post(
            f"{service.base_url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={
                "model": "ocr",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": image}},
                            {"type": "text", "text": "Read the text"},
                        ],
                    }
                ],
                "max_tokens": 64,
            },
            timeout=120,
        )
        assert response.status_code == 200, response.text
        text = response.json()["choices"][0]["message"]["content"]
        assert "INVOICE" in text.upper() and "4721" in text, text
    finally:
        service.stop()
