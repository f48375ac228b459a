"""The ``ocr`` backend's model config.

Whoever holds the server's key can load any config, so no field names an executable or a
path: the tesseract binary is a start-up setting (``$VLMHB_TESSERACT_CMD``, default
``tesseract`` on PATH), and every number has an upper bound.
"""

from __future__ import annotations

import shutil
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Engine = Literal["tesseract", "rapidocr"]


class OcrConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="Name clients send; default ocr-<engine>")
    engine: Engine | None = Field(
        default=None, description="None: tesseract when its binary is installed, else rapidocr"
    )
    languages: str = Field(
        default="rus+eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$", description="Tesseract -l"
    )
    psm: int = Field(default=3, ge=0, le=13, description="Tesseract page segmentation mode")
    page_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    max_concurrency: int = Field(default=2, ge=1, le=64, description="Pages recognised at once")
    cache_pages: int = Field(
        default=256, ge=0, le=100_000, description="Pages whose reading is kept; 0: no cache"
    )
    cache_mb: float = Field(
        default=64.0, ge=0, le=4096, description="Memory the page cache may use (estimate)"
    )

    def resolved_engine(self, tesseract_cmd: str = "tesseract") -> Engine:
        if self.engine is not None:
            return self.engine
        return "tesseract" if shutil.which(tesseract_cmd) else "rapidocr"

    def served_name(self, tesseract_cmd: str = "tesseract") -> str:
        return self.model or f"ocr-{self.resolved_engine(tesseract_cmd)}"


class OcrConfigError(ValueError):
    pass


def parse_config(raw: dict[str, Any]) -> OcrConfig:
    """Validate a model config; errors name the field and what was expected."""
    try:
        return OcrConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise OcrConfigError(f"invalid ocr model config: {problems}") from exc
