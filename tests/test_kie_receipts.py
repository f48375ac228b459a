"""Bring your own documents (issue 28): a folder of receipts, each with its JSON (company,
date, address, total as receipt datasets ship them), becomes a benchmark with two commands,
`vlmhb import dataset` and `vlmhb run`, with the real OCR baselines; the report says per model
which fields it reads and how often it leaves one out. Two receipts are PDFs: they are
rendered at the dataset's DPI, which the results record."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from conftest import REPO
from PIL import Image, ImageDraw, ImageFont

FONT = REPO / "datasets" / "synthetic-docs" / "src" / "vlmhb_synthetic_docs" / "fonts"
RECEIPTS = [
    ("ACME TRADING", "01/02/2019", "12 HIGH STREET", "9.90"),
    ("BOOK CORNER", "15/03/2019", "4 MARKET ROAD", "24.50"),
    ("CITY BAKERY", "22/04/2019", "7 MILL LANE", "3.75"),
    ("DELTA HARDWARE", "30/05/2019", "88 PARK AVENUE", "112.00"),
]
FIELDS = ["company", "date", "address", "total"]


def _receipt(values: tuple[str, ...], faint_total: bool) -> Image.Image:
    """A clean receipt page; a faint total is printed but unreadable (the OCR leaves it out)."""
    image = Image.new("RGB", (900, 420), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT / "DejaVuSans.ttf"), 34)
    for i, (label, value) in enumerate(zip(FIELDS, values, strict=True)):
        colour = (252, 252, 252) if label == "total" and faint_total else (0, 0, 0)
        draw.text((40, 40 + 90 * i), f"{label.capitalize()}: {value}", fill=colour, font=font)
    return image


def _folder(root: Path) -> Path:
    (root / "img").mkdir(parents=True)
    (root / "key").mkdir()
    for i, values in enumerate(RECEIPTS):
        page = _receipt(values, faint_total=i % 2 == 1)
        if i < 2:
            page.save(root / "img" / f"r{i}.pdf", "PDF", resolution=144.0)
        else:
            page.save(root / "img" / f"r{i}.png")
        fields = dict(zip(FIELDS, values, strict=True))
        (root / "key" / f"r{i}.json").write_text(json.dumps(fields), encoding="utf-8")
    return root


def test_a_receipt_folder_becomes_a_benchmark_in_two_commands(vlmhb, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "receipts")
    workdir = tmp_path / "work"
    imported = vlmhb(
        "import", "dataset", str(folder), "--name", "receipts", "--models", "tesseract,rapidocr"
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "vlmhb run receipts" in imported.stdout
    vlmhb("run", "receipts", "--workdir", str(workdir), check=True)

    report = workdir / "reports" / "receipts"
    runs = json.loads((report / "runs.json").read_text(encoding="utf-8"))
    assert {r["model"] for r in runs} == {"tesseract", "rapidocr"}
    assert all(r["main_metric"] == "field_f1" and r["task"] == "kie" for r in runs)
    with (report / "leaderboard_fields.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    left_out = {
        (r["model"], r["field"]): float(r["value"])
        for r in rows
        if r["metric"] == "field_omission_rate"
    }
    recall = {
        (r["model"], r["field"]): float(r["value"]) for r in rows if r["metric"] == "field_recall"
    }
    for model in ("tesseract", "rapidocr"):
        assert {f for m, f in left_out if m == model} == set(FIELDS)
        assert left_out[(model, "total")] >= 0.5  # the faint totals: left out, not wrong
        assert recall[(model, "company")] >= 0.75  # clean text is read
    markdown = (report / "leaderboard.md").read_text(encoding="utf-8")
    assert "### Per field — receipts__tesseract" in markdown
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "fig-fields-left-out-kie" in page and page.count("<h4>Per field</h4>") == 2

    # the PDFs were rendered at the dataset's DPI, recorded with the results
    run_config = json.loads(
        (workdir / "runs" / runs[0]["infer_id"] / "run.json").read_text(encoding="utf-8")
    )
    assert run_config["pdf"] == {
        "rendering": {"dpi": 144, "max_pages": 8, "max_pixels": 4_000_000},
        "pages": 2,
    }
    assert run_config["dataset"]["pdf"]["dpi"] == 144
    samples = [
        json.loads(line)
        for line in (workdir / "datasets" / run_config["sync_id"] / "samples.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    rendered = {s["id"]: s["metadata"]["pdf"][0] for s in samples if "pdf" in s["metadata"]}
    assert set(rendered) == {"r0", "r1"}
    assert rendered["r0"]["dpi"] == [144.0] and rendered["r0"]["size_px"] == [[900, 420]]
    assert "PDF pages rendered" in page and "dpi: 144" in page
