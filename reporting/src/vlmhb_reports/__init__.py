"""vlmhb-reports: what a VLMHyperBench work dir says, for people.

Reads only the files the stages wrote (never the core), so a finished work dir can be
reported on, compared and charted anywhere this package is installed::

    from vlmhb_reports import build_figures, compare, load_experiment

    columns, runs = load_experiment(".work", "default")
    figures = build_figures(runs)          # Plotly figures, as in report.html
    rows = compare(".work", "default", "default-tuned")

Report kinds (``leaderboard``, ``html``; other packages add theirs) are entry points of the
group ``vlmhyperbench.reports``; :func:`write_reports` runs the ones an experiment asks for.
"""

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
from .compare import CompareError, compare
from .figures import FigureSpec, build_figures, main_metric
from .files import ReportDataError
from .html import report_page
from .leaderboard import leaderboard_rows
from .records import RunEntry, RunNotFound, runs_index, select_runs
from .rundata import RunData, load_experiment, load_run
from .speed import speed_figures, speed_note
from .writers import ReportKindError, report_kinds, write_reports

__all__ = [
    "BASE_COLUMNS",
    "COST_COLUMNS",
    "GENERATION_COLUMNS",
    "MEMORY_COLUMNS",
    "SPEED_COLUMNS",
    "SPEED_CONTEXT_COLUMNS",
    "TAIL_COLUMNS",
    "CompareError",
    "FigureSpec",
    "ReportDataError",
    "ReportKindError",
    "RunData",
    "RunEntry",
    "RunNotFound",
    "build_figures",
    "compare",
    "higher_is_better",
    "leaderboard_rows",
    "load_experiment",
    "load_run",
    "main_metric",
    "quality_columns",
    "report_kinds",
    "report_page",
    "runs_index",
    "select_runs",
    "speed_figures",
    "speed_note",
    "write_reports",
]
