"""Backend parity: the same checkpoint on two engines (transformers and vLLM), greedy, the
same prompts and images: do they answer the same, and where do they first part?

A metric delta cannot say it (two backends can both score 0.8 on different samples), and a
text diff cannot say *why*: the first differing **token** can. Both answers are tokenised with
the checkpoint's own tokenizer (transformers' ``AutoTokenizer`` of the checkpoint folder,
as both backends load it; no special tokens added), and for every sample that differs the first position where the token
ids part is reported with the two ids and their text. A position 0 divergence on every sample
usually means a prompt difference (template, BOS); a late one, numerical drift between
kernels that greedy decoding amplifies.

Inputs are two answers files (``answers.jsonl`` as the infer stage writes it: one object per
line with ``id`` and ``answer``) or two runs of a work dir, whose ``run.json`` names the
backend and the checkpoint, so a report can find pairs by itself (:func:`backend_pairs`).
"""

from __future__ import annotations

import os
import string
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vlmhb_workdir import (
    ANSWERS_FILE,
    RUN_CONFIG_FILE,
    Workdir,
    WorkdirFileError,
    read_jsonl,
    read_object,
)


class BackendParityError(ValueError):
    """Inputs that cannot be compared: the message names the file, sample or folder at fault."""


@dataclass(frozen=True)
class Divergence:
    """Where one sample's two answers part, in tokens of the checkpoint's tokenizer.

    ``position`` is the index of the first differing token; when one answer is a prefix of
    the other, it is the shorter one's length and that side's token is ``None`` (it ended).
    An answer that is missing (a failed request) diverges at 0 with ``answer`` ``None``.
    """

    sample: str
    position: int
    token_a: int | None
    token_b: int | None
    piece_a: str | None
    piece_b: str | None
    tokens_a: int
    tokens_b: int
    answer_a: str | None
    answer_b: str | None

    def describe(self) -> str:
        def side(token: int | None, piece: str | None, answer: str | None) -> str:
            if answer is None:
                return "no answer"
            return "end of answer" if token is None else f"id {token} {piece!r}"

        return (
            f"sample {self.sample}: first differing token at position {self.position}: "
            f"A {side(self.token_a, self.piece_a, self.answer_a)}, "
            f"B {side(self.token_b, self.piece_b, self.answer_b)} "
            f"(A {self.tokens_a} tokens, B {self.tokens_b})"
        )


@dataclass(frozen=True)
class BackendParity:
    """Per-sample agreement of two runs' answers, and the first divergence of each that differs."""

    label_a: str
    label_b: str
    n_samples: int
    identical: int
    divergences: tuple[Divergence, ...] = field(default=())

    @property
    def agreement(self) -> float:
        return self.identical / self.n_samples if self.n_samples else 0.0

    def summary(self) -> str:
        return (
            f"backend parity {self.label_a} vs {self.label_b}: {self.identical}/{self.n_samples} "
            f"answers identical ({self.agreement:.1%})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.label_a,
            "b": self.label_b,
            "samples": self.n_samples,
            "identical": self.identical,
            "agreement": self.agreement,
            "divergences": [asdict(d) for d in self.divergences],
        }


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int | None:
    """Index of the first differing token, ``None`` when the sequences are equal."""
    for position, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return position
    return None if len(a) == len(b) else min(len(a), len(b))


class CheckpointTokenizer:
    """The checkpoint's tokenizer as both backends load it (transformers' ``AutoTokenizer``;
    vLLM loads the same one), reduced to what parity needs."""

    def __init__(self, folder: Path) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise BackendParityError(
                f"{folder}: no such checkpoint folder; backend parity tokenises answers with "
                "the checkpoint's tokenizer: give the folder holding its tokenizer files"
            )
        try:
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise BackendParityError(
                "transformers is not installed (the checkpoint's tokenizer is loaded with it): "
                "pip install 'vlmhb-reports[parity]'"
            ) from exc
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:  # OSError, ValueError, the Rust library's bare Exception
            raise BackendParityError(f"{folder}: the tokenizer does not load: {exc}") from exc
        self.folder = folder

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` as an answer: no special tokens added (no BOS)."""
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def piece(self, token: int) -> str:
        return str(self._tokenizer.decode([token], skip_special_tokens=False))


def load_tokenizer(folder: Path) -> CheckpointTokenizer:
    return CheckpointTokenizer(folder)


def read_answers(path: Path) -> dict[str, str | None]:
    """``id -> answer`` of an answers file; a missing file or a record without text is an error."""
    path = Path(path)
    if not path.is_file():
        raise BackendParityError(f"{path}: no such answers file")
    try:
        records = read_jsonl(path)
    except WorkdirFileError as exc:
        raise BackendParityError(str(exc)) from None
    answers: dict[str, str | None] = {}
    for sample, record in records.items():
        answer = record.get("answer")
        if answer is not None and not isinstance(answer, str):
            raise BackendParityError(
                f"{path}: sample {sample}: 'answer' is {type(answer).__name__}, expected a "
                "string (or null for a failed request)"
            )
        answers[sample] = answer
    if not answers:
        raise BackendParityError(f"{path}: no answers in the file")
    return answers


def token_parity(
    a: Mapping[str, str | None],
    b: Mapping[str, str | None],
    tokenizer: CheckpointTokenizer,
    label_a: str = "A",
    label_b: str = "B",
) -> BackendParity:
    """Compare two runs' answers sample by sample; both must hold the same sample ids."""
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        raise BackendParityError(
            f"{label_a} and {label_b} must answer the same samples: only in {label_a}: "
            f"{', '.join(only_a[:5]) or 'none'}; only in {label_b}: {', '.join(only_b[:5]) or 'none'}"
        )
    if not a:
        raise BackendParityError(f"{label_a} and {label_b} hold no samples")

    def ids(text: str | None) -> list[int]:
        return [] if text is None else tokenizer.encode(text)

    def piece(token: int | None) -> str | None:
        return None if token is None else tokenizer.piece(token)

    identical, divergences = 0, []
    for sample in sorted(a, key=_natural):
        answer_a, answer_b = a[sample], b[sample]
        ids_a, ids_b = ids(answer_a), ids(answer_b)
        if answer_a is not None and answer_b is not None and answer_a == answer_b:
            identical += 1
            continue
        position = first_divergence(ids_a, ids_b)
        if position is None:  # different text, same tokens (or a failed request): part at 0
            position = 0
        token_a = ids_a[position] if position < len(ids_a) else None
        token_b = ids_b[position] if position < len(ids_b) else None
        divergences.append(
            Divergence(
                sample=sample,
                position=position,
                token_a=token_a,
                token_b=token_b,
                piece_a=piece(token_a),
                piece_b=piece(token_b),
                tokens_a=len(ids_a),
                tokens_b=len(ids_b),
                answer_a=answer_a,
                answer_b=answer_b,
            )
        )
    return BackendParity(label_a, label_b, len(a), identical, tuple(divergences))


def _natural(sample: str) -> tuple[int, int | str]:
    return (0, int(sample)) if sample.isdigit() else (1, sample)


def run_setup(workdir: Path, run: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(backend, checkpoint folder) of a run, from the ``run.json`` its infer stage wrote."""
    infer_id = run.get("infer_id")
    if not infer_id:
        return None, None
    config = read_object(Workdir(workdir).stage_dir("infer", str(infer_id)) / RUN_CONFIG_FILE)
    model = config.get("model") or {}
    load = {**(model.get("model") or {}), **(model.get("engine_args") or {})}
    checkpoint = load.get("model")
    if not checkpoint:
        return config.get("backend"), None
    # as the adapters read it: ${VLMHB_WORKDIR} is this work dir, other variables the environment's
    values = {**os.environ, "VLMHB_WORKDIR": str(Path(workdir).resolve())}
    return config.get("backend"), string.Template(str(checkpoint)).safe_substitute(values)


@dataclass(frozen=True)
class BackendPair:
    """Two runs of one checkpoint on two backends, same dataset and prompt."""

    run_a: Mapping[str, Any]
    run_b: Mapping[str, Any]
    backend_a: str
    backend_b: str
    checkpoint: str

    @property
    def label_a(self) -> str:
        return f"{self.run_a['model']} ({self.backend_a})"

    @property
    def label_b(self) -> str:
        return f"{self.run_b['model']} ({self.backend_b})"


def backend_pairs(workdir: Path, runs: Sequence[Mapping[str, Any]]) -> list[BackendPair]:
    """Every pair of runs of one checkpoint on two backends: what a report's section is about."""
    groups: dict[tuple[str, str, str], dict[str, Mapping[str, Any]]] = {}
    for run in runs:
        backend, checkpoint = run_setup(workdir, run)
        if backend and checkpoint:
            key = (checkpoint, str(run["dataset"]), str(run["prompt"]))
            groups.setdefault(key, {}).setdefault(backend, run)
    pairs = []
    for (checkpoint, _, _), by_backend in groups.items():
        ordered = sorted(by_backend.items())
        for i, (backend_a, run_a) in enumerate(ordered):
            for backend_b, run_b in ordered[i + 1 :]:
                pairs.append(BackendPair(run_a, run_b, backend_a, backend_b, checkpoint))
    return pairs


def run_answers(workdir: Path, run: Mapping[str, Any]) -> dict[str, str | None]:
    return read_answers(Workdir(workdir).stage_dir("infer", str(run["infer_id"])) / ANSWERS_FILE)


def report_parity(workdir: Path, runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per pair of backends in an experiment: the parity, or why it could not be had.

    Never raises for one pair's bad input: a report must still be written, so the reason is
    kept in the entry (``error``) and shown where the numbers would be.
    """
    found: list[dict[str, Any]] = []
    for pair in backend_pairs(workdir, runs):
        entry: dict[str, Any] = {
            "a": pair.label_a,
            "b": pair.label_b,
            "dataset": pair.run_a["dataset"],
            "prompt": pair.run_a["prompt"],
            "checkpoint": pair.checkpoint,
        }
        try:
            entry["parity"] = token_parity(
                run_answers(workdir, pair.run_a),
                run_answers(workdir, pair.run_b),
                load_tokenizer(Path(pair.checkpoint)),
                pair.label_a,
                pair.label_b,
            )
        except BackendParityError as exc:
            entry["error"] = str(exc)
        found.append(entry)
    return found


def parity_markdown(entries: Sequence[Mapping[str, Any]], examples: int = 5) -> str:
    """The leaderboard's ``Backend parity`` section ('' when the experiment has no pair)."""
    if not entries:
        return ""
    lines = [
        "",
        "## Backend parity",
        "",
        "Same checkpoint on two backends: answers identical per sample, and for those that "
        "differ the first differing token (checkpoint's tokenizer).",
        "",
    ]
    for entry in entries:
        where = f"{entry['dataset']}/{entry['prompt']}"
        parity = entry.get("parity")
        if parity is None:
            lines.append(
                f"- {entry['a']} vs {entry['b']} on {where}: not measured: {entry['error']}"
            )
            continue
        lines.append(
            f"- {entry['a']} vs {entry['b']} on {where}: {parity.identical}/{parity.n_samples} "
            f"identical ({parity.agreement:.1%})"
        )
        lines += [f"  - {d.describe()}" for d in parity.divergences[:examples]]
        if len(parity.divergences) > examples:
            lines.append(f"  - ... and {len(parity.divergences) - examples} more")
    return "\n".join(lines) + "\n"
