"""vlmhb-workdir: the VLMHyperBench work dir's layout and the one reader of its results.

The core writes the work dir; the reports, the v0.1 export and the management server read it.
All of them name its folders and files from here, and read a finished experiment with
:func:`load_experiment`, so the layout is said once and parsed once::

    from vlmhb_workdir import Workdir, load_experiment

    layout = Workdir(".work")                    # the work dir is the root path
    layout.stage_dir("eval", eval_id)            # .work/evals/<eval_id>
    result = load_experiment(".work", "default") # runs.json, leaderboard.csv, each run's files
    for run in result.runs:
        print(run.name, run.row, run.summary.get("metrics"), run.answers_file)

No dependencies beyond the standard library: a plugin package may depend on it without the core.
"""

from .files import (
    WorkdirFileError,
    csv_header,
    number,
    read_csv,
    read_csv_text,
    read_json,
    read_jsonl,
    read_object,
    write_json,
)
from .layout import (
    ANSWERS_FILE,
    DONE_MARKER,
    EVENTS_FILE,
    LEADERBOARD_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    PER_SAMPLE_FILE,
    RATIOS_FILE,
    RUN_CONFIG_FILE,
    RUNS_INDEX_FILE,
    SAMPLES_FILE,
    STAGE_FOLDERS,
    TELEMETRY_FILE,
    TRACKER_FILE,
    Workdir,
    aggregate_file,
)
from .results import ExperimentNotFound, ExperimentResult, RunResult, load_experiment, read_run

__all__ = [
    "ANSWERS_FILE",
    "DONE_MARKER",
    "EVENTS_FILE",
    "LEADERBOARD_FILE",
    "MANIFEST_FILE",
    "METRICS_FILE",
    "PER_SAMPLE_FILE",
    "RATIOS_FILE",
    "RUNS_INDEX_FILE",
    "RUN_CONFIG_FILE",
    "SAMPLES_FILE",
    "STAGE_FOLDERS",
    "TELEMETRY_FILE",
    "TRACKER_FILE",
    "ExperimentNotFound",
    "ExperimentResult",
    "RunResult",
    "Workdir",
    "WorkdirFileError",
    "aggregate_file",
    "csv_header",
    "load_experiment",
    "number",
    "read_csv",
    "read_csv_text",
    "read_json",
    "read_jsonl",
    "read_object",
    "read_run",
    "write_json",
]
