"""Writes a work dir with N samples per run in the core's file layout, for the 50k-sample test.

Reuses the server's own test fixture writer (management/server/tests/helpers.py), so the files
are exactly what the server's import reads: 2 datasets x 2 models, N samples each.
Usage: python fill_workdir.py WORKDIR SAMPLES_PER_RUN [EXPERIMENT]
"""

from __future__ import annotations

import sys
from pathlib import Path

SERVER_TESTS = Path(__file__).resolve().parents[2] / "server" / "tests"


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, str(SERVER_TESTS))
    from helpers import make_workdir

    workdir, per_run = Path(sys.argv[1]), int(sys.argv[2])
    name = sys.argv[3] if len(sys.argv) > 3 else "perf"
    made = make_workdir(workdir, name, samples=per_run)
    print(f"{workdir}: {len(made['runs'])} runs x {per_run} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
