"""CPU OCR baselines (Tesseract, RapidOCR) as the ``ocr`` backend of the API wrapper."""

from vlmhb_ocr_adapter.backend import TESSERACT_CMD_ENV, TOKEN_UNIT, OcrBackend, count_tokens
from vlmhb_ocr_adapter.cache import PageCache, page_key
from vlmhb_ocr_adapter.config import OcrConfig, OcrConfigError, parse_config
from vlmhb_ocr_adapter.engines import (
    RAPIDOCR_INSTALL_HINT,
    TESSERACT_INSTALL_HINT,
    EngineUnavailable,
    RapidOcrEngine,
    TesseractEngine,
    parse_tsv,
)
from vlmhb_ocr_adapter.extraction import answer, extract_schema, field_in_prompt, find_value
from vlmhb_ocr_adapter.layout import Row, Word, group_rows, page_text

__all__ = [
    "RAPIDOCR_INSTALL_HINT",
    "TESSERACT_CMD_ENV",
    "TESSERACT_INSTALL_HINT",
    "TOKEN_UNIT",
    "EngineUnavailable",
    "OcrBackend",
    "OcrConfig",
    "OcrConfigError",
    "PageCache",
    "RapidOcrEngine",
    "Row",
    "TesseractEngine",
    "Word",
    "answer",
    "count_tokens",
    "extract_schema",
    "field_in_prompt",
    "find_value",
    "group_rows",
    "page_key",
    "page_text",
    "parse_config",
    "parse_tsv",
]
