"""report.html: one self-contained page per experiment (the ``html`` report kind).

Per task, the leaderboard table and its figures; then speed; then each run's settings, its
breakdowns per aggregator and its worst samples with thumbnails. One inline plotly.js copy
however many figures, so the file opens offline.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any

from .backend_parity import report_parity
from .columns import (
    MEMORY_COLUMNS,
    SPEED_COLUMNS,
    SPEED_CONTEXT_COLUMNS,
    higher_is_better,
    quality_columns,
)
from .fields import OMISSION_METRIC, field_table
from .figures import build_figures, main_metric
from .leaderboard import leaderboard_rows
from .records import RunEntry
from .rundata import RunData, load_run

WORST_SAMPLES = 5
"""Worst samples shown per run in report.html (by the run's main metric)."""
THUMBNAIL_PX = 200
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:1400px;padding:0 24px 48px;color:#1f2328;line-height:1.4}
h1{margin:24px 0 4px}h2{margin-top:40px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{margin-top:28px}.note{color:#57606a;font-size:13px}
nav a{margin-right:14px}.scroll{overflow-x:auto;margin:8px 0 16px}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}td.num{text-align:right;white-space:nowrap}
th.group{text-align:center}td.best{font-weight:700}
td.text{max-width:420px;white-space:pre-wrap;word-break:break-word}
img.thumb{max-width:200px;max-height:200px;border:1px solid #d0d7de}
details{margin:10px 0;border:1px solid #d0d7de;border-radius:6px;padding:6px 12px}
summary{cursor:pointer;font-weight:600}.figure{margin:12px 0 24px}
"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _table(header: list[str], body: list[list[str]], classes: list[str] | None = None) -> str:
    """An HTML table of already-escaped cells (``classes`` per column: num, text...)."""
    classes = classes or [""] * len(header)
    head = "".join(f"<th>{h}</th>" for h in header)
    lines = [
        "<tr>"
        + "".join(
            f"<td class='{c}'>{cell}</td>" if c else f"<td>{cell}</td>"
            for c, cell in zip(classes, row, strict=True)
        )
        + "</tr>"
        for row in body
    ]
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table></div>"


def _leaderboard_table(runs: list[Any], quality: list[str]) -> str:
    """Quality (value [95% CI]), then speed, then memory, then counts, as the CSV orders them."""
    best: dict[str, float] = {}
    for metric in quality:
        values = [r.row.get(metric) for r in runs if isinstance(r.row.get(metric), (int, float))]
        if len(values) > 1:
            higher = higher_is_better(metric, runs[0].higher)
            best[metric] = max(values) if higher else min(values)
    speed = [c for c in SPEED_COLUMNS if any(r.row.get(c) is not None for r in runs)]
    context = [c for c in SPEED_CONTEXT_COLUMNS if any(r.row.get(c) is not None for r in runs)]
    memory = [c for c in MEMORY_COLUMNS if any(r.row.get(c) is not None for r in runs)]
    counts = ["samples", "failed", "status"]
    groups = [("", 3), ("quality (95% CI)", len(quality))]
    groups += [("speed (cached answers left out)", len(speed) + len(context))]
    groups += [("memory", len(memory)), ("", len(counts))]
    top = "".join(f"<th class='group' colspan='{n}'>{_esc(name)}</th>" for name, n in groups if n)
    header = ["model", "dataset", "prompt"] + [
        _esc(m) + (" ↑" if higher_is_better(m, runs[0].higher) else " ↓") for m in quality
    ]
    header += [_esc(c) for c in [*speed, *context, *memory, *counts]]
    lines = []
    for run in runs:
        row = run.row
        cells = [f"<td>{_esc(row.get(k))}</td>" for k in ("model", "dataset", "prompt")]
        for metric in quality:
            value, low, high = (row.get(metric + s) for s in ("", "_ci_low", "_ci_high"))
            text = _fmt(value)
            if low is not None and high is not None and value is not None:
                text += f" <span class='note'>[{_fmt(low)}, {_fmt(high)}]</span>"
            mark = " best" if metric in best and value == best[metric] else ""
            cells.append(f"<td class='num{mark}'>{text}</td>")
        cells += [f"<td class='num'>{_esc(_fmt(row.get(c)))}</td>" for c in speed]
        cells += [f"<td>{_esc(row.get(c))}</td>" for c in context]
        cells += [f"<td class='num'>{_esc(_fmt(row.get(c)))}</td>" for c in memory]
        cells += [f"<td>{_esc(row.get(c))}</td>" for c in counts]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<div class='scroll'><table><thead><tr>{top}</tr><tr>"
        + "".join(f"<th>{h}</th>" for h in header)
        + f"</tr></thead><tbody>{''.join(lines)}</tbody></table></div>"
    )


def _thumbnail(path: str, report_dir: Path, cache: dict[str, str]) -> str:
    """A small inline JPEG (Pillow), else a relative link to the image; '' if it is gone."""
    if path in cache:
        return cache[path]
    image = Path(path)
    if not image.is_file():
        cache[path] = f"<span class='note'>missing image {_esc(image.name)}</span>"
        return cache[path]
    try:
        from PIL import Image
    except ImportError:  # Pillow is optional in the core: link the file instead
        href = _esc(Path(os.path.relpath(image, report_dir)).as_posix())
        cache[path] = f"<a href='{href}'>{_esc(image.name)}</a>"
        return cache[path]
    try:
        with Image.open(image) as img:
            img.thumbnail((THUMBNAIL_PX * 2, THUMBNAIL_PX * 2))
            buffer = io.BytesIO()
            img.convert("RGB").save(buffer, "JPEG", quality=70)
    except OSError as exc:
        cache[path] = f"<span class='note'>unreadable image {_esc(image.name)}: {_esc(exc)}</span>"
        return cache[path]
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    cache[path] = (
        f"<img class='thumb' alt='{_esc(image.name)}' title='{_esc(image)}' "
        f"src='data:image/jpeg;base64,{data}'>"
    )
    return cache[path]


def _short(value: Any, limit: int = 400) -> str:
    if value is not None and not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False)
    text = value or ""
    return text if len(text) <= limit else text[:limit] + " …"


def _worst_samples(run: Any, report_dir: Path, thumbs: dict[str, str]) -> str:
    metric = main_metric(run)
    if metric is None or not run.per_sample:
        return "<p class='note'>No per-sample scores.</p>"
    higher = higher_is_better(metric, run.higher)

    def key(row: dict[str, Any]) -> tuple[int, float]:
        value = row.get(metric)
        if not isinstance(value, (int, float)):
            return (0, 0.0)  # no score (unparsable answer, failed request): worst of all
        return (1, value if higher else -value)

    worst = sorted(run.per_sample, key=key)[:WORST_SAMPLES]
    body = []
    for row in worst:
        sid = str(row.get("id"))
        sample = run.samples.get(sid, {})
        answer = run.answers.get(sid, {})
        question = (sample.get("prompt_vars") or {}).get("question") or ""
        reference = sample.get("reference")
        if reference is None:
            reference = (
                sample.get("fields") if sample.get("fields") is not None else sample.get("label")
            )
        images = sample.get("images") or []
        status = row.get("parse_status") or answer.get("parse_status") or ""
        if answer.get("error"):
            status += f": {answer['error']}"
        body.append(
            [
                " ".join(_thumbnail(p, report_dir, thumbs) for p in images[:2]),
                _esc(sid),
                _esc(
                    " / ".join(str(row.get(k) or "") for k in ("doc_class", "question_type")).strip(
                        " /"
                    )
                ),
                _esc(_short(question)),
                _esc(_short(reference)),
                _esc(_short(answer.get("answer", row.get("answer")))),
                _esc(_fmt(row.get(metric))),
                _esc(_short(status, 200)),
            ]
        )
    header = ["image", "id", "document / field", "question", "reference", "answer"]
    header += [_esc(metric), "status"]
    classes = ["", "", "", "text", "text", "text", "num", "text"]
    return (
        f"<p class='note'>The {len(worst)} lowest by {_esc(metric)}"
        f"{'' if higher else ' (highest: lower is better)'}; unscored samples first.</p>"
        + _table(header, body, classes)
    )


def _field_section(run: Any) -> str:
    """Fields down, the metrics that score each field across: value [95% CI]."""
    metrics, body = field_table(run.per_field, run.quality)
    header = ["field"] + [
        _esc(m) + (" ↑" if higher_is_better(m, run.higher) else " ↓") for m in metrics
    ]
    cells = []
    for name, *values in body:
        line = [_esc(name)]
        for value, low, high in values:
            text = _esc(_fmt(value))
            if low is not None and high is not None:
                text += f" <span class='note'>[{_esc(_fmt(low))}, {_esc(_fmt(high))}]</span>"
            line.append(text)
        cells.append(line)
    note = (
        f"<p class='note'>{_esc(OMISSION_METRIC)}: share of the samples where the model gave "
        "no value for the field (absent, null or empty), not a wrong one.</p>"
        if OMISSION_METRIC in metrics
        else ""
    )
    return note + _table(header, cells, ["", *["num"] * len(metrics)])


def _setting(value: Any) -> str:
    """A run setting for people: ``key: a, b; key2: c`` rather than JSON."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_setting(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_setting(v) for v in value)
    return str(value)


def _run_section(run: Any, report_dir: Path, thumbs: dict[str, str]) -> str:
    config = run.config
    asked = [
        ("model", run.row.get("model")),
        ("dataset", run.row.get("dataset")),
        ("task", run.row.get("task")),
        ("prompt", run.row.get("prompt")),
        (
            "filters",
            {k: v for k, v in (config.get("filters") or {}).items() if v is not None} or "none",
        ),
        ("limit", config.get("limit") if config.get("limit") is not None else "none (all samples)"),
        (
            "generation",
            {k: v for k, v in (config.get("generation") or {}).items() if v is not None},
        ),
        (
            "prompt collection",
            f"{len(config.get('prompt_collection') or {})} prompts"
            if config.get("prompt_collection")
            else None,
        ),
        (
            "adapter / backend",
            " / ".join(str(config.get(k)) for k in ("adapter", "backend") if config.get(k)) or None,
        ),
        ("PDF pages rendered", config.get("pdf")),  # dpi, page cap, pixel budget, pages
        ("infer id", config.get("infer_id")),
        ("status", run.row.get("status")),
    ]
    facts = _table(
        ["setting", "value"],
        [[_esc(k), _esc(_short(_setting(v), 600))] for k, v in asked if v not in (None, "", {})],
        ["", "text"],
    )
    parts = [f"<details open id='run-{_esc(run.name)}'><summary>{_esc(run.name)}</summary>", facts]
    for name in ("by_doc_type", "by_doc_question"):
        rows = run.breakdowns.get(name) or []
        if not rows:
            continue
        header = list(rows[0])
        classes = [
            "num" if isinstance(rows[0].get(h), (int, float)) or h in run.quality else ""
            for h in header
        ]
        body = [[_esc(_fmt(r.get(h))) for h in header] for r in rows]
        parts.append(f"<h4>{_esc(name)}</h4>" + _table([_esc(h) for h in header], body, classes))
    if run.per_field:
        parts.append("<h4>Per field</h4>" + _field_section(run))
    parts.append("<h4>Worst samples</h4>" + _worst_samples(run, report_dir, thumbs))
    parts.append("</details>")
    return "".join(parts)


def _backend_parity_section(entries: list[dict[str, Any]]) -> str:
    """Runs of one checkpoint on two backends: agreement, and where each differing answer parts."""
    body, details = [], []
    for entry in entries:
        parity = entry.get("parity")
        where = f"{entry['dataset']}/{entry['prompt']}"
        if parity is None:
            body.append([_esc(entry["a"]), _esc(entry["b"]), _esc(where), "", _esc(entry["error"])])
            continue
        agreement = f"{parity.identical}/{parity.n_samples} ({parity.agreement:.1%})"
        body.append([_esc(entry["a"]), _esc(entry["b"]), _esc(where), agreement, ""])
        if parity.divergences:
            rows = [
                [
                    _esc(d.sample),
                    str(d.position),
                    _esc("end" if d.token_a is None else f"{d.token_a} {d.piece_a!r}"),
                    _esc("end" if d.token_b is None else f"{d.token_b} {d.piece_b!r}"),
                    _esc(_short(d.answer_a)),
                    _esc(_short(d.answer_b)),
                ]
                for d in parity.divergences
            ]
            header = ["sample", "first differing token", "A token", "B token", "A", "B"]
            details.append(
                f"<details><summary>{_esc(entry['a'])} vs {_esc(entry['b'])} on {_esc(where)}: "
                f"{len(rows)} differing answers</summary>"
                + _table(header, rows, ["", "num", "", "", "text", "text"])
                + "</details>"
            )
    table = _table(
        ["A", "B", "dataset/prompt", "identical answers", "not measured because"],
        body,
        ["", "", "", "num", "text"],
    )
    return (
        "<h2 id='backend-parity'>Backend parity</h2><p class='note'>The same checkpoint on two "
        "backends, same prompts and images: answers identical per sample; for each answer "
        "that differs, the first differing token position and ids (the checkpoint's "
        "tokenizer).</p>" + table + "".join(details)
    )


def report_page(
    columns: list[str],
    rows: list[dict[str, Any]],
    title: str,
    runs: list[RunEntry] | None = None,
    workdir: Path | None = None,
    report_dir: Path | None = None,
) -> str:
    """report.html: one self-contained file (tables, figures, one inline plotly.js copy).

    ``runs`` and ``workdir`` add what lies beside the leaderboard rows (per-sample scores,
    breakdowns, run settings, images); without them the page has the leaderboard and the
    figures the rows alone allow.
    """
    ids = {r["run"]: (r["infer_id"], r["eval_id"]) for r in runs or []}
    mains = {r["run"]: r.get("main_metric") for r in runs or []}
    loaded = [
        load_run(row, workdir, *ids.get(row["run"], (None, None)), columns, mains.get(row["run"]))
        if workdir is not None
        else RunData(
            row=row,
            quality=[c for c in quality_columns(columns) if row.get(c) is not None],
            latencies=list(row.get("_latencies") or []),
        )
        for row in rows
    ]
    report_dir = report_dir or Path.cwd()
    specs = build_figures(loaded)
    first = True

    def embed(spec: Any) -> str:
        nonlocal first
        fragment = spec.figure.to_html(
            full_html=False,
            include_plotlyjs="inline" if first else False,
            default_width="100%",
            config={"responsive": True, "displaylogo": False},
            div_id=f"fig-{spec.name}",
        )
        first = False
        return f"<div class='figure'>{fragment}</div>"

    tasks = list(dict.fromkeys(r.task for r in loaded))
    nav = [f"<a href='#task-{_esc(t)}'>task {_esc(t)}</a>" for t in tasks]
    nav += ["<a href='#overall'>speed</a>", "<a href='#runs'>runs</a>"]
    parts = [f"<h1>{_esc(title)}</h1>", f"<nav>{''.join(nav)}</nav>"]
    parts.append(
        "<p class='note'>Quality columns show the value and its 95% bootstrap confidence "
        "interval [low, high]; ↑ higher is better, ↓ lower is better; the best value of a "
        "column is bold. Latency is client-side per sample; memory is the model server's.</p>"
    )
    for task in tasks:
        members = [r for r in loaded if r.task == task]
        quality = list(dict.fromkeys(m for r in members for m in r.quality))
        parts.append(f"<h2 id='task-{_esc(task)}'>Task {_esc(task)}</h2>")
        parts.append(_leaderboard_table(members, quality))
        parts += [embed(s) for s in specs if s.task == task]
    parts.append("<h2 id='overall'>Quality against speed</h2>")
    parts += [embed(s) for s in specs if s.task is None]
    parts.append(
        "<h2 id='runs'>Runs</h2><p class='note'>Settings, breakdowns per aggregator "
        "and the worst samples of each run.</p>"
    )
    thumbs: dict[str, str] = {}
    parts += [_run_section(r, report_dir, thumbs) for r in loaded]
    parity = report_parity(workdir, runs) if runs and workdir is not None else []
    if parity:
        nav.append("<a href='#backend-parity'>backend parity</a>")
        parts[1] = f"<nav>{''.join(nav)}</nav>"
        parts.append(_backend_parity_section(parity))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


def write_html(out: Path, runs: list[RunEntry], workdir: Path) -> None:
    """The ``html`` report kind: ``report.html`` (the report folder is named after the
    experiment)."""
    columns, rows = leaderboard_rows(runs, workdir)
    page = report_page(columns, rows, f"VLMHyperBench — {out.name}", runs, workdir, out)
    tmp = out / "report.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out / "report.html")
