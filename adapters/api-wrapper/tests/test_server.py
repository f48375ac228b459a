"""The wrapper through real clients (openai, httpx) against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import threading
import time

import httpx
import openai
import pytest
from conftest import (
    API_KEY,
    AUTH,
    BatchingEchoBackend,
    EchoBackend,
    data_url,
    png_bytes,
    start,
)


def chat(url: str, body: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions", json=body, headers=AUTH if headers is None else headers
    )


def text_body(text: str = "hello world", **extra) -> dict:
    return {"model": "echo-1", "messages": [{"role": "user", "content": text}], **extra}


def assert_still_serving(url: str) -> None:
    answer = chat(url, text_body("still here"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "still here"


def test_openai_client_text_and_image(server):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY)
    image = png_bytes((20, 10))
    completion = client.chat.completions.create(
        model="echo-1",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "read this"},
                    {"type": "image_url", "image_url": {"url": data_url(image)}},
                ],
            }
        ],
        temperature=0,
        max_tokens=16,
        seed=7,
    )
    assert completion.choices[0].message.content == f"read this images=[{len(image)}]"
    assert completion.usage.prompt_tokens == 2
    assert completion.usage.total_tokens == 2 + completion.usage.completion_tokens
    assert completion.model_extra["latency_s"] > 0
    assert [m.id for m in client.models.list()] == ["echo-1"]


def test_response_format_json_schema_reaches_backend(server):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY)
    completion = client.chat.completions.create(
        model="echo",  # the backend's name is accepted as well as the model id
        messages=[{"role": "user", "content": "fields"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object", "properties": {}}},
        },
    )
    assert completion.choices[0].message.content == "fields format=json_schema"


def test_auth_bearer_and_header_and_401(server):
    assert httpx.get(f"{server.url}/health").status_code == 200  # no key needed
    assert httpx.get(f"{server.url}/ready").status_code == 401
    assert httpx.get(f"{server.url}/ready", headers={"X-API-Key": "wrong"}).status_code == 401
    bearer = {"Authorization": f"Bearer {API_KEY}"}
    assert httpx.get(f"{server.url}/ready", headers=bearer).status_code == 200
    assert httpx.get(f"{server.url}/v1/models", headers=AUTH).status_code == 200
    wrong = openai.OpenAI(base_url=f"{server.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="echo-1", messages=[{"role": "user", "content": "x"}])
    assert chat(server.url, text_body(), headers={}).status_code == 401
    assert_still_serving(server.url)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "echo-1"}, "messages"),
        (text_body(temperature=5), "temperature"),
        (text_body(max_tokens=0), "max_tokens"),
        ({"model": "echo-1", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        (text_body(response_format={"type": "json_schema"}), "response_format"),
    ],
)
def test_malformed_body_is_422_naming_the_field(server, body, field):
    answer = chat(server.url, body)
    assert answer.status_code == 422
    assert answer.json()["error"]["param"].startswith(field)
    assert field in answer.json()["error"]["message"]
    assert_still_serving(server.url)


def test_not_json_is_422(server):
    answer = httpx.post(
        f"{server.url}/v1/chat/completions",
        content=b"{not json",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert_still_serving(server.url)


def image_body(url: str) -> dict:
    return {
        "model": "echo-1",
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
        ],
    }


def test_image_that_does_not_decode_is_400(server):
    answer = chat(server.url, image_body(data_url(b"this is not a png")))
    assert answer.status_code == 400
    assert "messages[0].content[0].image_url" in answer.json()["error"]["message"]
    assert "does not decode" in answer.json()["error"]["message"]
    assert chat(server.url, image_body("data:image/png;base64,@@@")).status_code == 400
    assert chat(server.url, image_body("https://example.com/a.png")).status_code == 400
    assert_still_serving(server.url)


def test_too_large_image_and_body_are_413(echo):
    with start(echo, max_image_bytes=1000, max_request_bytes=50_000) as server:
        server.wait_ready(AUTH)
        big_image = png_bytes((400, 400))  # over 1000 bytes, under the body limit
        assert len(big_image) > 1000
        answer = chat(server.url, image_body(data_url(big_image)))
        assert answer.status_code == 413
        assert "limit of 1000 bytes" in answer.json()["error"]["message"]
        answer = chat(server.url, text_body("x" * 60_000))
        assert answer.status_code == 413
        chunked = httpx.post(  # no Content-Length: counted as it streams in
            f"{server.url}/v1/chat/completions",
            content=iter([b'{"model": "echo-1", "messages": [', b" " * 60_000, b"]}"]),
            headers={**AUTH, "Content-Type": "application/json"},
        )
        assert chunked.status_code == 413, chunked.text
        assert "over the limit 50000" in chunked.json()["error"]["message"]
        assert_still_serving(server.url)


def test_file_urls_only_under_data_root(echo, tmp_path):
    inside = tmp_path / "data" / "page.png"
    inside.parent.mkdir()
    inside.write_bytes(png_bytes())
    outside = tmp_path / "secret.png"
    outside.write_bytes(png_bytes())
    with start(echo) as server:  # no data root: file:// refused
        server.wait_ready(AUTH)
        assert chat(server.url, image_body(inside.as_uri())).status_code == 403
    with start(echo, data_root=inside.parent) as server:
        server.wait_ready(AUTH)
        answer = chat(server.url, image_body(inside.as_uri()))
        assert answer.status_code == 200, answer.text
        assert (
            f"images=[{inside.stat().st_size}]" in answer.json()["choices"][0]["message"]["content"]
        )
        escape = f"file://{inside.parent}/../secret.png"
        assert chat(server.url, image_body(escape)).status_code == 403
        assert chat(server.url, image_body(outside.as_uri())).status_code == 403
        missing = chat(server.url, image_body((inside.parent / "nope.png").as_uri()))
        assert missing.status_code == 400
        assert_still_serving(server.url)


def test_unknown_model_and_nothing_loaded_are_409(server):
    answer = chat(server.url, {**text_body(), "model": "gpt-4"})
    assert answer.status_code == 409
    assert "gpt-4" in answer.json()["error"]["message"]
    assert httpx.post(f"{server.url}/v1/models/unload", headers=AUTH).status_code == 200
    assert httpx.get(f"{server.url}/ready", headers=AUTH).status_code == 503
    answer = chat(server.url, text_body())
    assert answer.status_code == 409
    assert "no model loaded" in answer.json()["error"]["message"]
    load = httpx.post(
        f"{server.url}/v1/models/load", json={"config": {"model": "echo-1"}}, headers=AUTH
    )
    assert load.status_code == 200
    assert_still_serving(server.url)


def test_load_answers_when_loaded_and_409_while_loading(echo):
    with start(echo) as server:
        server.wait_ready(AUTH)
        echo.load_gate = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(
                httpx.post,
                f"{server.url}/v1/models/load",
                json={"model": "echo-2", "config": {"size": 2}},
                headers=AUTH,
                timeout=30,
            )
            deadline = time.monotonic() + 10
            while httpx.get(f"{server.url}/v1/models", headers=AUTH).json()["state"] != "loading":
                assert time.monotonic() < deadline
                time.sleep(0.01)
            second = httpx.post(f"{server.url}/v1/models/load", json={}, headers=AUTH)
            assert second.status_code == 409
            ready = httpx.get(f"{server.url}/ready", headers=AUTH)
            assert ready.status_code == 503 and "loading" in ready.json()["reason"]
            assert not first.done()  # the load answers only once loaded
            echo.load_gate.set()
            loaded = first.result()
        assert loaded.status_code == 200
        assert loaded.json()["model"] == "echo-2"
        assert loaded.json()["config"] == {"size": 2}
        assert_still_serving_model(server.url, "echo-2")


def assert_still_serving_model(url: str, model: str) -> None:
    answer = chat(url, {**text_body("ok"), "model": model})
    assert answer.status_code == 200, answer.text


def test_failed_load_reports_why(echo):
    with start(echo) as server:
        server.wait_ready(AUTH)
        answer = httpx.post(
            f"{server.url}/v1/models/load",
            json={"config": {"fail": "weights missing"}},
            headers=AUTH,
        )
        assert answer.status_code == 500
        assert "weights missing" in answer.json()["error"]["message"]
        ready = httpx.get(f"{server.url}/ready", headers=AUTH)
        assert ready.status_code == 503 and "weights missing" in ready.json()["reason"]
        bad = httpx.post(f"{server.url}/v1/models/load", json={"config": {"bad": 1}}, headers=AUTH)
        assert bad.status_code == 422
        extra = httpx.post(f"{server.url}/v1/models/load", json={"cfg": {}}, headers=AUTH)
        assert extra.status_code == 422 and "cfg" in extra.json()["error"]["message"]
        assert httpx.post(f"{server.url}/v1/models/load", json={}, headers=AUTH).status_code == 200


def test_startup_loads_given_config_and_failure_shows_at_ready(echo):
    with start(echo, initial_config={"fail": "no such checkpoint"}) as server:
        deadline = time.monotonic() + 10
        while (ready := httpx.get(f"{server.url}/ready", headers=AUTH)).json()["state"] != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert ready.status_code == 503
        assert "no such checkpoint" in ready.json()["reason"]
        assert httpx.get(f"{server.url}/health").status_code == 200


def test_batching_collects_concurrent_requests():
    backend = BatchingEchoBackend()
    with start(backend, batch_window_s=0.2) as server:
        server.wait_ready(AUTH)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda i: chat(server.url, text_body(f"request {i}")), range(8))
            )
        contents = [a.json()["choices"][0]["message"]["content"] for a in answers]
        assert contents == [f"request {i}" for i in range(8)]  # each caller gets its own answer
        assert max(backend.batches) > 1
        assert sum(backend.batches) == 8
        metrics = httpx.get(f"{server.url}/v1/metrics", headers=AUTH).json()
        assert sum(metrics["batches"]["recent_sizes"]) == 8


def test_non_batching_backend_gets_one_request_per_call(server, echo):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: chat(server.url, text_body(f"r{i}")), range(4)))
    assert echo.batches == [1, 1, 1, 1]


def test_watchdog_marks_not_ready_while_generate_hangs(echo):
    with start(echo, generate_deadline_s=0.2, watchdog_interval_s=0.05) as server:
        server.wait_ready(AUTH)
        echo.generate_gate = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            hung = pool.submit(chat, server.url, text_body("slow"))
            deadline = time.monotonic() + 10
            while (ready := httpx.get(f"{server.url}/ready", headers=AUTH)).status_code == 200:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert "has not returned" in ready.json()["reason"]
            assert httpx.get(f"{server.url}/health").status_code == 200
            echo.generate_gate.set()
            assert hung.result().status_code == 200
        deadline = time.monotonic() + 10
        while httpx.get(f"{server.url}/ready", headers=AUTH).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_watchdog_marks_not_ready_over_memory_limit(echo):
    with start(
        echo, memory_limit_bytes=1024, watchdog_interval_s=0.05, sample_interval_s=0.05
    ) as server:
        deadline = time.monotonic() + 10
        while "memory" not in (
            httpx.get(f"{server.url}/ready", headers=AUTH).json()["reason"] or ""
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ready = httpx.get(f"{server.url}/ready", headers=AUTH)
        assert ready.status_code == 503 and "over the limit 1024" in ready.json()["reason"]


def test_metrics_json_and_prometheus(server):
    for _ in range(3):
        assert chat(server.url, text_body("a b c")).status_code == 200
    metrics = httpx.get(f"{server.url}/v1/metrics", headers=AUTH).json()
    assert metrics["requests"]["requests_total"] == 3
    assert metrics["requests"]["prompt_tokens_total"] == 9
    assert metrics["requests"]["latency_p50_s"] > 0
    assert metrics["resources"]["process_rss_bytes"] > 0
    assert metrics["gpu_monitoring"] in ("nvml", "none")
    text = httpx.get(f"{server.url}/metrics", headers=AUTH)
    assert text.headers["content-type"].startswith("text/plain")
    assert "vlmhb_requests_total 3.0" in text.text
    assert "vlmhb_process_resident_memory_bytes" in text.text
    same = httpx.get(f"{server.url}/v1/metrics?format=prometheus", headers=AUTH)
    assert "vlmhb_requests_total 3.0" in same.text
    assert httpx.get(f"{server.url}/metrics").status_code == 401


def test_latency_header(server):
    answer = chat(server.url, text_body())
    assert float(answer.headers["X-Latency-S"]) == pytest.approx(
        answer.json()["latency_s"], abs=1e-5
    )


def test_unbatched_backend_error_is_500_and_server_survives():
    class Broken(EchoBackend):
        async def generate(self, batch):
            raise RuntimeError("engine exploded")

    with start(Broken()) as server:
        server.wait_ready(AUTH)
        answer = chat(server.url, text_body())
        assert answer.status_code == 500
        assert "engine exploded" in answer.json()["error"]["message"]
        assert httpx.get(f"{server.url}/health").status_code == 200


def test_out_of_memory_in_generate_marks_not_ready():
    class Oom(EchoBackend):
        async def generate(self, batch):
            raise MemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with start(Oom()) as server:
        server.wait_ready(AUTH)
        assert chat(server.url, text_body()).status_code == 500
        ready = httpx.get(f"{server.url}/ready", headers=AUTH)
        assert ready.status_code == 503
        assert "out of memory" in ready.json()["reason"]
        reload = httpx.post(f"{server.url}/v1/models/load", json={}, headers=AUTH)
        assert reload.status_code == 200  # a new load clears it
        assert httpx.get(f"{server.url}/ready", headers=AUTH).status_code == 200


def _nvml_gpu_count() -> int:
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount()
    except Exception:
        return 0


@pytest.mark.gpu
@pytest.mark.skipif(_nvml_gpu_count() == 0, reason="no NVIDIA GPU / driver here")
def test_gpu_memory_is_reported_through_nvml(server):
    metrics = httpx.get(f"{server.url}/v1/metrics", headers=AUTH).json()
    assert metrics["gpu_monitoring"] == "nvml"
    gpu = metrics["resources"]["gpus"][0]
    assert 0 < gpu["memory_used_bytes"] <= gpu["memory_total_bytes"]
    text = httpx.get(f"{server.url}/metrics", headers=AUTH).text
    assert 'vlmhb_gpu_memory_total_bytes{gpu="0"}' in text


def test_reasoning_and_its_tokens_are_reported_the_openai_way():
    """A backend that separates reasoning gets it sent as reasoning_content and its token
    count as usage.completion_tokens_details.reasoning_tokens; one that does not know sends
    neither (unknown is not zero)."""

    class Thinking(EchoBackend):
        async def generate(self, batch):
            results = await super().generate(batch)
            for result in results:
                result.reasoning, result.reasoning_tokens = "the label says so", 7
            return results

    with start(Thinking()) as server:
        server.wait_ready(AUTH)
        body = chat(server.url, text_body()).json()
        assert body["choices"][0]["message"]["reasoning_content"] == "the label says so"
        assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 7}
    with start(EchoBackend()) as server:
        server.wait_ready(AUTH)
        body = chat(server.url, text_body()).json()
        assert "reasoning_content" not in body["choices"][0]["message"]
        assert "completion_tokens_details" not in body["usage"]
