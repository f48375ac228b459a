"""Multi-page packets: exact ground truth for doc-classification and page-order (issue #16)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from PIL import Image
from vlmhb_dataset_factory import load_dataset
from vlmhb_synthetic_docs import (
    CLASSIFICATION_LABELS,
    PACKET_CLASSES,
    file_digests,
    generate_packets,
    load_task,
    page_order_schema,
    pixels_digest,
    render_packet,
)
from vlmhb_synthetic_docs.cli import main


@pytest.fixture(scope="module")
def packets(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("packets")
    generate_packets(out, seed=1, count=6, noise=0)
    return out


def test_pages_are_shuffled_and_the_truth_says_how(packets: Path) -> None:
    summary = json.loads((packets / "summary.json").read_text("utf-8"))
    assert [p["doc_class"] for p in summary["packets"]] == list(PACKET_CLASSES) * 2
    assert {p["numbered"] for p in summary["packets"]} == {True, False}  # both kinds occur
    for index, info in enumerate(summary["packets"]):
        pages, order, numbered, _ = render_packet(index, info["doc_class"], seed=1, noise=0)
        n = len(pages)
        assert n >= 2 and sorted(order) == list(range(1, n + 1)) and order != sorted(order)
        assert info["order"] == order and info["numbered"] == numbered
        for page_number, position in enumerate(order, start=1):
            assert info["page_of_image"][position - 1] == page_number
            # The file at input position ``position`` holds page ``page_number``, exactly.
            with Image.open(packets / info["images"][position - 1]) as image:
                drawn = pixels_digest(image.convert("RGB"))
            assert drawn == pixels_digest(pages[page_number - 1].image)
        truth = json.loads((packets / "packets" / f"{info['id']}.json").read_text("utf-8"))
        assert [p["page"] for p in truth["pages"]] == list(range(1, n + 1))
        for page in truth["pages"]:
            footer = re.search(r"(Страница|Page) (\d+) (из|of) (\d+)", page["text"])
            assert bool(footer) == numbered, (info["id"], page["page"])
            if footer:
                assert (int(footer.group(2)), int(footer.group(4))) == (page["page"], n)
            assert page["image"] == info["images"][order[page["page"] - 1] - 1]
            for name, field in page["fields"].items():
                assert f"{name}: {field['value']}" in page["text"].splitlines()


def test_doc_classification_reads_with_several_images_per_sample(packets: Path) -> None:
    dataset = load_dataset("jsonl", packets / "doc_classification.jsonl")
    assert len(dataset) == 6 and dataset.skipped == []
    for sample in dataset:
        assert len(sample.images) == sample.metadata["pages"] >= 2
        assert all(Path(image).is_file() for image in sample.images)
        assert sample.label == sample.doc_class and sample.label in CLASSIFICATION_LABELS
        assert sample.prompt_vars["labels"].split(", ") == list(CLASSIFICATION_LABELS)
    assert dataset.doc_classes() == sorted(PACKET_CLASSES)
    assert [s.id for s in load_task(packets, "doc-classification", doc_class="snils")] == [
        "packet-0001",
        "packet-0004",
    ]


def test_page_order_reference_is_valid_json_of_the_order(packets: Path) -> None:
    dataset = load_task(packets, "page-order")
    summary = json.loads((packets / "summary.json").read_text("utf-8"))
    for sample, info in zip(dataset, summary["packets"], strict=True):
        pages = len(sample.images)
        assert json.loads(sample.reference) == sample.fields["order"] == info["order"]
        schema = json.loads(sample.prompt_vars["json_schema"])
        assert schema == page_order_schema(pages) and sample.prompt_vars["pages"] == str(pages)
        jsonschema.validate(sample.fields, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"order": [1] * pages}, schema)  # not a permutation


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first = generate_packets(tmp_path / "a", seed=5, count=3, noise=2)
    second = generate_packets(tmp_path / "b", seed=5, count=3, noise=2)
    assert first.fingerprint == second.fingerprint
    assert file_digests(tmp_path / "a") == file_digests(tmp_path / "b")
    other = generate_packets(tmp_path / "c", seed=6, count=3, noise=2)
    assert other.fingerprint != first.fingerprint


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="count: expected at least 1, got 0"):
        generate_packets(tmp_path, count=0)
    with pytest.raises(ValueError, match=r"doc_classes: expected some of .*got \['tin_new'\]"):
        generate_packets(tmp_path, doc_classes=["tin_new"])
    with pytest.raises(ValueError, match="noise: expected a level from 0 to 3, got 5"):
        generate_packets(tmp_path, count=1, noise=5)


def test_cli_packets(tmp_path: Path, capsys) -> None:
    argv = ["packets", str(tmp_path), "--count", "2", "--noise", "0", "--doc-class", "invoice"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "wrote 2 packets (" in out and "page-order: page_order.jsonl" in out
    assert re.search(r"fingerprint sha256:[0-9a-f]{64}", out)
    assert main(["packets", str(tmp_path / "x"), "--count", "0"]) == 2
    assert "count: expected at least 1" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_tesseract_reads_a_printed_page_number(tmp_path: Path) -> None:
    """The cue a page-order baseline uses is really legible after noise level 1."""
    summary = generate_packets(tmp_path, seed=1, count=3, noise=1, doc_classes=["invoice"])
    info = next(p for p in summary.packets if p.numbered)
    position = info.order[1]  # the input image holding page 2
    image = tmp_path / info.images[position - 1]
    text = subprocess.run(
        ["tesseract", str(image), "-", "-l", "eng"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Page 2 of {len(info.images)}" in text, text
