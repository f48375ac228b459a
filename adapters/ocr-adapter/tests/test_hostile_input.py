"""Issue #17 (OCR side) and #18.1: hostile prompts and configs, the page cache.

Real tesseract, a real wrapper on 127.0.0.1, real child processes.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import io
import threading
import time

import httpx
import pytest
from conftest import AUTH, FORM, image_message, needs_tesseract, render
from PIL import Image
from vlmhb_api_wrapper import ChatMessage, GenerationRequest, ImagePart, TextPart
from vlmhb_ocr_adapter import (
    TESSERACT_CMD_ENV,
    OcrBackend,
    OcrConfigError,
    PageCache,
    Row,
    Word,
    extract_schema,
    field_in_prompt,
    page_key,
    parse_config,
)
from vlmhb_ocr_adapter.engines import _run
from vlmhb_ocr_adapter.extraction import clean_label

#: A bound for "the server is not frozen", not a performance figure (the issue saw 9.5 s).
LIVENESS_S = 3.0
#: The issue's 410-byte prompt: the old label-cleaning regex took 9.5 s on it (cubic).
REDOS_PROMPT = "What is x" + " " * 400 + "y"


# --- #17.1 label cleaning in linear time ------------------------------------------------------


@pytest.mark.timeout(20)
def test_label_cleaning_is_linear_on_long_runs_of_spaces():
    assert len(REDOS_PROMPT.encode()) == 410
    assert field_in_prompt(REDOS_PROMPT, []) == "x" + " " * 400 + "y"
    # 500x the prompt: hopeless for a backtracking pattern, instant for a linear one
    assert clean_label("x" + " " * 200_000 + "y?") == "x" + " " * 200_000 + "y"
    assert clean_label("x" + " " * 200_000 + "on the page?") == "x"
    assert field_in_prompt("What is " + "a " * 100_000 + "?", []) is None  # too long: no field


@pytest.mark.parametrize(
    ("label", "cleaned"),
    [
        ("invoice number?", "invoice number"),
        ("the invoice number on the page?", "the invoice number"),
        ("Фамилия в документе?", "Фамилия"),
        ("номер в этом паспорте.", "номер"),
        ("x in this image", "x"),
        ("total   ?  ", "total"),
        ("«Date of birth» on the page", "Date of birth"),
        ("Date of birth", "Date of birth"),
    ],
)
def test_label_cleaning_keeps_its_meaning(label, cleaned):
    assert clean_label(label) == cleaned


@needs_tesseract
def test_redos_prompt_through_the_server_keeps_health_answering(ocr_server, form_png):
    body = {"model": "ocr", "messages": image_message(form_png, REDOS_PROMPT)}
    answer, took = _while_probing(ocr_server.url, body)
    assert answer.status_code == 200, answer.text
    assert max(took) < LIVENESS_S, took


def _probe(url: str, stop: threading.Event, took: list[float]) -> None:
    with httpx.Client(timeout=LIVENESS_S * 3) as client:
        while not stop.is_set():
            started = time.monotonic()
            assert client.get(f"{url}/health").status_code == 200
            took.append(time.monotonic() - started)
            time.sleep(0.02)


def _while_probing(url: str, body: dict) -> tuple[httpx.Response, list[float]]:
    stop, took = threading.Event(), []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        probe = pool.submit(_probe, url, stop, took)
        time.sleep(0.1)
        answer = httpx.post(f"{url}/v1/chat/completions", json=body, headers=AUTH, timeout=300)
        stop.set()
        probe.result()
    assert took, "no /health answer while the request ran"
    return answer, took


@needs_tesseract
def test_big_text_part_and_webp_page_are_worked_off_the_loop(ocr_server, form_png):
    """10 MB of prompt text (label matching) and a WebP (converted to PNG) run in threads."""
    huge = {"model": "ocr", "messages": image_message(form_png, "What is " + "total " * 1_700_000)}
    answer, took = _while_probing(ocr_server.url, huge)
    assert answer.status_code == 200, answer.text[:300]
    assert max(took) < LIVENESS_S, took
    page = Image.open(io.BytesIO(render(FORM)))
    buffer = io.BytesIO()
    page.save(buffer, format="WEBP", lossless=True)
    webp = "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode()
    body = {
        "model": "ocr",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": webp}},
                    {"type": "text", "text": "Напиши Фамилия"},
                ],
            }
        ],
    }
    answer, took = _while_probing(ocr_server.url, body)
    assert answer.json()["choices"][0]["message"]["content"] == "Иванов"
    assert max(took) < LIVENESS_S, took


# --- #17.3 no executable in a model config; #17.5 scrubbed children; #17.6 secrets, schemas ---


def test_config_may_not_name_an_executable():
    with pytest.raises(OcrConfigError, match="tesseract_cmd: Extra inputs are not permitted"):
        parse_config({"tesseract_cmd": "/bin/sh"})
    with pytest.raises(OcrConfigError, match="max_concurrency"):
        parse_config({"max_concurrency": 10_000})


async def test_tesseract_binary_is_a_startup_setting(monkeypatch, tmp_path):
    monkeypatch.setenv(TESSERACT_CMD_ENV, str(tmp_path / "no-tesseract-here"))
    backend = OcrBackend()
    assert backend.tesseract_cmd == str(tmp_path / "no-tesseract-here")
    with pytest.raises(Exception, match="apt-get install tesseract-ocr"):
        await backend.load({"engine": "tesseract"})


async def test_tesseract_runs_with_a_scrubbed_environment(monkeypatch):
    for name in ("VLMHB_API_KEY", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "X_SECRET_Y", "S3_KEY"):
        monkeypatch.setenv(name, "leak-me-123456")
    code, out, _ = await _run(["env"], None, 30)  # the same helper that starts tesseract
    assert code == 0
    text = out.decode()
    assert "leak-me-123456" not in text
    assert "OMP_THREAD_LIMIT=1" in text and "PATH=" in text


@needs_tesseract
def test_secrets_are_accepted_and_ignored(ocr_server):
    load = httpx.post(
        f"{ocr_server.url}/v1/models/load",
        json={"config": {}, "secrets": {"hf_token": "hf-secret-0123456"}},
        headers=AUTH,
        timeout=60,
    )
    assert load.status_code == 200, load.text
    assert load.json()["ignored_secrets"] == ["hf_token"]
    assert "hf-secret-0123456" not in load.text


@needs_tesseract
def test_json_schema_with_a_list_of_properties_is_422(ocr_server, form_png):
    body = {
        "model": "ocr",
        "messages": image_message(form_png, "Extract"),
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object", "properties": ["a"]}},
        },
    }
    answer = httpx.post(
        f"{ocr_server.url}/v1/chat/completions", json=body, headers=AUTH, timeout=60
    )
    assert answer.status_code == 422, answer.text
    assert "properties" in answer.json()["error"]["message"]
    with pytest.raises(ValueError, match="properties: expected an object"):
        extract_schema([], {"properties": ["a"]})


@needs_tesseract
def test_unload_and_reload_during_questions_never_5xx(ocr_server, form_png):
    url = f"{ocr_server.url}/v1/chat/completions"
    body = {"model": "ocr", "messages": image_message(form_png, "Напиши Фамилия")}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [
            pool.submit(httpx.post, url, json=body, headers=AUTH, timeout=120) for _ in range(40)
        ]
        for _ in range(2):
            httpx.post(f"{ocr_server.url}/v1/models/unload", headers=AUTH, timeout=120)
            httpx.post(f"{ocr_server.url}/v1/models/load", json={}, headers=AUTH, timeout=120)
        statuses = [future.result().status_code for future in futures]
    assert set(statuses) <= {200, 409}, statuses
    reload = httpx.post(f"{ocr_server.url}/v1/models/load", json={}, headers=AUTH, timeout=120)
    assert reload.status_code == 200


# --- #18.1 the page cache -------------------------------------------------------------------


def _request(page: bytes, question: str) -> GenerationRequest:
    return GenerationRequest(
        request_id=question,
        messages=[
            ChatMessage(role="user", content=[ImagePart(data=page), TextPart(text=question)])
        ],
    )


@needs_tesseract
async def test_second_question_on_a_page_does_not_run_the_engine_again(form_png):
    backend = OcrBackend()
    await backend.load({"languages": "rus+eng"})
    first = await backend.generate([_request(form_png, "Напиши Фамилия")])
    assert first[0].text == "Иванов" and backend.engine.pages_read == 1
    second = await backend.generate([_request(form_png, "Напиши Имя")])
    assert second[0].text == "Пётр" and backend.engine.pages_read == 1  # from the cache
    # concurrent questions about a new page share one reading
    other = render(["Город: Казань"])
    answers = await asyncio.gather(
        *(backend.generate([_request(other, "Напиши Город")]) for _ in range(6))
    )
    assert [a[0].text for a in answers] == ["Казань"] * 6
    assert backend.engine.pages_read == 2
    assert backend.info()["page_cache"]["pages"] == 2
    # other engine settings do not see this reading
    await backend.load({"languages": "rus+eng", "psm": 6})
    again = await backend.generate([_request(form_png, "Напиши Фамилия")])
    assert again[0].text == "Иванов" and backend.engine.pages_read == 1  # a new engine, ran
    assert backend.info()["page_cache"]["pages"] == 3
    await backend.unload()
    assert len(backend.cache) == 0


def _rows(*texts: str) -> list[Row]:
    return [Row((Word(text, 0, 10 * i, 10, 10),)) for i, text in enumerate(texts)]


def test_page_cache_keys_and_bounds():
    cache = PageCache(max_pages=2, max_bytes=10_000)
    a, b, c = (page_key(data, ("tesseract", 3)) for data in (b"a", b"b", b"c"))
    assert page_key(b"a", ("tesseract", 3)) == a
    assert page_key(b"a", ("tesseract", 6)) != a  # settings are part of the key
    cache.put(a, _rows("A"))
    cache.put(b, _rows("B"))
    assert cache.get(a) == _rows("A")  # a is now the most recent
    cache.put(c, _rows("C"))  # over two pages: b, the least recent, goes
    assert cache.get(b) is None and cache.get(a) is not None and cache.get(c) is not None
    cache.put(a, _rows("x" * 20_000))  # larger than the whole cache: not kept
    assert cache.get(a) is None
    assert cache.bytes <= 10_000
    cache.resize(0, 10_000)
    assert len(cache) == 0
    stats = cache.stats()
    assert stats["hits"] >= 3 and stats["misses"] >= 2
