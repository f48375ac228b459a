"""OCRBench accuracy: hand-worked goldens, then the package against OCRBench's scoring loop
written out here as the authors' script has it, on seeded random answers."""

from __future__ import annotations

import random

import pytest
from vlmhb_text_metrics import ocrbench_accuracy, ocrbench_normalize


@pytest.mark.parametrize(
    ("prediction", "answer", "doc_class", "score"),
    [
        ("The shop is called STARBUCKS.", "starbucks", "IIIT5K", 1.0),  # contained, case-blind
        ("starbucks", "Starbucks Coffee", "IIIT5K", 0.0),  # the answer must be in the answer
        ("  CENTRAL\nPARK ", "central park", "SROIE", 1.0),  # newline -> space, ends stripped
        ("central  park", "central park", "SROIE", 0.0),  # inner spaces are not collapsed
        ("$x^{2}+1$", "x ^ { 2 } + 1", "HME100k", 1.0),  # HME100k: spaces removed
        ("X^{2}+1", "x ^ { 2 } + 1", "HME100k", 0.0),  # ...and case kept
        ("X^{2}+1", "x ^ { 2 } + 1", "IIIT5K", 0.0),  # elsewhere spaces count
        ("\\frac {a}\n{b}", "\\frac{a}{b}", "HME100k", 1.0),  # a newline is a space, removed
        ("a\tb", "ab", "HME100k", 0.0),  # only " " is removed inside, as in the script
        ("", "abc", "IIIT5K", 0.0),
    ],
)
def test_by_hand(prediction, answer, doc_class, score):
    result = ocrbench_accuracy([prediction], [[answer]], doc_class=[doc_class])
    assert result.per_sample == [score]


def test_several_answers_best_counts_and_the_value_is_the_share():
    result = ocrbench_accuracy(
        ["it says 1,000", "no idea", "x"],
        [["1000", "1,000"], ["hello", "world"], "x"],
        doc_class=["ChartQA", "docVQA", None],
    )
    assert result.per_sample == [1.0, 0.0, 1.0]
    assert result.value == pytest.approx(2 / 3)
    assert result.details["correct"] == 2 and result.details["space_blind_samples"] == 0
    assert result.key == "ocrbench_accuracy@1" and result.column == "ocrbench_accuracy"
    assert result.params["space_blind"] == ["HME100k"]


def test_without_doc_class_every_sample_gets_the_general_rule():
    result = ocrbench_accuracy(["x^{2}"], ["x ^ { 2 }"])
    assert result.per_sample == [0.0] and result.details["doc_class_given"] is False
    assert ocrbench_accuracy(["x^{2}"], ["x ^ { 2 }"], doc_class=["HME100k"]).value == 1.0


def test_space_blind_names_other_sources():
    result = ocrbench_accuracy(
        ["ab"], ["a b"], doc_class=["MyFormulas"], space_blind=["MyFormulas"]
    )
    assert result.value == 1.0 and result.params["space_blind"] == ["MyFormulas"]


def test_normalisation_options_run_first():
    assert ocrbench_accuracy(["Ёлка!"], ["елка"]).value == 0.0
    assert ocrbench_accuracy(["Ёлка!"], ["елка"], yo_to_e=True).value == 1.0


def test_bad_input_names_the_sample():
    with pytest.raises(ValueError, match=r"references\[1\]\[0\] is empty after normalisation"):
        ocrbench_accuracy(["a", "b"], ["a", [" \n"]])
    with pytest.raises(ValueError, match="doc_class has 1 values for 2 samples"):
        ocrbench_accuracy(["a", "b"], ["a", "b"], doc_class=["x"])
    with pytest.raises(ValueError, match="doc_class must be a list"):
        ocrbench_accuracy(["a"], ["a"], doc_class="HME100k")
    with pytest.raises(ValueError, match=r"doc_class\[0\] is int"):
        ocrbench_accuracy(["a"], ["a"], doc_class=[3])
    with pytest.raises(ValueError, match="space_blind must be a list"):
        ocrbench_accuracy(["a"], ["a"], space_blind="HME100k")
    with pytest.raises(ValueError, match=r"predictions\[0\] is None"):
        ocrbench_accuracy([None], ["a"])
    with pytest.raises(ValueError, match="unknown parameter"):
        ocrbench_accuracy(["a"], ["a"], case_blind=True)


def test_the_eval_stage_is_told_which_sample_columns_it_needs():
    assert ocrbench_accuracy.sample_fields == ("doc_class",)


def _script_score(predict: str, answers, dataset_name: str) -> int:
    """OCRBench's scoring loop as the authors' script writes it (MultimodalOCR)."""
    result = 0
    if dataset_name == "HME100k":
        if type(answers) == list:  # noqa: E721 - as written in the script
            for j in range(len(answers)):
                answer = answers[j].strip().replace("\n", " ").replace(" ", "")
                predict = predict.strip().replace("\n", " ").replace(" ", "")
                if answer in predict:
                    result = 1
        else:
            answers = answers.strip().replace("\n", " ").replace(" ", "")
            predict = predict.strip().replace("\n", " ").replace(" ", "")
            if answers in predict:
                result = 1
    else:
        if type(answers) == list:  # noqa: E721
            for j in range(len(answers)):
                answer = answers[j].lower().strip().replace("\n", " ")
                predict = predict.lower().strip().replace("\n", " ")
                if answer in predict:
                    result = 1
        else:
            answers = answers.lower().strip().replace("\n", " ")
            predict = predict.lower().strip().replace("\n", " ")
            if answers in predict:
                result = 1
    return result


def test_matches_the_script_on_random_answers():
    rng = random.Random(20)
    pieces = ["A", "b", "C d", " ", "\n", "\t", "x^{2}", "\\frac", "{", "}", "1,0", "Ё", "."]
    sources = ["HME100k", "IIIT5K", "docVQA", "SROIE"]
    hyps, refs, classes = [], [], []
    while len(hyps) < 2000:
        answers = ["".join(rng.choices(pieces, k=rng.randint(1, 3))) for _ in range(2)]
        answers = answers if rng.random() < 0.5 else answers[0]
        source = rng.choice(sources)
        listed = answers if isinstance(answers, list) else [answers]
        if any(not ocrbench_normalize(a, source == "HME100k") for a in listed):
            continue  # an empty answer: the script finds it anywhere, the metric refuses it
        base = rng.choice(listed)
        hyp = "".join(rng.choices(pieces, k=rng.randint(0, 2))) + (
            base.upper() if rng.random() < 0.3 else base
        )
        hyp += "".join(rng.choices(pieces, k=rng.randint(0, 2)))
        if rng.random() < 0.3:
            hyp = "".join(rng.choices(pieces, k=rng.randint(0, 5)))
        hyps.append(hyp)
        refs.append(answers)
        classes.append(source)
    got = ocrbench_accuracy(hyps, refs, doc_class=classes).per_sample
    expected = [float(_script_score(h, r, c)) for h, r, c in zip(hyps, refs, classes, strict=True)]
    assert got == expected
    assert 0 < sum(got) < len(got)  # both outcomes occur


def test_lmms_eval_variant_folds_fullwidth_to_ascii():
    """Issue 29: lmms-eval >= 0.7.3 folds fullwidth forms before comparing; the authors' rule
    (our default) does not, so a fullwidth answer is wrong there."""
    predictions = ["ＳＴＯＰ", "答案：１２３", "ｘ＾｛２｝", "a\u3000b"]
    references = [["stop"], ["123"], ["x^{2}"], ["a b"]]
    classes = ["IIIT5K", "docVQA", "HME100k", "IIIT5K"]
    ours = ocrbench_accuracy(predictions, references, doc_class=classes)
    assert ours.per_sample == [0.0, 0.0, 0.0, 0.0]
    lmms = ocrbench_accuracy(predictions, references, doc_class=classes, compat="lmms-eval")
    assert lmms.per_sample == [1.0, 1.0, 0.0, 1.0]  # HME100k keeps the authors' rule
    assert lmms.column == "ocrbench_accuracy@lmms-eval" and "compat" not in ours.params
    with pytest.raises(ValueError, match="fixes its own normalisation"):
        ocrbench_accuracy(["a"], ["a"], compat="lmms-eval", nfkc=True)
