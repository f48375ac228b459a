"""Writes a work dir of scanned-receipt-like results for the samples explorer's browser test.

The file layout is the server test fixture's (management/server/tests/helpers.py
``make_workdir``: 2 datasets x 3 models, in the core's files); the contents are then made
receipt-like: ``receipts-ocr`` asks for a full transcription (long, multi-line answers) or the
total (with the total line's ``answer_bbox``), ``receipts-kie`` asks for company / date /
address / total as JSON. Answers differ per model (a good one, one that confuses O and 0 and
drops a line, one that loses fields); per-sample scores are computed from them
(``field_f1`` by vlmhb-structured-metrics, ANLS and exact match by their definitions), and the
leaderboard means follow. The receipt images are rendered by the browser test from
``receipts.json`` (same layout: ``LINE_PX`` per line after ``PAD_PX``), so the boxes fit.

Usage: python receipts_workdir.py WORKDIR SAMPLES_PER_RUN
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SERVER_TESTS = Path(__file__).resolve().parents[2] / "server" / "tests"
MODELS = ("qwen2.5-vl-3b", "tesseract", "rapidocr")
RENAMES = {
    "synthetic-docs-passport-fields": "receipts-kie",
    "synthetic-docs-vqa": "receipts-ocr",
    "passport-fields": "receipt-fields",
}
WIDTH_PX, PAD_PX, LINE_PX = 520, 24, 26

SHOPS = [
    (
        "BOOK TA.K (TAMAN DAYA) SDN BHD",
        "NO.53 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU, JOHOR.",
    ),
    (
        "MR. D.I.Y. (M) SDN BHD",
        "LOT 1851-A & 1851-B, JALAN KPB 6, KAWASAN PERINDUSTRIAN BALAKONG, 43300 SERI KEMBANGAN, SELANGOR",
    ),
    (
        "UNIHAKKA INTERNATIONAL SDN BHD",
        "12, JALAN TAMPOI 7/4, KAWASAN PERINDUSTRIAN TAMPOI, 81200 JOHOR BAHRU, JOHOR",
    ),
    ("99 SPEED MART S/B", "LOT P.T. 2811, JALAN ANGSA, TAMAN BERKELEY, 41150 KLANG, SELANGOR"),
    ("GARDENIA BAKERIES (KL) SDN BHD", "LOT 3, JALAN PELABUR 23/1, 40300 SHAH ALAM, SELANGOR."),
]
ITEMS = [
    "ORANGE JUICE 1L",
    "WHITE BREAD 400G",
    "A4 PAPER 80GSM",
    "BALL PEN BLUE",
    "MINERAL WATER 1.5L",
    "INSTANT NOODLES 5S",
    "DISH SOAP 900ML",
]


def receipt(i: int, rng: random.Random) -> dict[str, Any]:
    company, address = SHOPS[i % len(SHOPS)]
    date = f"{1 + rng.randrange(28):02d}/{1 + rng.randrange(12):02d}/2018"
    items = [(name, rng.randrange(150, 4000) / 100) for name in rng.sample(ITEMS, 3)]
    total = f"{sum(p for _, p in items):.2f}"
    lines = [company, *_wrap(address, 40), f"DATE: {date}", "-" * 36]
    lines += [f"{name:<26}{price:>10.2f}" for name, price in items]
    lines += ["-" * 36, f"{'TOTAL':<26}{total:>10}", "THANK YOU. PLEASE COME AGAIN"]
    total_line = len(lines) - 2
    top = PAD_PX + LINE_PX * total_line
    return {
        "fields": {"company": company, "date": date, "address": address, "total": total},
        "lines": lines,
        "bbox": [PAD_PX - 6, top - 2, WIDTH_PX - PAD_PX + 6, top + LINE_PX + 2],
    }


def _wrap(text: str, width: int) -> list[str]:
    out, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*out, line]


def _ocr_noise(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if len(lines) > 4:
        del lines[rng.randrange(1, len(lines) - 1)]
    return "\n".join(lines).replace("O", "0").replace("l", "1").replace("S", "5", 1)


def answers_for(kind: str, model: int, reference: Any, rng: random.Random) -> str:
    """What model number ``model`` answered: 0 is good, 1 noisy OCR, 2 loses fields."""
    if kind == "json":
        fields = dict(reference)
        if model == 1:
            fields["company"] = _ocr_noise(fields["company"], rng)
            fields["total"] = fields["total"].replace(".", ",")
        elif model == 2:
            del fields["address"]
            fields["date"] = fields["date"].replace("/", "-")
        text = json.dumps(fields, ensure_ascii=False, indent=1)
        return f"```json\n{text}\n```" if model == 1 else text
    if model == 0:
        return reference if rng.random() < 0.7 else reference.replace("SDN BHD", "SDN. BHD.")
    if model == 1:
        return _ocr_noise(reference, rng)
    return reference.split("\n")[0]


def anls(answer: str, reference: str) -> float:
    from rapidfuzz.distance import Levenshtein

    distance = Levenshtein.normalized_distance(reference.lower().strip(), answer.lower().strip())
    return round(1 - distance, 4) if distance < 0.5 else 0.0


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, str(SERVER_TESTS))
    from helpers import make_workdir
    from vlmhb_structured_metrics import field_f1

    workdir, per_run = Path(sys.argv[1]), int(sys.argv[2])
    make_workdir(workdir, "receipts", models=MODELS, samples=per_run)
    for path in sorted(workdir.rglob("*")):  # the fixture's dataset names, made receipt names
        if path.is_file() and path.suffix in (".json", ".jsonl", ".csv"):
            text = path.read_text(encoding="utf-8")
            for old, new in RENAMES.items():
                text = text.replace(old, new)
            path.write_text(text, encoding="utf-8")
    for path in sorted(workdir.rglob("*.png")):
        name = path.name
        for old, new in RENAMES.items():
            name = name.replace(old, new)
        path.rename(path.with_name(name))

    rng = random.Random(31)
    images: list[dict[str, Any]] = []
    per_sample: dict[tuple[str, str], dict[str, float]] = {}  # (run, id) -> scores
    for samples_file in sorted(workdir.glob("datasets/*/samples.jsonl")):
        items = [json.loads(line) for line in samples_file.read_text().splitlines()]
        kind = "json" if "fields" in items[0] else "text"
        references: dict[str, Any] = {}
        for i, item in enumerate(items):
            made = receipt(i, rng)
            item["doc_class"] = "receipt"
            item["metadata"] = {"lang": "en", "source": "receipts-like fixture"}
            if kind == "json":
                item["fields"] = made["fields"]
                item["question_type"] = "kie"
                item["prompt_vars"] = {
                    "question": "Extract company, date, address and total as JSON."
                }
                references[item["id"]] = made["fields"]
            elif i % 2 == 0:
                item["reference"] = "\n".join(made["lines"])
                item["question_type"] = "transcription"
                item["prompt_vars"] = {"question": "Transcribe all the text on this receipt."}
                references[item["id"]] = item["reference"]
            else:
                item["reference"] = made["fields"]["total"]
                item["question_type"] = "total"
                item["prompt_vars"] = {"question": "What is the total amount?"}
                item["metadata"]["answer_bbox"] = made["bbox"]
                references[item["id"]] = item["reference"]
            images.append({"path": item["images"][0], "lines": made["lines"]})
        samples_file.write_text("".join(json.dumps(s, sort_keys=True) + "\n" for s in items))
        _rewrite_runs(
            workdir, samples_file.parent.name, kind, references, rng, per_sample, field_f1
        )
    _rewrite_leaderboard(workdir / "reports" / "receipts" / "leaderboard.csv", per_sample)
    layout = {"width": WIDTH_PX, "pad": PAD_PX, "line": LINE_PX, "images": images}
    (workdir / "receipts.json").write_text(json.dumps(layout), encoding="utf-8")
    print(f"{workdir}: {len(MODELS) * 2} runs x {per_run} receipts")
    return 0


def _rewrite_runs(
    workdir: Path,
    sync_id: str,
    kind: str,
    references: dict[str, Any],
    rng: random.Random,
    per_sample: dict[tuple[str, str], dict[str, float]],
    field_f1: Callable[..., Any],
) -> None:
    """Each run of dataset ``sync_id``: its answers, and their scores in per_sample.csv."""
    runs = json.loads((workdir / "reports" / "receipts" / "runs.json").read_text())
    for meta in runs:
        run_json = json.loads((workdir / "runs" / meta["infer_id"] / "run.json").read_text())
        if run_json["sync_id"] != sync_id:
            continue
        model = MODELS.index(meta["model"])
        answers_file = workdir / "runs" / meta["infer_id"] / "answers.jsonl"
        answers = [json.loads(line) for line in answers_file.read_text().splitlines()]
        rows = []
        for answer in answers:
            reference = references[answer["id"]]
            answer["answer"] = answers_for(kind, model, reference, rng)
            if kind == "json":
                scores = {"field_f1": round(field_f1([answer["answer"]], [reference]).value, 4)}
            else:
                text = answer["answer"]
                scores = {"anls": anls(text, reference), "exact_match": float(text == reference)}
            per_sample[(meta["run"], answer["id"])] = scores
            rows.append([answer["id"], "receipt", "", "ok", answer["answer"], *scores.values()])
        answers_file.write_text("".join(json.dumps(a) + "\n" for a in answers))
        with (workdir / "evals" / meta["eval_id"] / "per_sample.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "doc_class", "question_type", "parse_status", "answer", *scores])
            writer.writerows(rows)


def _rewrite_leaderboard(path: Path, per_sample: dict[tuple[str, str], dict[str, float]]) -> None:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns, board = list(reader.fieldnames or []), list(reader)
    for row in board:
        mine = [s for (run, _), s in per_sample.items() if run == row["run"]]
        for metric in mine[0]:
            row[metric] = round(sum(s[metric] for s in mine) / len(mine), 4)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(board)


if __name__ == "__main__":
    sys.exit(main())
