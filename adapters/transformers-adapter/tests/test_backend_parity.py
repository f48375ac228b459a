"""Backend parity (``vlmhb backend-parity``) on real answers of the tiny Qwen2-VL.

Two runs through this backend with different settings stand in for two backends: the command
must find exactly the samples whose answers differ and, for each, the first differing token
position and ids. The expectation is computed here independently, with transformers'
tokenizer of the checkpoint (the command reads ``tokenizer.json`` with the tokenizers
library). Identical runs must agree 100% and pass the default threshold.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from conftest import png, request, user
from transformers import AutoTokenizer
from typer.testing import CliRunner
from vlmhb_reports.cli import backend_parity_command
from vlmhb_transformers_adapter import TransformersBackend

PROMPTS = [
    ("Фамилия?", (200, 30, 30)),
    ("Номер документа?", (30, 200, 30)),
    ("Дата рождения?", None),
    ("Место рождения?", (30, 30, 200)),
    ("Код подразделения?", None),
    ("Describe the page.", (120, 120, 20)),
]
#: Settings of run B per sample (run A: greedy, 24 tokens): same, shorter, or sampled.
B_SETTINGS = [
    {"max_tokens": 24, "temperature": 0},
    {"max_tokens": 24, "temperature": 0},
    {"max_tokens": 9, "temperature": 0},
    {"max_tokens": 5, "temperature": 0},
    {"max_tokens": 24, "temperature": 1.0, "seed": 7},
    {"max_tokens": 24, "temperature": 1.5, "seed": 11},
]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("backend-parity")(backend_parity_command)
    app.command("unused")(lambda: None)  # two commands: typer keeps the subcommand name
    return app


async def _answers(backend: TransformersBackend, settings: list[dict]) -> dict[str, str]:
    asks = []
    for index, ((text, colour), extra) in enumerate(zip(PROMPTS, settings, strict=True)):
        parts = (png(colour), text) if colour else (text,)
        asks.append(request(str(index), user(*parts), **extra))
    results = await backend.generate(asks)
    assert all(r.error is None for r in results), results
    return {str(i): r.text for i, r in enumerate(results)}


def _write(path: Path, answers: dict[str, str]) -> Path:
    lines = [json.dumps({"id": k, "answer": v, "parse_status": "text"}) for k, v in answers.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _expected(tokenizer, a: dict[str, str], b: dict[str, str]) -> dict[str, tuple]:
    """Sample -> (position, token A or None, token B or None), by a plain walk over the ids."""
    found = {}
    for sample in a:
        if a[sample] == b[sample]:
            continue
        ids_a = tokenizer.encode(a[sample], add_special_tokens=False)
        ids_b = tokenizer.encode(b[sample], add_special_tokens=False)
        position = 0
        while position < min(len(ids_a), len(ids_b)) and ids_a[position] == ids_b[position]:
            position += 1
        found[sample] = (
            position,
            ids_a[position] if position < len(ids_a) else None,
            ids_b[position] if position < len(ids_b) else None,
        )
    return found


@pytest.fixture(scope="module")
def runs(loaded_backend: TransformersBackend, tmp_path_factory: pytest.TempPathFactory):
    import asyncio

    greedy = [{"max_tokens": 24, "temperature": 0}] * len(PROMPTS)
    a = asyncio.run(_answers(loaded_backend, greedy))
    again = asyncio.run(_answers(loaded_backend, greedy))
    b = asyncio.run(_answers(loaded_backend, B_SETTINGS))
    folder = tmp_path_factory.mktemp("answers")
    return (
        a,
        b,
        _write(folder / "a.jsonl", a),
        _write(folder / "again.jsonl", again),
        _write(folder / "b.jsonl", b),
    )


def test_divergences_are_located_at_the_first_differing_token(runs, tiny_model: Path) -> None:
    a, b, file_a, _, file_b = runs
    expected = _expected(AutoTokenizer.from_pretrained(str(tiny_model)), a, b)
    assert len(expected) >= 3, f"the settings should make answers differ: {a} {b}"
    assert "0" not in expected and "1" not in expected  # same settings, same answers

    result = CliRunner().invoke(
        _app(),
        ["backend-parity", str(file_a), str(file_b), "-t", str(tiny_model), "--json"],
    )
    assert result.exit_code == 1, result.output  # below the default --min-agreement 1.0
    report = json.loads(result.stdout)
    assert report["samples"] == len(PROMPTS)
    assert report["identical"] == len(PROMPTS) - len(expected)
    found = {
        d["sample"]: (d["position"], d["token_a"], d["token_b"]) for d in report["divergences"]
    }
    assert found == expected
    assert "below --min-agreement" in result.stderr

    text = CliRunner().invoke(
        _app(), ["backend-parity", str(file_a), str(file_b), "-t", str(tiny_model)]
    )
    for sample, (position, token_a, _) in expected.items():
        line = f"sample {sample}: first differing token at position {position}: A "
        line += "end of answer" if token_a is None else f"id {token_a} "
        assert line in text.stdout, text.stdout

    lenient = CliRunner().invoke(
        _app(),
        ["backend-parity", str(file_a), str(file_b), "-t", str(tiny_model), "--min-agreement", "0"],
    )
    assert lenient.exit_code == 0, lenient.output


def test_identical_runs_agree_fully(runs, tiny_model: Path) -> None:
    _, _, file_a, file_again, _ = runs
    result = CliRunner().invoke(
        _app(), ["backend-parity", str(file_a), str(file_again), "-t", str(tiny_model)]
    )
    assert result.exit_code == 0, result.output
    assert f"{len(PROMPTS)}/{len(PROMPTS)} answers identical (100.0%)" in result.stdout
