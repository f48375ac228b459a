"""The ``ocr`` backend through the real wrapper, with the official openai client and httpx."""

from __future__ import annotations

import json
import logging

import httpx
import openai
import pytest
from conftest import API_KEY, AUTH, FORM, image_message, needs_tesseract, render
from rapidfuzz.distance import Levenshtein

pytestmark = needs_tesseract


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)


def test_openai_client_reads_known_text(ocr_server, form_png):
    completion = client(ocr_server).chat.completions.create(
        model="ocr",
        messages=image_message(form_png, "Распознай текст на изображении"),
        temperature=0,
    )
    text = completion.choices[0].message.content
    assert text.splitlines() == FORM
    assert completion.usage.prompt_tokens == 4  # whitespace words of the prompt
    assert completion.usage.completion_tokens == len(" ".join(FORM).split())
    assert completion.model_extra["latency_s"] > 0


def test_field_questions_return_values(ocr_server, form_png):
    openai_client = client(ocr_server)
    for question, value in [
        ("Напиши Фамилия", "Иванов"),
        ("Напиши Имя", "Пётр"),
        ("What is the invoice number?", "48213"),
        ("Укажи дату рождения: поле «Date of birth»", "12.03.1985"),
    ]:
        completion = openai_client.chat.completions.create(
            model="ocr", messages=image_message(form_png, question)
        )
        assert completion.choices[0].message.content == value, question


def test_json_schema_returns_the_fields(ocr_server, form_png):
    schema = {
        "type": "object",
        "properties": {
            "surname": {"type": "string", "title": "Фамилия"},
            "first_name": {"type": "string", "description": "Имя"},
            "invoice_number": {"type": "integer"},
            "date_of_birth": {"type": "string"},
        },
        "required": ["surname", "first_name", "invoice_number", "date_of_birth"],
    }
    completion = client(ocr_server).chat.completions.create(
        model="ocr",
        messages=image_message(form_png, "Extract the fields"),
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": schema, "strict": True},
        },
    )
    assert json.loads(completion.choices[0].message.content) == {
        "surname": "Иванов",
        "first_name": "Пётр",
        "invoice_number": 48213,
        "date_of_birth": "12.03.1985",
    }


def test_two_column_form_with_httpx(ocr_server):
    page = render([("Номер договора", "77-1024"), ("Город", "Казань")])
    body = {"model": "ocr", "messages": image_message(page, "Напиши Город"), "max_tokens": 5}
    answer = httpx.post(
        f"{ocr_server.url}/v1/chat/completions", json=body, headers=AUTH, timeout=60
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "Казань"
    assert float(answer.headers["X-Latency-S"]) > 0


def test_an_answer_from_the_page_cache_says_so(ocr_server):
    """Issue 29: the second question about a page is answered from the cache, and the response
    marks it, so the client leaves it out of latency and throughput."""
    page = render([("Номер полиса", "55-8812"), ("Город", "Тверь")])
    openai_client = client(ocr_server)
    first, second = (
        openai_client.chat.completions.create(
            model="ocr", messages=image_message(page, question), temperature=0
        )
        for question in ("Напиши Город", "Напиши Номер полиса")
    )
    assert first.choices[0].message.content == "Тверь" and first.model_extra["cached"] is False
    assert second.choices[0].message.content == "55-8812"
    assert second.model_extra["cached"] is True


def test_max_tokens_truncates_and_says_length(ocr_server, form_png):
    completion = client(ocr_server).chat.completions.create(
        model="ocr", messages=image_message(form_png, "Transcribe the text"), max_tokens=3
    )
    assert completion.choices[0].message.content == "Фамилия: Иванов Имя:"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3


def test_bad_inputs_get_their_status_and_the_server_keeps_serving(ocr_server, form_png):
    url = f"{ocr_server.url}/v1/chat/completions"
    cases = [
        ({"model": "ocr", "messages": image_message(b"not an image", "x")}, {}, 400),
        ({"model": "ocr", "messages": image_message(b"\x89PNG" + b"0" * 2_000_001, "x")}, {}, 413),
        ({"model": "ocr", "messages": "hello"}, {}, 422),
        ({"model": "tesseract-9", "messages": image_message(form_png, "x")}, {}, 409),
        ({"model": "ocr", "messages": image_message(form_png, "x")}, {"X-API-Key": "bad"}, 401),
    ]
    for body, headers, status in cases:
        answer = httpx.post(url, json=body, headers=headers or AUTH, timeout=60)
        assert answer.status_code == status, (status, answer.text)
    no_image = {"model": "ocr", "messages": [{"role": "user", "content": "Напиши Фамилия"}]}
    answer = httpx.post(url, json=no_image, headers=AUTH, timeout=60)
    assert answer.status_code == 500 and "no image" in answer.json()["error"]["message"]
    ok = httpx.post(
        url,
        json={"model": "ocr", "messages": image_message(form_png, "Напиши Фамилия")},
        headers=AUTH,
        timeout=60,
    )
    assert ok.json()["choices"][0]["message"]["content"] == "Иванов"


def test_models_endpoint_says_what_is_loaded(ocr_server):
    models = httpx.get(f"{ocr_server.url}/v1/models", headers=AUTH).json()
    assert models["data"][0]["id"] == "ocr"
    info = models["backend"]["info"]
    assert info["engine"] == "tesseract" and info["engine_version"].startswith("tesseract")
    assert info["usage_unit"] == "whitespace-separated words"
    assert models["backend"]["distribution"] is None  # app built directly, not via entry point
    assert models["versions"]["vlmhb-api-wrapper"]


def test_load_errors_name_the_fix(ocr_server):
    load = f"{ocr_server.url}/v1/models/load"
    # a config may not name a program to run: refused before the loaded model is touched
    hostile = httpx.post(
        load,
        json={"config": {"engine": "tesseract", "tesseract_cmd": "/bin/sh"}},
        headers=AUTH,
        timeout=60,
    )
    assert hostile.status_code == 422
    assert "config.tesseract_cmd" in hostile.json()["error"]["message"]
    assert httpx.get(f"{ocr_server.url}/ready", headers=AUTH).status_code == 200
    no_lang = httpx.post(load, json={"config": {"languages": "rus+xyz"}}, headers=AUTH, timeout=60)
    assert no_lang.status_code == 500
    message = no_lang.json()["error"]["message"]
    assert "apt-get install tesseract-ocr-xyz" in message
    assert "no model is loaded now" in message and "'ocr'" in message  # says what happened
    wrong = httpx.post(load, json={"config": {"engine": "easyocr"}}, headers=AUTH, timeout=60)
    assert wrong.status_code == 422 and "engine" in wrong.json()["error"]["message"]
    assert httpx.get(f"{ocr_server.url}/ready", headers=AUTH).status_code == 503
    back = httpx.post(load, json={"config": {}}, headers=AUTH, timeout=60)
    assert back.status_code == 200
    assert httpx.get(f"{ocr_server.url}/ready", headers=AUTH).status_code == 200


def test_rapidocr_engine_reads_latin_text(ocr_server):
    pytest.importorskip("rapidocr_onnxruntime")
    load = httpx.post(
        f"{ocr_server.url}/v1/models/load",
        json={"model": "ocr-rapid", "config": {"engine": "rapidocr"}},
        headers=AUTH,
        timeout=120,
    )
    assert load.status_code == 200, load.text
    try:
        page = render(["Invoice number: 48213", "Total: 99.50"])
        openai_client = client(ocr_server)
        text = (
            openai_client.chat.completions.create(
                model="ocr-rapid", messages=image_message(page, "Read the text")
            )
            .choices[0]
            .message.content
        )
        # RapidOCR drops some spaces; compare without them, allowing one misread character
        assert Levenshtein.distance(text.replace(" ", ""), "Invoicenumber:48213\nTotal:99.50") <= 1
        value = (
            openai_client.chat.completions.create(
                model="ocr-rapid", messages=image_message(page, "What is the total?")
            )
            .choices[0]
            .message.content
        )
        assert value == "99.50"
    finally:
        httpx.post(f"{ocr_server.url}/v1/models/load", json={}, headers=AUTH, timeout=60)


def test_api_key_never_logged(ocr_server, form_png, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("anything").warning("key in a message: %s", API_KEY)
    httpx.post(
        f"{ocr_server.url}/v1/chat/completions",
        json={"model": "ocr", "messages": image_message(form_png, "Напиши Имя")},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=60,
    )
    assert "key in a message: ***" in caplog.text
    assert API_KEY not in caplog.text
