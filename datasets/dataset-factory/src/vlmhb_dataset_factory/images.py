"""Image checks done once per file, so a bad image fails at load time, not mid-inference."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from vlmhb_dataset_factory.pdf import pdf_item, pdf_problem


class ImageChecker:
    """Resolves and validates image paths; caches verdicts since many rows share an image."""

    def __init__(self, validate: bool = True) -> None:
        self.validate = validate
        self._verdicts: dict[Path, str | None] = {}

    def problem(self, path: Path) -> str | None:
        """None when the image is usable, else why not (missing, unreadable)."""
        if path in self._verdicts:
            return self._verdicts[path]
        verdict: str | None = None
        if pdf_item(str(path)) is not None:
            verdict = pdf_problem(str(path))  # a PDF or one page of it: rendered at sync
        elif not path.is_file():
            verdict = f"image not found: {path}"
        elif self.validate:
            try:
                with Image.open(path) as image:
                    image.verify()
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
                verdict = f"unreadable image {path}: {exc}"
        self._verdicts[path] = verdict
        return verdict


def resolve_image(root: Path, value: str) -> Path:
    """An annotation's image path: absolute as is, else relative to the annotation's folder.

    Some VQA datasets store ``images/x.jpg``, others just ``x.jpg`` with the file under
    ``images/``; both are accepted so existing files are read as they are.
    """
    item = pdf_item(value)
    if item is not None and item[1] is not None:  # doc.pdf#page=N: resolve the file
        return Path(f"{resolve_image(root, item[0])}#page={item[1]}")
    candidate = Path(value)
    if candidate.is_absolute():
        return candidate
    direct = (root / candidate).resolve()
    if not direct.exists() and (root / "images" / candidate).exists():
        return (root / "images" / candidate).resolve()
    return direct
