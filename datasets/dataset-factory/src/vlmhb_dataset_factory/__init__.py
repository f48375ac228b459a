"""Iterators over annotated image datasets, yielding validated :class:`Sample` objects.

Readers: :func:`read_vqa_csv` (VLMHyperBench VQA layout), :func:`read_jsonl` /
:func:`read_csv_records` / :func:`read_records` (a folder of images with records) and
:func:`read_fields_json` (``images/`` + ``jsons/`` extraction layout) and :func:`read_hf`
(Hugging Face datasets: Hub id, ``save_to_disk`` folder or parquet; needs the ``hf`` extra). Each is registered in
the entry-point group ``vlmhyperbench.datasets``; :func:`load_dataset` finds them by name.
"""

from vlmhb_dataset_factory.dataset import Dataset
from vlmhb_dataset_factory.errors import DatasetError, SkippedItem
from vlmhb_dataset_factory.fields_json import read_fields_json
from vlmhb_dataset_factory.hf import HfFields, default_cache_dir, read_hf
from vlmhb_dataset_factory.image_json import read_image_json
from vlmhb_dataset_factory.manifest import DatasetManifest, FileEntry
from vlmhb_dataset_factory.pdf import PdfRendering, pdf_item, render_samples
from vlmhb_dataset_factory.records import read_csv_records, read_jsonl, read_records
from vlmhb_dataset_factory.registry import GROUP, available_kinds, load_dataset
from vlmhb_dataset_factory.sample import Sample
from vlmhb_dataset_factory.vqa_csv import VQA_COLUMNS, read_vqa_csv

__all__ = [
    "GROUP",
    "VQA_COLUMNS",
    "Dataset",
    "DatasetError",
    "DatasetManifest",
    "FileEntry",
    "HfFields",
    "PdfRendering",
    "Sample",
    "SkippedItem",
    "available_kinds",
    "default_cache_dir",
    "load_dataset",
    "pdf_item",
    "read_csv_records",
    "read_fields_json",
    "read_hf",
    "read_image_json",
    "read_jsonl",
    "read_records",
    "read_vqa_csv",
    "render_samples",
]
