"""Benchmark of reading the registries (figures printed, no thresholds).

Run from the repository root:

    uv run --no-project --with ./dependency-injector --with ./core python bench/bench_registry.py [--rounds 5]

``open_registry`` of this repository's ``registries/`` (every command and stage pays it),
against the same files parsed as the registry reader once did, in the same run: pure-Python
PyYAML, each file parsed twice (composed to size its aliases, then loaded). The reader now
parses each file once, with libyaml when PyYAML has it. Goal: <= 0.5x the reference (which
leaves out the validation that `open_registry` also does, so the ratio flatters nothing).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _result import emit, figure
from vlmhyperbench.api import open_registry

ROOT = Path(__file__).resolve().parents[1]


def reference(files: list[Path]) -> None:
    """What the reader did before: the pure-Python parser, twice per file."""
    for path in files:
        text = path.read_text(encoding="utf-8")
        yaml.compose(text, Loader=yaml.SafeLoader)
        yaml.load(text, Loader=yaml.SafeLoader)


def best_of(rounds: int, work) -> float:
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--registries", type=Path, default=ROOT / "registries")
    args = parser.parse_args()
    files = sorted(args.registries.rglob("*.yaml")) + sorted(args.registries.rglob("*.yml"))
    open_registry(args.registries)  # imports and caches warm
    now = best_of(args.rounds, lambda: open_registry(args.registries))
    before = best_of(args.rounds, lambda: reference(files))
    ratio = now / before
    print(f"registries: {len(files)} YAML files in {args.registries}")
    print(
        f"  open_registry (parse, validate, resolve)   {now * 1000:8.1f} ms  (median of {args.rounds})"
    )
    print(f"  reference: pure-Python parse, twice a file {before * 1000:8.1f} ms")
    print(f"  ratio {ratio:.2f}x  goal <= 0.5x  {'met' if ratio <= 0.5 else 'MISSED'}")
    print(f"  libyaml: {'yes' if yaml.__with_libyaml__ else 'no (pure-Python parser)'}")
    emit(
        "registry",
        [
            figure("open_registry", now * 1000, "ms"),
            figure("reference parse (pure Python, twice)", before * 1000, "ms"),
            figure("open_registry / reference", ratio, "x", "<= 0.5x", ratio <= 0.5),
        ],
    )
    return 0 if ratio <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
