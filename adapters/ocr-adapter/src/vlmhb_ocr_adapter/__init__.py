"""CPU OCR baselines (Tesseract, RapidOCR) as the ``ocr`` backend of the API wrapper."""

from vlmhb_ocr_adapter.backend import TESSERACT_CMD_ENV, TOKEN_UNIT, OcrBackend, count_tokens
from vlmhb_ocr_adapter.cache import PageCache, page_key
from vlmhb_ocr_adapter.classification import KEYWORDS, classify, label_scores, labels_in_prompt
from vlmhb_ocr_adapter.config import OcrConfig, OcrConfigError, parse_config
from vlmhb_ocr_adapter.engines import (
    OPENCV_SYSTEM_HINT,
    RAPIDOCR_INSTALL_HINT,
    TESSERACT_INSTALL_HINT,
    EngineUnavailable,
    RapidOcrEngine,
    TesseractEngine,
    parse_tsv,
)
from vlmhb_ocr_adapter.extraction import (
    answer,
    answer_pages,
    extract_schema,
    field_in_prompt,
    find_value,
)
from vlmhb_ocr_adapter.layout import Row, Word, group_rows, page_text
from vlmhb_ocr_adapter.page_order import (
    continuation_key,
    is_page_order_format,
    order_pages,
    page_order_answer,
    printed_page_number,
)

__all__ = [
    "KEYWORDS",
    "OPENCV_SYSTEM_HINT",
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
    "answer_pages",
    "classify",
    "continuation_key",
    "count_tokens",
    "extract_schema",
    "field_in_prompt",
    "find_value",
    "group_rows",
    "is_page_order_format",
    "label_scores",
    "labels_in_prompt",
    "order_pages",
    "page_key",
    "page_order_answer",
    "page_text",
    "parse_config",
    "parse_tsv",
    "printed_page_number",
]
