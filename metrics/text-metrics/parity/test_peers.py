"""Each ``compat`` variant against the peer's own scoring code, installed from PyPI.

Run by ``nox -s parity-peers`` (the peers are pinned in ``peers.txt``; ``peers.py`` says how
their scorers are imported without torch). Every test scores the same generated pairs
(``pairs.py``) with our variant and with the peer's function, and compares sample by sample.
"""

from __future__ import annotations

import random
import re
from importlib.metadata import version
from pathlib import Path

import pairs
import peers
import pytest
from vlmhb_text_metrics import anls, ocrbench_accuracy, relaxed_accuracy, vqa_accuracy

LMMS = peers.lmms_eval()
VLMEVALKIT = peers.vlmevalkit()
PAIRS = pairs.generated_pairs(3000, seed=29)
VQA_PAIRS = pairs.generated_pairs(3000, seed=291, min_answers=2)
OCRBENCH_SOURCES = ("HME100k", "IIIT5K", "docVQA", "ESTVQA")


def test_the_generated_pairs_cover_what_splits_the_definitions():
    """A parity test is only as good as its pairs: each kind of answer occurs."""
    texts = [p for p, _ in PAIRS] + [a for _, answers in PAIRS for a in answers]
    checks = {
        "upper and lower case": lambda t: t != t.lower() and t != t.upper(),
        "punctuation": lambda t: re.search(r"[,.?!\-\"'()]", t),
        "percent": lambda t: "%" in t,
        "thousands separator": lambda t: re.search(r"\d,\d", t),
        "unit": lambda t: "kg" in t,
        "article": lambda t: re.match(r"(?i)(the|an?) ", t),
        "contraction without apostrophe": lambda t: t in ("dont", "whats"),
        "fullwidth": lambda t: re.search("[\uff01-\uff5e]", t),
        "cyrillic": lambda t: re.search("[а-яё]", t.lower()),
        "empty": lambda t: not t.strip(),
    }
    for name, check in checks.items():
        assert sum(1 for t in texts if check(t)) >= 10, name
    assert sum(1 for _, answers in PAIRS if len(answers) > 1) > 1000
    at_threshold = anls([p for p, _ in PAIRS], [a for _, a in PAIRS], compat="lmms-eval")
    assert 0.5 in at_threshold.per_sample  # a similarity of exactly 0.5 occurs


def test_anls_lmms_eval_equals_lmms_eval_anls():
    """lmms-eval's ``anls`` metric (docvqa_val, infovqa_val)."""
    ours = anls([p for p, _ in PAIRS], [a for _, a in PAIRS], compat="lmms-eval").per_sample
    theirs = [LMMS.anls(answers, [prediction])["anls"] for prediction, answers in PAIRS]
    assert ours == pytest.approx(theirs, abs=1e-12)


@pytest.mark.parametrize("dataset", ["DocVQA_VAL", "InfoVQA_VAL"])
def test_anls_vlmevalkit_equals_vlmevalkit_docvqa_and_infovqa(dataset):
    """VLMEvalKit's DocVQA / InfoVQA score: ``process_line(..., "anls")`` then
    ``hit_calculate`` (normalised ANLS, a similarity of exactly 0.5 kept)."""
    ours = anls([p for p, _ in PAIRS], [a for _, a in PAIRS], compat="vlmevalkit").per_sample
    lines = [
        VLMEVALKIT.process_line({"answer": str(answers), "prediction": prediction}, "anls")
        for prediction, answers in PAIRS
    ]
    theirs = VLMEVALKIT.hit_calculate(lines, dataset)
    assert ours == pytest.approx([float(x) for x in theirs], abs=1e-12)


def test_vqa_accuracy_lmms_eval_equals_lmms_eval_textvqa():
    """lmms-eval's ``textvqa_val`` score (``textvqa_process_results``: EvalAI processing,
    leave-one-out over the annotators)."""
    ours = vqa_accuracy(
        [p for p, _ in VQA_PAIRS], [a for _, a in VQA_PAIRS], compat="lmms-eval"
    ).per_sample
    theirs = [
        LMMS.textvqa.textvqa_process_results(
            {"answers": list(answers), "question_id": i}, [prediction]
        )["exact_match"]
        for i, (prediction, answers) in enumerate(VQA_PAIRS)
    ]
    assert ours == pytest.approx(theirs, abs=1e-12)
    default = vqa_accuracy([p for p, _ in VQA_PAIRS], [a for _, a in VQA_PAIRS]).per_sample
    assert default != ours  # the variant exists because the two differ on such answers


def test_vqa_accuracy_lmms_eval_refuses_one_answer_where_lmms_eval_scores_zero():
    """A documented difference: lmms-eval's leave-one-out loop gives 0 to a sample with one
    answer (no other annotator can agree); ours says it cannot be scored that way."""
    theirs = LMMS.textvqa.textvqa_process_results({"answers": ["a"], "question_id": 0}, ["a"])
    assert theirs["exact_match"] == 0
    with pytest.raises(ValueError, match="leave-one-out averaging needs"):
        vqa_accuracy(["a"], [["a"]], compat="lmms-eval")


def _ocrbench_samples() -> list[tuple[str, list[str], str]]:
    rng = random.Random(2907)
    return [(p, a, rng.choice(OCRBENCH_SOURCES)) for p, a in PAIRS]


@pytest.mark.parametrize("compat", [None, "lmms-eval"])
def test_ocrbench_accuracy_against_lmms_eval_ocrbench(compat):
    """lmms-eval's ``ocrbench_process_results`` (0.7.3 folds fullwidth forms to ASCII). The
    variant equals it on every sample; the default (the authors' rule) equals it where no
    fullwidth form occurs. Both refuse an answer that normalises to "" (lmms-eval counts it
    as found in any prediction)."""
    refused = compared = 0
    for prediction, answers, source in _ocrbench_samples():
        doc = {"answer": answers, "dataset": source, "question_type": "Doc-oriented VQA"}
        theirs = LMMS.ocrbench.ocrbench_process_results(doc, [prediction])
        theirs = theirs["ocrbench_accuracy"]["score"]
        try:
            ours = ocrbench_accuracy([prediction], [answers], doc_class=[source], compat=compat)
        except ValueError as error:
            assert "empty after normalisation" in str(error)
            assert theirs == 1
            refused += 1
            continue
        fullwidth = re.search("[\uff01-\uff5e\u3000]", prediction + "".join(answers))
        if compat == "lmms-eval" or not fullwidth or source == "HME100k":
            assert ours.per_sample == [float(theirs)], (prediction, answers, source)
            compared += 1
    assert refused > 0 and compared > 1500


def test_relaxed_accuracy_equals_lmms_eval_chartqa():
    """lmms-eval's ``chartqa_process_results`` (one answer per sample, as ChartQA has)."""
    for prediction, answers in PAIRS:
        doc = {"answer": answers[0], "type": "human_test"}
        theirs = LMMS.chartqa.chartqa_process_results(doc, [prediction])["relaxed_overall"]
        assert relaxed_accuracy([prediction], [answers[0]]).value == theirs, (prediction, answers)


def test_relaxed_accuracy_vlmevalkit_equals_vlmevalkit_chartqa():
    """VLMEvalKit's ChartQA score: ``process_line(..., "relaxed_accuracy")`` (the prediction
    stripped) and ``hit_calculate`` (the best answer)."""
    lines = [
        VLMEVALKIT.process_line(
            {"answer": str(answers), "prediction": prediction}, "relaxed_accuracy"
        )
        for prediction, answers in PAIRS
    ]
    theirs = [float(x) for x in VLMEVALKIT.hit_calculate(lines, "ChartQA_TEST")]
    predictions, references = [p for p, _ in PAIRS], [a for _, a in PAIRS]
    assert relaxed_accuracy(predictions, references, compat="vlmevalkit").per_sample == theirs
    assert relaxed_accuracy(predictions, references).per_sample != theirs  # stripping counts


def test_readme_names_the_peer_versions_checked_here():
    """The README's parity table quotes the versions these tests ran against."""
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    for package in ("lmms-eval", "ms-vlmeval"):
        assert f"{package} {version(package)}" in readme, package
