"""The repository's engine bootstrap (``scripts/docker_engine.py``), loaded for the fixtures.

It is test infrastructure, not part of this package: a private dockerd and locally built
images (no registry is reachable on CI). Outside the repository checkout it is absent, and the
fixtures then need ``DOCKER_HOST`` to name an engine that has the images.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[3]
SCRIPT = REPO_ROOT / "scripts" / "docker_engine.py"


def load() -> ModuleType | None:
    if "vlmhb_test_docker_engine" in sys.modules:
        return sys.modules["vlmhb_test_docker_engine"]
    if not SCRIPT.is_file():
        return None
    spec = importlib.util.spec_from_file_location("vlmhb_test_docker_engine", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


engine = load()
