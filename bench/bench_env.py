"""Benchmark of the dependency injector's environments (figures printed, no thresholds).

Run from the repository root:

    uv run --no-project --with ./dependency-injector python bench/bench_env.py [--rounds 5]

1. New environment from a warm uv cache, against raw ``uv venv`` + ``uv pip install`` of the
   same packages measured in the same run (goal: ratio <= 1.2x). The injector's extra work is
   resolution, the ``uv pip freeze`` lock and its metadata.
2. Reuse of an existing environment: ``ensure`` of the same sources (goal: <= 50 ms); once
   with local + exact PyPI pins (no subprocess at all), once adding a git tag (one
   ``git ls-remote`` of a local bare repository per call; a remote adds its round trip).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _result import emit, figure
from vlmhb_dependency_injector import EnvironmentManager, GitSource, LocalSource, PypiSource
from vlmhb_dependency_injector.uvtool import uv_binary

ROUNDS = 5
REUSE_CALLS = 50
PYPI = {"iniconfig": "2.0.0", "pluggy": "1.5.0", "packaging": "24.1"}


def make_local_package(root: Path) -> Path:
    folder = root / "bench-pkg"
    (folder / "src" / "bench_pkg").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "bench-pkg"
            version = "0.1.0"

            [tool.hatch.build.targets.wheel]
            packages = ["src/bench_pkg"]
            """
        )
    )
    (folder / "src" / "bench_pkg" / "__init__.py").write_text("VALUE = 1\n")
    return folder


def make_git_repo(root: Path, package: Path) -> str:
    """A bare repository holding ``package`` at tag v0.1.0; returns its file:// URL."""
    work = root / "git-work"
    shutil.copytree(package, work)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "v1"], ["tag", "v0.1.0"]):
        subprocess.run([*git, *args], cwd=work, check=True)
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(work), str(root / "remote.git")], check=True
    )
    return (root / "remote.git").as_uri()


def time_reuse(manager: EnvironmentManager, sources: list) -> tuple[float, float]:
    """Median and max milliseconds of ``ensure`` on an environment that exists."""
    manager.ensure(sources, mode="dev")
    times = []
    for _ in range(REUSE_CALLS):
        start = time.perf_counter()
        env = manager.ensure(sources, mode="dev")
        times.append(time.perf_counter() - start)
        assert not env.built_now
    return statistics.median(times) * 1000, max(times) * 1000


def raw_install(target: Path, package: Path) -> float:
    """``uv venv`` + ``uv pip install`` by hand; seconds taken."""
    uv = uv_binary()
    start = time.perf_counter()
    subprocess.run([uv, "venv", "-q", str(target), "--python", sys.executable], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(target / "bin" / "python"),
            "-e",
            str(package),
            *(f"{n}=={v}" for n, v in PYPI.items()),
        ],
        check=True,
    )
    return time.perf_counter() - start


def injector_install(cache: Path, sources: list) -> float:
    start = time.perf_counter()
    env = EnvironmentManager(cache).ensure(sources, mode="dev")
    elapsed = time.perf_counter() - start
    assert env.built_now
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="new environments per side")
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="vlmhb-bench-env-") as tmp:
        root = Path(tmp)
        package = make_local_package(root)
        sources = [LocalSource(type="local", name="bench-pkg", path=str(package))] + [
            PypiSource(type="pypi", name=n, version=f"=={v}") for n, v in PYPI.items()
        ]
        raw_install(root / "warm", package)  # warms uv's cache: every later install is local

        raw_times, ours_times = [], []
        for i in range(rounds):  # interleaved, so drift affects both the same
            raw_times.append(raw_install(root / f"raw-{i}", package))
            ours_times.append(injector_install(root / f"cache-{i}", sources))
            shutil.rmtree(root / f"raw-{i}")
        raw, ours = statistics.median(raw_times), statistics.median(ours_times)
        print(f"packages: bench-pkg (editable) + {', '.join(f'{n}=={v}' for n, v in PYPI.items())}")
        print(
            f"new env, raw uv venv + uv pip install : median {raw * 1000:7.1f} ms ({rounds} runs)"
        )
        print(
            f"new env, EnvironmentManager.ensure   : median {ours * 1000:7.1f} ms ({rounds} runs)"
        )
        print(f"ratio injector / raw                 : {ours / raw:.2f}x (goal <= 1.2x)")
        figures = [
            figure(
                "new env, injector / raw uv",
                round(ours / raw, 2),
                "x",
                "<= 1.2x",
                ours / raw <= 1.2,
            ),
            figure("new env, raw uv (reference)", round(raw * 1000, 1), "ms"),
        ]

        manager = EnvironmentManager(root / "cache-0")
        median_ms, max_ms = time_reuse(manager, sources)
        figures.append(
            figure("reuse env, median", round(median_ms, 2), "ms", "<= 50 ms", median_ms <= 50)
        )
        print(
            f"reuse existing env (ensure)          : median {median_ms:7.2f} ms,"
            f" max {max_ms:.2f} ms ({REUSE_CALLS} calls; goal <= 50 ms)"
        )
        url = make_git_repo(root, package)
        with_git = [*sources[1:], GitSource(type="git", name="bench-pkg", url=url, ref="v0.1.0")]
        median_ms, max_ms = time_reuse(manager, with_git)
        figures.append(
            figure(
                "reuse env with a git tag, median",
                round(median_ms, 2),
                "ms",
                "<= 50 ms",
                median_ms <= 50,
            )
        )
        print(
            f"reuse, with a git tag source         : median {median_ms:7.2f} ms,"
            f" max {max_ms:.2f} ms ({REUSE_CALLS} calls; goal <= 50 ms)"
        )
        emit("env", figures)


if __name__ == "__main__":
    main()
