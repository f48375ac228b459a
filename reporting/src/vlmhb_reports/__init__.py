"""vlmhb-reports: what a VLMHyperBench work dir says, for people.

Reads only the files the stages wrote (never the core), so a finished work dir can be
reported on, compared and charted anywhere this package is installed::

    from vlmhb_reports import build_figures, compare, load_experiment
    from vlmhb_reports import load_tokenizer, read_answers, token_parity

    columns, runs = load_experiment(".work", "default")
    figures = build_figures(runs)          # Plotly figures, as in report.html
    rows = compare(".work", "default", "default-tuned")  # compare_runs(): RunScores pairs
    parity = token_parity(read_answers(a), read_answers(b), load_tokenizer(checkpoint))

Report kinds (``leaderboard``, ``html``; other packages add theirs) are entry points of the
group ``vlmhyperbench.reports``; :func:`write_reports` runs the ones an experiment asks for.
"""

from vlmhb_workdir import WorkdirFileError

from .backend_parity import (
    BackendPair,
    BackendParity,
    BackendParityError,
    CheckpointTokenizer,
    Divergence,
    backend_pairs,
    first_divergence,
    load_tokenizer,
    read_answers,
    report_parity,
    token_parity,
)
from .columns import (
    BASE_COLUMNS,
    COST_COLUMNS,
    GENERATION_COLUMNS,
    MEMORY_COLUMNS,
    SPEED_COLUMNS,
    SPEED_CONTEXT_COLUMNS,
    TAIL_COLUMNS,
    higher_is_better,
    quality_columns,
)
from .compare import CompareError, RunScores, compare, compare_runs, load_scores
from .fields import OMISSION_METRIC, deciding_field_metric, field_rows, field_table
from .figures import FigureSpec, build_figures, main_metric
from .html import report_page
from .leaderboard import leaderboard_rows
from .records import RunEntry, RunNotFound, runs_index, select_runs
from .rundata import RunData, load_experiment, load_run
from .speed import speed_figures, speed_note
from .writers import ReportKindError, report_kinds, write_reports

ReportDataError = WorkdirFileError
"""A work-dir file that exists but cannot be read as its stage wrote it (vlmhb-workdir's
``WorkdirFileError``, under the name this package has always raised)."""

__all__ = [
    "BASE_COLUMNS",
    "COST_COLUMNS",
    "GENERATION_COLUMNS",
    "MEMORY_COLUMNS",
    "OMISSION_METRIC",
    "SPEED_COLUMNS",
    "SPEED_CONTEXT_COLUMNS",
    "TAIL_COLUMNS",
    "BackendPair",
    "BackendParity",
    "BackendParityError",
    "CheckpointTokenizer",
    "CompareError",
    "Divergence",
    "FigureSpec",
    "ReportDataError",
    "ReportKindError",
    "RunData",
    "RunEntry",
    "RunNotFound",
    "RunScores",
    "backend_pairs",
    "build_figures",
    "compare",
    "compare_runs",
    "deciding_field_metric",
    "field_rows",
    "field_table",
    "first_divergence",
    "higher_is_better",
    "leaderboard_rows",
    "load_experiment",
    "load_run",
    "load_scores",
    "load_tokenizer",
    "main_metric",
    "quality_columns",
    "read_answers",
    "report_kinds",
    "report_page",
    "report_parity",
    "runs_index",
    "select_runs",
    "speed_figures",
    "speed_note",
    "token_parity",
    "write_reports",
]
