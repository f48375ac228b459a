"""The leaderboard: one row per run (quality with CIs, then speed, memory, counts), written
as ``leaderboard.csv`` (everything) and ``leaderboard.md``."""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any

from vlmhb_workdir import (
    ANSWERS_FILE,
    RUN_CONFIG_FILE,
    TELEMETRY_FILE,
    Workdir,
    read_json,
    read_jsonl,
)

from .backend_parity import parity_markdown, report_parity
from .columns import BASE_COLUMNS, MEMORY_COLUMNS, TAIL_COLUMNS, higher_is_better
from .fields import FIELD_COLUMNS, field_rows, field_table
from .records import RunEntry
from .speed import speed_figures, speed_note


def telemetry(answers_path: Path) -> dict[str, Any]:
    """Speed of a run from its answers (``speed.speed_figures``: client-side latency, samples
    and tokens/s, answers served from a cache left out), and its sample counts.

    Each report kind asks for the leaderboard, so the same answers file is measured once per
    content (keyed by its stat, like an edited file is measured again), not once per kind.
    """
    try:
        stat = answers_path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        key = (-1, -1)
    measured = _measured(str(answers_path), *key)
    return {**measured, "latencies": list(measured["latencies"])}  # callers get their own list


@functools.lru_cache(maxsize=64)
def _measured(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    records = list(read_jsonl(Path(path)).values())
    answered = [r for r in records if r.get("parse_status") != "failed"]
    truncated = sum(1 for r in records if r.get("finish_reason") == "length")
    return {
        **{key: _total(answered, key) for key in ("prompt_tokens", "completion_tokens")},
        "reasoning_tokens": _total(answered, "reasoning_tokens"),
        "cost_usd": _rounded(_total(answered, "cost_usd"), 10),
        "truncated": truncated,
        "truncated_share": round(truncated / len(records), 4) if records else None,
        "empty": sum(1 for r in answered if not (r.get("answer") or "").strip()),
        "samples": len(records),
        "failed": len(records) - len(answered),
        **speed_figures(records),
    }


def machine(peaks: dict[str, Any]) -> dict[str, Any]:
    """What the machine was doing during the inference (``telemetry.json`` of the run)."""
    load, cpus = peaks.get("peak_load_1m"), peaks.get("cpus")
    parallel = peaks.get("parallel_models")
    return {
        "peak_load_per_cpu": round(load / cpus, 2) if load is not None and cpus else None,
        "parallel_models": int(parallel) if parallel else None,
    }


def _total(records: list[dict[str, Any]], key: str) -> Any:
    """The sum of a field over records, None when no record has it (unknown is not zero)."""
    values = [r[key] for r in records if isinstance(r.get(key), (int, float))]
    return sum(values) if values else None


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def cost_per_correct(row: dict[str, Any], quality: list[str]) -> float | None:
    """The spend per correct answer: ``cost_usd / (score x answered samples)``, the score being
    the run's first metric that is a share of correct answers (in [0, 1], higher is better).

    For accuracy-like metrics this is exactly cost per correct answer; for graded ones (ANLS)
    it is cost per unit of credit. None without a cost or with no correct answer.
    """
    cost = row.get("cost_usd")
    answered = (row.get("samples") or 0) - (row.get("failed") or 0)
    if cost is None or answered <= 0:
        return None
    for name in quality:
        score = row.get(name)
        if isinstance(score, (int, float)) and 0 <= score <= 1 and higher_is_better(name):
            return round(cost / (score * answered), 10) if score > 0 else None
    return None


def leaderboard_rows(runs: list[RunEntry], workdir: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns (who, quality, speed, memory, counts) and one row per run; a row's
    ``_latencies`` (every sample's latency) is for the figures, not the files."""
    layout = Workdir(workdir)
    quality: list[str] = []
    rows = []
    for entry in runs:
        row: dict[str, Any] = {k: entry[k] for k in BASE_COLUMNS}  # type: ignore[literal-required]
        summary = entry.get("metrics") or {}
        scores, intervals = summary.get("metrics", {}), summary.get("ci", {})
        speed_metrics = set(entry.get("telemetry_metrics") or [])
        for name in [c for c in scores if c not in speed_metrics]:
            value = scores[name]
            columns = [name]
            row[name] = round(value, 4) if isinstance(value, float) else value
            if name in intervals:
                low, high = intervals[name]
                row[f"{name}_ci_low"], row[f"{name}_ci_high"] = round(low, 4), round(high, 4)
                columns += [f"{name}_ci_low", f"{name}_ci_high"]
            quality += [c for c in columns if c not in quality]
        run_dir = layout.stage_dir("infer", str(entry["infer_id"]))
        measured = telemetry(run_dir / ANSWERS_FILE)
        row.update({k: v for k, v in measured.items() if k != "latencies"})
        peaks = read_json(run_dir / TELEMETRY_FILE)
        for key in MEMORY_COLUMNS:
            row[key] = round(peaks[key], 1) if peaks.get(key) else None
        row.update(machine(peaks))
        row["speed_note"] = speed_note(
            measured["latencies"],
            measured["cached_answers"],
            row["peak_load_per_cpu"],
            row["parallel_models"],
        )
        row["_latencies"] = measured["latencies"]
        model = read_json(run_dir / RUN_CONFIG_FILE).get("model") or {}
        row["reproducible"] = "no (hosted)" if model.get("endpoint") else "yes"
        row["cost_per_correct_usd"] = cost_per_correct(row, [c for c in row if c in scores])
        if entry.get("error") is not None:
            row["status"] = "failed"
        elif row.get("failed"):
            row["status"] = f"partial ({row['failed']} failed)"
        else:
            row["status"] = "ok"
        rows.append(row)
    return [*BASE_COLUMNS, *quality, *TAIL_COLUMNS], rows


def markdown(columns: list[str], rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def per_field_markdown(runs: list[RunEntry], columns: list[str]) -> str:
    """A per-field table per run that scores fields (KIE): value [95% CI] per metric."""
    parts = []
    for entry in runs:
        per_field = (entry.get("metrics") or {}).get("per_field") or {}
        if not per_field:
            continue
        metrics, body = field_table(per_field, columns)
        rows = [
            {"field": cells[0]}
            | {m: _with_ci(*cell) for m, cell in zip(metrics, cells[1:], strict=True)}
            for cells in body
        ]
        main = entry.get("main_metric")
        title = f"\n### Per field — {entry['run']}"
        title += f" (main metric: {main})\n\n" if main else "\n\n"
        parts.append(title + markdown(["field", *metrics], rows))
    return "".join(parts)


def per_field_csv_rows(runs: list[RunEntry]) -> list[dict[str, Any]]:
    """``leaderboard_fields.csv``: one row per (run, field, metric)."""
    rows = []
    for entry in runs:
        per_field = (entry.get("metrics") or {}).get("per_field") or {}
        who = {k: entry[k] for k in BASE_COLUMNS}  # type: ignore[literal-required]
        rows += [who | row for row in field_rows(per_field)]
    return rows


def _with_ci(value: Any, low: Any, high: Any) -> str:
    if not isinstance(value, (int, float)):
        return ""
    text = f"{value:.4g}"
    if isinstance(low, (int, float)) and isinstance(high, (int, float)):
        text += f" [{low:.3g}, {high:.3g}]"
    return text


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def write_leaderboard(out: Path, runs: list[RunEntry], workdir: Path) -> None:
    """The ``leaderboard`` report kind: ``leaderboard.csv`` and ``leaderboard.md``, plus
    ``leaderboard_fields.csv`` (and a per-field table per run in the Markdown) when runs
    score fields."""
    columns, rows = leaderboard_rows(runs, workdir)
    _write_csv(out / "leaderboard.csv", columns, rows)
    fields = per_field_csv_rows(runs)
    if fields:
        _write_csv(out / "leaderboard_fields.csv", FIELD_COLUMNS, fields)
    parity = parity_markdown(report_parity(workdir, runs))
    text = markdown(columns, rows) + per_field_markdown(runs, columns) + parity
    (out / "leaderboard.md").write_text(text, encoding="utf-8")
