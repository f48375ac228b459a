"""The one machine-readable line every benchmark prints last, read by ``bench/summary.py``.

``BENCH-RESULT {"bench": ..., "figures": [{"name", "value", "unit", "goal", "met"}]}``: the
human output above it stays as it is; this line lets one table show every figure against
its goal without parsing prose. ``goal`` is text for people (``">= 0.8x"``), ``met`` is
``true``/``false``, or ``null`` for a figure printed without a goal (a reference).
"""

from __future__ import annotations

import json
import math
from typing import Any

PREFIX = "BENCH-RESULT "


def figure(
    name: str, value: float | int | None, unit: str, goal: str | None = None, met: Any = None
) -> dict[str, Any]:
    """One figure; a NaN or infinite value becomes null (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "goal": goal,
        "met": None if met is None else bool(met),
    }


def emit(bench: str, figures: list[dict[str, Any]]) -> None:
    """Print the result line (flushed: a later crash must not swallow it)."""
    line = json.dumps({"bench": bench, "figures": figures}, ensure_ascii=False)
    print(PREFIX + line, flush=True)
