"""The samples explorer's two reads besides its pages: the filter choices of an experiment
(facets), and one sample's answers in every run of it, side by side, with a per-field table
for JSON (KIE) answers.

The per-field scores come from ``vlmhb_structured_metrics`` (``field_exact_match`` and
``field_anls``, run on that one answer with their default normalisation), so the table shows
what those metrics score, not a second implementation of them. They are imported when a table
is first made: the package brings scipy, whose import costs about a second in every server
process (and every ``--workers`` process) that may never show a KIE sample.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import Experiment, SampleRow
from .samples import _PAGE, NotFound, items

#: per-field scores shown in the table: column -> the structured metric that computes them
FIELD_METRICS = {"exact_match": "field_exact_match", "anls": "field_anls"}


def _field_metrics() -> dict[str, Callable[..., Any]]:
    import vlmhb_structured_metrics as structured

    return {column: getattr(structured, name) for column, name in FIELD_METRICS.items()}


_METRIC_KEYS = {
    "sqlite": "SELECT DISTINCT j.key FROM samples, json_each(samples.scores) AS j "
    "WHERE samples.experiment_id = :e",
    "postgresql": "SELECT DISTINCT json_object_keys(scores::json) FROM samples "
    "WHERE experiment_id = :e",
}


class Facets:
    """Distinct runs, doc classes, question types and score names of an experiment, cached
    per samples version (they change only when its results are re-imported)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.cache: dict[tuple[int, int], dict[str, list[str]]] = {}

    async def of(self, experiment_id: int) -> dict[str, list[str]]:
        async with self.engine.connect() as conn:
            version = (
                await conn.execute(
                    select(Experiment.samples_version).where(Experiment.id == experiment_id)
                )
            ).scalar_one_or_none()
            if version is None:
                raise NotFound(experiment_id)
            key = (experiment_id, version)
            if key not in self.cache:
                self.cache[key] = await _facets(conn, experiment_id)
                while len(self.cache) > 256:
                    self.cache.pop(next(iter(self.cache)))
            return self.cache[key]


async def _facets(conn: Any, experiment_id: int) -> dict[str, list[str]]:
    mine = SampleRow.experiment_id == experiment_id

    async def distinct(column: Any) -> list[str]:
        found = await conn.execute(select(column).where(mine, column.is_not(None)).distinct())
        return sorted(str(v) for v in found.scalars())

    sql = _METRIC_KEYS.get(conn.dialect.name)
    if sql is not None:
        metrics = sorted((await conn.execute(text(sql), {"e": experiment_id})).scalars())
    else:  # another database: read the score names row by row
        names: set[str] = set()
        for scores in (await conn.execute(select(SampleRow.scores).where(mine))).scalars():
            names.update(scores or {})
        metrics = sorted(names)
    return {
        "runs": await distinct(SampleRow.run),
        "doc_classes": await distinct(SampleRow.doc_class),
        "question_types": await distinct(SampleRow.question_type),
        "metrics": metrics,
    }


async def same_sample(engine: AsyncEngine, experiment_id: int, row_id: int) -> list[Any]:
    """Every run's row for the sample of row ``row_id`` (in run order), as tuples in the
    samples page's column order; raises ``NotFound`` when the row is not in the experiment."""
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                select(SampleRow.sample_id).where(
                    SampleRow.id == row_id, SampleRow.experiment_id == experiment_id
                )
            )
        ).scalar_one_or_none()
        if found is None:
            raise NotFound(experiment_id)
        rows = await conn.execute(
            _PAGE.where(
                SampleRow.experiment_id == experiment_id, SampleRow.sample_id == found
            ).order_by(SampleRow.run, SampleRow.id)
        )
        return [tuple(r) for r in rows]


def field_table(reference: str | None, answer: str | None) -> list[dict[str, Any]] | None:
    """One row per field: the reference's value, the answer's (parsed as the structured
    metrics parse it: fences and prose around the JSON are ignored) and each field metric's
    score; fields only in the answer come last with no score. None when the reference is not
    a JSON object (not a KIE sample)."""
    try:
        expected = json.loads(reference) if reference else None
    except json.JSONDecodeError:
        return None
    if not isinstance(expected, dict) or not expected:
        return None
    from vlmhb_structured_metrics import flatten, parse_output

    parsed = parse_output(answer or "").value
    predicted = flatten(parsed) if isinstance(parsed, dict) else {}
    wanted = flatten(expected)
    scores = {
        name: func([answer or ""], [expected]).details["per_field"]
        for name, func in _field_metrics().items()
    }
    table = [
        {
            "field": path,
            "reference": value,
            "answer": predicted.get(path),
            "scores": {name: _finite(per.get(path)) for name, per in scores.items()},
        }
        for path, value in wanted.items()
    ]
    table += [
        {"field": path, "reference": None, "answer": value, "scores": {}}
        for path, value in predicted.items()
        if path not in wanted
    ]
    return table


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def render_answers(experiment_id: int, rows: list[Any]) -> bytes:
    """``{"sample_id", "items"}``: items as on a samples page, each with ``fields``."""
    answers = items(experiment_id, rows)
    for item in answers:
        item["fields"] = field_table(item["reference"], item["answer"])
    sample_id = answers[0]["sample_id"] if answers else None
    return orjson.dumps({"sample_id": sample_id, "items": answers})
