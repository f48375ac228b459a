"""`vlmhb import dataset` on documents brought as they ship: a folder of images with one flat
JSON each (receipts: company, date, address, total) and JSONL records. The data is read at
import, so a wrong layout fails there, naming the file and the field (issue 28)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner
from vlmhb_v01.cli import EXIT_BAD_INPUT, import_app


def _receipts(root: Path, count: int = 3) -> Path:
    for i in range(count):
        (root / "img").mkdir(parents=True, exist_ok=True)
        (root / "key").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (60, 40), "white").save(root / "img" / f"r{i}.jpg")
        fields = {"company": f"SHOP {i}", "date": "01/02/2019", "total": f"{i}.90"}
        (root / "key" / f"r{i}.json").write_text(json.dumps(fields), encoding="utf-8")
    return root


def _import(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(import_app, ["dataset", *args])
    return result.exit_code, result.output


def test_a_folder_of_receipts_becomes_a_kie_dataset_entry(tmp_path: Path) -> None:
    folder = _receipts(tmp_path / "receipts")
    overlay = tmp_path / "overlay"
    code, output = _import(str(folder), "--name", "receipts", "--overlay", str(overlay))
    assert code == 0, output
    entry = yaml.safe_load((overlay / "datasets" / "receipts.yaml").read_text(encoding="utf-8"))
    assert entry["iterator"] == "image-json" and entry["task"] == "kie"
    assert entry["source"] == str(folder.resolve())
    assert entry["description"].endswith("(3 samples)")


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({"company": "SHOP", "total": {"amount": 9.9}}, "r1.json, column 'total'"),
        (["SHOP", "9.90"], "r1.json: expected a flat JSON object"),
    ],
)
def test_a_wrong_layout_fails_at_import_naming_file_and_field(
    tmp_path: Path, content: object, named: str
) -> None:
    folder = _receipts(tmp_path / "receipts")
    (folder / "key" / "r1.json").write_text(json.dumps(content), encoding="utf-8")
    overlay = tmp_path / "overlay"
    code, output = _import(str(folder), "--name", "receipts", "--overlay", str(overlay))
    assert code == EXIT_BAD_INPUT
    assert "not imported:" in output and named in output
    assert not (overlay / "datasets").exists()  # nothing written


def test_an_image_without_its_json_is_named(tmp_path: Path) -> None:
    folder = _receipts(tmp_path / "receipts")
    Image.new("RGB", (60, 40), "white").save(folder / "img" / "r9.png")
    code, output = _import(str(folder), "--name", "receipts", "--overlay", str(tmp_path / "o"))
    assert code == EXIT_BAD_INPUT and "r9.png: no annotation r9.json" in output


def test_jsonl_records_are_checked_too(tmp_path: Path) -> None:
    folder = _receipts(tmp_path / "data", count=1)
    records = folder / "receipts.jsonl"
    good = {"id": "a", "image": "img/r0.jpg", "fields": {"company": "SHOP 0"}}
    records.write_text(json.dumps(good) + "\n", encoding="utf-8")
    overlay = tmp_path / "overlay"
    code, output = _import(str(records), "--overlay", str(overlay))
    assert code == 0, output
    entry = yaml.safe_load((overlay / "datasets" / "receipts.yaml").read_text(encoding="utf-8"))
    assert (entry["iterator"], entry["task"]) == ("jsonl", "kie")
    bad = {"id": "b", "image": "img/missing.jpg", "fields": {"company": "SHOP"}}
    records.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    code, output = _import(str(records), "--name", "other", "--overlay", str(overlay))
    assert code == EXIT_BAD_INPUT
    assert "receipts.jsonl, line 2" in output and "image not found" in output
