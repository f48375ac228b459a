"""The local executor: a stage runs as a subprocess inside its own uv environment.

It lives in the contract package, not the core, because other executors run it where the work
lands (a Ray worker runs a stage or a server with it on its node) without installing the core.

The environment comes from the dependency injector (built once, reused after), so the stage
sees exactly the packages its sources name and nothing of the core's own environment. Output
is merged (stderr into stdout, so lines keep their order) and handed to ``on_output`` line by
line as it arrives, in the caller's thread.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections import deque
from pathlib import Path

from vlmhb_dependency_injector import Environment, EnvironmentManager

from .contract import OutputCallback
from .services import LocalService
from .specs import ExecutorContext, ServiceSpec, StageOutcome, StageSpec

LOCK_FILENAME = "environment.lock"
"""Written into every stage's workdir: the run's bill of materials."""
TIMEOUT_EXIT_CODE = 124
"""Exit code reported for a stage killed at its timeout (as coreutils' ``timeout`` does)."""
NOT_FOUND_EXIT_CODE = 127
"""Exit code reported when the command does not exist in the environment (as shells do)."""
_PYTHON_NAMES = {"python", "python3"}


class LocalExecutor:
    """Runs stages as local subprocesses in content-addressed uv environments.

    ``manager`` decides where environments are cached (default: the injector's default cache).
    ``kill_grace_s`` is how long a timed-out stage gets between SIGTERM and SIGKILL.
    """

    kind = "local"

    def __init__(
        self,
        manager: EnvironmentManager | None = None,
        *,
        tail_lines: int = 50,
        kill_grace_s: float = 5.0,
    ) -> None:
        self.manager = manager or EnvironmentManager()
        self.tail_lines = tail_lines
        self.kill_grace_s = kill_grace_s

    def run(self, spec: StageSpec, on_output: OutputCallback | None = None) -> StageOutcome:
        """Ensure the stage's environment, run its command there, and report how it ended.

        A source that cannot be installed raises the injector's ``DependencyError`` (the stage
        never started); a command that fails, is missing or times out is a ``StageOutcome``
        with its exit code.
        """
        env = self.manager.ensure(spec.sources, mode=spec.mode)
        output_dir = Path(spec.output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / LOCK_FILENAME).write_text(env.lock_text, encoding="utf-8")

        tail: deque[str] = deque(maxlen=self.tail_lines)

        def emit(line: str) -> None:
            tail.append(line)
            if on_output is not None:
                on_output(line)

        process_env = stage_environment(env, spec.env)
        argv = command_in(env, spec.command, process_env["PATH"])
        try:
            process = subprocess.Popen(
                argv,
                cwd=output_dir,
                env=process_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                start_new_session=True,  # its own process group, so a timeout kills its children
            )
        except (FileNotFoundError, PermissionError) as exc:
            emit(f"[vlmhb] stage {spec.name!r}: cannot run {argv[0]!r}: {exc.strerror}")
            return self._outcome(NOT_FOUND_EXIT_CODE, env, tail)

        timed_out = threading.Event()
        timer = None
        if spec.timeout_s is not None:
            timer = threading.Timer(spec.timeout_s, self._kill, args=(process, timed_out))
            timer.daemon = True
            timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                emit(line.rstrip("\r\n"))
            exit_code = process.wait()
        except BaseException:
            self._kill(process, threading.Event())
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if timed_out.is_set():
            emit(f"[vlmhb] stage {spec.name!r} timed out after {spec.timeout_s:g} s and was killed")
            exit_code = TIMEOUT_EXIT_CODE
        return self._outcome(exit_code, env, tail)

    def start_service(self, spec: ServiceSpec) -> LocalService:
        """Start a model server as a child process tied to this one (see ``services``)."""
        env = self.manager.ensure(spec.sources, mode=spec.mode)
        return LocalService.start(spec, env)

    def close(self) -> None:
        """Nothing to release: every stage process has ended when ``run`` returns."""

    def _outcome(self, exit_code: int, env: Environment, tail: deque[str]) -> StageOutcome:
        return StageOutcome(
            exit_code=exit_code,
            environment_key=env.key,
            lock=env.lock_text,
            output_tail=list(tail),
        )

    def _kill(self, process: subprocess.Popen[str], flag: threading.Event) -> None:
        """SIGTERM the stage's process group, then SIGKILL what is left after the grace."""
        if process.poll() is not None:
            return
        flag.set()
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(self.kill_grace_s)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))


def create(context: ExecutorContext) -> LocalExecutor:
    """Entry point ``vlmhyperbench.executors: local`` (registered by the core, which ships it)."""
    return LocalExecutor(context.env_manager)


def _signal_group(process: subprocess.Popen[str], sig: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, sig)
        else:  # pragma: no cover - Windows has no process groups in this sense
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def stage_environment(env: Environment, extra: dict[str, str]) -> dict[str, str]:
    """The stage's process environment: the caller's, activated, then the stage's own values.

    A ``PATH`` in ``extra`` replaces the caller's but the environment's bin folder stays first.
    """
    process_env = env.activate(os.environ)
    for name, value in extra.items():
        if name == "PATH":
            value = os.pathsep.join([str(env.bin_dir), value])
        process_env[name] = value
    process_env.setdefault("PYTHONUNBUFFERED", "1")  # lines arrive when printed, not at exit
    return process_env


def command_in(env: Environment, command: list[str], path: str) -> list[str]:
    """The argv to execute: ``python`` is the environment's interpreter; other programs are
    looked up on the stage's PATH (the environment's bin first)."""
    if not command:
        raise ValueError("a stage command must not be empty")
    program, *args = command
    if program in _PYTHON_NAMES:
        return [str(env.python), *args]
    if os.sep not in program:
        found = shutil.which(program, path=path)
        if found:
            program = found
    return [program, *args]


__all__ = [
    "LOCK_FILENAME",
    "NOT_FOUND_EXIT_CODE",
    "TIMEOUT_EXIT_CODE",
    "LocalExecutor",
    "command_in",
    "create",
    "stage_environment",
]
