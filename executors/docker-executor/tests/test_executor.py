"""The docker executor: stages run in real containers of a real (private) Docker engine.

The engine and the base image come from ``conftest`` (started by the tests; skipped only
when no engine can be started). The first tests need no engine: they check how a stage spec
maps onto container options, GPU requests included (no GPU here to run them), and the errors
for a missing engine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import pytest
from conftest import Engine
from docker.types import DeviceRequest
from engine_script import engine as script
from vlmhb_dependency_injector import (
    DependencyError,
    Environment,
    EnvironmentManager,
    GitSource,
    LocalSource,
    PypiSource,
)
from vlmhb_docker_executor import (
    LOCK_FILENAME,
    MERGE_STREAMS,
    NOT_FOUND_EXIT_CODE,
    STAGE_LABEL,
    TIMEOUT_EXIT_CODE,
    DockerExecutor,
    DockerExecutorError,
    gpu_requests,
)
from vlmhyperbench.executors import ExecutorContext, StageSpec, create_executor


def make_package(root: Path, name: str = "vlmhb-probe", value: str = "one") -> Path:
    """A tiny installable package whose module says ``VALUE``; editing it is a dev edit."""
    module = name.replace("-", "_")
    folder = root / name
    (folder / "src" / module).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "{name}"
            version = "0.1.0"

            [tool.hatch.build.targets.wheel]
            packages = ["src/{module}"]
            """
        ),
        encoding="utf-8",
    )
    set_value(folder, value, module)
    return folder


def set_value(folder: Path, value: str, module: str = "vlmhb_probe") -> None:
    path = folder / "src" / module / "__init__.py"
    previous = path.stat().st_mtime if path.exists() else 0.0
    path.write_text(f"VALUE = {value!r}\n", encoding="utf-8")
    # An edit lands seconds after the last run, as a person's does: Python's bytecode cache
    # compares whole-second mtimes and the size, so a same-size edit within one second of the
    # previous write would read the stale .pyc (a property of Python, not of the executor).
    stamp = max(previous + 2, path.stat().st_mtime)
    os.utime(path, (stamp, stamp))


def stage_containers(client: docker.DockerClient) -> list:
    """Every container (running or not) this executor created."""
    return client.containers.list(all=True, filters={"label": STAGE_LABEL})


# --- without an engine --------------------------------------------------------------------
def test_gpu_requests_map_to_docker_device_requests() -> None:
    assert gpu_requests(None) == []
    assert gpu_requests(0) == []
    assert gpu_requests(2) == [DeviceRequest(count=2, capabilities=[["gpu"]])]
    assert gpu_requests(-1) == [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    with pytest.raises(ValueError, match="-3"):
        gpu_requests(-3)


def test_container_options_mount_host_paths_at_the_same_paths(tmp_path: Path) -> None:
    package = make_package(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    env_dir = tmp_path / "envs" / "k1"
    env = Environment.model_validate(
        {
            "key": "k1",
            "path": env_dir,
            "python": env_dir / "bin" / "python",
            "image_id": "sha256:abc",
            "lock_text": "",
            "mode": "dev",
            "python_version": "3.11.2",
            "created_at": "2026-01-01T00:00:00+00:00",
            "builder": "container",
            "sources": [
                {"name": "vlmhb-probe", "type": "local", "editable": True,
                 "location": str(package)},
                {"name": "iniconfig", "type": "pypi", "pin": "2.0.0"},
            ],
        }
    )  # fmt: skip
    spec = StageSpec(
        name="infer: model/ds",
        sources=[],
        command=["python", "-m", "vlmhb_probe"],
        output_dir=tmp_path / "out",
        mounts=[data],
        env={"MODEL": "m", "PATH": "/opt/tools"},
        gpus=1,
    )
    options = DockerExecutor(uv_binary="/bin/true").container_options(spec, env)
    assert options["command"] == [
        *MERGE_STREAMS,
        str(env_dir / "bin" / "python"),
        "-m",
        "vlmhb_probe",
    ]
    assert options["volumes"][str(tmp_path / "out")] == {
        "bind": str(tmp_path / "out"),
        "mode": "rw",
    }
    assert options["volumes"][str(data)] == {"bind": str(data), "mode": "ro"}
    assert options["volumes"][str(package)] == {"bind": str(package), "mode": "rw"}
    assert options["volumes"][str(env_dir)] == {"bind": str(env_dir), "mode": "ro"}
    assert options["working_dir"] == str(tmp_path / "out")
    assert options["device_requests"] == [DeviceRequest(count=1, capabilities=[["gpu"]])]
    assert options["environment"]["MODEL"] == "m"
    assert options["environment"]["PATH"] == f"{env_dir / 'bin'}:/opt/tools"
    assert options["environment"]["VIRTUAL_ENV"] == str(env_dir)
    assert options["name"].startswith("vlmhb-infer-model-ds-")
    assert options["labels"][STAGE_LABEL] == "infer: model/ds"

    no_gpu = spec.model_copy(update={"gpus": None})
    assert DockerExecutor().container_options(no_gpu, env)["device_requests"] == []

    missing = spec.model_copy(update={"mounts": [tmp_path / "nope"]})
    with pytest.raises(DockerExecutorError, match=r"nope.*does not exist"):
        DockerExecutor().container_options(missing, env)


def test_no_engine_is_a_clear_error_naming_docker_host(monkeypatch, tmp_path: Path) -> None:
    nowhere = f"unix://{tmp_path}/no-engine.sock"
    with pytest.raises(DockerExecutorError, match=f"no Docker engine answers at {nowhere}"):
        _ = DockerExecutor(EnvironmentManager(tmp_path), docker_host=nowhere).client
    monkeypatch.setenv("DOCKER_HOST", nowhere)
    with pytest.raises(DockerExecutorError, match="set DOCKER_HOST"):
        _ = DockerExecutor(EnvironmentManager(tmp_path)).client


def test_entry_point_and_image_choice(monkeypatch, tmp_path: Path) -> None:
    context = ExecutorContext(
        env_manager=EnvironmentManager(tmp_path), repo_root=tmp_path, workdir=tmp_path
    )
    monkeypatch.delenv("VLMHB_DOCKER_IMAGE", raising=False)
    found = create_executor("docker", context)
    assert isinstance(found, DockerExecutor) and found.kind == "docker"
    assert found.image == "vlmhb-base:bookworm"
    assert found.manager is context.env_manager
    monkeypatch.setenv("VLMHB_DOCKER_IMAGE", "mine:1")
    assert create_executor("docker", context).image == "mine:1"
    context.options["image"] = "given:2"
    assert create_executor("docker", context).image == "given:2"


# --- with a real engine -------------------------------------------------------------------


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docker-envs")


@pytest.fixture
def executor(
    docker_engine: Engine, docker_client: docker.DockerClient, env_cache: Path
) -> DockerExecutor:
    return DockerExecutor(EnvironmentManager(env_cache), docker_host=docker_engine.base_url)


@pytest.fixture(scope="module")
def shared_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One probe package for tests that are not about environments (built once)."""
    return make_package(tmp_path_factory.mktemp("shared"), value="shared")


def spec_for(package: Path, workdir: Path, command: list[str], **extra: object) -> StageSpec:
    return StageSpec(
        name="probe",
        sources=[LocalSource(type="local", name="vlmhb-probe", path=str(package))],
        command=command,
        output_dir=workdir,
        **extra,
    )


@pytest.mark.docker
def test_stage_reads_mount_writes_workdir_and_streams_lines(
    executor: DockerExecutor,
    docker_client: docker.DockerClient,
    shared_package: Path,
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "input.txt").write_text("hello from the host\n", encoding="utf-8")
    workdir = tmp_path / "out"
    # The stage prints "first", then waits for a file that only the output callback creates:
    # if lines were delivered at exit instead of as printed, it would never see it (exit 5).
    script = textwrap.dedent(
        f"""\
        import json, os, pathlib, sys, time, vlmhb_probe
        print("first")
        go = pathlib.Path("go")
        for _ in range(600):
            if go.exists():
                break
            time.sleep(0.1)
        else:
            sys.exit(5)
        text = pathlib.Path({str(data / "input.txt")!r}).read_text()
        pathlib.Path("result.json").write_text(json.dumps(
            {{"input": text, "value": vlmhb_probe.VALUE, "python": sys.version.split()[0],
              "prefix": sys.prefix, "probe_var": os.environ["PROBE_VAR"]}}))
        print("second", file=sys.stderr)
        print("third")
        """
    )
    seen: list[str] = []

    def on_output(line: str) -> None:
        seen.append(line)
        if line == "first":
            (workdir / "go").touch()

    outcome = executor.run(
        spec_for(
            shared_package,
            workdir,
            ["python", "-c", script],
            mounts=[data],
            env={"PROBE_VAR": "from the spec"},
        ),
        on_output,
    )
    assert outcome.exit_code == 0, outcome.output_tail
    assert seen == ["first", "second", "third"]
    assert outcome.output_tail == seen
    result = json.loads((workdir / "result.json").read_text(encoding="utf-8"))
    assert result["input"] == "hello from the host\n"
    assert result["value"] == "shared"
    assert result["python"].startswith("3.11.")  # the image's Python (Debian bookworm)
    assert result["prefix"] == str(executor.manager.cache_dir / outcome.environment_key)
    assert result["probe_var"] == "from the spec"
    assert (workdir / "result.json").stat().st_uid == os.getuid()  # the user's file
    lock = (workdir / LOCK_FILENAME).read_text(encoding="utf-8")
    assert lock == outcome.lock
    assert "vlmhb-probe" in lock and str(shared_package) in lock
    assert stage_containers(docker_client) == []


@pytest.mark.docker
def test_failing_stage_reports_its_exit_code_and_output(
    executor: DockerExecutor,
    docker_client: docker.DockerClient,
    shared_package: Path,
    tmp_path: Path,
) -> None:
    script = (
        "import sys; print('bad sample 7', file=sys.stderr); print('no newline', end=''); "
        "sys.exit(3)"
    )
    outcome = executor.run(spec_for(shared_package, tmp_path / "out", ["python", "-c", script]))
    assert outcome.exit_code == 3
    assert not outcome.ok
    assert outcome.output_tail == ["bad sample 7", "no newline"]
    assert stage_containers(docker_client) == []


@pytest.mark.docker
def test_mounts_are_read_only(
    executor: DockerExecutor, shared_package: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    target = data / "written.txt"
    command = ["python", "-c", f"open({str(target)!r}, 'w').write('x')"]
    outcome = executor.run(spec_for(shared_package, tmp_path / "out", command, mounts=[data]))
    assert outcome.exit_code != 0
    assert any("Read-only file system" in line for line in outcome.output_tail)
    assert not target.exists()


@pytest.mark.docker
def test_timeout_stops_and_removes_the_container(
    executor: DockerExecutor,
    docker_client: docker.DockerClient,
    shared_package: Path,
    tmp_path: Path,
) -> None:
    command = ["python", "-c", "import time; print('started', flush=True); time.sleep(600)"]
    spec = spec_for(shared_package, tmp_path / "out", command, timeout_s=2)
    outcome = executor.run(spec)
    assert outcome.exit_code == TIMEOUT_EXIT_CODE
    assert outcome.output_tail[0] == "started"
    assert "timed out after 2 s" in outcome.output_tail[-1]
    assert stage_containers(docker_client) == []


@pytest.mark.docker
def test_missing_command_is_exit_127(
    executor: DockerExecutor,
    docker_client: docker.DockerClient,
    shared_package: Path,
    tmp_path: Path,
) -> None:
    outcome = executor.run(spec_for(shared_package, tmp_path / "out", ["no-such-program-x"]))
    assert outcome.exit_code == NOT_FOUND_EXIT_CODE
    assert "no-such-program-x" in outcome.output_tail[-1]
    assert "not found" in outcome.output_tail[-1]
    assert stage_containers(docker_client) == []


@pytest.mark.docker
def test_environment_is_reused_and_sees_editable_edits(
    executor: DockerExecutor, tmp_path: Path
) -> None:
    package = make_package(tmp_path / "src", value="one")
    command = ["python", "-c", "import vlmhb_probe; print(vlmhb_probe.VALUE)"]
    spec = spec_for(package, tmp_path / "out", command)

    first = executor.run(spec)
    env = executor.ensure_environment(spec.sources, spec.mode)
    assert first.exit_code == 0 and first.output_tail == ["one"]
    assert env.key == first.environment_key and not env.built_now

    set_value(package, "two")  # a developer edits the package between runs
    second = executor.run(spec)
    assert second.exit_code == 0 and second.output_tail == ["two"]
    assert second.environment_key == first.environment_key
    again = executor.ensure_environment(spec.sources, spec.mode)
    assert again.created_at == env.created_at  # the same build: nothing was reinstalled

    # Another source list is another environment; the first one is left as it was.
    spec_more = spec.model_copy(
        update={
            "sources": [*spec.sources, PypiSource(type="pypi", name="iniconfig", version="2.0.0")],
            "command": ["python", "-c", "import iniconfig, vlmhb_probe; print(vlmhb_probe.VALUE)"],
        }
    )
    third = executor.run(spec_more)
    assert third.exit_code == 0 and third.output_tail == ["two"]
    assert third.environment_key != first.environment_key
    assert "iniconfig==2.0.0" in third.lock
    assert executor.ensure_environment(spec.sources).created_at == env.created_at


@pytest.mark.docker
def test_built_local_source_in_prod_mode(executor: DockerExecutor, tmp_path: Path) -> None:
    package = make_package(tmp_path / "src", value="built")
    command = ["python", "-c", "import vlmhb_probe; print(vlmhb_probe.VALUE, vlmhb_probe.__file__)"]
    spec = spec_for(package, tmp_path / "out", command, mode="prod")
    outcome = executor.run(spec)
    assert outcome.exit_code == 0, outcome.output_tail
    value, location = outcome.output_tail[-1].split()
    assert value == "built"
    assert location.startswith(str(executor.manager.cache_dir))  # installed, not the folder
    set_value(package, "changed")  # in prod the content is the identity: a new environment
    assert executor.environment_key(spec.sources, "prod") != outcome.environment_key


@pytest.mark.docker
def test_failed_install_names_the_package_and_leaves_nothing_ready(
    executor: DockerExecutor,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    package = make_package(tmp_path / "src", name="vlmhb-broken")
    pyproject = package / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(
            'requires = ["hatchling"]', 'requires = ["hatchling", "vlmhb-no-such-build-dep-x"]'
        ),
        encoding="utf-8",
    )
    spec = StageSpec(
        name="broken",
        sources=[LocalSource(type="local", name="vlmhb-broken", path=str(package))],
        command=["python", "-c", "print('never')"],
        output_dir=tmp_path / "out",
    )
    with pytest.raises(DependencyError) as caught:
        executor.run(spec)
    assert caught.value.packages == ("vlmhb-broken",)
    assert "vlmhb-no-such-build-dep-x" in str(caught.value)
    key = executor.environment_key(spec.sources)
    assert executor.manager.get(key) is None
    assert not (executor.manager.cache_dir / key).exists()
    assert not (tmp_path / "out" / LOCK_FILENAME).exists()
    assert stage_containers(docker_client) == []


@pytest.mark.docker
def test_gpu_request_reaches_the_engine(
    executor: DockerExecutor,
    docker_client: docker.DockerClient,
    shared_package: Path,
    tmp_path: Path,
) -> None:
    if "nvidia" in docker_client.info().get("Runtimes", {}):
        pytest.skip("this engine has the NVIDIA runtime; the refusal below cannot happen")
    spec = spec_for(shared_package, tmp_path / "out", ["python", "-c", "print(1)"], gpus=1)
    with pytest.raises(DockerExecutorError, match=r"asks for 1 GPU\(s\)"):
        executor.run(spec)
    assert stage_containers(docker_client) == []


@pytest.mark.docker
def test_concurrent_builds_of_one_environment_build_it_once(
    executor: DockerExecutor, tmp_path: Path
) -> None:
    package = make_package(tmp_path / "src", value="once")
    spec = spec_for(package, tmp_path / "out", ["python", "-c", "pass"])
    with ThreadPoolExecutor(max_workers=2) as pool:
        envs = list(pool.map(lambda _: executor.ensure_environment(spec.sources), range(2)))
    assert [e.built_now for e in envs].count(True) == 1
    assert envs[0].created_at == envs[1].created_at


@pytest.mark.docker
def test_engine_script_reuses_the_engine_and_reports_its_state(
    docker_engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if script is None or docker_engine.root is None:
        pytest.skip("the engine was given by DOCKER_HOST, not started by scripts/docker_engine.py")
    again = script.ensure_engine(docker_engine.root)
    assert again.base_url == docker_engine.base_url
    assert not again.started  # reused: stopping it is left to whoever started it
    assert script.main(["status", "--root", str(docker_engine.root)]) == 0
    assert f"{docker_engine.base_url} running" in capsys.readouterr().out


def test_refused_storage_driver_is_a_clear_error(tmp_path: Path) -> None:
    if script is None or shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.skip("needs scripts/docker_engine.py, dockerd and root to try starting one")
    root = Path(tempfile.mkdtemp(prefix="vlmhb-t-", dir="/tmp"))
    try:
        with pytest.raises(script.EngineError, match="--storage-driver=no-such-driver: exited"):
            script.ensure_engine(root, storage_driver="no-such-driver", timeout=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.docker
def test_git_source_at_a_tag_is_installed_in_the_container(
    executor: DockerExecutor, tmp_path: Path
) -> None:
    package = make_package(tmp_path / "work", name="vlmhb-gitprobe", value="tagged")
    bare = tmp_path / "remote.git"

    def git(*args: str, cwd: Path = package) -> None:
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "v1")
    git("tag", "v1.0")
    git("clone", "-q", "--bare", str(package), str(bare), cwd=tmp_path)
    set_value(package, "untagged", "vlmhb_gitprobe")  # the working copy moves on; the tag not

    spec = StageSpec(
        name="git",
        sources=[GitSource(type="git", name="vlmhb-gitprobe", url=str(bare), ref="v1.0")],
        command=["python", "-c", "import vlmhb_gitprobe; print(vlmhb_gitprobe.VALUE)"],
        output_dir=tmp_path / "out",
    )
    outcome = executor.run(spec)
    assert outcome.exit_code == 0, outcome.output_tail
    assert outcome.output_tail == ["tagged"]
    assert "vlmhb-gitprobe @ git+file://" in outcome.lock


@pytest.mark.docker
def test_container_is_removed_when_the_caller_fails(
    executor: DockerExecutor,
    docker_client: docker.DockerClient,
    shared_package: Path,
    tmp_path: Path,
) -> None:
    command = ["python", "-c", "import time; print('hi', flush=True); time.sleep(600)"]

    def on_output(line: str) -> None:
        raise KeyboardInterrupt  # the user pressed Ctrl-C while the stage ran

    with pytest.raises(KeyboardInterrupt):
        executor.run(spec_for(shared_package, tmp_path / "out", command), on_output)
    assert stage_containers(docker_client) == []


@pytest.mark.docker
def test_container_environments_share_the_injectors_cache_and_list(
    executor: DockerExecutor, shared_package: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    sources = [LocalSource(type="local", name="vlmhb-probe", path=str(shared_package))]
    in_container = executor.ensure_environment(sources)
    on_host = executor.manager.ensure(sources)
    assert in_container.key != on_host.key
    assert (in_container.builder, in_container.image) == ("container", executor.image)
    assert in_container.python_version.startswith("3.11.")
    kinds = {i.key: i.builder for i in executor.manager.list()}
    assert kinds[in_container.key] == "container" and kinds[on_host.key] == "venv"
    cli = [sys.executable, "-m", "vlmhb_dependency_injector.cli"]
    listed = subprocess.run(
        [*cli, "--cache", str(executor.manager.cache_dir), "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{in_container.key}  ready" in listed and "container:vlmhb-base:bookworm" in listed
