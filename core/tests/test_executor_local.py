"""The local executor and the ``vlmhb env`` functions, with real uv environments.

Each test stage is a real package folder made by the test, installed by the injector into a
cache under the test's tmp folder.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner
from vlmhb_dependency_injector import DependencyError, EnvironmentManager, LocalSource, PypiSource
from vlmhb_executor_api import LOCK_FILENAME, TIMEOUT_EXIT_CODE, LocalExecutor
from vlmhyperbench.cli import app
from vlmhyperbench.executors import Executor, StageSpec

STAGE_CODE = """
import os, sys, time
from pathlib import Path

MESSAGE = "hello"

def main():
    args = sys.argv[1:]
    print("stage-start", MESSAGE)
    print("to-stderr", file=sys.stderr)
    print("cwd", os.getcwd())
    print("prefix", sys.prefix)
    print("virtual-env", os.environ.get("VIRTUAL_ENV"))
    print("extra", os.environ.get("STAGE_SETTING"))
    if args and args[0] == "handshake":
        # Waits for a file the caller creates when it *receives* "waiting": only streaming works.
        print("waiting", flush=True)
        go = Path(args[1])
        for _ in range(600):
            if go.exists():
                print("got-go")
                return 0
            time.sleep(0.05)
        print("no-go")
        return 1
    if args and args[0] == "sleep":
        time.sleep(float(args[1]))
        Path("finished").write_text("x")
    if args and args[0] == "fail":
        print("boom", file=sys.stderr)
        return 3
    return 0

if __name__ == "__main__":
    sys.exit(main())
"""


@pytest.fixture
def stage_package(tmp_path: Path) -> Path:
    folder = tmp_path / "stage-pkg"
    (folder / "src" / "stage_pkg").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "stage-pkg"
            version = "0.1.0"
            dependencies = ["iniconfig==2.0.0"]

            [tool.hatch.build.targets.wheel]
            packages = ["src/stage_pkg"]
            """
        )
    )
    (folder / "src" / "stage_pkg" / "__init__.py").write_text("")
    (folder / "src" / "stage_pkg" / "__main__.py").write_text(STAGE_CODE)
    return folder


@pytest.fixture
def executor(tmp_path: Path) -> LocalExecutor:
    return LocalExecutor(EnvironmentManager(tmp_path / "envs"), kill_grace_s=1)


def spec_for(package: Path, workdir: Path, *args: str, **fields: object) -> StageSpec:
    return StageSpec(
        name="test-stage",
        sources=[LocalSource(type="local", name="stage-pkg", path=str(package))],
        command=["python", "-m", "stage_pkg", *args],
        output_dir=workdir,
        **fields,
    )


def values(lines: list[str]) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in lines if " " in line)


def test_stage_runs_in_its_environment_and_streams_output(
    executor: LocalExecutor, stage_package: Path, tmp_path: Path
) -> None:
    typed: Executor = executor  # the protocol is static; type checkers verify this line
    assert typed.kind == "local"
    workdir = tmp_path / "run" / "stage"
    seen: list[str] = []
    outcome = executor.run(
        spec_for(stage_package, workdir, env={"STAGE_SETTING": "42"}), on_output=seen.append
    )
    assert outcome.ok and outcome.exit_code == 0
    assert seen[:2] == ["stage-start hello", "to-stderr"]
    reported = values(seen)
    env_path = executor.manager.cache_dir / outcome.environment_key
    assert Path(reported["cwd"]) == workdir
    assert Path(reported["prefix"]) == env_path  # the env's interpreter, not the caller's
    assert Path(reported["virtual-env"]) == env_path
    assert reported["extra"] == "42"
    assert outcome.output_tail == seen
    assert "iniconfig==2.0.0" in outcome.lock
    assert (workdir / LOCK_FILENAME).read_text() == outcome.lock


def test_output_reaches_the_callback_while_the_stage_runs(
    executor: LocalExecutor, stage_package: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"

    def on_output(line: str) -> None:
        if line == "waiting":
            go.write_text("go")

    outcome = executor.run(
        spec_for(stage_package, tmp_path / "w", "handshake", str(go), timeout_s=120),
        on_output=on_output,
    )
    assert outcome.output_tail[-1] == "got-go"
    assert outcome.ok


def test_failing_stage_reports_its_exit_code_and_last_lines(
    executor: LocalExecutor, stage_package: Path, tmp_path: Path
) -> None:
    outcome = executor.run(spec_for(stage_package, tmp_path / "w", "fail"))
    assert outcome.exit_code == 3 and not outcome.ok
    assert outcome.output_tail[-1] == "boom"


def test_stage_is_killed_at_its_timeout(
    executor: LocalExecutor, stage_package: Path, tmp_path: Path
) -> None:
    workdir = tmp_path / "w"
    outcome = executor.run(spec_for(stage_package, workdir, "sleep", "60", timeout_s=1))
    assert outcome.exit_code == TIMEOUT_EXIT_CODE
    assert "timed out after 1 s" in outcome.output_tail[-1]
    assert not (workdir / "finished").exists()


def test_edited_dev_package_is_used_by_the_next_run_without_rebuild(
    executor: LocalExecutor, stage_package: Path, tmp_path: Path
) -> None:
    first = executor.run(spec_for(stage_package, tmp_path / "a"))
    main = stage_package / "src" / "stage_pkg" / "__main__.py"
    main.write_text(main.read_text().replace('MESSAGE = "hello"', 'MESSAGE = "edited"'))
    second = executor.run(spec_for(stage_package, tmp_path / "b"))
    assert second.environment_key == first.environment_key
    assert second.output_tail[0] == "stage-start edited"


def test_other_programs_are_found_in_the_environment_first(
    executor: LocalExecutor, stage_package: Path, tmp_path: Path
) -> None:
    spec = spec_for(stage_package, tmp_path / "w").model_copy(
        update={"command": ["python3", "-c", "import sys; print(sys.prefix)"]}
    )
    outcome = executor.run(spec)
    assert Path(outcome.output_tail[0]) == executor.manager.cache_dir / outcome.environment_key
    missing = spec.model_copy(update={"command": ["no-such-program-here"]})
    outcome = executor.run(missing)
    assert outcome.exit_code == 127
    assert "no-such-program-here" in outcome.output_tail[-1]


def test_uninstallable_source_raises_naming_the_package(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    spec = StageSpec(
        name="bad",
        sources=[PypiSource(type="pypi", name="iniconfig", version="==999.0.0")],
        command=["python", "-c", "pass"],
        output_dir=tmp_path / "w",
    )
    with pytest.raises(DependencyError, match="'iniconfig'"):
        executor.run(spec)
    assert not (tmp_path / "w" / LOCK_FILENAME).exists()


def test_env_list_and_prune_are_the_injectors(stage_package: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = LocalSource(type="local", name="stage-pkg", path=stage_package.name)
    manager = EnvironmentManager(cache, base_dir=tmp_path)
    env = manager.ensure([source], mode="prod")
    assert manager.ensure([source], mode="prod").built_now is False
    runner = CliRunner()
    listed = runner.invoke(app, ["env", "list", "--cache-dir", str(cache)])
    assert listed.exit_code == 0, listed.output
    assert env.key in listed.output and "ready" in listed.output and "stage-pkg" in listed.output
    kept = runner.invoke(app, ["env", "prune", "--cache-dir", str(cache), "--keep", env.key])
    assert kept.exit_code == 0 and env.key not in kept.output
    pruned = runner.invoke(app, ["env", "prune", "--cache-dir", str(cache)])
    assert f"removed {env.key}" in pruned.output
    assert manager.list() == []


def test_default_cache_follows_vlmhb_env_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VLMHB_ENV_CACHE", str(tmp_path / "elsewhere"))
    assert os.fspath(LocalExecutor().manager.cache_dir) == str(tmp_path / "elsewhere")
