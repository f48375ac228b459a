"""``vlmhb-serve --backend transformers`` answers the official openai client, for real."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from conftest import png
from jsonschema import validate
from vlmhb_api_wrapper.testing import free_port

SCHEMA = {
    "type": "object",
    "properties": {
        "Фамилия": {"type": "string"},
        "Пол": {"enum": ["МУЖ.", "ЖЕН."]},
        "Код подразделения": {"type": "string", "pattern": "^[0-9]{3}-[0-9]{3}$"},
    },
    "required": ["Фамилия", "Пол", "Код подразделения"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("serve")
    config = folder / "model.yaml"
    config.write_text(
        yaml.safe_dump({"model": str(tiny_model), "engine": "transformers", "device": "cpu"}),
        encoding="utf-8",
    )
    port = free_port()
    serve = Path(sys.executable).with_name("vlmhb-serve")
    log = (folder / "server.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [
            str(serve),
            "--backend",
            "transformers",
            "--model-config",
            str(config),
            "--port",
            str(port),
            "--api-key",
            "test-key",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "VLMHB_API_KEY": ""},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                ready = httpx.get(f"{url}/ready", headers={"X-API-Key": "test-key"})
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "server.log").read_text(encoding="utf-8"))
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="test-key", max_retries=0)


def test_text_and_image_answers(server: str) -> None:
    client = _client(server)
    image = base64.b64encode(png((200, 30, 30))).decode()
    answer = client.chat.completions.create(
        model="transformers",
        messages=[
            {"role": "system", "content": "Ты читаешь документы."},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}},
                    {"type": "text", "text": "Напиши Фамилия"},
                ],
            },
        ],
        max_tokens=6,
        temperature=0,
        seed=0,
    )
    assert answer.choices[0].message.content is not None
    assert answer.usage.prompt_tokens > 14 and 1 <= answer.usage.completion_tokens <= 6
    assert answer.model_extra["latency_s"] > 0


def test_json_schema_through_the_server(server: str) -> None:
    client = _client(server)
    for seed in range(3):
        answer = client.chat.completions.create(
            model="transformers",
            messages=[{"role": "user", "content": "Извлеки поля паспорта"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "passport", "schema": SCHEMA},
            },
            max_tokens=200,
            temperature=1.0,
            seed=seed,
        )
        validate(json.loads(answer.choices[0].message.content), SCHEMA)


def test_models_lists_the_backend(server: str) -> None:
    listing = httpx.get(f"{server}/v1/models", headers={"X-API-Key": "test-key"}).json()
    backend = listing["backend"]
    assert backend["name"] == "transformers"
    assert backend["distribution"] == "vlmhb-transformers-adapter"
    assert backend["info"]["device"] == "cpu" and backend["info"]["loaded"] is True
