"""Cross-package tests: the real CLI, real uv environments, the real API wrapper and OCR models.

Environments are cached for the whole session (uv's cache makes the first build quick), and
each test gets its own work dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_user_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process commands (``vlmhb import`` through typer's runner) never touch the user's own
    overlay: the same folder the ``vlmhb`` fixture gives the CLI."""
    monkeypatch.setenv("VLMHB_USER_OVERLAY", str(tmp_path / "user-overlay"))


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = os.environ.get("VLMHB_TEST_ENV_CACHE")
    return Path(shared) if shared else tmp_path_factory.mktemp("envs")


@pytest.fixture
def vlmhb(env_cache: Path, tmp_path: Path):
    """Run the real `vlmhb` CLI in dev mode against the repository's registries."""

    def run(*args: str, timeout: float = 900, check: bool | None = None, **popen: object):
        env = {
            **os.environ,
            "RUN_MODE": "dev",
            "VLMHB_ENV_CACHE": str(env_cache),
            "VLMHB_USER_OVERLAY": str(tmp_path / "user-overlay"),
            "COLUMNS": "200",
        }
        env.update(popen.pop("env", {}))  # type: ignore[arg-type]
        command = [sys.executable, "-m", "vlmhyperbench", *args]
        if popen.pop("background", False):
            return subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                start_new_session=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                **popen,
            )
        proc = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"vlmhb {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    return run


def write_overlay(root: Path, entries: dict[str, dict[str, dict]]) -> Path:
    for kind, items in entries.items():
        (root / kind).mkdir(parents=True, exist_ok=True)
        for name, data in items.items():
            (root / kind / f"{name}.yaml").write_text(
                yaml.safe_dump(data, allow_unicode=True), encoding="utf-8"
            )
    return root


SMALL_GENERATOR = {
    "package": "vlmhb-synthetic-docs",
    "callable": "vlmhb_synthetic_docs:generate",
    "params": {"seed": 7, "count": 6, "noise": 1},
}


def _leftover_servers(marker: str) -> list[str]:
    found = []
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            cmdline = (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if "vlmhb-serve" in cmdline and marker in cmdline and state != "Z":
            found.append(f"pid {proc_dir.name}: {cmdline[:200]}")
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite must leave no model server behind: any still alive fails the run."""
    import time

    basetemp = str(session.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10  # servers of the last test may still be shutting down
    leftovers = _leftover_servers(basetemp)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.5)
        leftovers = _leftover_servers(basetemp)
    if leftovers:
        print("\nmodel servers left running by the tests:\n  " + "\n  ".join(leftovers))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
