"""What the runner sends for a sample: the chat-completions request body, built once per
sample with each page's image encoded once per process.

A page's image is read, base64-encoded and JSON-escaped once, and its bytes are spliced into
each request body that shows it (VQA asks many questions about one page): a 500 kB page costs
a copy per request, not a base64 + JSON pass (measured by ``bench/bench_pipeline.py``).
"""

from __future__ import annotations

import base64
import functools
import json
import mimetypes
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class InferSettings:
    model_id: str | None
    system_prompt: str | None
    template: str | None
    collection: dict[str, str]
    generation: dict[str, Any]
    response_format: dict[str, Any] | None
    json_schema: dict[str, Any] | None
    output_kind: str
    transforms: dict[str, list[str]] = field(default_factory=dict)
    concurrency: int = 4
    per_run: int = 3
    max_attempts: int = 9
    timeout_s: float = 300.0
    max_server_restarts: int = 3
    #: Whole-request timeout (endpoints); ``timeout_s`` bounds each socket wait.
    request_timeout_s: float | None = None
    max_consecutive_failures: int = 25
    rpm: float | None = None
    tpm: float | None = None
    #: ``Price`` of the model (cost and --max-cost), ``ReasoningSpec`` (think blocks).
    price: Any = None
    reasoning: Any = None


def build_prompt(sample: dict[str, Any], settings: InferSettings) -> str:
    """The collection prompt for '<doc_class> <question_type>' replaces the question; the
    prompt's transforms (``str`` methods, in order) apply to the sample's own variables."""
    variables = dict(sample.get("prompt_vars") or {})
    for name, methods in settings.transforms.items():
        if isinstance(variables.get(name), str):
            for method in methods:
                variables[name] = getattr(str, method)(variables[name])
    key = f"{sample.get('doc_class')} {sample.get('question_type')}"
    if key in settings.collection:
        variables["question"] = settings.collection[key]
        if not settings.template or "{question}" not in settings.template:
            return settings.collection[key]
    if settings.template is None:
        return variables.get("question", "")
    return settings.template.format(**variables)


@functools.lru_cache(maxsize=16)
def _encoded_image(path: str, mtime_ns: int, size: int) -> bytes:
    """A page's data URL as ASCII bytes, made once per page (VQA asks a page many questions).

    Keyed by the file's stat, so an edited image is read again. The bytes are also a valid
    JSON string body (base64 and a MIME type need no escaping), so they are spliced into
    request bodies as they are, never re-encoded per request.
    """
    mime = mimetypes.guess_type(path)[0] or "image/png"
    return f"data:{mime};base64,".encode("ascii") + base64.b64encode(Path(path).read_bytes())


def image_bytes(path: str) -> bytes:
    """A page's data URL bytes, encoded once per page and process."""
    stat = os.stat(path)
    return _encoded_image(path, stat.st_mtime_ns, stat.st_size)


_image_bytes = image_bytes


def _body(sample: dict[str, Any], settings: InferSettings, urls: Sequence[str]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if settings.system_prompt:
        messages.append({"role": "system", "content": settings.system_prompt})
    content: list[dict[str, Any]] = [{"type": "text", "text": build_prompt(sample, settings)}]
    content += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    messages.append({"role": "user", "content": content})
    body: dict[str, Any] = {"model": settings.model_id or "default", "messages": messages}
    body.update({k: v for k, v in settings.generation.items() if v is not None})
    if settings.response_format is not None:
        body["response_format"] = settings.response_format
    return body


def request_body(sample: dict[str, Any], settings: InferSettings) -> dict[str, Any]:
    """The chat-completions request for a sample, as a dict (what ``request_bytes`` encodes)."""
    urls = [_image_bytes(p).decode("ascii") for p in sample.get("images") or []]
    return _body(sample, settings, urls)


# Stands for an image in the JSON text until its cached bytes replace it; random per process,
# so no prompt can contain it by chance.
_IMAGE_MARK = f"vlmhb-image-{uuid.uuid4().hex}-"


def request_bytes(sample: dict[str, Any], settings: InferSettings) -> bytes:
    """``json.dumps(request_body(...))`` as bytes, without re-encoding the images each time.

    The body is encoded with a placeholder per image, and each placeholder is replaced by the
    page's cached data URL bytes: a 500 kB page costs a copy, not a base64 + JSON pass.
    """
    images = [_image_bytes(p) for p in sample.get("images") or []]
    body = _body(sample, settings, [f"{_IMAGE_MARK}{i}" for i in range(len(images))])
    rest = json.dumps(body).encode("ascii")  # ensure_ascii: the marks are found byte for byte
    pieces: list[bytes] = []
    for i, image in enumerate(images):
        head, rest = rest.split(f'"{_IMAGE_MARK}{i}"'.encode("ascii"), 1)
        pieces += (head, b'"', image, b'"')
    pieces.append(rest)
    return b"".join(pieces)
