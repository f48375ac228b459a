"""Images (or PDFs) with one flat JSON each, as receipt datasets ship, and PDF rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_image
from PIL import Image
from vlmhb_dataset_factory import (
    DatasetError,
    PdfRendering,
    load_dataset,
    read_image_json,
    render_samples,
)


def _receipts(root: Path) -> Path:
    """SROIE's shape: img/<name>.jpg beside key/<name>.json."""
    make_image(root / "img" / "X001.jpg")
    make_image(root / "img" / "X002.png", "gray")
    (root / "key").mkdir(parents=True)
    (root / "key" / "X001.json").write_text(
        json.dumps({"company": "ACME LTD", "date": "01/02/2019", "total": "9.90"})
    )
    (root / "key" / "X002.json").write_text(
        json.dumps({"company": "BOOK CO", "total": 12.5, "address": None})
    )
    return root


def _pdf(path: Path, pages: int, size: tuple[int, int] = (612, 792)) -> Path:
    """A PDF made with Pillow: one page per image, 72 dpi, so a page is ``size`` points."""
    images = [Image.new("RGB", size, (255, 255 - 40 * i, 255)) for i in range(pages)]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, "PDF", resolution=72.0, save_all=True, append_images=images[1:])
    return path


def test_a_folder_of_images_with_one_json_each(tmp_path: Path) -> None:
    dataset = load_dataset("image-json", _receipts(tmp_path))
    first, second = list(dataset)
    assert (first.id, second.id) == ("X001", "X002")
    assert first.fields == {"company": "ACME LTD", "date": "01/02/2019", "total": "9.90"}
    assert second.fields == {"company": "BOOK CO", "total": 12.5, "address": None}
    # every sample asks for every field the dataset has
    assert first.prompt_vars == {"field_names": "company, date, total, address"}
    assert first.images == [str(tmp_path / "img" / "X001.jpg")]
    assert first.metadata == {"annotation": "key/X001.json"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"company": {"name": "ACME"}}, r"X001\.json, column 'company': expected a text, number"),
        ({"items": ["a", "b"]}, r"column 'items': expected a text, number, boolean or null"),
        ([{"company": "ACME"}], r"X001\.json: expected a flat JSON object .* got list"),
        ({}, r"X001\.json: expected at least one field"),
    ],
)
def test_a_wrong_layout_names_the_file_and_field(tmp_path: Path, content, message) -> None:
    _receipts(tmp_path)
    (tmp_path / "key" / "X001.json").write_text(json.dumps(content))
    with pytest.raises(DatasetError, match=message):
        read_image_json(tmp_path)


def test_unpaired_files_are_named(tmp_path: Path) -> None:
    _receipts(tmp_path)
    (tmp_path / "key" / "X003.json").write_text('{"company": "X"}')
    with pytest.raises(DatasetError, match=r"X003\.json: no image named 'X003'"):
        read_image_json(tmp_path)
    (tmp_path / "key" / "X003.json").unlink()
    make_image(tmp_path / "img" / "X004.jpg")
    with pytest.raises(DatasetError, match=r"X004\.jpg: no annotation X004\.json"):
        read_image_json(tmp_path)
    skipped = read_image_json(tmp_path, on_error="skip")
    assert [s.id for s in skipped] == ["X001", "X002"] and len(skipped.skipped) == 1
    (tmp_path / "key" / "X001.json").write_text('{"company": ')
    with pytest.raises(DatasetError, match=r"X001\.json, line 1: expected JSON"):
        read_image_json(tmp_path, on_error="raise")


def test_pdf_items_render_at_the_declared_dpi_with_a_page_cap(tmp_path: Path) -> None:
    _pdf(tmp_path / "docs" / "invoice.pdf", pages=3)  # US Letter: 612 x 792 points
    (tmp_path / "docs" / "invoice.json").write_text('{"total": "10.00"}')
    dataset = read_image_json(tmp_path / "docs")
    samples = [s.model_dump(mode="json") for s in dataset]
    assert samples[0]["images"] == [str(tmp_path / "docs" / "invoice.pdf")]
    rendering = PdfRendering(dpi=100, max_pages=2, max_pixels=10_000_000)
    rendered, pages = render_samples(samples, tmp_path / "pages", rendering)
    assert pages == 2
    images = rendered[0]["images"]
    assert len(images) == 2 and all(Path(p).is_file() for p in images)
    with Image.open(images[0]) as page:
        assert page.size == (round(612 * 100 / 72), round(792 * 100 / 72))  # 850 x 1100
    record = rendered[0]["metadata"]["pdf"][0]
    assert record["pages"] == [1, 2] and record["pages_in_file"] == 3
    assert record["dpi"] == [100.0, 100.0]
    assert record["rendering"] == {"dpi": 100, "max_pages": 2, "max_pixels": 10_000_000}


def test_a_page_over_the_pixel_budget_is_rendered_smaller(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "poster.pdf", pages=1, size=(1440, 1440))  # 20 x 20 inches
    budget = PdfRendering(dpi=144, max_pages=1, max_pixels=1_000_000)
    rendered, _ = render_samples([{"id": "p", "images": [str(pdf)]}], tmp_path / "out", budget)
    with Image.open(rendered[0]["images"][0]) as page:
        assert page.size[0] * page.size[1] <= 1_000_000
        assert page.size[0] == pytest.approx(1000, abs=1)
    assert rendered[0]["metadata"]["pdf"][0]["dpi"] == [pytest.approx(50.0)]


def test_one_page_of_a_pdf_in_jsonl_records(tmp_path: Path) -> None:
    _pdf(tmp_path / "contract.pdf", pages=3)
    (tmp_path / "records.jsonl").write_text(
        json.dumps({"id": "c2", "image": "contract.pdf#page=2", "fields": {"party": "ACME"}}) + "\n"
    )
    sample = next(iter(load_dataset("jsonl", tmp_path))).model_dump(mode="json")
    assert sample["images"] == [f"{tmp_path / 'contract.pdf'}#page=2"]
    rendered, pages = render_samples([sample], tmp_path / "pages", PdfRendering())
    assert pages == 1 and rendered[0]["metadata"]["pdf"][0]["pages"] == [2]
    (tmp_path / "records.jsonl").write_text(
        json.dumps({"id": "c9", "image": "contract.pdf#page=9", "fields": {"party": "ACME"}}) + "\n"
    )
    with pytest.raises(DatasetError, match=r"contract\.pdf has 3 page\(s\); page 9 asked for"):
        load_dataset("jsonl", tmp_path)
    with pytest.raises(ValueError, match=r"pdf\.dpi: expected a positive integer"):
        PdfRendering(dpi=0)
