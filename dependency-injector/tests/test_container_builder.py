"""The container builder behind the same cache, key, lock, metadata, list and prune.

This package's own tests have no container engine (the real one runs in the docker-executor
package's tests, which build with this builder in real containers). Here the builder gets
``HostRunner``, a TEST DOUBLE for a container engine: it runs the build command as a host
process, mapping the few container-only paths (the mounted uv binary, the CA bundle) back to
their host files. Everything else is real: uv, the install script, the packages, the cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from vlmhb_dependency_injector import (
    ContainerBuilder,
    DependencyError,
    EnvironmentManager,
    LocalSource,
    PypiSource,
)
from vlmhb_dependency_injector.container import CONTAINER_UV, install_script
from vlmhb_dependency_injector.uvtool import uv_binary

INICONFIG = PypiSource(type="pypi", name="iniconfig", version="==2.0.0")


class HostRunner:
    """TEST DOUBLE of a container engine: runs the command here; records each call."""

    def __init__(self, tmp: Path) -> None:
        self.bin = tmp / "runner-bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.calls: list[dict] = []

    def __call__(
        self, image: str, command: list[str], volumes: dict, environment: dict[str, str]
    ) -> tuple[int, list[str]]:
        self.calls.append({"image": image, "volumes": volumes, "environment": environment})
        env = dict(environment)
        for source, mount in volumes.items():
            if mount["bind"] == CONTAINER_UV:
                link = self.bin / "uv"
                link.unlink(missing_ok=True)
                link.symlink_to(source)
            for name, value in env.items():
                if value == mount["bind"]:
                    env[name] = source
        env["PATH"] = f"{self.bin}{os.pathsep}{env['PATH']}"
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        return done.returncode, (done.stdout + done.stderr).splitlines()


@pytest.fixture
def runner(tmp_path: Path) -> HostRunner:
    return HostRunner(tmp_path)


def builder(runner: HostRunner, image_id: str = "sha256:aaa") -> ContainerBuilder:
    # The host's interpreter plays the image's; the uv binary is the one the injector runs.
    return ContainerBuilder(
        runner, "vlmhb-test:1", image_id, python=sys.executable, uv_binary=uv_binary()
    )


def local(path: Path, **extra: object) -> LocalSource:
    return LocalSource(type="local", name="tiny-pkg", path=str(path), **extra)


def test_container_keys_differ_from_venv_keys_and_between_images(
    manager: EnvironmentManager, runner: HostRunner, make_package
) -> None:
    sources = [local(make_package()), INICONFIG]
    venv_key = manager.key(sources)
    first = manager.key(sources, builder=builder(runner, "sha256:aaa"))
    assert venv_key != first
    assert first == manager.key(sources, builder=builder(runner, "sha256:aaa"))
    assert first != manager.key(sources, builder=builder(runner, "sha256:bbb"))
    assert runner.calls == []  # a key costs no container


def test_container_build_shares_the_cache_list_and_prune(
    manager: EnvironmentManager, runner: HostRunner, make_package, cache_dir: Path
) -> None:
    pkg = make_package()
    on_host = manager.ensure([local(pkg)])
    built = manager.ensure([local(pkg), INICONFIG], builder=builder(runner))
    assert built.built_now and built.builder == "container"
    assert (built.image, built.image_id) == ("vlmhb-test:1", "sha256:aaa")
    assert built.path == cache_dir / built.key
    assert "iniconfig==2.0.0" in built.lock_text.splitlines()
    assert built.python_version.count(".") == 2  # probed in the "container"
    again = manager.ensure([local(pkg), INICONFIG], builder=builder(runner))
    assert not again.built_now and len(runner.calls) == 1

    [call] = runner.calls
    assert call["image"] == "vlmhb-test:1"
    assert call["volumes"][str(built.path)] == {"bind": str(built.path), "mode": "rw"}
    assert call["volumes"][str(pkg)] == {"bind": str(pkg), "mode": "rw"}
    assert call["volumes"][str(uv_binary())]["bind"] == CONTAINER_UV

    kinds = {info.key: (info.builder, info.image) for info in manager.list()}
    assert kinds == {on_host.key: ("venv", None), built.key: ("container", "vlmhb-test:1")}
    cli = [sys.executable, "-m", "vlmhb_dependency_injector.cli", "--cache", str(cache_dir)]
    listed = subprocess.run([*cli, "list"], capture_output=True, text=True, check=True).stdout
    assert "container:vlmhb-test:1" in listed and "venv" in listed
    assert sorted(manager.prune(keep_keys=[on_host.key])) == [built.key]
    assert [i.key for i in manager.list()] == [on_host.key]


def test_failed_container_build_names_the_package_and_leaves_nothing(
    manager: EnvironmentManager, runner: HostRunner, make_package
) -> None:
    pkg = make_package()
    pyproject = pkg / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'requires = ["hatchling"]', 'requires = ["hatchling", "vlmhb-no-such-build-dep-x"]'
        )
    )
    with pytest.raises(DependencyError) as caught:
        manager.ensure([local(pkg)], mode="prod", builder=builder(runner))
    assert caught.value.packages == ("tiny-pkg",)
    assert "in a container of 'vlmhb-test:1' failed" in str(caught.value)
    assert "vlmhb-no-such-build-dep-x" in str(caught.value)
    assert manager.list() == []


def test_install_script_builds_wheels_of_prod_sources(
    manager: EnvironmentManager, make_package, tmp_path: Path
) -> None:
    resolved = manager.resolve([local(make_package()), INICONFIG], mode="prod")
    script = install_script(tmp_path / "env", "/usr/bin/python3", resolved)
    assert "uv venv --allow-existing --python /usr/bin/python3" in script
    assert "uv build --wheel" in script and "tiny-pkg @ file://" in script
    assert "iniconfig==2.0.0" in script
    assert script.splitlines()[0] == "set -eu"
