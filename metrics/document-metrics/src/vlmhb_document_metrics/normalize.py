"""OmniDocBench's text normalisation, applied to both sides before an edit distance.

OmniDocBench (``clean_string``) compares text blocks by their letters and digits only, so a
model is not charged for Markdown markup (``#``, ``**``, list bullets), punctuation or line
breaks, which its ground truth writes inconsistently. The rule, written from its published
definition:

1. the two-character sequences backslash-``t``, backslash-``n``, ``/t`` and ``/n`` are
   removed, as are tab and newline characters;
2. every character that is not a word character (Unicode letters, digits, underscore; CJK
   ideographs are letters) is removed, spaces included.

OmniDocBench also turns inline LaTeX with ``\\``, ``^`` or ``_`` into Unicode first
(``textblock2unicode``, via pylatexenc); formulas are not scored here, so that step is not
taken, and ``$x^2$`` becomes ``x2``.
"""

from __future__ import annotations

import re

_ESCAPES = ("\\t", "\\n", "\t", "\n", "/t", "/n")
_NOT_WORD = re.compile(r"[^\w\u4e00-\u9fff]")


def clean_text(text: str) -> str:
    """The block as OmniDocBench compares it: word characters only (module docstring)."""
    for escape in _ESCAPES:
        text = text.replace(escape, "")
    return _NOT_WORD.sub("", text)
