"""VQA accuracy (Antol et al., "VQA: Visual Question Answering", ICCV 2015; the VQAv2
evaluation script ``vqaEval.py``), written from the paper's formula and the script's answer
normalisation, so that a number printed here means what VQAv2/TextVQA numbers mean.

The paper scores an answer against the human annotators' answers as::

    Acc(ans) = min(#annotators who said ans / 3, 1)

and, "to be consistent with human accuracy", averages it over all n choose n-1 subsets of the
n annotators (10 choose 9 for VQAv2). With m of the n annotators matching, that average is::

    Acc = ( m * min((m - 1) / 3, 1) + (n - m) * min(m / 3, 1) ) / n

``averaging="leave-one-out"`` (the default) is that official average; ``averaging="direct"``
is the bare formula over all n answers. Leave-one-out needs at least two answers (with one,
every subset is empty and every score 0), so one answer is an error there.

Answer normalisation (the current script's ``processPunctuation`` then
``processDigitArticle``, GT-Vision-Lab/VQA as of 2021): newlines and tabs become spaces and
the ends are stripped; each of ``; / [ ] " { } ( ) = + \\ _ - > < @ ` , ? !`` is deleted
when it touches a space (or when the text holds a digit-comma-digit), else replaced by a
space; a period not followed by a digit is deleted; the text is lowercased and split on
whitespace; number words ``none``, ``zero``..``ten`` become digits; the articles ``a an
the`` are dropped; a known contraction written without its apostrophe gets it back
(``dont`` -> ``don't``); words are joined with one space.

The official script normalises only where the annotators disagree (VQAv2 ships its answers
normalised, and the EvalAI server normalises submissions); lmms-eval normalises predictions
always. References here are raw text, so the prediction and every answer are always
normalised; on already normalised answers that is the same thing. The period rule keeps the
script's quirk of at most 32 deletions per answer (``re.UNICODE`` passed as ``count``).

``compat="lmms-eval"`` is lmms-eval's ``textvqa_val`` score (its ``EvalAIAnswerProcessor``,
from MMF): before the normalisation above, the answer is lowercased, every ``,`` and ``?``
removed, ``'s`` split off as a word of its own (``what's`` -> ``what 's``) and the ends
stripped. So ``a,b`` becomes ``ab`` (ours: ``a b``), ``1,000-2,000`` becomes ``1000 2000``
(ours: ``10002000``), and ``what's`` no longer equals ``whats`` (which the contraction table
turns into ``what's``). Averaging is the leave-one-out one (lmms-eval's loop over the
annotators); the variant refuses normalisation options and ``averaging="direct"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from ._inputs import accepted_at, check_pairs, check_variant, text_at
from ._normalize import normalizer, options_from
from ._result import MetricResult, metric

_PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<")
_PUNCTUATION += ("@", "`", ",", "?", "!")
# The script's pattern: its "(?!<=\d)" is a (no-op) lookahead, so any period that is not
# followed by a digit goes.
_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_DIGIT_COMMA_DIGIT = re.compile(r"(\d)(,)(\d)")
_PERIOD_COUNT = int(re.UNICODE)  # the script passes re.UNICODE (32) where count belongs
_NUMBERS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = frozenset({"a", "an", "the"})
# The script's contraction table, as "written-without=restored" pairs. Entries with capitals
# never match (the lookup comes after lower()), as in the script.
_CONTRACTIONS_TABLE = """
aint=ain't arent=aren't cant=can't couldve=could've couldnt=couldn't couldn'tve=couldn't've
couldnt've=couldn't've didnt=didn't doesnt=doesn't dont=don't hadnt=hadn't hadnt've=hadn't've
hadn'tve=hadn't've hasnt=hasn't havent=haven't hed=he'd hed've=he'd've he'dve=he'd've hes=he's
howd=how'd howll=how'll hows=how's Id've=I'd've I'dve=I'd've Im=I'm Ive=I've isnt=isn't
itd=it'd itd've=it'd've it'dve=it'd've itll=it'll let's=let's maam=ma'am mightnt=mightn't
mightnt've=mightn't've mightn'tve=mightn't've mightve=might've mustnt=mustn't mustve=must've
neednt=needn't notve=not've oclock=o'clock oughtnt=oughtn't ow's'at='ow's'at 'ows'at='ow's'at
'ow'sat='ow's'at shant=shan't shed've=she'd've she'dve=she'd've she's=she's shouldve=should've
shouldnt=shouldn't shouldnt've=shouldn't've shouldn'tve=shouldn't've somebody'd=somebodyd
somebodyd've=somebody'd've somebody'dve=somebody'd've somebodyll=somebody'll
somebodys=somebody's someoned=someone'd someoned've=someone'd've someone'dve=someone'd've
someonell=someone'll someones=someone's somethingd=something'd somethingd've=something'd've
something'dve=something'd've somethingll=something'll thats=that's thered=there'd
thered've=there'd've there'dve=there'd've therere=there're theres=there's theyd=they'd
theyd've=they'd've they'dve=they'd've theyll=they'll theyre=they're theyve=they've twas='twas
wasnt=wasn't wed've=we'd've we'dve=we'd've weve=we've werent=weren't whatll=what'll
whatre=what're whats=what's whatve=what've whens=when's whered=where'd wheres=where's
whereve=where've whod=who'd whod've=who'd've who'dve=who'd've wholl=who'll whos=who's
whove=who've whyll=why'll whyre=why're whys=why's wont=won't wouldve=would've wouldnt=wouldn't
wouldnt've=wouldn't've wouldn'tve=wouldn't've yall=y'all yall'll=y'all'll y'allll=y'all'll
yall'd've=y'all'd've y'alld've=y'all'd've y'all'dve=y'all'd've youd=you'd youd've=you'd've
you'dve=you'd've youll=you'll youre=you're youve=you've
"""
_CONTRACTIONS = dict(pair.split("=", 1) for pair in _CONTRACTIONS_TABLE.split())
AVERAGING = ("leave-one-out", "direct")
VQA_VARIANTS = ("lmms-eval",)


def _punctuation(text: str) -> str:
    out = text
    digit_comma = _DIGIT_COMMA_DIGIT.search(text) is not None
    for p in _PUNCTUATION:
        if p + " " in text or " " + p in text or digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD.sub("", out, count=_PERIOD_COUNT)


def _digits_articles(text: str) -> str:
    words = [_NUMBERS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in _ARTICLES]
    return " ".join(_CONTRACTIONS.get(w, w) for w in words)


@lru_cache(maxsize=65536)
def vqa_normalize(answer: str) -> str:
    """The VQAv2 evaluation script's answer normalisation (module docstring)."""
    answer = answer.replace("\n", " ").replace("\t", " ").strip()
    return _digits_articles(_punctuation(answer))


def lmms_eval_vqa_normalize(answer: str) -> str:
    """lmms-eval's ``EvalAIAnswerProcessor``: its word_tokenize, then the VQAv2 rules."""
    answer = answer.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    return vqa_normalize(answer)


def _accuracy(matches: int, answers: int, averaging: str) -> float:
    if averaging == "direct":
        return min(matches / 3.0, 1.0)
    left_out_matching = matches * min((matches - 1) / 3.0, 1.0)
    left_out_other = (answers - matches) * min(matches / 3.0, 1.0)
    return (left_out_matching + left_out_other) / answers


@metric("vqa_accuracy", "1", variants=VQA_VARIANTS)
def vqa_accuracy(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    averaging: str = "leave-one-out",
    compat: str | None = None,
    **params: bool,
) -> MetricResult:
    """VQA accuracy; a reference is the list of every annotator's answer (repeats count).

    ``averaging="leave-one-out"`` is the official VQAv2 average over the n choose n-1
    annotator subsets; ``"direct"`` is ``min(#matching / 3, 1)`` over all answers. The
    package's normalisation options (all off) run before the VQA normalisation.
    ``compat="lmms-eval"`` processes answers as lmms-eval's TextVQA task does (module
    docstring).
    """
    check_pairs(predictions, references)
    if averaging not in AVERAGING:
        raise ValueError(
            f"vqa_accuracy: averaging must be one of {', '.join(AVERAGING)}, got {averaging!r}"
        )
    check_variant("vqa_accuracy", compat, VQA_VARIANTS, params)
    if compat is not None and averaging != "leave-one-out":
        raise ValueError(
            f"vqa_accuracy: compat={compat!r} averages leave-one-out, as lmms-eval; remove "
            "averaging (it applies to compat=None only)"
        )
    process = vqa_normalize if compat is None else lmms_eval_vqa_normalize
    options = options_from("vqa_accuracy", params)
    norm = normalizer(options)
    per_sample: list[float] = []
    for i, (hyp, ref) in enumerate(zip(predictions, references, strict=True)):
        prediction = process(norm(text_at(hyp, "predictions", i)))
        answers = [process(norm(a)) for a in accepted_at(ref, i)]
        if averaging == "leave-one-out" and len(answers) < 2:
            raise ValueError(
                f"vqa_accuracy: references[{i}] has one answer; leave-one-out averaging needs "
                "the annotators' answers (at least 2; VQAv2 has 10). Use averaging='direct' "
                "or exact_match for single-reference data"
            )
        matches = sum(1 for a in answers if a == prediction)
        per_sample.append(_accuracy(matches, len(answers), averaging))
    value = sum(per_sample) / len(per_sample) if per_sample else 0.0
    return MetricResult(
        name="vqa_accuracy",
        version="1",
        value=value,
        per_sample=per_sample,
        details={"averaging": averaging, "normalization": options.as_dict()},
        # a variant is named in params; ours keeps version 1's params (and so its identity)
        params={
            "averaging": averaging,
            **options.as_dict(),
            **({"compat": compat} if compat else {}),
        },
    )
