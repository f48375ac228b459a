"""A least-recently-used map bounded by the total size of its values (``len`` of each)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sized
from typing import Any, Generic, TypeVar

V = TypeVar("V", bound=Sized)


class BoundedLRU(Generic[V]):
    """Values by key, least recently used out first once their sizes add up past ``max_size``
    (ids for an id list, bytes for a rendered page). A value larger than the bound alone is
    not kept: keeping it would empty the cache for one entry."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.held = 0
        self.entries: OrderedDict[Any, V] = OrderedDict()

    def get(self, key: Any) -> V | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: Any, value: V) -> None:
        if len(value) > self.max_size:
            return
        dropped = self.entries.pop(key, None)
        if dropped is not None:
            self.held -= len(dropped)
        self.entries[key] = value
        self.held += len(value)
        while self.held > self.max_size:
            _, dropped = self.entries.popitem(last=False)
            self.held -= len(dropped)
