"""The `hf` iterator on the real `datasets` library, with tables laid out exactly as the
lmms-lab copies of DocVQA and ChartQA are on the Hub (images embedded as bytes)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image
from vlmhb_dataset_factory import (
    DatasetError,
    HfFields,
    available_kinds,
    load_dataset,
    read_hf,
    read_vqa_csv,
)

# Skipped, not failed, where the `hf` extra is not installed (the base package needs none).
datasets = pytest.importorskip("datasets")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

DOCVQA_FIELDS = {
    "id": "questionId",
    "image": "image",
    "question": "question",
    "answers": "answers",
    "metadata": ["docId", "ucsf_document_id", "ucsf_document_page_no", "question_types"],
}
CHARTQA_FIELDS = {"image": "image", "question": "question", "answers": "answer"}
CHARTQA_FIELDS["question_type"] = "type"


def image_bytes(color: str, fmt: str = "PNG", size: tuple[int, int] = (48, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


PAGES = [image_bytes("white"), image_bytes("gray", "JPEG"), image_bytes("blue")]


def docvqa_table():
    """lmms-lab/DocVQA, config DocVQA, split validation: its features, in its column order."""
    features = datasets.Features(
        {
            "questionId": datasets.Value("string"),
            "question": datasets.Value("string"),
            "question_types": datasets.Sequence(datasets.Value("string")),
            "image": datasets.Image(),
            "docId": datasets.Value("int32"),
            "ucsf_document_id": datasets.Value("string"),
            "ucsf_document_page_no": datasets.Value("string"),
            "answers": datasets.Sequence(datasets.Value("string")),
            "data_split": datasets.Value("string"),
        }
    )
    rows = {
        "questionId": ["49153", "24580", "57349", "24581"],
        "question": [
            "What is the ‘actual’ value per 1000, during the year 1975?",
            "What is name of university?",
            "What is the date mentioned in this letter?",
            "To whom is the document sent?",
        ],
        "question_types": [["figure/diagram"], ["others"], ["layout"], ["form", "layout"]],
        "image": [{"bytes": PAGES[i], "path": None} for i in (0, 1, 2, 1)],
        "docId": [14465, 2086, 4560, 2086],
        "ucsf_document_id": ["pybv0228", "nkbl0226", "xnbl0037", "nkbl0226"],
        "ucsf_document_page_no": ["81", "1", "1", "1"],
        "answers": [
            ["0.28"],
            ["University of California", "University of california, San Diego"],
            ["1/8/93", "January 8, 1993"],
            ["Paul"],
        ],
        "data_split": ["val", "val", "val", "val"],
    }
    return datasets.Dataset.from_dict(rows, features=features)


def chartqa_table():
    """lmms-lab/ChartQA, split test: type, question, answer (one text), image."""
    features = datasets.Features(
        {
            "type": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "image": datasets.Image(),
        }
    )
    rows = {
        "type": ["human_test", "human_test", "augmented_test"],
        "question": [
            "How many food item is shown in the bar graph?",
            "What is the difference in value between Lamb and Corn?",
            "What's the value of the lowest bar?",
        ],
        "answer": ["14", "0.57", "23"],
        "image": [{"bytes": PAGES[i], "path": f"{i}.png"} for i in (0, 2, 0)],
    }
    return datasets.Dataset.from_dict(rows, features=features)


def sha_name(data: bytes, suffix: str) -> str:
    return hashlib.sha256(data).hexdigest() + suffix


@pytest.fixture
def hf_cache(tmp_path: Path) -> Path:
    return tmp_path / "hf-datasets-cache"


def test_docvqa_parquet_ids_images_answers_metadata(tmp_path: Path, hf_cache: Path) -> None:
    parquet = tmp_path / "validation-00000-of-00001.parquet"
    docvqa_table().to_parquet(str(parquet))
    cache = tmp_path / "cache"
    dataset = read_hf(
        parquet, fields=DOCVQA_FIELDS, split="validation", cache_dir=cache, hf_cache_dir=hf_cache
    )
    assert [s.id for s in dataset] == ["49153", "24580", "57349", "24581"]
    first, second, _, fourth = dataset
    assert first.prompt_vars == {
        "question": "What is the ‘actual’ value per 1000, during the year 1975?"
    }
    assert first.reference == ["0.28"]  # a list column stays a list: accepted answers
    assert second.reference == [
        "University of California",
        "University of california, San Diego",
    ]
    assert first.metadata == {
        "row": 0,
        "split": "validation",
        "docId": 14465,
        "ucsf_document_id": "pybv0228",
        "ucsf_document_page_no": "81",
        "question_types": ["figure/diagram"],
    }
    # Images: written once, named by the sha256 of the bytes, with the format's suffix.
    assert Path(first.images[0]) == (cache / "images" / sha_name(PAGES[0], ".png")).resolve()
    assert Path(second.images[0]).name == sha_name(PAGES[1], ".jpg")
    assert second.images == fourth.images  # the same page is one file
    assert Path(second.images[0]).read_bytes() == PAGES[1]  # the bytes, not a re-encoding
    assert sorted(p.name for p in (cache / "images").iterdir()) == sorted(
        sha_name(PAGES[i], s) for i, s in ((0, ".png"), (1, ".jpg"), (2, ".png"))
    )
    # A second read reuses the files (same names, nothing rewritten).
    before = {p.name: p.stat().st_mtime_ns for p in (cache / "images").iterdir()}
    again = read_hf(parquet, fields=DOCVQA_FIELDS, cache_dir=cache, hf_cache_dir=hf_cache)
    assert [s.images for s in again] == [s.images for s in dataset]
    assert {p.name: p.stat().st_mtime_ns for p in (cache / "images").iterdir()} == before
    assert dataset.fingerprint() == again.fingerprint()
    # Samples serialise as every other iterator's (what the sync stage writes).
    line = json.loads(json.dumps(first.model_dump(mode="json")))
    assert line["reference"] == ["0.28"] and line["images"] == first.images


def test_save_to_disk_folder_and_dataset_dict(tmp_path: Path, hf_cache: Path) -> None:
    folder = tmp_path / "chartqa_saved"
    datasets.DatasetDict(
        {"test": chartqa_table(), "val": chartqa_table().select([0])}
    ).save_to_disk(str(folder))
    cache = tmp_path / "cache"
    dataset = read_hf(folder, fields=CHARTQA_FIELDS, split="test", cache_dir=cache)
    assert [s.id for s in dataset] == ["0", "1", "2"]  # no id column: the row number
    assert [s.reference for s in dataset] == ["14", "0.57", "23"]  # one text answer: a string
    assert [s.question_type for s in dataset] == ["human_test", "human_test", "augmented_test"]
    assert dataset[0].images == dataset[2].images
    assert Path(dataset[1].images[0]).read_bytes() == PAGES[2]
    with pytest.raises(DatasetError, match=r"several splits \(test, val\)"):
        read_hf(folder, fields=CHARTQA_FIELDS, cache_dir=cache)
    with pytest.raises(DatasetError, match=r"no split 'validation'; the splits are test, val"):
        read_hf(folder, fields=CHARTQA_FIELDS, split="validation", cache_dir=cache)
    single = tmp_path / "single"
    chartqa_table().save_to_disk(str(single))
    same = read_hf(single, fields=CHARTQA_FIELDS, cache_dir=cache)
    assert [s.images for s in same] == [s.images for s in dataset]
    assert same[0].metadata == {"row": 0}


def test_hub_snapshot_folder_with_configs(tmp_path: Path, hf_cache: Path) -> None:
    """A folder as `huggingface-cli download lmms-lab/DocVQA` leaves it: README configs."""
    snapshot = tmp_path / "DocVQA-snapshot"
    (snapshot / "DocVQA").mkdir(parents=True)
    (snapshot / "InfographicVQA").mkdir()
    docvqa_table().to_parquet(str(snapshot / "DocVQA" / "validation-00000-of-00001.parquet"))
    docvqa_table().select([3]).to_parquet(
        str(snapshot / "InfographicVQA" / "validation-00000-of-00001.parquet")
    )
    (snapshot / "README.md").write_text(
        textwrap.dedent(
            """\
            ---
            configs:
            - config_name: DocVQA
              data_files:
              - split: validation
                path: DocVQA/validation-*
            - config_name: InfographicVQA
              data_files:
              - split: validation
                path: InfographicVQA/validation-*
            ---
            """
        ),
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    docs = read_hf(
        snapshot,
        fields=DOCVQA_FIELDS,
        config="DocVQA",
        split="validation",
        cache_dir=cache,
        hf_cache_dir=hf_cache,
    )
    infos = read_hf(
        snapshot,
        fields=DOCVQA_FIELDS,
        config="InfographicVQA",
        split="validation",
        cache_dir=cache,
        hf_cache_dir=hf_cache,
    )
    assert len(docs) == 4 and [s.id for s in infos] == ["24581"]
    assert infos[0].images == docs[3].images


def test_limit_filters_shuffle_as_other_iterators(tmp_path: Path) -> None:
    """The hf reader picks the same samples as `finish` does for the vqa-csv reader."""
    folder = tmp_path / "saved"
    chartqa_table().save_to_disk(str(folder))
    cache = tmp_path / "cache"
    csv_root = tmp_path / "csv"
    (csv_root / "images").mkdir(parents=True)
    (csv_root / "images" / "0.png").write_bytes(PAGES[0])
    types = ["human_test", "human_test", "augmented_test"]
    (csv_root / "annotation.csv").write_text(
        "data_index;split;image_path;question;answer;doc_class;question_type;answer_bbox\n"
        + "".join(f"{i};test;images/0.png;q{i};a{i};chart;{t};\n" for i, t in enumerate(types)),
        encoding="utf-8",
    )
    for options in (
        {"limit": 2},
        {"shuffle_seed": 3},
        {"shuffle_seed": 1, "limit": 2},
        {"question_type": "human_test", "shuffle_seed": 5, "limit": 1},
        {"question_type": ["augmented_test"]},
    ):
        hf_ids = [s.id for s in read_hf(folder, fields=CHARTQA_FIELDS, cache_dir=cache, **options)]
        csv_ids = [s.id for s in read_vqa_csv(csv_root, **options)]
        assert hf_ids == csv_ids, options
    # Only the chosen samples' images are written.
    fresh = tmp_path / "fresh-cache"
    one = read_hf(folder, fields=CHARTQA_FIELDS, cache_dir=fresh, question_type="augmented_test")
    assert [s.id for s in one] == ["2"]
    assert [p.name for p in (fresh / "images").iterdir()] == [sha_name(PAGES[0], ".png")]


def test_plain_parquet_struct_bytes_and_paths(tmp_path: Path, hf_cache: Path) -> None:
    """Parquet written without HF metadata: an image struct, raw bytes, or a relative path."""
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "p.jpg").write_bytes(PAGES[1])
    table = pa.table(
        {
            "qid": [7, 8],
            "question": ["Who?", "When?"],
            "answer": ["Paul", "1993"],
            "image": pa.array(
                [{"bytes": PAGES[0], "path": "a.png"}, {"bytes": PAGES[2], "path": "b.png"}],
                pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
            ),
            "page2": pa.array([PAGES[2], PAGES[0]], pa.binary()),
            "scan": ["pages/p.jpg", "pages/p.jpg"],
        }
    )
    pq.write_table(table, tmp_path / "mine.parquet")
    fields = {"id": "qid", "image": ["image", "page2", "scan"], "answers": "answer"}
    dataset = read_hf(
        tmp_path / "mine.parquet",
        fields=fields,
        cache_dir=tmp_path / "cache",
        hf_cache_dir=hf_cache,
    )
    assert [s.id for s in dataset] == ["7", "8"]
    assert [Path(p).name for p in dataset[0].images] == [
        sha_name(PAGES[0], ".png"),
        sha_name(PAGES[2], ".png"),
        sha_name(PAGES[1], ".jpg"),
    ]
    assert dataset[1].reference == "1993"


def test_missing_column_names_it_and_lists_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    chartqa_table().save_to_disk(str(folder))
    with pytest.raises(DatasetError) as info:
        read_hf(folder, fields={**CHARTQA_FIELDS, "answers": "answers"}, cache_dir=tmp_path)
    message = str(info.value)
    assert "missing column 'answers' (fields.answers)" in message
    assert "the dataset has: type, question, answer, image" in message
    with pytest.raises(DatasetError, match=r"missing column 'picture' \(fields.image\)"):
        read_hf(folder, fields={**CHARTQA_FIELDS, "image": "picture"}, cache_dir=tmp_path)
    with pytest.raises(DatasetError, match=r"fields.answer: .*not permitted|fields.answer: Extra"):
        read_hf(folder, fields={"answer": "answer"}, cache_dir=tmp_path)


def test_bad_rows_raise_or_are_skipped(tmp_path: Path, hf_cache: Path) -> None:
    table = docvqa_table().to_dict()
    table["questionId"][2] = "49153"  # duplicated id
    table["answers"][1] = []  # no accepted answer
    table["image"][3] = {"bytes": b"not an image", "path": "broken.png"}
    features = docvqa_table().features
    folder = tmp_path / "bad"
    datasets.Dataset.from_dict(table, features=features).save_to_disk(str(folder))
    cache = tmp_path / "cache"
    with pytest.raises(
        DatasetError,
        match=r"bad, column 'answers' \(sample '24580'\): row 1: record without a reference",
    ):
        read_hf(folder, fields=DOCVQA_FIELDS, cache_dir=cache)
    dataset = read_hf(folder, fields=DOCVQA_FIELDS, cache_dir=cache, on_error="skip")
    assert [s.id for s in dataset] == ["49153"]
    reasons = [(item.sample_id, item.column, item.reason) for item in dataset.skipped]
    assert reasons[0][:2] == ("24580", "answers")
    assert reasons[1][:2] == ("49153", "questionId") and "duplicated id" in reasons[1][2]
    assert reasons[2][:2] == ("24581", "image") and "unreadable image broken.png" in reasons[2][2]
    lenient = read_hf(
        folder, fields=DOCVQA_FIELDS, cache_dir=cache, on_error="skip", require_reference=False
    )
    assert [s.id for s in lenient] == ["49153", "24580"]
    with pytest.raises(
        DatasetError, match=r"column 'question_types' holds List.*a filter needs one"
    ):
        read_hf(
            folder,
            fields={**DOCVQA_FIELDS, "question_type": "question_types"},
            cache_dir=cache,
            on_error="skip",
        )


def test_source_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nothing.*not found: expected hf://"):
        read_hf(tmp_path / "nothing", cache_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"save_to_disk folder .* or parquet files"):
        read_hf(tmp_path / "empty", cache_dir=tmp_path)
    with pytest.raises(DatasetError, match=r"revision 'abc' applies to hf:// sources only"):
        read_hf(tmp_path / "empty", revision="abc", cache_dir=tmp_path)
    with pytest.raises(DatasetError, match=r"expected hf://<owner>/<name>"):
        read_hf("hf://a/b/c", cache_dir=tmp_path)


def test_entry_point_and_fields_model(tmp_path: Path) -> None:
    assert "hf" in available_kinds()
    folder = tmp_path / "saved"
    chartqa_table().save_to_disk(str(folder))
    dataset = load_dataset(
        "hf", folder, fields=HfFields(**CHARTQA_FIELDS), cache_dir=tmp_path / "c", limit=1
    )
    assert [s.reference for s in dataset] == ["14"]


OFFLINE_SCRIPT = """
import sys
from vlmhb_dataset_factory import DatasetError, read_hf
try:
    read_hf("hf://lmms-lab/DocVQA", config="DocVQA", split="validation",
            revision="rev123", cache_dir=sys.argv[1])
except DatasetError as exc:
    print(exc)
    sys.exit(3)
"""


def test_offline_with_an_empty_cache_says_what_to_do(tmp_path: Path) -> None:
    # A fresh interpreter: the Hub libraries read HF_HUB_OFFLINE and HF_HOME when imported.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-hf-home")}
    env.pop("HF_DATASETS_CACHE", None)
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT, str(tmp_path / "images")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr
    message = done.stdout
    assert message.startswith(
        "hf://lmms-lab/DocVQA: dataset 'lmms-lab/DocVQA' (config 'DocVQA', split 'validation', "
        "revision 'rev123')"
    )
    assert "is not in the local Hugging Face cache" in message
    assert "HF_HUB_OFFLINE=1" in message
    assert (
        "datasets.load_dataset('lmms-lab/DocVQA', 'DocVQA', split='validation', "
        "revision='rev123')" in message
    )
