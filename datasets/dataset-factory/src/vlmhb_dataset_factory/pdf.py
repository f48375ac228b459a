"""PDF items: a sample's image may be a PDF (every page, up to a cap) or one page of it
(``doc.pdf#page=2``). Pages are rendered with pypdfium2 at a declared DPI, scaled down to a
pixel budget when a page is larger, and written as PNG files beside the samples, so the rest
of the pipeline only ever sees images.

The three settings decide what a model sees (resolution decides document scores), so the sync
stage hashes them into the dataset's identity and each rendered sample records them in its
``metadata["pdf"]``.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

_PAGE = re.compile(r"^(?P<path>.+\.pdf)(?:#page=(?P<page>\d+))?$", re.IGNORECASE)


@dataclass(frozen=True)
class PdfRendering:
    """How PDF pages become images: ``dpi``, at most ``max_pages`` per PDF item, at most
    ``max_pixels`` (width x height) per page (a larger page is rendered at a lower DPI)."""

    dpi: int = 144
    max_pages: int = 8
    max_pixels: int = 4_000_000

    def __post_init__(self) -> None:
        for name in ("dpi", "max_pages", "max_pixels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"pdf.{name}: expected a positive integer, got {value!r}")

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def pdf_item(value: str) -> tuple[str, int | None] | None:
    """``doc.pdf`` -> (``doc.pdf``, None); ``doc.pdf#page=2`` -> (``doc.pdf``, 2); None for an
    image. Pages count from 1."""
    found = _PAGE.match(value)
    if found is None:
        return None
    page = found.group("page")
    return found.group("path"), int(page) if page else None


def _open(path: Path) -> Any:
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:  # a declared dependency; say what to install if it is gone
        raise ValueError(f"{path}: PDF items need pypdfium2 (pip install pypdfium2)") from exc
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise ValueError(f"unreadable PDF {path}: {exc}") from None


def pdf_problem(value: str) -> str | None:
    """None when ``doc.pdf`` (or ``doc.pdf#page=N``) can be rendered, else why not."""
    path_text, page = pdf_item(value) or (value, None)
    path = Path(path_text)
    if not path.is_file():
        return f"PDF not found: {path}"
    try:
        document = _open(path)
    except ValueError as exc:
        return str(exc)
    try:
        count = len(document)
        if count == 0:
            return f"PDF without pages: {path}"
        if page is not None and not 1 <= page <= count:
            return f"{path} has {count} page(s); page {page} asked for"
    finally:
        document.close()
    return None


def render_item(
    value: str, out_dir: Path, rendering: PdfRendering
) -> tuple[list[str], dict[str, Any]]:
    """The PNG paths of one PDF item's pages (rendered once; a page already on disk is
    reused) and what was rendered: file, pages, pages in the file, DPI used, pixel size."""
    path_text, page = pdf_item(value) or (value, None)
    path = Path(path_text)
    document = _open(path)
    try:
        count = len(document)
        pages = [page] if page is not None else list(range(1, min(count, rendering.max_pages) + 1))
        key = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:12]
        out_dir.mkdir(parents=True, exist_ok=True)
        images, record = [], {"file": path.name, "pages": pages, "pages_in_file": count}
        dpis, sizes = [], []
        for number in pages:
            pdf_page = document[number - 1]
            width_pt, height_pt = pdf_page.get_size()
            scale = rendering.dpi / 72
            pixels = width_pt * scale * height_pt * scale
            if pixels > rendering.max_pixels:
                scale *= math.sqrt(rendering.max_pixels / pixels)
            target = out_dir / f"{path.stem}-{key}-p{number}.png"
            if not target.is_file():
                image = pdf_page.render(scale=scale).to_pil()
                tmp = target.with_suffix(".png.tmp")
                image.save(tmp, format="PNG")
                tmp.replace(target)
            with Image.open(target) as done:
                size = list(done.size)
            images.append(str(target))
            dpis.append(round(scale * 72, 2))
            sizes.append(size)
            pdf_page.close()
        record.update({"dpi": dpis, "size_px": sizes, "rendering": rendering.as_dict()})
        return images, record
    finally:
        document.close()


def render_samples(
    samples: list[dict[str, Any]], out_dir: Path, rendering: PdfRendering
) -> tuple[list[dict[str, Any]], int]:
    """Samples with each PDF item replaced by its rendered pages (``metadata["pdf"]`` says
    what was rendered), and the number of pages rendered."""
    rendered, total = [], 0
    for sample in samples:
        images, records = [], []
        for image in sample.get("images") or []:
            if pdf_item(image) is None:
                images.append(image)
                continue
            pages, record = render_item(image, out_dir, rendering)
            images += pages
            records.append(record)
            total += len(pages)
        if records:
            metadata = {**(sample.get("metadata") or {}), "pdf": records}
            sample = {**sample, "images": images, "metadata": metadata}
        rendered.append(sample)
    return rendered, total
