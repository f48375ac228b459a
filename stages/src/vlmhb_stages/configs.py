"""Configs the core hands to stage scripts: one Pydantic model per stage, shared by both sides.

The core writes ``<script>.config.json`` from these models; the script (run as
``python -m vlmhb_stages.<script>`` in an environment without the core) reads it back with the
same model, from the same release of this package. So a field renamed or retyped on one side
fails loudly on the other instead of being read as missing. This module may import only the
standard library and pydantic.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

EVENT_PREFIX = "@@vlmhb-event "


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeneratorSpec(_Config):
    callable: str
    params: dict[str, Any] = {}


class SyncConfig(_Config):
    out_dir: str
    iterator: str
    path_in_source: str | None = None
    options: dict[str, Any] = {}
    split: str | None = None
    generator: GeneratorSpec | None = None
    generated_dir: str | None = None
    source: str | None = None
    cache_dir: str | None = None
    endpoint_url: str | None = None
    max_images: int | None = None
    pdf: dict[str, int] | None = None
    """PDF items: dpi, max_pages, max_pixels (vlmhb_dataset_factory.PdfRendering)."""
    limit: int | None = None
    """Prepare the first ``limit`` samples only (handed to the iterator when it takes one)."""


class MetricSpec(_Config):
    name: str
    column: str
    version: str
    entry_point: str | None = None
    callable: str | None = None
    params: dict[str, Any] = {}
    schema_param: str | None = None
    json_schema: dict[str, Any] | None = None
    inputs: Literal["answers", "telemetry"] = "answers"
    higher_is_better: bool = True


class EvalConfig(_Config):
    out_dir: str
    samples: str
    answers: str
    output_kind: str
    aggregators: list[str]
    metrics: list[MetricSpec]
    ci_resamples: int = 1000
    ci_seed: int = 0
    label: str = ""
    """The run being scored (``model/dataset/prompt``), named in errors."""


class UploadConfig(_Config):
    uri: str
    endpoint_url: str | None = None
    experiment: str
    folders: list[tuple[str, str]]


def emit(event_type: str, **fields: Any) -> None:
    """Print an event line the core picks up from the stage's output."""
    import json

    print(EVENT_PREFIX + json.dumps({"type": event_type, **fields}, ensure_ascii=False), flush=True)


class ParityRun(_Config):
    label: str
    samples: str
    answers: str
    output_kind: str
    metrics: list[MetricSpec]


class ParityConfig(_Config):
    out: str
    runs: list[ParityRun]
