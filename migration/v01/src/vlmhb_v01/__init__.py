"""vlmhb-v01: the files VLMHyperBench v0.1 users have, read and written without the core.

- :func:`plan_v01_import` turns a v0.1 tree (``data_dirs/``, ``vlm_base.csv``) into plain
  registry entries (:class:`PlannedEntry`); :func:`write_entries` writes them into an overlay
  folder (by default :func:`user_overlay_dir`) with one overwrite rule.
- :func:`read_prompt_collection` and :func:`read_vlm_base` read the v0.1 CSVs.
- :func:`read_user_config` reads ``user_config.csv`` into typed rows and per-cell problems;
  :func:`resolve_user_config` resolves them against any registry that offers the two methods
  of :class:`RegistryView`, into an experiment and prompt entries as plain dicts.
- ``vlmhb_v01.cli.import_app`` (extra ``cli``) is the ``vlmhb import ...`` command group,
  added to the core's CLI through the entry-point group ``vlmhyperbench.commands``.
- :func:`write_v01` is the ``v01`` report kind (entry-point group ``vlmhyperbench.reports``):
  each run's ``runs/<infer_id>/answers.csv`` (:func:`write_run_answers`), and
  ``ModelsAnswers/`` and ``ModelsMetrics/`` in the report folder.
- :func:`resolve_user_config` is the reader behind ``vlmhb run --user-config`` (entry-point
  group ``vlmhyperbench.user_config``).

::

    from vlmhb_v01 import plan_v01_import, write_entries

    entries, notes = plan_v01_import(Path("~/vlmhyperbench").expanduser())
    write_entries(entries)          # ~/.config/vlmhb/registries/<kind>/<name>.yaml
"""

from .entries import ImportResult, PlannedEntry, user_overlay_dir, write_entries
from .export import (
    ExportError,
    read_answer_records,
    write_answers_csv,
    write_run_answers,
    write_v01,
)
from .prompt_collection import PromptCollectionError, read_prompt_collection
from .resolve import V01_REPORTS, RegistryView, resolve_user_config
from .tree import (
    FRAMEWORKS,
    V01Error,
    dataset_entry,
    model_entries,
    parse_hf_fields,
    plan_v01_import,
    prompt_entry_name,
    slug,
)
from .user_config import (
    AGGREGATORS,
    UserConfigError,
    UserConfigRow,
    prompt_collection_files,
    read_user_config,
)
from .vlm_base import VlmBaseError, read_vlm_base

__all__ = [
    "AGGREGATORS",
    "FRAMEWORKS",
    "V01_REPORTS",
    "ExportError",
    "ImportResult",
    "PlannedEntry",
    "PromptCollectionError",
    "RegistryView",
    "UserConfigError",
    "UserConfigRow",
    "V01Error",
    "VlmBaseError",
    "dataset_entry",
    "model_entries",
    "parse_hf_fields",
    "plan_v01_import",
    "prompt_collection_files",
    "prompt_entry_name",
    "read_answer_records",
    "read_prompt_collection",
    "read_user_config",
    "read_vlm_base",
    "resolve_user_config",
    "slug",
    "user_overlay_dir",
    "write_answers_csv",
    "write_entries",
    "write_run_answers",
    "write_v01",
]
