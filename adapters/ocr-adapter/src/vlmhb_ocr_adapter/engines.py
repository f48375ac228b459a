"""The two OCR engines behind one async ``recognize(image bytes) -> words`` call."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from collections.abc import Hashable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

from PIL import Image
from vlmhb_api_wrapper import scrubbed_env

from vlmhb_ocr_adapter.layout import Word, split_line

TESSERACT_INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-rus"
RAPIDOCR_INSTALL_HINT = 'pip install "vlmhb-ocr-adapter[rapidocr]"'
#: What ``opencv-python`` (RapidOCR's dependency) loads from the system: libGL and GLib.
OPENCV_SYSTEM_HINT = "apt-get install libgl1 libglib2.0-0"
#: Formats Tesseract (Leptonica) reads from stdin as they are; others are re-encoded as PNG.
_TESSERACT_FORMATS = {"image/png", "image/jpeg", "image/tiff", "image/bmp"}


class EngineUnavailable(RuntimeError):
    """The engine cannot run here; the message says how to install what is missing."""


class OcrEngine(Protocol):
    name: str
    #: Pages this engine has read (a page answered from the cache is not counted).
    pages_read: int

    async def recognize(self, image: bytes, mime_type: str) -> list[Word]: ...

    def settings_key(self) -> Hashable:
        """Everything that changes what the engine reads on a page: part of the cache key."""
        ...

    def info(self) -> dict[str, Any]: ...


async def _run(cmd: list[str], stdin: bytes | None, timeout_s: float) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        *cmd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # secrets (the server's key, cloud credentials) are not the engine's business; one
        # thread per page: the server runs pages side by side instead
        env={**scrubbed_env(), "OMP_THREAD_LIMIT": "1"},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout_s)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out, err


def _to_png(image: bytes) -> bytes:
    """Re-encode for Tesseract; CPU-bound, so it runs in a worker thread.

    The wrapper has already checked the pixel count from the header; Pillow's own
    decompression-bomb guard still applies here for a backend used without the wrapper.
    """
    with Image.open(io.BytesIO(image)) as opened:
        buffer = io.BytesIO()
        opened.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


class TesseractEngine:
    """The ``tesseract`` binary, called once per page, words read from its TSV output."""

    name = "tesseract"

    def __init__(self, cmd: str, languages: str, psm: int, timeout_s: float) -> None:
        self.cmd = cmd
        self.languages = languages
        self.psm = psm
        self.timeout_s = timeout_s
        self.version: str | None = None
        self.pages_read = 0

    async def check(self) -> None:
        """Fail now, with the fix, rather than on the first page."""
        path = shutil.which(self.cmd)
        if path is None:
            raise EngineUnavailable(
                f"the tesseract binary ({self.cmd!r}) is not installed or not on PATH; "
                f"install it with `{TESSERACT_INSTALL_HINT}`"
            )
        _, out, err = await _run([path, "--version"], None, 30)
        text = (out or err).decode(errors="replace")
        self.version = text.splitlines()[0].strip() if text else None
        _, out, err = await _run([path, "--list-langs"], None, 30)
        have = {line.strip() for line in (out + err).decode(errors="replace").splitlines()[1:]}
        missing = [lang for lang in self.languages.split("+") if lang not in have]
        if missing:
            packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
            raise EngineUnavailable(
                f"tesseract has no data for language(s) {', '.join(missing)} "
                f"(installed: {', '.join(sorted(have)) or 'none'}); install with "
                f"`apt-get install {packages}`"
            )
        self.cmd = path

    async def recognize(self, image: bytes, mime_type: str) -> list[Word]:
        data = image if mime_type in _TESSERACT_FORMATS else await asyncio.to_thread(_to_png, image)
        self.pages_read += 1
        cmd = [self.cmd, "stdin", "stdout", "-l", self.languages, "--psm", str(self.psm), "tsv"]
        code, out, err = await _run(cmd, data, self.timeout_s)
        if code != 0:
            raise RuntimeError(f"tesseract exited with {code}: {err.decode(errors='replace')}")
        return parse_tsv(out.decode("utf-8", errors="replace"))

    def settings_key(self) -> Hashable:
        return ("tesseract", self.cmd, self.version, self.languages, self.psm)

    def info(self) -> dict[str, Any]:
        return {"engine": "tesseract", "engine_version": self.version, "languages": self.languages}


def parse_tsv(tsv: str) -> list[Word]:
    """Word rows (level 5) of Tesseract's TSV; empty and whitespace-only words dropped."""
    words = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") == "5" and text:
            words.append(
                Word(text, int(row["left"]), int(row["top"]), int(row["width"]), int(row["height"]))
            )
    return words


def rapidocr_import_error(exc: ImportError) -> str:
    """Why RapidOCR cannot be imported, with the fix for that reason.

    Why not one "not installed" line: with the package installed, the import also fails when a
    system library that OpenCV (``opencv-python``, its dependency) loads is missing, as in
    minimal container images without ``libGL.so.1``; "not installed" then sends the user to
    reinstall what is already there. The loader's own text is always quoted.
    """
    if isinstance(exc, ModuleNotFoundError) and exc.name == "rapidocr_onnxruntime":
        return f"rapidocr-onnxruntime is not installed; install it with `{RAPIDOCR_INSTALL_HINT}`"
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ModuleNotFoundError):
        return (
            f"rapidocr-onnxruntime is installed but cannot be imported: its dependency "
            f"{exc.name!r} is missing ({reason}); reinstall it with `{RAPIDOCR_INSTALL_HINT}`"
        )
    if ".so" in str(exc):
        return (
            f"rapidocr-onnxruntime is installed but cannot be imported: a shared library it "
            f"loads is missing or broken ({reason}); OpenCV's system libraries on "
            f"Debian/Ubuntu: `{OPENCV_SYSTEM_HINT}`"
        )
    return f"rapidocr-onnxruntime is installed but cannot be imported ({reason})"


class RapidOcrEngine:
    """RapidOCR (PaddleOCR models in ONNX, shipped in its wheel): Latin and Chinese scripts."""

    name = "rapidocr"

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]
        except ImportError as exc:
            raise EngineUnavailable(rapidocr_import_error(exc)) from exc
        self._ocr = RapidOCR()
        self._lock = asyncio.Lock()  # one ONNX session; its own thread pool uses the cores
        self.pages_read = 0

    async def recognize(self, image: bytes, mime_type: str) -> list[Word]:
        async with self._lock:
            self.pages_read += 1
            result, _ = await asyncio.to_thread(self._ocr, image)
        words: list[Word] = []
        for box, text, _score in result or []:
            xs = [int(point[0]) for point in box]
            ys = [int(point[1]) for point in box]
            left, top = min(xs), min(ys)
            words += split_line(text, left, top, max(xs) - left, max(ys) - top)
        return words

    def settings_key(self) -> Hashable:
        return ("rapidocr", _rapidocr_version())

    def info(self) -> dict[str, Any]:
        return {"engine": "rapidocr", "engine_version": _rapidocr_version(), "languages": "ch+en"}


def _rapidocr_version() -> str | None:
    try:
        return version("rapidocr-onnxruntime")
    except PackageNotFoundError:
        return None
