"""The public benchmarks through the real pipeline: Hugging Face tables laid out exactly as
lmms-lab/DocVQA and lmms-lab/ChartQA are on the Hub (images embedded as bytes, DocVQA's
answers as lists), as local parquet files and as ``save_to_disk`` folders, registered with
the `hf` iterator, run sync -> infer (the real Tesseract baseline) -> eval by the `vlmhb` CLI.

The Hub download itself cannot run here; it goes through the same ``datasets`` calls as the
local files, and the offline path (HF_HUB_OFFLINE=1, nothing cached) is checked for its error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from conftest import write_overlay
from PIL import Image, ImageDraw, ImageFont

import datasets

LIMIT = 3


def text_image(lines: list[str]) -> bytes:
    """A clean white page with one ``Label: value`` per line, large enough for Tesseract."""
    font = ImageFont.load_default(size=36)
    image = Image.new("RGB", (900, 90 + 70 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 40 + 70 * i), line, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# The pages Tesseract reads: a field question about a printed "Label: value" line is what the
# OCR baseline answers (the text after the label), so these score well above zero.
PAGES = [
    text_image(["Date: 1/8/93", "To: Paul Smith"]),
    text_image(["Invoice number: 4721", "Total: 358.20"]),
    text_image(["Company: Acme", "City: Boston"]),
]
#: A page only the last DocVQA row holds: past every --limit here, so it is never unpacked.
LAST_PAGE = text_image(["Memo", "To: Paul Smith"])


def docvqa_table() -> datasets.Dataset:
    """lmms-lab/DocVQA, config DocVQA, split validation: its features, in its column order."""
    features = datasets.Features(
        {
            "questionId": datasets.Value("string"),
            "question": datasets.Value("string"),
            "question_types": datasets.Sequence(datasets.Value("string")),
            "image": datasets.Image(),
            "docId": datasets.Value("int32"),
            "ucsf_document_id": datasets.Value("string"),
            "ucsf_document_page_no": datasets.Value("string"),
            "answers": datasets.Sequence(datasets.Value("string")),
            "data_split": datasets.Value("string"),
        }
    )
    rows = {
        "questionId": ["49153", "24580", "57349", "24581"],
        "question": [
            "What is the date?",
            "What is the invoice number?",
            "What is the company?",
            "To whom is the document sent?",
        ],
        "question_types": [["layout"], ["form"], ["others"], ["form", "layout"]],
        "image": [{"bytes": page, "path": None} for page in (*PAGES, LAST_PAGE)],
        "docId": [14465, 2086, 4560, 14465],
        "ucsf_document_id": ["pybv0228", "nkbl0226", "xnbl0037", "pybv0228"],
        "ucsf_document_page_no": ["81", "1", "1", "81"],
        "answers": [
            ["1/8/93", "January 8, 1993"],
            ["4721"],
            ["Acme", "Acme Inc."],
            ["Paul Smith", "Paul"],
        ],
        "data_split": ["val"] * 4,
    }
    return datasets.Dataset.from_dict(rows, features=features)


def chartqa_table() -> datasets.Dataset:
    """lmms-lab/ChartQA, split test: type, question, answer (one text), image."""
    features = datasets.Features(
        {
            "type": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "image": datasets.Image(),
        }
    )
    rows = {
        "type": ["human_test", "human_test", "augmented_test", "augmented_test"],
        "question": [
            "What is the total?",
            "What is the invoice number?",
            "What is the city?",
            "What is the date?",
        ],
        "answer": ["358.2", "4721", "Boston", "1/8/93"],
        "image": [{"bytes": PAGES[i], "path": f"{i}.png"} for i in (1, 1, 2, 0)],
    }
    return datasets.Dataset.from_dict(rows, features=features)


def ocrbench_table() -> datasets.Dataset:
    """echo840/OCRBench, split test: dataset, question, question_type, answer (a list), image."""
    features = datasets.Features(
        {
            "dataset": datasets.Value("string"),
            "question": datasets.Value("string"),
            "question_type": datasets.Value("string"),
            "answer": datasets.Sequence(datasets.Value("string")),
            "image": datasets.Image(),
        }
    )
    rows = {
        "dataset": ["docVQA", "SROIE", "FUNSD", "HME100k"],
        "question": [
            "What is the date?",
            "What is the total?",
            "What is the city?",
            "Please write out the expression of the formula in the image using LaTeX format.",
        ],
        "question_type": [
            "Doc-oriented VQA",
            "Key Information Extraction",
            "Key Information Extraction",
            "Handwritten Mathematical Expression Recognition",
        ],
        "answer": [["1/8/93"], ["358.20"], ["BOSTON"], ["x ^ { 2 }"]],
        "image": [{"bytes": PAGES[i], "path": None} for i in (0, 1, 2, 2)],
    }
    return datasets.Dataset.from_dict(rows, features=features)


DOCVQA_OPTIONS = {
    "split": "validation",
    "fields": {
        "id": "questionId",
        "image": "image",
        "question": "question",
        "answers": "answers",
        "metadata": ["question_types", "docId", "ucsf_document_id", "ucsf_document_page_no"],
    },
}
CHARTQA_OPTIONS = {
    "split": "test",
    "fields": {"image": "image", "question": "question", "answers": "answer"},
}
CHARTQA_OPTIONS["fields"]["question_type"] = "type"
OCRBENCH_OPTIONS = {  # as registries/datasets/ocrbench.yaml maps the columns
    "split": "test",
    "fields": {"image": "image", "question": "question", "answers": "answer"},
}
OCRBENCH_OPTIONS["fields"].update(doc_class="dataset", question_type="question_type")


# Each dataset with the prompt lmms-eval uses for its benchmark.
PROMPTS = {
    "docvqa-parquet": ["single-word-or-phrase"],
    "docvqa-disk": ["single-word-or-phrase"],
    "chartqa-parquet": ["single-word"],
    "chartqa-disk": ["single-word"],
    "ocrbench-parquet": ["vqa-question"],
}


def _dataset(source: Path | str, task: str, options: dict) -> dict:
    return {
        "package": "vlmhb-dataset-factory",
        "iterator": "hf",
        "source": str(source),
        "task": task,
        "options": options,
    }


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture
def public_overlay(tmp_path: Path) -> Path:
    data = tmp_path / "hf-data"
    data.mkdir()
    docvqa_parquet = data / "docvqa" / "validation-00000-of-00001.parquet"
    docvqa_parquet.parent.mkdir()
    docvqa_table().to_parquet(str(docvqa_parquet))
    chartqa_parquet = data / "chartqa" / "test-00000-of-00001.parquet"
    chartqa_parquet.parent.mkdir()
    chartqa_table().to_parquet(str(chartqa_parquet))
    ocrbench_parquet = data / "ocrbench" / "test-00000-of-00001.parquet"
    ocrbench_parquet.parent.mkdir()
    ocrbench_table().to_parquet(str(ocrbench_parquet))
    datasets.DatasetDict({"validation": docvqa_table()}).save_to_disk(str(data / "docvqa-disk"))
    datasets.DatasetDict({"test": chartqa_table()}).save_to_disk(str(data / "chartqa-disk"))
    return write_overlay(
        tmp_path / "overlay",
        {
            "datasets": {
                "docvqa-parquet": _dataset(docvqa_parquet, "doc-vqa-anls", DOCVQA_OPTIONS),
                "docvqa-disk": _dataset(data / "docvqa-disk", "doc-vqa-anls", DOCVQA_OPTIONS),
                "chartqa-parquet": _dataset(chartqa_parquet, "chart-vqa", CHARTQA_OPTIONS),
                "chartqa-disk": _dataset(data / "chartqa-disk", "chart-vqa", CHARTQA_OPTIONS),
                "ocrbench-parquet": _dataset(ocrbench_parquet, "ocrbench", OCRBENCH_OPTIONS),
            },
            "experiments": {
                "public-local": {
                    "matrix": {
                        "models": ["tesseract"],
                        "datasets": sorted(PROMPTS),
                        "prompts": PROMPTS,
                        "aggregators": ["general", "by_doc_question"],
                    },
                    "reports": ["leaderboard"],
                },
            },
        },
    )


def test_docvqa_and_chartqa_layouts_run_through_sync_infer_eval(
    vlmhb, tmp_path: Path, public_overlay: Path
) -> None:
    workdir = tmp_path / "work"
    vlmhb(
        "run",
        "public-local",
        "--workdir",
        str(workdir),
        "--overlay",
        str(public_overlay),
        "--limit",
        str(LIMIT),
        check=True,
    )
    report = workdir / "reports" / "public-local"
    runs = json.loads((report / "runs.json").read_text(encoding="utf-8"))
    by_dataset = {r["dataset"]: r for r in runs}
    for run in runs:  # the sync stage each run read (recorded in the run's config)
        config = json.loads((workdir / "runs" / run["infer_id"] / "run.json").read_text("utf-8"))
        run["sync_id"] = config["sync_id"]
    assert set(by_dataset) == set(PROMPTS)

    # Sync: the first LIMIT rows only (issue 29: the limit reaches the data, so the last
    # DocVQA row's page is never unpacked), with ids, answers (lists kept) and
    # content-addressed images.
    image_folder = workdir / "cache" / "hf-images" / "images"
    expected_files = {hashlib.sha256(page).hexdigest() + ".png" for page in PAGES}
    assert {p.name for p in image_folder.iterdir()} == expected_files  # each page once
    for name, run in by_dataset.items():
        samples = _jsonl(workdir / "datasets" / run["sync_id"] / "samples.jsonl")
        for sample in samples:
            (image,) = sample["images"]
            data = Path(image).read_bytes()
            assert Path(image).parent == image_folder.resolve(), (name, image)
            assert Path(image).name == hashlib.sha256(data).hexdigest() + ".png"
        if name.startswith("docvqa"):
            assert [s["id"] for s in samples] == ["49153", "24580", "57349"]
            assert samples[0]["reference"] == ["1/8/93", "January 8, 1993"]  # a list stays one
            assert samples[1]["reference"] == ["4721"]
            assert samples[0]["metadata"]["question_types"] == ["layout"]
            assert samples[0]["metadata"]["docId"] == 14465
            assert samples[0]["prompt_vars"] == {"question": "What is the date?"}
            assert Path(samples[0]["images"][0]).read_bytes() == PAGES[0]
        elif name.startswith("ocrbench"):
            assert [s["id"] for s in samples] == ["0", "1", "2"]
            assert [s["doc_class"] for s in samples] == ["docVQA", "SROIE", "FUNSD"]
            assert samples[0]["reference"] == ["1/8/93"]  # a list stays one
        else:
            assert [s["id"] for s in samples] == ["0", "1", "2"]  # the row number
            assert samples[0]["reference"] == "358.2"
            assert [s["question_type"] for s in samples][:3] == [
                "human_test",
                "human_test",
                "augmented_test",
            ]
            assert Path(samples[2]["images"][0]).read_bytes() == PAGES[2]
    # The same table as parquet or as save_to_disk gives the same samples.
    for kind in ("docvqa", "chartqa"):
        parquet, disk = (
            _jsonl(workdir / "datasets" / by_dataset[f"{kind}-{x}"]["sync_id"] / "samples.jsonl")
            for x in ("parquet", "disk")
        )
        assert [(s["id"], s["images"], s["reference"]) for s in parquet] == [
            (s["id"], s["images"], s["reference"]) for s in disk
        ]

    # Infer: --limit answers the first 3 samples, once each.
    for name, run in by_dataset.items():
        answers = _jsonl(workdir / "runs" / run["infer_id"] / "answers.jsonl")
        ids = [a["id"] for a in answers]
        first = ["49153", "24580", "57349"] if name.startswith("docvqa") else ["0", "1", "2"]
        assert sorted(ids) == sorted(first) and len(set(ids)) == LIMIT, (name, ids)

    # Eval: the task's metrics, in range; Tesseract reads these pages.
    for name, run in by_dataset.items():
        summary = json.loads(
            (workdir / "evals" / run["eval_id"] / "metrics.json").read_text(encoding="utf-8")
        )
        scores, detail = summary["metrics"], f"{name}: {summary}"
        assert summary["samples"] == LIMIT, detail
        if name.startswith("docvqa"):
            assert {"anls", "anls@lmms-eval", "exact_match"} <= set(scores), detail
            for column in ("anls", "anls@lmms-eval", "exact_match"):
                assert 0.0 <= scores[column] <= 1.0, detail
            assert scores["anls"] > 0, detail
            assert summary["versions"]["anls"] == "anls@2"
        elif name.startswith("ocrbench"):  # the task's default: OCRBench's own score
            assert {"ocrbench_accuracy", "exact_match", "anls"} <= set(scores), detail
            assert 0.0 < scores["ocrbench_accuracy"] <= 1.0, detail
            assert summary["versions"]["ocrbench_accuracy"] == "ocrbench_accuracy@1"
        else:
            assert {"relaxed_accuracy", "exact_match"} <= set(scores), detail
            assert 0.0 <= scores["relaxed_accuracy"] <= 1.0, detail
            assert scores["relaxed_accuracy"] > 0, detail
            by_question = list(
                csv.DictReader(
                    (workdir / "evals" / run["eval_id"] / "metrics_by_doc_question.csv").open(
                        encoding="utf-8"
                    )
                )
            )
            assert {r["question_type"] for r in by_question} == {"human_test", "augmented_test"}
    rows = list(csv.DictReader((report / "leaderboard.csv").open(encoding="utf-8")))
    assert len(rows) == 5 and all(r["samples"] == str(LIMIT) for r in rows), rows


def test_uncached_hub_dataset_offline_fails_with_a_clear_error(vlmhb, tmp_path: Path) -> None:
    overlay = write_overlay(
        tmp_path / "overlay",
        {
            "datasets": {
                "hub-docvqa": _dataset(
                    "hf://vlmhb-tests/docvqa-not-cached",
                    "doc-vqa-anls",
                    {**DOCVQA_OPTIONS, "config": "DocVQA", "revision": "main"},
                ),
            },
            "experiments": {
                "offline": {
                    "matrix": {
                        "models": ["tesseract"],
                        "datasets": ["hub-docvqa"],
                        "prompts": ["single-word-or-phrase"],
                    },
                    "reports": ["leaderboard"],
                },
            },
        },
    )
    empty_home = tmp_path / "hf-home"
    empty_home.mkdir()
    proc = vlmhb(
        "run",
        "offline",
        "--workdir",
        str(tmp_path / "work"),
        "--overlay",
        str(overlay),
        "--limit",
        str(LIMIT),
        env={
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HF_HOME": str(empty_home),
            "HF_DATASETS_CACHE": str(empty_home / "datasets"),
            "HF_HUB_CACHE": str(empty_home / "hub"),
        },
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "vlmhb-tests/docvqa-not-cached" in proc.stderr, output
    assert "not in the local Hugging Face cache" in proc.stderr, output
    assert "HF_HUB_OFFLINE" in proc.stderr, output
    assert "Traceback" not in proc.stderr, output
    assert not list((tmp_path / "work").glob("runs/*/answers.jsonl"))  # no inference ran
