"""Backend parity in reports and ``vlmhb backend-parity``, on a work dir written by the test.

The checkpoint's tokenizer is a real byte-level BPE trained here with the tokenizers library
(loaded by the code under test through transformers' AutoTokenizer); expected divergence
positions are computed independently from the tokenizer file with the tokenizers library.
The real-generation test (tiny Qwen2-VL answers) is in the transformers-adapter package.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from typer.testing import CliRunner
from vlmhb_reports import write_reports
from vlmhb_reports.cli import backend_parity_command

CORPUS = [
    "Фамилия Иванов, имя Иван, отчество Иванович. Дата рождения 01.02.1990.",
    "Паспорт серия 45 06 номер 123456, код подразделения 770-001.",
    "The invoice total is 1 250.00 and the number is INV-0042.",
]
A = {
    "0": "Иванов",
    "1": "Дата рождения 01.02.1990",
    "2": "серия 45 06 номер 123456",
    "3": "The invoice total",
}
B = {
    "0": "Иванов",
    "1": "Дата рождения 02.02.1990",  # differs mid-answer
    "2": "серия 45 06",  # a prefix: B ended
    "3": None,  # B's request failed
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("checkpoint")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS * 5, trainer)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>"}),
        encoding="utf-8",
    )
    return folder


def _expected(folder: Path, a: dict, b: dict) -> dict[str, tuple]:
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    found = {}
    for sample in a:
        if a[sample] is not None and a[sample] == b[sample]:
            continue
        ids_a = tokenizer.encode(a[sample] or "", add_special_tokens=False).ids
        ids_b = tokenizer.encode(b[sample] or "", add_special_tokens=False).ids
        position = 0
        while position < min(len(ids_a), len(ids_b)) and ids_a[position] == ids_b[position]:
            position += 1
        if a[sample] is None or b[sample] is None:
            position = 0
        found[sample] = position
    return found


def _run(workdir: Path, infer_id: str, backend: str, checkpoint: Path, answers: dict) -> None:
    folder = workdir / "runs" / infer_id
    folder.mkdir(parents=True)
    config = {
        "infer_id": infer_id,
        "backend": backend,
        "model": {"model": {"model": str(checkpoint), "dtype": "float32"}, "engine_args": {}},
    }
    (folder / "run.json").write_text(json.dumps(config), encoding="utf-8")
    lines = [json.dumps({"id": k, "answer": v, "parse_status": "text"}) for k, v in answers.items()]
    (folder / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _entry(model: str, infer_id: str) -> dict:
    return {
        "run": f"{model}__docs__plain",
        "model": model,
        "dataset": "docs",
        "prompt": "plain",
        "task": "vqa",
        "infer_id": infer_id,
        "eval_id": f"ev-{infer_id}",
        "error": None,
        "complete": True,
        "metric_versions": {},
    }


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("backend-parity")(backend_parity_command)
    app.command("unused")(lambda: None)
    return app


def _workdir(tmp_path: Path, checkpoint: Path) -> tuple[Path, Path]:
    workdir = tmp_path / "work"
    _run(workdir, "inf-tf", "transformers", checkpoint, A)
    _run(workdir, "inf-vllm", "vllm", checkpoint, B)
    _run(workdir, "inf-ocr", "ocr", tmp_path / "no-checkpoint", A)  # alone: no pair
    runs = [_entry("tiny-tf", "inf-tf"), _entry("tiny-vllm", "inf-vllm"), _entry("ocr", "inf-ocr")]
    out = workdir / "reports" / "parity"
    write_reports(out, runs, workdir, ["leaderboard", "html"])
    return workdir, out


def test_reports_show_agreement_and_first_divergences(tmp_path: Path, checkpoint: Path) -> None:
    _, out = _workdir(tmp_path, checkpoint)
    expected = _expected(checkpoint, A, B)
    assert set(expected) == {"1", "2", "3"} and expected["1"] > 0 and expected["2"] > 0

    board = (out / "leaderboard.md").read_text(encoding="utf-8")
    section = board[board.index("## Backend parity") :]
    assert "tiny-tf (transformers) vs tiny-vllm (vllm) on docs/plain: 1/4 identical (25.0%)" in (
        section
    )
    for sample, position in expected.items():
        assert f"sample {sample}: first differing token at position {position}:" in section
    assert "B end of answer" in section and "B no answer" in section
    assert "ocr" not in section  # a run without a second backend is no pair

    page = (out / "report.html").read_text(encoding="utf-8")
    assert "id='backend-parity'" in page and "href='#backend-parity'" in page
    assert "1/4 (25.0%)" in page and "3 differing answers" in page


def test_no_pair_no_section(tmp_path: Path, checkpoint: Path) -> None:
    workdir = tmp_path / "work"
    _run(workdir, "inf-tf", "transformers", checkpoint, A)
    out = workdir / "reports" / "one"
    write_reports(out, [_entry("tiny-tf", "inf-tf")], workdir, ["leaderboard", "html"])
    assert "Backend parity" not in (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "backend-parity" not in (out / "report.html").read_text(encoding="utf-8")


def test_a_missing_checkpoint_is_named_in_the_report(tmp_path: Path, checkpoint: Path) -> None:
    workdir = tmp_path / "work"
    gone = tmp_path / "deleted-checkpoint"
    _run(workdir, "inf-tf", "transformers", gone, A)
    _run(workdir, "inf-vllm", "vllm", gone, B)
    out = workdir / "reports" / "gone"
    entries = [_entry("tiny-tf", "inf-tf"), _entry("tiny-vllm", "inf-vllm")]
    write_reports(out, entries, workdir, ["leaderboard", "html"])
    board = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert f"not measured: {gone}: no such checkpoint folder" in board
    assert "no such checkpoint folder" in (out / "report.html").read_text(encoding="utf-8")


def test_command_on_runs_uses_their_checkpoint(tmp_path: Path, checkpoint: Path) -> None:
    workdir, _ = _workdir(tmp_path, checkpoint)
    result = CliRunner().invoke(
        _app(),
        ["backend-parity", "tiny-tf/docs/plain", "tiny-vllm/docs/plain", "-w", str(workdir)],
    )
    assert result.exit_code == 1, result.output
    assert "tiny-tf/docs/plain (transformers) vs tiny-vllm/docs/plain (vllm): 1/4" in (
        result.stdout
    )
    assert "below --min-agreement 100.0%: 25.0% of answers identical" in result.stderr
    runs = ["tiny-tf/docs/plain", "tiny-vllm/docs/plain", "-w", str(workdir)]
    ok = CliRunner().invoke(_app(), ["backend-parity", *runs, "--min-agreement", "0.25"])
    assert ok.exit_code == 0, ok.output


def test_a_checkpoint_under_the_workdir_variable_is_found(tmp_path: Path, checkpoint: Path) -> None:
    """Model entries name checkpoints as ``${VLMHB_WORKDIR}/models/...`` (the smoke sessions'
    tiny models): that is the run's own work dir, as the adapters expand it."""
    workdir = tmp_path / "work"
    shutil.copytree(checkpoint, workdir / "models" / "tiny")
    _run(workdir, "inf-tf", "transformers", Path("${VLMHB_WORKDIR}/models/tiny"), A)
    _run(workdir, "inf-vllm", "vllm", Path("${VLMHB_WORKDIR}/models/tiny"), B)
    runs = ["tiny-tf/docs/plain", "tiny-vllm/docs/plain", "-w", str(workdir)]
    write_reports(
        workdir / "reports" / "p",
        [_entry("tiny-tf", "inf-tf"), _entry("tiny-vllm", "inf-vllm")],
        workdir,
        ["leaderboard"],
    )
    result = CliRunner().invoke(_app(), ["backend-parity", *runs, "--min-agreement", "0.25"])
    assert result.exit_code == 0, result.output
    assert "1/4" in result.stdout


def _files(tmp_path: Path, a_lines: list[str], b_lines: list[str]) -> tuple[Path, Path]:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(a_lines) + "\n", encoding="utf-8")
    b.write_text("\n".join(b_lines) + "\n", encoding="utf-8")
    return a, b


def _line(sample: str, answer: object) -> str:
    return json.dumps({"id": sample, "answer": answer})


@pytest.mark.parametrize(
    ("a_lines", "b_lines", "message"),
    [
        (
            [_line("0", "x"), "{not json", _line("2", "y")],
            [_line("0", "x")],
            "a.jsonl:2: not JSON",
        ),
        ([_line("0", "x"), _line("1", "y")], [_line("0", "x")], "only in "),
        ([_line("0", 42)], [_line("0", "x")], "sample 0: 'answer' is int, expected a string"),
        ([], [_line("0", "x")], "a.jsonl: no answers in the file"),
    ],
    ids=["bad-line", "different-samples", "not-a-string", "empty"],
)
def test_bad_answers_files_exit_2_naming_what_is_wrong(
    tmp_path: Path, checkpoint: Path, a_lines: list[str], b_lines: list[str], message: str
) -> None:
    a, b = _files(tmp_path, a_lines, b_lines)
    result = CliRunner().invoke(_app(), ["backend-parity", str(a), str(b), "-t", str(checkpoint)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_a_tokenizer_is_required_and_must_load(tmp_path: Path, checkpoint: Path) -> None:
    a, b = _files(tmp_path, [_line("0", "x")], [_line("0", "x")])
    none = CliRunner().invoke(_app(), ["backend-parity", str(a), str(b)])
    assert none.exit_code == 2 and "--tokenizer" in none.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = CliRunner().invoke(_app(), ["backend-parity", str(a), str(b), "-t", str(empty)])
    assert broken.exit_code == 2 and f"{empty}: the tokenizer does not load" in broken.stderr
    same = CliRunner().invoke(_app(), ["backend-parity", str(a), str(b), "-t", str(checkpoint)])
    assert same.exit_code == 0 and "1/1 answers identical (100.0%)" in same.stdout
