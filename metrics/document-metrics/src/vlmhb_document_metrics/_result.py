"""The result every metric returns, and the decorator that stamps a metric's identity.

Each metric package carries its own copy of these few lines (same shape in all of them) so
that it installs alone, without the core or a sibling metric package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class MetricResult:
    """Aggregate and per-sample scores of one metric over one set of pairs.

    ``per_sample`` has one float per (prediction, reference) pair, in input order, so a
    caller can regroup samples (by document type, by question) without re-scoring.
    ``details`` holds what a reader needs to trust the number (counts, per-sample reasons).
    ``params`` holds the parameters that decided the number (defaults filled in), so that
    ``(name, version, params)`` identifies the computation; ``params["compat"]`` names a
    variant that reproduces another tool's definition (``anls`` with ``compat="lmms-eval"``).
    """

    name: str
    version: str
    value: float
    per_sample: list[float]
    details: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``name@version``: what results record, so a change of algorithm never mixes."""
        return f"{self.name}@{self.version}"

    @property
    def variant(self) -> str | None:
        """The other tool's definition this result reproduces, or None for ours."""
        compat = self.params.get("compat")
        return str(compat) if compat else None

    @property
    def column(self) -> str:
        """Leaderboard column: ``name``, or ``name@variant`` (``anls@lmms-eval``)."""
        return f"{self.name}@{self.variant}" if self.variant else self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "key": self.key,
            "variant": self.variant,
            "column": self.column,
            "params": dict(self.params),
            "value": self.value,
            "per_sample": list(self.per_sample),
            "details": dict(self.details),
        }


def metric(name: str, version: str, variants: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Give a metric function its registry identity (``.name``, ``.version``, ``.key``).

    ``variants`` lists the values its ``compat`` parameter accepts besides the default (our
    definition), so a caller can re-score under every variant without knowing the metric.
    The function itself stays a plain function; callers and the core read the attributes
    without calling it (``vlmhb metrics list``).
    """

    def stamp(func: F) -> F:
        func.name = name  # type: ignore[attr-defined]
        func.version = version  # type: ignore[attr-defined]
        func.key = f"{name}@{version}"  # type: ignore[attr-defined]
        func.variants = tuple(variants)  # type: ignore[attr-defined]
        return func

    return stamp
