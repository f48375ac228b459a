"""A judge metric's per-sample verdict and rationale reach the samples API's ``scores``.

The eval stage writes them as text columns of ``per_sample.csv`` (``<metric>_verdict``,
``<metric>_rationale``); the bridge must keep them as text beside the numeric scores so the
dashboard's sample view can show why a sample was judged as it was.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from vlmhb_server.core_bridge import RunResults, run_samples


def test_judge_verdict_and_rationale_are_sample_scores(tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        json.dumps({"id": "1", "prompt_vars": {"question": "Город?"}, "reference": "Москва"})
        + "\n",
        encoding="utf-8",
    )
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"id": "1", "answer": "г. Москва"}) + "\n", encoding="utf-8")
    scores = tmp_path / "per_sample.csv"
    with scores.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        judge_columns = ["judged_verdict", "judged_rationale", "judged_decided_by"]
        writer.writerow(
            ["id", "doc_class", "question_type", "parse_status", "answer", "judged", *judge_columns]
        )
        writer.writerow(
            ["1", "", "", "text", "г. Москва", "1.0", "correct", "names the same city", "judge"]
        )
    run = RunResults(
        run="r",
        model="m",
        dataset="d",
        prompt="p",
        task="vqa",
        output_kind="text",
        metrics={},
        extra={},
        samples_file=samples,
        answers_file=answers,
        scores_file=scores,
    )
    (sample,) = list(run_samples(run))
    assert sample["scores"] == {
        "judged": 1.0,
        "judged_verdict": "correct",
        "judged_rationale": "names the same city",
        "judged_decided_by": "judge",
    }
