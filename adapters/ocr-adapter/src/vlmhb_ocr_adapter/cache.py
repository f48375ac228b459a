"""What an engine read on a page, kept so that the next question about it costs no OCR.

A VQA dataset asks many questions about the same page (60 questions over 9 pages in the
synthetic set): reading the page once per question made the baseline 7x slower than plain
OCR of the same pages. Entries are keyed by the image's content hash *and* the engine's
settings (engine, version, languages, page segmentation), so a different setting never sees
another's reading. Bounded by entry count and an estimate of their size, least recently used
first out; a lock makes it safe from worker threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from vlmhb_ocr_adapter.layout import Row

#: Bytes counted per word on top of its text: a Word object, its ints, a tuple slot.
_WORD_OVERHEAD = 200

CacheKey = tuple[str, Hashable]


def page_key(image: bytes, settings: Hashable) -> CacheKey:
    """The cache key of ``image`` read with ``settings`` (hashing 30 MB takes ~30 ms: off-loop)."""
    return hashlib.sha256(image).hexdigest(), settings


def _size(rows: list[Row]) -> int:
    return 100 + sum(_WORD_OVERHEAD + 2 * len(word.text) for row in rows for word in row.words)


class PageCache:
    """An LRU of ``rows`` per page; ``max_pages=0`` or ``max_bytes=0`` turns it off."""

    def __init__(self, max_pages: int = 256, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[CacheKey, tuple[list[Row], int]] = OrderedDict()
        self.max_pages = max_pages
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> list[Row] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return list(entry[0])

    def put(self, key: CacheKey, rows: list[Row]) -> None:
        size = _size(rows)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            if size > self.max_bytes or self.max_pages == 0:
                return  # larger than the whole cache: not kept
            self._entries[key] = (list(rows), size)
            self.bytes += size
            self._evict()

    def resize(self, max_pages: int, max_bytes: int) -> None:
        with self._lock:
            self.max_pages, self.max_bytes = max_pages, max_bytes
            self._evict()

    def _evict(self) -> None:
        while self._entries and (
            len(self._entries) > self.max_pages or self.bytes > self.max_bytes
        ):
            _, (_, size) = self._entries.popitem(last=False)
            self.bytes -= size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pages": len(self._entries),
                "bytes_estimate": self.bytes,
                "max_pages": self.max_pages,
                "max_bytes": self.max_bytes,
                "hits": self.hits,
                "misses": self.misses,
            }
