"""`vlmhb import dataset` for Hugging Face datasets: a Hub id, a save_to_disk folder or
parquet files become an ``iterator: hf`` entry that the registry accepts. No network: the
importer only writes the entry (the sync stage reads the data and checks the columns)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from PIL import Image
from registry_factory import write_registry
from typer.testing import CliRunner
from vlmhyperbench.cli import app
from vlmhyperbench.registry import RegistryLoader

runner = CliRunner()
DOCVQA_FIELDS = "id=questionId,image=image,question=question,answers=answers"


def _import(*args: str):
    return runner.invoke(app, ["import", "dataset", *args])


def _entry(overlay: Path, name: str) -> dict:
    return yaml.safe_load((overlay / "datasets" / f"{name}.yaml").read_text(encoding="utf-8"))


def test_hub_id_with_config_split_revision_fields_and_metadata(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    overlay = tmp_path / "overlay"
    result = _import(
        "hf://lmms-lab/DocVQA",
        "--name",
        "my-docvqa",
        "--config",
        "DocVQA",
        "--split",
        "validation",
        "--revision",
        "0123abc",
        "--fields",
        DOCVQA_FIELDS,
        "--metadata",
        "docId, question_types",
        "--overlay",
        str(overlay),
    )
    assert result.exit_code == 0, result.output
    entry = _entry(overlay, "my-docvqa")
    assert entry["iterator"] == "hf" and entry["package"] == "vlmhb-dataset-factory"
    assert entry["source"] == "hf://lmms-lab/DocVQA" and entry["task"] == "vqa"
    assert entry["options"] == {
        "config": "DocVQA",
        "split": "validation",
        "revision": "0123abc",
        "fields": {
            "id": "questionId",
            "image": "image",
            "question": "question",
            "answers": "answers",
            "metadata": ["docId", "question_types"],
        },
    }
    registry = RegistryLoader(registries, mode="prod", overlay_dirs=[overlay]).load()
    loaded = registry.get("datasets", "my-docvqa")
    assert loaded.source == "hf://lmms-lab/DocVQA" and loaded.options["revision"] == "0123abc"


def test_owner_name_with_hf_flag_and_revision_in_the_id(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    fields = "image=image,question=question,answers=answer,question_type=type"
    result = _import(
        "lmms-lab/ChartQA@v1",
        "--hf",
        "--name",
        "charts",
        "--task",
        "vqa",
        "--fields",
        fields,
        "--overlay",
        str(overlay),
    )
    assert result.exit_code == 0, result.output
    entry = _entry(overlay, "charts")
    assert entry["source"] == "hf://lmms-lab/ChartQA"
    assert entry["options"]["revision"] == "v1"
    assert entry["options"]["fields"]["question_type"] == "type"
    # Two different revisions are refused.
    clash = _import(
        "hf://lmms-lab/ChartQA@v1", "--revision", "v2", "--name", "x", "--fields", fields
    )
    assert clash.exit_code == 2 and "two revisions, 'v1' in the id and --revision" in clash.output


def test_local_save_to_disk_folder_and_parquet_files(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    overlay = tmp_path / "overlay"
    disk = tmp_path / "my-disk"
    disk.mkdir()
    (disk / "dataset_dict.json").write_text('{"splits": ["test"]}', encoding="utf-8")
    parquet_dir = tmp_path / "snapshot" / "data"
    parquet_dir.mkdir(parents=True)
    (parquet_dir / "test-00000-of-00001.parquet").write_bytes(b"PAR1")
    one_file = parquet_dir / "test-00000-of-00001.parquet"
    for source, name in ((disk, "disk"), (tmp_path / "snapshot", "snap"), (one_file, "file")):
        result = _import(
            str(source),
            "--name",
            name,
            "--split",
            "test",
            "--fields",
            "image=page,image=page2,label=category,prompt_vars.words=ocr_tokens",
            "--overlay",
            str(overlay),
        )
        assert result.exit_code == 0, result.output
        entry = _entry(overlay, name)
        assert entry["iterator"] == "hf" and entry["source"] == str(source.resolve())
        assert entry["options"] == {
            "split": "test",
            "fields": {
                "image": ["page", "page2"],
                "label": "category",
                "prompt_vars": {"words": "ocr_tokens"},
            },
        }
    registry = RegistryLoader(registries, mode="prod", overlay_dirs=[overlay]).load()
    assert registry.get("datasets", "file").source == str(one_file.resolve())
    # A revision pins Hub ids only.
    result = _import(str(disk), "--name", "d2", "--revision", "x", "--fields", "answers=a")
    assert result.exit_code == 2 and "--revision applies to Hub ids" in result.output


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("", "--fields: expected role=column pairs"),
        ("id=questionId,answers", "--fields: 'answers' is not role=column"),
        ("id=,answers=a", "--fields: 'id=' is not role=column"),
        ("colour=c,answers=a", "--fields: unknown role 'colour'; expected one of id, image"),
        ("id=a,id=b,answers=a", "--fields: 'id' given twice"),
        ("id=a,image=i", "--fields: no answers=<column> (or label=<column>)"),
        ("prompt_vars.2x=c,answers=a", "expected prompt_vars.<variable name>"),
    ],
)
def test_a_bad_fields_spec_is_a_clear_error(tmp_path: Path, fields: str, message: str) -> None:
    overlay = tmp_path / "overlay"
    result = _import("hf://o/n", "--name", "n", "--fields", fields, "--overlay", str(overlay))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not overlay.exists()


def test_other_bad_input(tmp_path: Path) -> None:
    overlay = ["--overlay", str(tmp_path / "overlay")]
    missing = _import("lmms-lab/DocVQA", "--name", "n", "--fields", "answers=a", *overlay)
    assert missing.exit_code == 2
    assert "no such file or folder (a Hub id? write hf://lmms-lab/DocVQA or add --hf)" in (
        missing.output
    )
    bad_id = _import("hf://a/b/c", "--name", "n", "--fields", "answers=a", *overlay)
    assert bad_id.exit_code == 2 and "expected a Hub dataset id" in bad_id.output
    no_fields = tmp_path / "x.parquet"
    no_fields.write_bytes(b"PAR1")
    result = _import(str(no_fields), "--name", "n", *overlay)
    assert result.exit_code == 2 and "say which column is what with --fields" in result.output
    meta = _import(
        "hf://a/b", "--name", "n", "--fields", "answers=a", "--metadata", "a,,b", *overlay
    )
    assert meta.exit_code == 2 and "--metadata: expected column names" in meta.output
    v01 = tmp_path / "v01"
    v01.mkdir()
    (v01 / "annotation.csv").write_text("file_name;question;answer\n", encoding="utf-8")
    mixed = _import(str(v01), "--name", "n", "--fields", "answers=a", *overlay)
    assert mixed.exit_code == 2 and "apply to Hugging Face datasets" in mixed.output
    # a v0.1 folder is read at import: wrong columns fail here, not at run time
    broken = _import(str(v01), "--name", "v", *overlay)
    assert broken.exit_code == 2 and "annotation.csv, line 1" in broken.output
    assert "missing column(s) image_path" in broken.output
    header = "data_index;split;image_path;question;answer;doc_class;question_type;answer_bbox"
    (v01 / "annotation.csv").write_text(
        f"{header}\n0;test;0.png;Q?;A;passport;name;\n", encoding="utf-8"
    )
    Image.new("RGB", (8, 8), "white").save(v01 / "0.png")
    plain = _import(str(v01), "--name", "v", *overlay)  # the v0.1 layout, as before
    assert plain.exit_code == 0, plain.output
    assert _entry(tmp_path / "overlay", "v")["iterator"] == "vqa-csv"
