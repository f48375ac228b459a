"""OpenAI-compatible endpoints as models under test, against real servers on loopback.

The "hosted" endpoint is the project's own API wrapper with the OCR backend (Tesseract),
started here as a third party would run it, behind ``FaultProxy`` (a test helper that
forwards to it and injects the faults a hosted API has). vLLM's own server is used when the
smoke-vllm session provides one (``VLMHB_VLLM_PYTHON``, ``VLMHB_TINY_VLLM_MODEL``).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import REPO, SMALL_GENERATOR, write_overlay
from fault_proxy import FaultProxy
from vlmhb_api_wrapper.testing import free_port
from vlmhyperbench.execution.chat_request import InferSettings, request_body

#: The hosted model's key: it must be found nowhere the run writes.
KEY = "sk-hosted-4c1f7a9e2b6d80357aa1"
KEY_ENV = "VLMHB_TEST_HOSTED_KEY"
SAMPLES = 6


class Endpoint:
    """A real OpenAI-compatible server: its ``/v1`` URL, the model it serves, its process."""

    def __init__(self, base_url: str, model: str, process: subprocess.Popen, log: Path) -> None:
        self.base_url, self.model, self.process, self.log = base_url, model, process, log


def _wait_for_models(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            answer = httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"})
            served = answer.json().get("data") if answer.status_code == 200 else None
            if served:  # an empty list: still loading
                return str(served[0]["id"])
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """``vlmhb-serve --backend ocr`` (Tesseract), as someone else would run it, with KEY."""
    folder = tmp_path_factory.mktemp("hosted-wrapper")
    config = folder / "model.yaml"
    config.write_text("model: ocr-tesseract\nengine: tesseract\nlanguages: rus+eng\n")
    key_file = folder / "key"
    key_file.write_text(KEY)
    port = free_port()
    log = folder / "server.log"
    command = [sys.executable, "-m", "vlmhb_api_wrapper.cli", "--backend", "ocr"]
    command += ["--model-config", str(config), "--port", str(port)]
    command += ["--api-key-file", str(key_file)]
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        yield Endpoint(url, _wait_for_models(url, process, log, 120), process, log)
    finally:
        _stop(process)


@pytest.fixture
def proxy(wrapper: Endpoint) -> Iterator[FaultProxy]:
    with FaultProxy(wrapper.base_url) as running:
        yield running


def _overlay(root: Path, base_url: str, model: str, models: list[str], **hosted: Any) -> Path:
    entry: dict[str, Any] = {
        "framework": "openai-compatible",
        "endpoint": {
            "base_url": base_url,
            "model": model,
            "api_key_env": KEY_ENV,
            "headers": {"X-Team": "doc-bench"},
            "snapshot": "ocr-2026-12-01",
            "timeout_s": 120,
        },
        "generation": {"max_tokens": 8, "temperature": 0},
        "rate_limits": {"max_concurrency": 2},
        "price": {"input_per_mtok": 2.5, "output_per_mtok": 10.0},
        "retries": {"per_run": 4, "max_attempts": 8, "max_consecutive_failures": 4},
    }
    for key, value in hosted.items():
        entry[key] = {**entry.get(key, {}), **value} if isinstance(value, dict) else value
    return write_overlay(
        root,
        {
            "datasets": {
                "small-vqa": {
                    "package": "vlmhb-dataset-factory",
                    "iterator": "vqa-csv",
                    "task": "vqa",
                    "generator": SMALL_GENERATOR,
                    "options": {"doc_class": "passport"},
                },
            },
            "models": {"hosted-ocr": entry},
            "experiments": {
                "hosted": {
                    "matrix": {
                        "models": models,
                        "datasets": ["small-vqa"],
                        "prompts": ["vqa-question"],
                        "metrics": ["anls", "exact_match"],
                        "limit": SAMPLES,
                    },
                },
            },
        },
    )


def _run(vlmhb, workdir: Path, overlay: Path, *extra: str, key: str = KEY):
    return vlmhb(
        "run",
        "hosted",
        "--workdir",
        str(workdir),
        "--overlay",
        str(overlay),
        *extra,
        env={KEY_ENV: key},
    )


def _leaderboard(workdir: Path) -> dict[str, dict[str, str]]:
    path = workdir / "reports" / "hosted" / "leaderboard.csv"
    return {row["model"]: row for row in csv.DictReader(path.open(encoding="utf-8"))}


def _answers(workdir: Path, model: str = "hosted-ocr") -> list[dict[str, Any]]:
    found = []
    for run_json in (workdir / "runs").glob("*/run.json"):
        if json.loads(run_json.read_text(encoding="utf-8"))["model"]["name"] == model:
            path = run_json.parent / "answers.jsonl"
            if path.exists():
                found += [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return found


def _key_found_in(root: Path, *texts: str) -> list[str]:
    """Every file under ``root`` (and each text) that holds KEY, as bytes or base64."""
    needles = [KEY.encode(), base64.b64encode(KEY.encode())]
    hits = [
        str(p) for p in root.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)
    ]
    return hits + [f"output #{i}" for i, text in enumerate(texts) if KEY in text]


def _shape(value: Any) -> Any:
    """A JSON body's structure: keys and element kinds, without the values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, str) and value.startswith("data:image/"):
        return "data-uri:" + value.split(";")[0].removeprefix("data:")
    return type(value).__name__


def test_an_endpoint_is_benchmarked_next_to_a_local_model(
    vlmhb, tmp_path: Path, proxy: FaultProxy, wrapper: Endpoint
) -> None:
    overlay = _overlay(tmp_path / "o", proxy.base_url, wrapper.model, ["tesseract", "hosted-ocr"])
    workdir = tmp_path / "work"
    done = _run(vlmhb, workdir, overlay)
    assert done.returncode == 0, done.stdout + done.stderr

    rows = _leaderboard(workdir)
    local, hosted = rows["tesseract"], rows["hosted-ocr"]
    assert local["reproducible"] == "yes" and hosted["reproducible"] == "no (hosted)"
    assert local["samples"] == hosted["samples"] == str(SAMPLES) and hosted["failed"] == "0"
    answers = _answers(workdir)
    assert sorted(a["id"] for a in answers) == sorted({a["id"] for a in answers})
    assert len(answers) == SAMPLES
    assert all(a["response_model"] == wrapper.model for a in answers)
    prompt = sum(a["prompt_tokens"] for a in answers)
    completion = sum(a["completion_tokens"] for a in answers)
    assert int(hosted["prompt_tokens"]) == prompt > 0
    assert int(hosted["completion_tokens"]) == completion > 0
    assert float(hosted["cost_usd"]) == pytest.approx((prompt * 2.5 + completion * 10) / 1e6)
    truncated = sum(a["finish_reason"] == "length" for a in answers)
    assert float(hosted["truncated_share"]) == pytest.approx(truncated / SAMPLES, abs=1e-4)
    assert local["cost_usd"] == ""  # no price: unknown, not free

    # what went over the wire: the key and the extra header, images as data URIs
    sent = proxy.completions()
    assert len(sent) == SAMPLES and all(r.answered == 200 for r in sent)
    for request in sent:
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.headers["X-Team"] == "doc-bench"
        assert request.body["model"] == wrapper.model
    assert proxy.received[0].path == "/v1/models"  # the pre-flight check came first

    # the key is nowhere the run wrote: answers, events, tracker database, logs, reports
    assert _key_found_in(workdir, done.stdout, done.stderr) == []


def test_requests_are_shaped_as_the_official_openai_client_sends_them(
    tmp_path: Path, proxy: FaultProxy, wrapper: Endpoint
) -> None:
    page = tmp_path / "page.png"
    from PIL import Image

    Image.new("RGB", (60, 30), "white").save(page)
    schema = {"type": "object", "properties": {"surname": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "fields", "schema": schema}}
    settings = InferSettings(
        model_id=wrapper.model,
        system_prompt="Answer briefly.",
        template="{question}",
        collection={},
        generation={"max_tokens": 16, "temperature": 0},
        response_format=response_format,
        json_schema=schema,
        output_kind="json",
    )
    sample = {"id": "s", "images": [str(page)], "prompt_vars": {"question": "Фамилия?"}}
    ours = request_body(sample, settings)
    data_uri = ours["messages"][-1]["content"][-1]["image_url"]["url"]
    client = openai.OpenAI(base_url=proxy.base_url, api_key=KEY, max_retries=0)
    client.chat.completions.create(
        model=wrapper.model,
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Фамилия?"},
                    {"type": "image_url", "image_url": {"url": data_uri}},
                ],
            },
        ],
        max_tokens=16,
        temperature=0,
        response_format=response_format,  # type: ignore[arg-type]
    )
    theirs = proxy.completions()[-1].body
    assert _shape(ours) == _shape(theirs)
    assert ours["response_format"] == theirs["response_format"]
    assert _shape(ours)["messages"][-1]["content"][-1]["image_url"]["url"] == "data-uri:image/png"


@pytest.mark.parametrize("case", ["unreachable", "wrong key", "unknown model"])
def test_the_endpoint_is_checked_before_any_sample_is_sent(
    vlmhb, tmp_path: Path, proxy: FaultProxy, wrapper: Endpoint, case: str
) -> None:
    base_url, model, key = proxy.base_url, wrapper.model, KEY
    if case == "unreachable":
        base_url = f"http://127.0.0.1:{free_port()}/v1"
    elif case == "wrong key":
        key = "sk-wrong-but-secret-1234"
    else:
        model = "gpt-nonexistent"
    overlay = _overlay(tmp_path / "o", base_url, model, ["hosted-ocr"])
    workdir = tmp_path / "work"
    done = _run(vlmhb, workdir, overlay, key=key)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    expected = {
        "unreachable": "is unreachable",
        "wrong key": f"refused the API key from ${KEY_ENV} (HTTP 401)",
        "unknown model": "does not serve model 'gpt-nonexistent' (it serves: ocr-tesseract)",
    }[case]
    lines = [line for line in output.splitlines() if expected in line]
    assert lines, output
    assert "hosted-ocr" in lines[0] and "Traceback" not in output
    assert proxy.completions() == []  # not one sample was sent
    assert _answers(workdir) == []
    assert key not in output and _key_found_in(workdir) == []


def test_faults_are_retried_and_every_sample_answered_once(
    vlmhb, tmp_path: Path, proxy: FaultProxy, wrapper: Endpoint
) -> None:
    proxy.faults = ["429", "503", "timeout", "not-json", "truncated", "429"]
    proxy.retry_after = 1
    proxy.timeout_hang_s = 30
    overlay = _overlay(
        tmp_path / "o",
        proxy.base_url,
        wrapper.model,
        ["hosted-ocr"],
        endpoint={"timeout_s": 8},  # the hung request times out; a real answer never does
        retries={"per_run": 4, "max_attempts": 8, "max_consecutive_failures": 10},
    )
    workdir = tmp_path / "work"
    done = _run(vlmhb, workdir, overlay)
    assert done.returncode == 0, done.stdout + done.stderr
    answers = _answers(workdir)
    assert len(answers) == SAMPLES == len({a["id"] for a in answers})
    assert all(a["parse_status"] == "text" for a in answers)
    for fault in ("429", "503", "timeout", "not-json", "truncated"):
        assert proxy.count(fault) >= 1, fault
    # each sample was answered by the server exactly once: nothing asked again once answered
    assert proxy.count(200) == SAMPLES
    assert _leaderboard(workdir)["hosted-ocr"]["status"] == "ok"


def test_a_server_dying_mid_run_stops_the_model_cleanly_and_a_rerun_resumes(
    vlmhb, tmp_path: Path, proxy: FaultProxy, wrapper: Endpoint
) -> None:
    proxy.fault_for = lambda index: "die" if index == 3 else None
    overlay = _overlay(
        tmp_path / "o",
        proxy.base_url,
        wrapper.model,
        ["hosted-ocr"],
        rate_limits={"max_concurrency": 1},
        retries={"per_run": 2, "max_attempts": 20, "max_consecutive_failures": 3},
    )
    workdir = tmp_path / "work"
    first = _run(vlmhb, workdir, overlay)
    output = first.stdout + first.stderr
    assert "3 requests in a row failed" in output, output
    kept = _answers(workdir)
    assert len([a for a in kept if a["parse_status"] == "text"]) == 3, kept
    # the sample in flight used its attempts of this run: recorded failed, to retry next run
    assert all(a["attempts"] < 20 for a in kept if a["parse_status"] == "failed")
    assert "Traceback" not in output

    proxy.dead, proxy.fault_for = False, None  # the endpoint is back
    second = _run(vlmhb, workdir, overlay)
    assert second.returncode == 0, second.stdout + second.stderr
    answers = _answers(workdir)
    assert len(answers) == SAMPLES == len({a["id"] for a in answers})
    assert proxy.count(200) == SAMPLES  # the three kept answers were not asked again
    assert _leaderboard(workdir)["hosted-ocr"]["status"] == "ok"


def test_max_cost_stops_the_run_cleanly_and_a_rerun_resumes(
    vlmhb, tmp_path: Path, proxy: FaultProxy, wrapper: Endpoint
) -> None:
    # 1 USD per completion token, 8 tokens at most: each request may cost 8 USD; 8.5 USD lets
    # the first through and stops before a second could pass the budget.
    overlay = _overlay(
        tmp_path / "o",
        proxy.base_url,
        wrapper.model,
        ["hosted-ocr"],
        price={"input_per_mtok": 0.0, "output_per_mtok": 1e6},
        rate_limits={"max_concurrency": 1},
    )
    workdir = tmp_path / "work"
    first = _run(vlmhb, workdir, overlay, "--max-cost", "8.5")
    output = first.stdout + first.stderr
    assert "run stopped early: --max-cost 8.5 USD reached" in output, output
    kept = _answers(workdir)
    assert 1 <= len(kept) < SAMPLES
    assert sum(a["cost_usd"] for a in kept) <= 8.5
    assert proxy.count(200) == len(kept)

    second = _run(vlmhb, workdir, overlay)
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(_answers(workdir)) == SAMPLES == proxy.count(200)


VLLM_PYTHON = os.environ.get("VLMHB_VLLM_PYTHON")
TINY_VLLM_MODEL = os.environ.get("VLMHB_TINY_VLLM_MODEL")


@pytest.mark.skipif(
    not (VLLM_PYTHON and TINY_VLLM_MODEL),
    reason="needs vLLM's own server: run from `nox -s smoke-vllm`, which exports "
    "VLMHB_VLLM_PYTHON (a python with vllm) and VLMHB_TINY_VLLM_MODEL (the tiny checkpoint)",
)
def test_vllm_serve_is_an_endpoint_like_any_other(vlmhb, tmp_path: Path) -> None:
    """vLLM's OpenAI server as a third-party endpoint, behind the fault proxy (a 429 first)."""
    port = free_port()
    log = tmp_path / "vllm.log"
    command = [str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server"]
    command += ["--model", str(TINY_VLLM_MODEL), "--served-model-name", "tiny-vlm"]
    command += ["--port", str(port), "--api-key", KEY, "--max-model-len", "2048"]
    command += ["--limit-mm-per-prompt", '{"image": 1}']
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        model = _wait_for_models(url, process, log, 900)
        with FaultProxy(url, faults=["429"]) as proxy:
            overlay = _overlay(
                tmp_path / "o",
                proxy.base_url,
                model,
                ["hosted-ocr"],
                endpoint={"timeout_s": 300},  # a CPU vLLM's first requests are slow
            )
            workdir = tmp_path / "work"
            done = _run(vlmhb, workdir, overlay)
            assert done.returncode == 0, done.stdout + done.stderr
            answers = _answers(workdir)
            assert len(answers) == SAMPLES and proxy.count(429) == 1
            assert all(a["response_model"] == "tiny-vlm" for a in answers)
            assert all(a["prompt_tokens"] and a["finish_reason"] for a in answers)
            assert _key_found_in(workdir, done.stdout, done.stderr) == []
    finally:
        _stop(process)


def _judge_double() -> Any:
    """The judge-metrics package's judge test double (an LLM judge cannot run here)."""
    import importlib.util

    path = REPO / "metrics" / "judge-metrics" / "tests" / "judge_double.py"
    spec = importlib.util.spec_from_file_location("judge_double", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_judge_scores_open_answers_with_verdicts_per_sample(
    vlmhb, tmp_path: Path, proxy: FaultProxy, wrapper: Endpoint
) -> None:
    double = _judge_double()
    with double.RuleJudgeServer() as judge_server:
        overlay = _overlay(
            tmp_path / "o", proxy.base_url, wrapper.model, ["tesseract", "hosted-ocr"]
        )
        write_overlay(
            overlay,
            {
                "models": {
                    "judge-double": {
                        "framework": "openai-compatible",
                        "endpoint": {
                            "base_url": judge_server.base_url,
                            "model": judge_server.served,
                            "api_key_env": "VLMHB_TEST_JUDGE_KEY",
                            "snapshot": "rules-1",
                        },
                    }
                },
                "metrics": {
                    "judged": {
                        "package": "vlmhb-judge-metrics",
                        "entry_point": "judge",
                        "version": "1",
                        "applies_to": ["text"],
                        # Tesseract reads these clean pages exactly, which the rules decide
                        # alone: "always" makes the judge grade every answer here
                        "params": {
                            "judges": ["judge-double"],
                            "rubric": "judge-correctness",
                            "judge_when": "always",
                        },
                    }
                },
            },
        )
        experiment = overlay / "experiments" / "hosted.yaml"
        experiment.write_text(
            experiment.read_text().replace("- exact_match", "- judged"), encoding="utf-8"
        )
        workdir = tmp_path / "work"
        env = {
            KEY_ENV: KEY,
            "VLMHB_TEST_JUDGE_KEY": double.KEY,
            "VLMHB_JUDGE_CACHE": str(tmp_path / "judgments.sqlite"),
        }
        done = vlmhb("run", "hosted", "--workdir", str(workdir), "--overlay", str(overlay), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        asked = len(judge_server.requests)

        rows = _leaderboard(workdir)
        runs = json.loads((workdir / "reports" / "hosted" / "runs.json").read_text("utf-8"))
        distinct: set[tuple[str, str]] = set()  # the same answer to the same sample: judged once
        for run in runs:
            per_sample = list(
                csv.DictReader(
                    (workdir / "evals" / run["eval_id"] / "per_sample.csv").open(encoding="utf-8")
                )
            )
            assert len(per_sample) == SAMPLES
            for row in per_sample:
                distinct.add((row["id"], row["answer"]))
                assert row["judged_verdict"] in ("correct", "incorrect"), row
                assert row["judged_rationale"] and row["judged_decided_by"] == "judge"
                assert float(row["judged"]) == (1.0 if row["judged_verdict"] == "correct" else 0.0)
            share = sum(r["judged_verdict"] == "correct" for r in per_sample) / SAMPLES
            assert float(rows[run["model"]]["judged"]) == pytest.approx(share, abs=1e-4)
            metrics = json.loads((workdir / "evals" / run["eval_id"] / "metrics.json").read_text())
            report = metrics["reports"]["judged"]
            assert report["judges"][0]["snapshot"] == "rules-1"
        assert asked == len(distinct) and all(
            r["headers"]["Authorization"] == f"Bearer {double.KEY}" for r in judge_server.requests
        )
        # a second run re-scores nothing and asks the judge nothing (cached eval, cached verdicts)
        again = vlmhb(
            "run", "hosted", "--workdir", str(workdir), "--overlay", str(overlay), env=env
        )
        assert again.returncode == 0 and len(judge_server.requests) == asked
        output = done.stdout + done.stderr + again.stdout + again.stderr
        assert _key_found_in(workdir, output) == []
        assert double.KEY not in output and not any(
            double.KEY.encode() in p.read_bytes() for p in workdir.rglob("*") if p.is_file()
        )
