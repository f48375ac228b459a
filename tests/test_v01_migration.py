"""A v0.1 user's tree, imported and run with its user_config.csv cells unchanged."""

from __future__ import annotations

import csv
from pathlib import Path

from vlmhb_synthetic_docs import generate

HEADER = (
    "\ufeffdataset;task;framework;model_name;system_prompt;prompt_collection;metrics;"
    "only_evaluate_metrics;metrics_aggregators;filter_doc_class;filter_question_type\n"
)
VLM_BASE = (
    "\ufeffframework;model_family;model_name;docker_image;git_python_package;python_package;"
    "module;class_name\n"
    "Hugging Face;Qwen2-VL;Qwen/Qwen2-VL-2B-Instruct;;"
    "git+https://example.org/org/model_qwen2_vl.git@v0.1.3;model_qwen2_vl;"
    "model_qwen2_vl.models;Qwen2VLModel\n"
)


def _v01_tree(root: Path) -> Path:
    """What a v0.1 checkout holds: data_dirs with a dataset and nested prompt collections."""
    data_dirs = root / "vlmhyperbench" / "data_dirs"
    dataset = data_dirs / "Datasets" / "VQA" / "demo_mini"
    generate(dataset, seed=3, count=3, noise=0)
    nested = data_dirs / "PromptCollections" / "VQA" / "demo_mini" / "tuned"
    nested.mkdir(parents=True)
    (nested / "surname.csv").write_text(
        "\ufeffprompt;doc_class_question_type;cer\n"
        "Напиши Фамилия из паспорта.;passport Фамилия;0.1\n",
        encoding="utf-8",
    )
    (root / "vlmhyperbench" / "vlm_base.csv").write_text(VLM_BASE, encoding="utf-8")
    return root


def _read(path: Path) -> tuple[bytes, list[dict[str, str]]]:
    raw = path.read_bytes()
    return raw, list(csv.DictReader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))


def test_import_then_run_user_config_unchanged_writes_v01_outputs(vlmhb, tmp_path: Path) -> None:
    tree = _v01_tree(tmp_path / "v01")
    overlay = tmp_path / "imported"
    imported = vlmhb("import", "v01", str(tree), "--overlay", str(overlay), check=True)
    assert "datasets/demo_mini.yaml" in imported.stdout
    assert "prompts/vqa-demo_mini-tuned-surname.yaml" in imported.stdout
    assert (overlay / "models" / "Qwen-Qwen2-VL-2B-Instruct.yaml").is_file()
    again = vlmhb("import", "v01", str(tree), "--overlay", str(overlay), check=True)
    assert "kept" in again.stdout and "wrote" not in again.stdout  # idempotent

    config = tree / "vlmhyperbench" / "user_config_prompt_eval.csv"
    config.write_text(
        HEADER + "demo_mini;VQA;OCR;tesseract;;demo_mini/tuned/surname.csv;['CER', 'WER'];"
        "False;['by_id', 'by_doc_question', 'general'];['passport'];['Фамилия', 'Имя']\n",
        encoding="utf-8",
    )
    workdir = tmp_path / "work"
    dry = vlmhb(
        "run", "--user-config", str(config), "--overlay", str(overlay), "--dry-run", check=True
    )
    assert "to run" in dry.stdout and not workdir.exists()
    vlmhb(
        "run",
        "--user-config",
        str(config),
        "--workdir",
        str(workdir),
        "--overlay",
        str(overlay),
        check=True,
    )
    report = workdir / "reports" / "user_config_prompt_eval"
    [answers] = list((report / "ModelsAnswers").glob("tesseract_demo_mini_*.csv"))
    raw, rows = _read(answers)
    assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.splitlines()[0]
    assert list(rows[0]) == ["id", "model_answer"]
    assert rows and all(r["id"] for r in rows)
    stem = answers.stem
    raw, by_id = _read(report / "ModelsMetrics" / f"{stem}_by_id.csv")
    assert {"id", "question", "answer", "model_answer", "CER", "WER"} <= set(by_id[0])
    assert {r["question_type"] for r in by_id} <= {"Фамилия", "Имя"}
    assert all(r["question"] and r["answer"] for r in by_id)
    _, general = _read(report / "ModelsMetrics" / f"{stem}_general.csv")
    assert len(general) == 1 and float(general[0]["CER"]) >= 0
    assert (report / "ModelsMetrics" / f"{stem}_by_doc_question.csv").is_file()


def test_every_bad_cell_of_a_user_config_is_reported_at_once(vlmhb, tmp_path: Path) -> None:
    tree = _v01_tree(tmp_path / "v01")
    overlay = tmp_path / "imported"
    vlmhb("import", "v01", str(tree), "--overlay", str(overlay), check=True)
    config = tmp_path / "bad.csv"
    config.write_text(
        HEADER
        + "no_such_data;VQA;OCR;tesseract;;;['CER'];False;['general'];;\n"
        + "demo_mini;VQA;Hugging Face;tesseract;;missing/x.csv;['CER', 'BLEURT'];False;"
        "['general', 'by_planet'];;\n",
        encoding="utf-8",
    )
    proc = vlmhb("run", "--user-config", str(config), "--overlay", str(overlay))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    expected = [
        "bad.csv:2: dataset: no datasets entry named 'no_such_data'",
        "bad.csv:3: framework: 'Hugging Face' does not serve model 'tesseract'",
        "bad.csv:3: prompt_collection: 'missing/x.csv' is neither a prompt entry",
        "bad.csv:3: metrics: no metrics entry named 'BLEURT'",
        "bad.csv:3: metrics_aggregators: expected some of",
    ]
    for line in expected:
        assert line in proc.stderr, proc.stderr
