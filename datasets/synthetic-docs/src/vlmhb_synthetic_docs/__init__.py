"""The embedded default dataset of VLMHyperBench: seeded synthetic documents.

Russian passport-like and SNILS-like cards and English invoices, drawn with a shipped
DejaVu font, with exact ground truth (full text, fields, boxes) and optional scan noise.
:func:`generate` writes the VQA layout plus OCR and field-extraction references;
:func:`generate_packets` writes multi-page documents (shuffled pages) for document
classification and page order; :func:`generate_pages` writes full pages (invoices with a
line-item table, two-column reports) with Markdown references for page parsing; :func:`load_task` reads either back with
vlmhb-dataset-factory. :func:`fingerprint` names a generated folder by its bytes, which
depend on the seed and the package version only.
"""

from vlmhb_synthetic_docs.generator import (
    DocumentInfo,
    GenerationSummary,
    file_digests,
    fingerprint,
    generate,
    pixels_digest,
    render_document,
)
from vlmhb_synthetic_docs.noise import MAX_LEVEL, apply_noise
from vlmhb_synthetic_docs.packets import (
    CLASSIFICATION_LABELS,
    PACKET_CLASSES,
    PacketInfo,
    PacketSummary,
    generate_packets,
    page_order_schema,
    render_packet,
)
from vlmhb_synthetic_docs.pages import (
    PAGE_CLASSES,
    PageInfo,
    PagesSummary,
    generate_pages,
    render_page,
)
from vlmhb_synthetic_docs.render import DOC_CLASSES, FIELDS, RenderedDocument
from vlmhb_synthetic_docs.schemas import json_schema
from vlmhb_synthetic_docs.tasks import TASKS, load_task

__all__ = [
    "CLASSIFICATION_LABELS",
    "DOC_CLASSES",
    "FIELDS",
    "MAX_LEVEL",
    "PACKET_CLASSES",
    "PAGE_CLASSES",
    "TASKS",
    "DocumentInfo",
    "GenerationSummary",
    "PacketInfo",
    "PacketSummary",
    "PageInfo",
    "PagesSummary",
    "RenderedDocument",
    "apply_noise",
    "file_digests",
    "fingerprint",
    "generate",
    "generate_packets",
    "generate_pages",
    "json_schema",
    "load_task",
    "page_order_schema",
    "pixels_digest",
    "render_document",
    "render_packet",
    "render_page",
]
