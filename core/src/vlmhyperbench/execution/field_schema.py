"""The JSON Schema of a task whose answers take the dataset's own fields (``output:
{kind: json, schema_from_fields: true}``, the ``kie`` task): derived from the synced samples,
so a dataset brought in with ``vlmhb import dataset`` needs no hand-written schema.

Every field any sample has becomes a required property (so an answer says each one, ``null``
when the document does not show it) whose type is what the references hold, or ``null``;
nothing else is allowed. The samples are the sync stage's output, whose id the infer and eval
stages hash, so the derived schema is as reproducible as the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..registry.models import TaskEntry
from .answers import load_samples

_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))
_JSON_TYPES += ((list, "array"), (dict, "object"))


def _json_type(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "null")


def schema_from_fields(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """``{type: object, properties: {field: {type: [...observed, "null"]}}, required: all}``
    over the union of the samples' ``fields``, in first-seen order."""
    types: dict[str, list[str]] = {}
    for sample in samples:
        for name, value in (sample.get("fields") or {}).items():
            seen = types.setdefault(str(name), [])
            kind = _json_type(value)
            if kind == "integer" and "number" in seen:
                continue
            if kind not in seen:
                seen.append(kind)
    properties = {
        name: {"type": [*[t for t in seen if t != "null"], "null"]} for name, seen in types.items()
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def task_schema(task: TaskEntry, samples_path: Path) -> dict[str, Any] | None:
    """The schema answers of ``task`` must satisfy: declared, or derived from the samples."""
    if not task.output.schema_from_fields:
        return task.output.json_schema
    return schema_from_fields(load_samples(samples_path))
