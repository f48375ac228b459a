"""Reading registry YAML while remembering where each value came from.

Pydantic reports a field path ("output.json_schema"); users need a line number. PyYAML's node
tree keeps one per node, so we keep the tree beside the data and look paths up in it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .problems import Problem


@dataclass
class YamlDocument:
    path: Path
    data: Any
    node: yaml.Node | None
    #: Overlays merged into this document, in order: (file, its node tree).
    overlays: list[tuple[Path, yaml.Node]] = field(default_factory=list)

    def locate(self, location: tuple[str | int, ...]) -> tuple[Path, int | None]:
        """File and line a field came from: the last overlay that set it, else the base file."""
        for path, node in reversed(self.overlays):
            if location and _has_key(node, location[0]):
                return path, _line_in(node, location)
        return self.path, _line_in(self.node, location)

    def line_of(self, location: tuple[str | int, ...]) -> int | None:
        return self.locate(location)[1]


def _has_key(node: yaml.Node, key: str | int) -> bool:
    return isinstance(node, yaml.MappingNode) and any(
        isinstance(k, yaml.ScalarNode) and k.value == key for k, _ in node.value
    )


def _line_in(node: yaml.Node | None, location: tuple[str | int, ...]) -> int | None:
    """1-based line of the deepest node on ``location`` that exists in this tree."""
    best = node.start_mark.line + 1 if node is not None else None
    for key in location:
        if isinstance(node, yaml.MappingNode):
            match = next(
                (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key),
                None,
            )
            if match is None:
                return best
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return best
            node = node.value[key]
        else:
            return best
        best = node.start_mark.line + 1
    return best


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that refuses duplicate keys: YAML silently keeps the last one otherwise.

    libyaml's parser when PyYAML has it (the wheels do): the pure-Python one took ~0.4 s of a
    0.46 s ``open_registry`` of this repository's 117 files. Construction (and so this
    class's duplicate-key check) is PyYAML's own either way."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


MAX_FILE_BYTES = int(os.environ.get("VLMHB_REGISTRY_MAX_BYTES", 1024 * 1024))
"""A registry file larger than this is refused unread ($VLMHB_REGISTRY_MAX_BYTES)."""
MAX_EXPANDED_NODES = 100_000
"""YAML aliases may not expand an entry beyond this many values (no 'billion laughs')."""


def _expanded_size(node: yaml.Node, memo: dict[int, int], limit: int) -> int:
    """How many values ``node`` stands for once every alias is expanded (memoised: linear)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = limit + 1  # a cycle counts as too big
    size = 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, limit) + _expanded_size(v, memo, limit)
            if size > limit:
                break
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, memo, limit)
            if size > limit:
                break
    memo[key] = size
    return size


def _refuse_unsafe(path: Path) -> Problem | None:
    """Only regular files of reasonable size, and no link out of the registries folder."""
    if path.is_symlink():
        root = path.parent.parent.resolve()
        target = path.resolve()
        if not target.is_relative_to(root):
            return Problem(
                path, None, "", "a symlink out of the registries folder; expected a regular file"
            )
    try:
        info = path.stat()
    except OSError as exc:
        return Problem(path, None, "", f"cannot read file: {exc.strerror}")
    if not stat.S_ISREG(info.st_mode):
        return Problem(path, None, "", "not a regular file (a device, FIFO or folder)")
    if info.st_size > MAX_FILE_BYTES:
        return Problem(
            path,
            None,
            "",
            f"file is {info.st_size} bytes, over the {MAX_FILE_BYTES}-byte limit for a registry "
            "file ($VLMHB_REGISTRY_MAX_BYTES)",
        )
    return None


def read_yaml(path: Path) -> YamlDocument | Problem:
    """Parse one file; a syntax error becomes a Problem naming its line.

    Hostile files are refused before parsing (not a regular file, too big, a link out of the
    registries) or before constructing (aliases expanding past ``MAX_EXPANDED_NODES``), and a
    problem never echoes the file's content beyond field names.
    """
    unsafe = _refuse_unsafe(path)
    if unsafe is not None:
        return unsafe
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            return Problem(path, None, "", f"file grew over the {MAX_FILE_BYTES}-byte limit")
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(path, None, "", f"expected UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        return Problem(path, None, "", f"cannot read file: {exc.strerror}")
    loader = _UniqueKeyLoader(text)
    try:  # parsed once: the node tree is sized first, then the same tree is constructed
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            return Problem(
                path,
                None,
                "",
                f"YAML aliases expand to more than {MAX_EXPANDED_NODES} values; expected a plain "
                "registry entry",
            )
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = exc.problem or str(exc)
        return Problem(path, line, "", f"YAML syntax error: {detail}")
    except yaml.YAMLError as exc:
        return Problem(path, None, "", f"YAML syntax error: {exc}")
    finally:
        loader.dispose()
    return YamlDocument(path=path, data=data, node=node)
