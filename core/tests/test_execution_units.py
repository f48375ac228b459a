"""Pieces of the execution plane that need no model server: ids, tracker, answers, parsing."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
from registry_factory import VALID, write_registry
from vlmhb_dependency_injector import EnvironmentManager
from vlmhyperbench.execution.answers import AnswerRecord, AnswerWriter, read_answers
from vlmhyperbench.execution.chat_request import InferSettings, build_prompt, request_body
from vlmhyperbench.execution.events import EventBus, StageFinished, StagePlanned, StageStarted
from vlmhyperbench.execution.identity import PackageResolver
from vlmhyperbench.execution.planner import BenchmarkPlanner
from vlmhyperbench.execution.structured import parse_structured
from vlmhyperbench.execution.tracker import TaskTracker
from vlmhyperbench.registry import RegistryError, RegistryManager


def _registry(tmp_path: Path, entries=None, mode: str = "prod"):
    return RegistryManager(write_registry(tmp_path, entries), mode=mode).load()


_FIXED_DATES = {
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def _git(*args: str, cwd: Path) -> str:
    """git with fixed dates: the same content gives the same commit in any folder."""
    env = {**os.environ, **_FIXED_DATES}
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def _adapter_repo(root: Path) -> Path:
    """A real git repository holding the adapter package, tagged v0.2.0."""
    repo = root / "adapter-repo"
    (repo / "adapters" / "ocr-adapter").mkdir(parents=True)
    (repo / "adapters" / "ocr-adapter" / "pyproject.toml").write_text(
        '[project]\nname = "vlmhb-ocr-adapter"\nversion = "0.2.0"\n'
    )
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "adapter", cwd=repo)
    _git("tag", "v0.2.0", cwd=repo)
    return repo


def _entries(root: Path) -> dict:
    """VALID, with the adapter from a real local git repo and the metrics from a local folder."""
    entries = copy.deepcopy(VALID)
    repo = root / "adapter-repo"
    if not repo.exists():
        _adapter_repo(root)
    entries["packages"]["vlmhb-ocr-adapter"]["url"] = repo.as_uri()
    entries["packages"]["vlmhb-text-metrics"] = {"type": "local", "path": "pkgs/text-metrics"}
    metrics = root / "pkgs" / "text-metrics"
    if not metrics.exists():
        (metrics / "src").mkdir(parents=True)
        (metrics / "pyproject.toml").write_text('[project]\nname = "vlmhb-text-metrics"\n')
        (metrics / "src" / "cer.py").write_text("def cer(p, r):\n    return 0\n")
    return entries


def _ids(root: Path, entries=None, mode: str = "prod") -> tuple[str, str, str]:
    """(sync, infer, eval) ids of the named run, planned from scratch."""
    registry = _registry(root, entries if entries is not None else _entries(root), mode)
    manager = EnvironmentManager(root / "envs", base_dir=registry.repo_root)
    resolver = PackageResolver(registry, manager, registry.mode)
    plan = BenchmarkPlanner(registry, resolver).plan("default")
    infer = next(s for s in plan.infers if s.run.name == "tesseract-vqa")
    evaluation = next(s for s in plan.evals if s.infer is infer)
    return infer.sync.id, infer.id, evaluation.id


def test_changing_only_a_metric_changes_only_the_eval_id(tmp_path: Path) -> None:
    base = _ids(tmp_path / "a")
    changed = _entries(tmp_path / "b")
    changed["metrics"]["cer"]["version"] = "2"
    other = _ids(tmp_path / "b", changed)
    assert base[:2] == other[:2]
    assert base[2] != other[2]


def test_changing_the_prompt_or_generation_changes_the_infer_id(tmp_path: Path) -> None:
    base = _ids(tmp_path / "a")
    changed = _entries(tmp_path / "b")
    changed["prompts"]["plain"]["template"] = "Answer briefly: {question}"
    assert _ids(tmp_path / "b", changed)[1] != base[1]
    changed = _entries(tmp_path / "c")
    changed["models"]["tesseract"]["generation"]["max_tokens"] = 64
    other = _ids(tmp_path / "c", changed)
    assert other[0] == base[0] and other[1] != base[1] and other[2] != base[2]


def test_prompt_transforms_change_the_infer_id_and_their_absence_does_not(tmp_path: Path) -> None:
    """A prompt without transforms dumps as before they existed (cached answers stay valid);
    one with transforms sends other text, so it is another infer stage."""
    registry = _registry(tmp_path / "a", _entries(tmp_path / "a"), "prod")
    assert "transforms" not in registry.get("prompts", "plain").model_dump()
    base = _ids(tmp_path / "b")
    changed = _entries(tmp_path / "c")
    changed["prompts"]["plain"]["transforms"] = {"question": ["strip", "capitalize"]}
    assert _ids(tmp_path / "c", changed)[1] != base[1]


def test_prompt_transforms_apply_to_the_samples_question_in_order() -> None:
    settings = InferSettings(
        model_id="m",
        system_prompt=None,
        template="{question}\nAnswer the question using a single word or phrase.",
        collection={},
        generation={},
        response_format=None,
        json_schema=None,
        output_kind="text",
        transforms={"question": ["strip", "capitalize"]},
    )
    sample = {"id": "1", "prompt_vars": {"question": "  what is the BRAND?"}}
    assert build_prompt(sample, settings) == (
        "What is the brand?\nAnswer the question using a single word or phrase."
    )


def test_a_transform_of_a_variable_the_template_does_not_use_is_refused(tmp_path: Path) -> None:
    entries = _entries(tmp_path)
    entries["prompts"]["plain"]["transforms"] = {"labels": ["strip"]}
    with pytest.raises(RegistryError, match="transforms: labels not used by the template"):
        _registry(tmp_path, entries, "prod")
    entries["prompts"]["plain"]["transforms"] = {"question": ["title"]}
    with pytest.raises(RegistryError, match="capitalize"):
        _registry(tmp_path, entries, "prod")


@pytest.mark.parametrize(
    ("setting", "value"), [("dpi", 200), ("max_pages", 2), ("max_pixels", 10**6)]
)
def test_each_pdf_rendering_setting_is_part_of_the_dataset_identity(
    tmp_path: Path, setting: str, value: int
) -> None:
    """DPI, page cap and pixel budget decide what a model sees: a new sync id, and so new
    answers and scores, when one changes."""
    base = _ids(tmp_path / "a")
    changed = _entries(tmp_path / "b")
    changed["datasets"]["docs-vqa"]["pdf"] = {setting: value}
    other = _ids(tmp_path / "b", changed)
    assert all(b != o for b, o in zip(base, other, strict=True))
    same = _entries(tmp_path / "c")
    same["datasets"]["docs-vqa"]["pdf"] = {"dpi": 144, "max_pages": 8, "max_pixels": 4_000_000}
    assert _ids(tmp_path / "c", same) == base  # the defaults, written out: the same data


def test_ids_do_not_depend_on_where_the_checkout_lives(tmp_path: Path) -> None:
    assert _ids(tmp_path / "one") == _ids(tmp_path / "two")


def test_editing_a_local_metric_package_changes_only_the_eval_id(tmp_path: Path) -> None:
    before = _ids(tmp_path, mode="dev")
    source = tmp_path / "pkgs" / "text-metrics" / "src" / "cer.py"
    source.write_text("def cer(p, r):\n    return 1  # a fix\n")
    after = _ids(tmp_path, mode="dev")
    assert before[:2] == after[:2] and before[2] != after[2]


def test_editing_the_dataset_package_changes_every_id(tmp_path: Path) -> None:
    before = _ids(tmp_path, mode="dev")
    (tmp_path / "pkgs" / "dataset-factory" / "reader.py").write_text("X = 1\n")
    after = _ids(tmp_path, mode="dev")
    assert all(b != a for b, a in zip(before, after, strict=True))


def test_a_moved_git_tag_changes_the_infer_and_eval_ids(tmp_path: Path) -> None:
    before = _ids(tmp_path)
    repo = tmp_path / "adapter-repo"
    (repo / "adapters" / "ocr-adapter" / "fix.py").write_text("FIXED = True\n")
    _git("add", ".", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fix", cwd=repo)
    _git("tag", "-f", "v0.2.0", cwd=repo)
    after = _ids(tmp_path)
    assert before[0] == after[0]
    assert before[1] != after[1] and before[2] != after[2]


def _write_local_data(root: Path, page: bytes = b"page one") -> None:
    docs = root / "data" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "annotation.csv").write_text("id;question;answer\n1;Name?;IVAN\n", encoding="utf-8")
    (docs / "1.png").write_bytes(page)


def test_a_local_dataset_is_keyed_by_its_content_not_its_file_times(tmp_path: Path) -> None:
    """Issue 29: touching or rewriting identical files is a cache hit; new content re-runs."""
    _write_local_data(tmp_path)
    before = _ids(tmp_path)
    for file in (tmp_path / "data" / "docs").iterdir():
        os.utime(file, ns=(1_000_000_000, 1_000_000_000))  # touched
    assert _ids(tmp_path) == before
    _write_local_data(tmp_path)  # rewritten, same bytes (new mtimes)
    assert _ids(tmp_path) == before
    _write_local_data(tmp_path, page=b"page one, rescanned")
    after = _ids(tmp_path)
    assert all(b != a for b, a in zip(before, after, strict=True))


def test_pinning_a_checksum_re_runs_nothing(tmp_path: Path) -> None:
    """The pin verifies the data the sync prepares (or prepared); it names no new data."""
    _write_local_data(tmp_path)
    before = _ids(tmp_path)
    pinned = _entries(tmp_path)
    pinned["datasets"]["docs-vqa"]["checksum"] = "sha256:" + "0" * 64
    assert _ids(tmp_path, pinned) == before


def test_the_limit_reaches_the_sync_only_when_every_run_of_the_dataset_has_one(
    tmp_path: Path,
) -> None:
    registry = _registry(tmp_path, _entries(tmp_path))
    resolver = PackageResolver(registry, EnvironmentManager(tmp_path / "envs"), "prod")
    planner = BenchmarkPlanner(registry, resolver)
    [limited] = planner.plan("default", limit=5).syncs
    [whole] = planner.plan("default").syncs
    assert limited.limit == 5 and whole.limit is None
    assert limited.id != whole.id  # a subset is other data: its own folder
    entries = _entries(tmp_path)
    entries["runs"]["tesseract-vqa"]["filters"] = {"doc_class": ["passport"]}
    registry = _registry(tmp_path, entries)
    resolver = PackageResolver(registry, EnvironmentManager(tmp_path / "envs"), "prod")
    [filtered] = BenchmarkPlanner(registry, resolver).plan("default", limit=5).syncs
    assert filtered.limit is None  # the run filters first, so it needs every sample
    entries = _entries(tmp_path)
    entries["datasets"]["docs-vqa"]["checksum"] = "sha256:" + "0" * 64
    registry = _registry(tmp_path, entries)
    resolver = PackageResolver(registry, EnvironmentManager(tmp_path / "envs"), "prod")
    [pinned] = BenchmarkPlanner(registry, resolver).plan("default", limit=5).syncs
    assert pinned.limit is None  # the pin is the whole dataset's fingerprint: verify it all


def test_matrix_and_named_runs_expand(tmp_path: Path) -> None:
    registry = _registry(tmp_path, _entries(tmp_path))
    resolver = PackageResolver(registry, EnvironmentManager(tmp_path / "envs"), "prod")
    plan = BenchmarkPlanner(registry, resolver).plan("default", limit=5)
    assert sorted(r.name for r in plan.runs) == ["tesseract-vqa", "tesseract__docs-vqa__plain"]
    named = next(r for r in plan.runs if r.name == "tesseract-vqa")
    assert named.aggregators == ["general", "by_doc_type"]
    assert [m.key for m in named.metrics] == ["cer@1"]
    assert {r.limit for r in plan.runs} == {5}
    kinds = [s.kind for s in plan.stages]
    assert kinds == ["sync", "serve", "infer", "infer", "eval", "eval", "report"]
    ids = [s.id for s in plan.stages]
    first, second = plan.infers  # the same inference, asked twice: one folder, done once
    assert first.id == second.id and plan.evals[0].id != plan.evals[1].id
    for stage in plan.stages:  # deps come first: the graph is in run order
        assert all(ids.index(d) < ids.index(stage.id) for d in stage.deps)


def test_tracker_records_transitions(tmp_path: Path) -> None:
    tracker = TaskTracker(tmp_path / "t.sqlite", experiment="exp")
    bus = EventBus()
    bus.subscribe(tracker)
    bus.publish(StagePlanned(stage_id="a1", stage_kind="infer", name="infer x"))
    bus.publish(StageStarted(stage_id="a1", stage_kind="infer", name="infer x"))
    assert [r.state for r in tracker.rows("exp")] == ["running"]
    bus.publish(
        StageFinished(stage_id="a1", stage_kind="infer", name="infer x", outputs={"samples": 3})
    )
    row = tracker.rows("exp")[0]
    assert row.state == "done" and json.loads(row.detail) == {"samples": 3}
    # a second reader (vlmhb status) sees it too
    assert TaskTracker(tmp_path / "t.sqlite").rows()[0].state == "done"


def test_stage_event_lines_are_parsed_and_other_lines_are_not(tmp_path: Path) -> None:
    bus, seen = EventBus(), []
    bus.subscribe(seen.append)
    default = {"stage_id": "s", "stage_kind": "eval", "name": "eval"}
    assert bus.publish_line(
        '@@vlmhb-event {"type": "stage_progress", "done": 1, "total": 2}', default
    )
    assert not bus.publish_line("plain output", default)
    assert not bus.publish_line("@@vlmhb-event {broken", default)
    assert seen[0].done == 1 and seen[0].stage_id == "s"


def _write(path: Path, *records: AnswerRecord) -> None:
    """Append records as the inference runner does (group commit, all on disk after close)."""

    async def go() -> None:
        writer = AnswerWriter(path)
        for record in records:
            writer.write(record)
        await writer.aclose()

    asyncio.run(go())


def test_truncated_answer_line_is_dropped_and_cut(tmp_path: Path) -> None:
    path = tmp_path / "answers.jsonl"
    _write(path, AnswerRecord(id="1", answer="a", parse_status="text"))
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "2", "answer": "half')  # what SIGKILL mid-write leaves
    records = read_answers(path)
    assert list(records) == ["1"]
    assert path.read_text(encoding="utf-8").endswith("\n")
    _write(path, AnswerRecord(id="2", answer="b", parse_status="text"))
    assert list(read_answers(path)) == ["1", "2"]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ('{"name": "Иван"}', "ok"),
        ('```json\n{"name": "Иван"}\n```', "fenced"),
        ('{"name": "Ив', "invalid_json"),
        ("Фамилия: Иванов", "invalid_json"),
        ('{"name": 5}', "schema_error"),
        (None, "failed"),
    ],
)
def test_structured_answers(text: str | None, status: str) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    got, _, error = parse_structured(text, schema)
    assert got == status
    if status == "schema_error":
        assert error.startswith("name:")


def test_prompt_collection_replaces_the_question(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG fake")
    sample = {
        "id": "1",
        "images": [str(image)],
        "prompt_vars": {"question": "Напиши Фамилия"},
        "doc_class": "passport",
        "question_type": "Фамилия",
    }
    settings = InferSettings(
        model_id="m",
        system_prompt="Будь точен.",
        template="{question}",
        collection={"passport Фамилия": "Какая фамилия? Ответь одним словом."},
        generation={"max_tokens": 32, "temperature": 0},
        response_format=None,
        json_schema=None,
        output_kind="text",
    )
    assert build_prompt(sample, settings) == "Какая фамилия? Ответь одним словом."
    body = request_body(sample, settings)
    assert body["messages"][0] == {"role": "system", "content": "Будь точен."}
    parts = body["messages"][1]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert body["max_tokens"] == 32
    other = {**sample, "question_type": "Имя", "prompt_vars": {"question": "Напиши Имя"}}
    assert build_prompt(other, settings) == "Напиши Имя"


def test_compaction_keeps_the_last_record_per_sample(tmp_path: Path) -> None:
    from vlmhyperbench.execution.answers import compact_answers

    path = tmp_path / "answers.jsonl"
    _write(
        path,
        AnswerRecord(id="1", answer=None, parse_status="failed", error="timeout"),
        AnswerRecord(id="2", answer="b", parse_status="text"),
        AnswerRecord(id="1", answer="a", parse_status="text"),  # the retry
    )
    compact_answers(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert read_answers(path)["1"].answer == "a"


def test_kie_schema_is_derived_from_the_dataset_fields(tmp_path: Path) -> None:
    """A task with ``schema_from_fields`` (the kie task) gets its JSON Schema from the synced
    samples: every field required, its observed type or null, nothing else."""
    from jsonschema import Draft202012Validator
    from vlmhyperbench.execution.field_schema import task_schema
    from vlmhyperbench.registry.models import TaskEntry

    samples = tmp_path / "samples.jsonl"
    rows = [
        {"id": "1", "fields": {"company": "ACME", "total": 9.9}},
        {"id": "2", "fields": {"company": "BOOK CO", "total": 12, "date": None}},
    ]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    task = TaskEntry.model_validate(
        {"name": "kie", "output": {"kind": "json", "schema_from_fields": True}}
    )
    schema = task_schema(task, samples)
    assert schema["required"] == ["company", "total", "date"]
    assert schema["properties"]["total"] == {"type": ["number", "null"]}
    assert schema["properties"]["date"] == {"type": ["null"]}
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"company": "ACME", "total": 9.9, "date": None})
    assert not validator.is_valid({"company": "ACME", "total": 1})  # date left out
    assert not validator.is_valid({"company": "ACME", "total": 1, "date": None, "tip": 1})
    with pytest.raises(ValueError, match="schema_from_fields needs kind 'json'"):
        TaskEntry.model_validate(
            {"name": "x", "output": {"kind": "text", "schema_from_fields": True}}
        )
