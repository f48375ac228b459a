"""What the server accepts from a client, said once: integer and size bounds, nesting depth,
where client-named files may be, which storage targets and how much parallelism a submitted
experiment may ask for, and which files the image route may serve.

A client names things; the server decides what they may reach. Paths a client sends are only
resolved inside folders the server declares, and a refusal says what was expected without
quoting any file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .settings import Settings

#: ids, sequence numbers and offsets: 32-bit integer columns on PostgreSQL
MAX_INT = 2**31 - 1
MAX_OFFSET = MAX_INT
#: how deeply ``overrides`` (or any JSON body) may nest
MAX_DEPTH = 32
#: a string inside ``overrides`` (a description, a name, a URI)
MAX_FIELD_CHARS = 4096
#: a submitted experiment YAML / v0.1 user_config text
MAX_SPEC_CHARS = 256 * 1024

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)


class LimitError(ValueError):
    """A request value past a bound; the message names the field and the bound."""


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a JSON value, counted without recursion (stops past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def check_json(value: Any, where: str, *, max_chars: int = MAX_FIELD_CHARS) -> None:
    """``value`` nests at most ``MAX_DEPTH`` deep and holds no string longer than
    ``max_chars``; raises ``LimitError`` naming ``where`` (and the key) otherwise."""
    if depth(value) > MAX_DEPTH:
        raise LimitError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, f"{path}.{k}") for k, v in item.items())
            stack.extend((k, f"{path} (a key)") for k in item)
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, str) and len(item) > max_chars:
            raise LimitError(f"{path}: at most {max_chars} characters, got {len(item)}")


def check_text(value: str, where: str, max_chars: int = MAX_SPEC_CHARS) -> None:
    if len(value) > max_chars:
        raise LimitError(f"{where}: at most {max_chars} characters, got {len(value)}")
    if "\x00" in value:
        raise LimitError(f"{where}: contains a NUL character")


def inside(path: Path, roots: Iterable[Path]) -> bool:
    """Whether ``path``, links resolved, lies in one of ``roots`` (links resolved too)."""
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(Path(root).resolve()) for root in roots)


@dataclass(frozen=True)
class Policy:
    """What a submitted experiment may ask of this server (from its ``Settings``)."""

    #: folders a user_config's ``prompt_collection`` files may be read from
    prompt_roots: tuple[Path, ...] = ()
    #: storage URI prefixes accepted besides the registry entry's own storage
    storage_allow: tuple[str, ...] = ()
    #: S3 endpoints accepted besides the registry entry's own
    storage_endpoints: tuple[str, ...] = ()
    max_parallelism: int = 8

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            prompt_roots=(settings.prompt_collections, settings.registries),
            storage_allow=tuple(settings.storage_allow),
            storage_endpoints=tuple(settings.storage_endpoints),
            max_parallelism=settings.max_parallelism,
        )

    def storage_problem(self, asked: Any, configured: Any) -> str | None:
        """Why the storage ``asked`` (a ``StorageSpec`` or None) is refused, or None. The
        registry entry's own storage (``configured``) is the server's configuration."""
        if asked is None or asked == configured:
            return None
        uri, endpoint = asked.uri, asked.endpoint_url
        base_endpoint = getattr(configured, "endpoint_url", None)
        prefix_ok = any(uri == p or uri.startswith(p.rstrip("/") + "/") for p in self.storage_allow)
        endpoint_ok = endpoint in (None, base_endpoint) or endpoint in self.storage_endpoints
        if prefix_ok and endpoint_ok:
            return None
        what = "endpoint_url" if prefix_ok else "uri"
        return (
            f"storage.{what}: a request cannot choose where results are stored; expected the "
            "experiment entry's own storage or one the server allows (vlmhb-server "
            "--allow-storage PREFIX / --allow-storage-endpoint URL)"
        )

    def parallelism_problem(self, parallelism: int) -> str | None:
        if parallelism > self.max_parallelism:
            return (
                f"parallelism: at most {self.max_parallelism} on this server "
                f"(vlmhb-server --max-parallelism), got {parallelism}"
            )
        return None


def servable_image(path: Path, roots: Iterable[Path], forbidden: Iterable[Path]) -> Path | None:
    """``path`` resolved, when it is an image file (by name and by its first bytes) inside one
    of ``roots`` (never a filesystem root) and outside ``forbidden``; else None."""
    resolved = Path(path).resolve()
    usable = [Path(r).resolve() for r in roots]
    usable = [r for r in usable if r != Path(r.anchor)]
    if resolved.suffix.lower() not in IMAGE_SUFFIXES or not inside(resolved, usable):
        return None
    if inside(resolved, forbidden):
        return None
    if resolved.is_file():
        with resolved.open("rb") as handle:
            head = handle.read(16)
        webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
        if not webp and not head.startswith(_IMAGE_MAGIC):
            return None
    return resolved
