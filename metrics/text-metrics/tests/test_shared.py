"""What every metric of the package shares: normalisation names, identity, entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
import vlmhb_text_metrics as tm
from vlmhb_text_metrics import METRICS, MetricResult, Normalization, normalize


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_metric_accepts_the_same_normalisation_names(metric):
    hyps, refs = ["В ЛЕСУ РОДИЛАСЬ ЁЛОЧКА,  ЗЕЛЁНАЯ!"], ["в лесу родилась елочка зеленая"]
    options = dict(
        lowercase=True, nfkc=True, collapse_whitespace=True, strip_punctuation=True, yo_to_e=True
    )
    if metric.name == "vqa_accuracy":  # scored against several annotators' answers
        refs = [refs * 4]  # 4 of 4 agree: every 3-subset has 3 matches
    result = metric(hyps, refs, **options)
    assert isinstance(result, MetricResult)
    perfect = 0.0 if metric.name in {"cer", "wer"} else 1.0
    assert result.value == pytest.approx(perfect)
    assert result.details["normalization"] == options
    assert (result.name, result.version) == (metric.name, metric.version)
    with pytest.raises(ValueError, match="unknown parameter"):
        metric(hyps, refs, lower_case=True)


def test_normalisation_steps():
    assert normalize("ＡＢＣ", nfkc=True) == "ABC"
    assert normalize("Ёж ёлка", yo_to_e=True) == "Еж елка"
    assert normalize(" a \t\n b ", collapse_whitespace=True) == "a b"
    assert normalize("«Привет», — мир!", strip_punctuation=True) == "Привет  мир"
    assert normalize("x", Normalization()) == "x"


def test_entry_points_name_every_metric():
    found = {ep.name: ep for ep in entry_points(group="vlmhyperbench.metrics")}
    for metric in METRICS:
        assert found[metric.name].load() is metric
        assert metric.key == f"{metric.name}@{metric.version}"


def test_public_api():
    assert set(tm.__all__) >= {"cer", "wer", "anls", "exact_match", "bleu", "chrf", "MetricResult"}


def test_result_to_dict():
    d = tm.cer(["ab"], ["ab"]).to_dict()
    assert d["key"] == "cer@2" and d["value"] == 0.0 and d["per_sample"] == [0.0]
    assert d["variant"] is None and d["column"] == "cer" and d["params"]["compat"] is None


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_variant_is_named_by_its_identity(metric):
    """Each listed variant is callable by ``compat=`` and names its column after itself,
    the way the core names leaderboard columns (``anls@lmms-eval``)."""
    refs = [["ab"] * 3] if metric.name == "vqa_accuracy" else ["ab"]
    base = metric(["ab"], refs)
    assert base.variant is None and base.column == metric.name
    for variant in metric.variants:
        result = metric(["ab"], refs, compat=variant)
        assert (result.name, result.version) == (metric.name, metric.version)
        assert result.params["compat"] == variant
        assert result.column == f"{metric.name}@{variant}"
        # the identity is stable: the same call gives the same params
        assert metric(["ab"], refs, compat=variant).params == result.params


def test_declared_variants():
    assert tm.anls.variants == ("lmms-eval", "vlmevalkit")
    assert tm.cer.variants == tm.wer.variants == ("jiwer",)
    assert tm.vqa_accuracy.variants == ("lmms-eval",)
    assert tm.ocrbench_accuracy.variants == ("lmms-eval",)
    assert tm.relaxed_accuracy.variants == ("vlmevalkit",)
    with pytest.raises(ValueError, match="unknown compat 'vlmeval'"):
        tm.anls(["a"], ["a"], compat="vlmeval")
