"""Answer agreement (backend parity) and pairing two runs on sample ids."""

from __future__ import annotations

import pytest
from vlmhb_statistics import Pairing, answer_agreement, normalize_answer, pair_by_id


def test_exact_and_normalised_agreement():
    a = {"q1": "Иванов", "q2": "12.03.1990", "q3": "Ёлкин  Пётр", "q4": "Moscow", "q5": "42"}
    b = {"q1": "Иванов", "q2": "12.03.1990.", "q3": "елкин петр", "q4": "Kazan", "q5": "42"}
    result = answer_agreement(a, b)
    assert (result.n_samples, result.exact_matches, result.normalized_matches) == (5, 2, 4)
    assert (result.exact, result.normalized) == (0.4, 0.8)
    assert result.differing == ("q4",)
    assert result.to_dict()["normalized"] == 0.8


def test_sequences_are_paired_by_position():
    result = answer_agreement(["A", "b", None], ["a", "b", None])
    assert (result.exact_matches, result.normalized_matches) == (1, 2)
    assert result.differing == ("2",)  # two missing answers are not an agreement


def test_normalisation_steps():
    assert normalize_answer("  ＡＢＣ,\tЁж!  ") == "abc еж"  # NFKC, case, ё, punctuation, spaces
    assert normalize_answer("«Да» — нет…") == "да нет"


def test_agreement_errors_name_the_sample():
    with pytest.raises(TypeError, match=r"b answer for sample 'q2' is int"):
        answer_agreement({"q1": "x", "q2": "y"}, {"q1": "x", "q2": 7})
    with pytest.raises(TypeError, match="b answer for sample at position 0 is int"):
        answer_agreement(["x"], [7])
    with pytest.raises(ValueError, match="a has 2 answers and b has 1"):
        answer_agreement(["x", "y"], ["x"])
    with pytest.raises(TypeError, match="a is one string"):
        answer_agreement("xy", ["x", "y"])
    with pytest.raises(ValueError, match="no samples"):
        answer_agreement([], [])


def test_pair_by_id_drops_only_on_request():
    a = {"s1": 1.0, "s2": 2.0, "s3": 3.0}
    b = {"s3": 30.0, "s1": 10.0, "s4": 40.0}
    with pytest.raises(ValueError, match=r"only in a: 's2'; 1 sample\(s\) only in b: 's4'"):
        pair_by_id(a, b)
    pairing = pair_by_id(a, b, missing="drop")
    assert pairing == Pairing(
        ids=("s1", "s3"), a=(1.0, 3.0), b=(10.0, 30.0), only_in_a=("s2",), only_in_b=("s4",)
    )
    with pytest.raises(ValueError, match="share no sample id"):
        pair_by_id({"x": 1}, {"y": 1}, missing="drop")
    with pytest.raises(ValueError, match="missing must be 'error' or 'drop'"):
        pair_by_id(a, b, missing="skip")  # type: ignore[arg-type]


def test_long_id_lists_are_shortened():
    a = {f"s{i:02d}": 0.0 for i in range(12)}
    with pytest.raises(ValueError, match=r"12 sample\(s\) only in a: 's00', .*'s04' and 7 more"):
        pair_by_id(a, {"t": 0.0})


def test_cohen_kappa_of_a_textbook_table() -> None:
    """Wikipedia's example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> p_o 0.7, p_e 0.5."""
    from vlmhb_statistics import cohen_kappa

    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(["c"] * 4, ["c"] * 4) == 1.0
    flipped = ["no" if x == "yes" else "yes" for x in a]
    assert cohen_kappa(a, flipped) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="a has 2 labels and b has 1"):
        cohen_kappa(["x", "y"], ["x"])
    with pytest.raises(TypeError, match="one label per item"):
        cohen_kappa("xy", "xy")
