"""Issue 29: DocVQA-layout data (several accepted answers per question) under the ``vqa``
task's default metrics, scored by the real eval stage script with the registry's metrics.

CER/WER used to end the stage with ``ValueError: references[0] is list; expected a string``
and a traceback. They now score a sample against its closest accepted answer; a metric that
still cannot score the data ends the stage with one line naming it and the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vlmhb_stages import EvalConfig, MetricSpec
from vlmhb_text_metrics import cer, wer
from vlmhyperbench.registry import RegistryManager

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = [  # DocVQA's layout: a list of accepted answers per question
    ("49153", ["1/8/93", "January 8, 1993"], "January 8 1993"),
    ("24580", ["4721"], "4721"),
    ("57349", ["Dr. Smith", "Smith", "John Smith"], "smith"),
]


def _specs(metric_names: list[str]) -> list[MetricSpec]:
    registry = RegistryManager(REPO / "registries", mode="dev").load()
    fields = {"name", "version", "entry_point", "callable", "params", "inputs", "higher_is_better"}
    return [
        MetricSpec(**entry.model_dump(include=fields), column=entry.column)
        for entry in (registry.get("metrics", name) for name in metric_names)
    ]


def _evaluate(tmp_path: Path, metric_names: list[str]) -> subprocess.CompletedProcess[str]:
    samples, answers = tmp_path / "samples.jsonl", tmp_path / "answers.jsonl"
    samples.write_text(
        "".join(json.dumps({"id": i, "reference": refs}) + "\n" for i, refs, _ in QUESTIONS)
    )
    answers.write_text("".join(json.dumps({"id": i, "answer": a}) + "\n" for i, _, a in QUESTIONS))
    config = EvalConfig(
        out_dir=str(tmp_path / "out"),
        samples=str(samples),
        answers=str(answers),
        output_kind="text",
        aggregators=["general"],
        metrics=_specs(metric_names),
        label="tesseract / docvqa-val / vqa-question",
    )
    path = tmp_path / "evaluate.config.json"
    path.write_text(config.model_dump_json())
    return subprocess.run(
        [sys.executable, "-m", "vlmhb_stages.evaluate", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_docvqa_layout_under_the_vqa_task_scores_cer_and_wer_against_the_closest_answer(
    tmp_path: Path,
) -> None:
    registry = RegistryManager(REPO / "registries", mode="dev").load()
    names = [m for m in registry.get("tasks", "vqa").default_metrics if m in {"anls", "cer", "wer"}]
    assert names == ["anls", "cer", "wer"]
    proc = _evaluate(tmp_path, names)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    predictions = [a for _, _, a in QUESTIONS]
    # the answer with the lowest per-sample rate; on a tie (every WER of "smith" is 1.0) the
    # first listed
    closest_cer = ["January 8, 1993", "4721", "Smith"]
    closest_wer = ["January 8, 1993", "4721", "Dr. Smith"]
    assert summary["metrics"]["cer"] == cer(predictions, closest_cer).value
    assert summary["metrics"]["wer"] == wer(predictions, closest_wer).value
    assert summary["versions"]["cer"] == "cer@2" and summary["versions"]["wer"] == "wer@2"
    assert summary["metrics"]["anls"] > 0.9


def test_a_metric_that_cannot_score_the_data_names_itself_and_the_run(tmp_path: Path) -> None:
    """vqa_accuracy's leave-one-out needs several annotators' answers; one is refused."""
    proc = _evaluate(tmp_path, ["vqa_accuracy"])
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(
        "metric 'vqa_accuracy' on tesseract / docvqa-val / vqa-question cannot score this "
        "dataset: vqa_accuracy: references[1] has one answer"
    )
    assert not (tmp_path / "out" / "metrics.json").exists()
