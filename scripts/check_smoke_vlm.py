"""Checks what `nox -s smoke-vlm` (and smoke-vllm) must prove: the VLM path ran end to end on the CPU.

Usage: ``check_smoke_vlm.py WORKDIR [EXPERIMENT]`` (default experiment: smoke-vlm).

Answers of a random-weight model are noise; what must hold is the plumbing: every sample
answered, token usage reported, and constrained decoding giving valid JSON on every passport
(structural fidelity 1.0). Exits 1 naming what failed.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def main(workdir: str, experiment: str = "smoke-vlm") -> int:
    path = Path(workdir) / "reports" / experiment / "leaderboard.csv"
    if not path.is_file():
        print(f"{experiment}: {path} was not written", file=sys.stderr)
        return 1
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    problems = []
    for row in rows:
        label = f"{row['model']} / {row['dataset']} / {row['prompt']}"
        shown = {k: v for k, v in row.items() if v not in ("", None)}
        print(f"{experiment} leaderboard row: {shown}")
        if row["status"] != "ok" or row["failed"] not in ("0", ""):
            problems.append(f"{label}: status {row['status']}, {row['failed']} failed")
        if not row.get("output_tokens_per_s"):
            problems.append(f"{label}: no token usage reported")
        if row["task"] == "passport-fields" and row.get("structural_fidelity") not in ("1", "1.0"):
            problems.append(
                f"{label}: structural_fidelity {row.get('structural_fidelity')!r}, not 1.0"
            )
    # smoke-vllm checks constrained JSON on the served engine instead (see its experiment)
    if experiment == "smoke-vlm" and not any(r["task"] == "passport-fields" for r in rows):
        problems.append("no passport-fields run in the leaderboard")
    for problem in problems:
        print(f"{experiment}: {problem}", file=sys.stderr)
    if not problems:
        passports = sum(r["task"] == "passport-fields" for r in rows)
        print(
            f"{experiment}: {len(rows)} runs ok; constrained JSON valid on {passports} passport runs"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
