"""Why RapidOCR cannot be imported reaches the user: "not installed" only when it is not.

The container failure this guards against (issue 29): in a minimal Debian image the package is
installed but OpenCV's native module cannot load (``libGL.so.1`` missing), and the message said
"not installed", hiding the loader's text. Each case runs in a fresh interpreter so that an
earlier import in this process cannot hide the failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from vlmhb_ocr_adapter import OPENCV_SYSTEM_HINT, RAPIDOCR_INSTALL_HINT

_LOAD = """
import sys
for name in sys.argv[1:]:
    sys.modules[name] = None  # Python's own way to make an import fail as if it were absent
from vlmhb_ocr_adapter import EngineUnavailable, RapidOcrEngine
try:
    RapidOcrEngine()
except EngineUnavailable as exc:
    print(exc)
    raise SystemExit(3)
"""


def _load(*blocked: str, pythonpath: Path | None = None) -> str:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD, *blocked],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    return proc.stdout.strip()


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)  # cv2's native module is ~80 MB
    except OSError:  # another filesystem
        shutil.copy2(source, target)


def test_an_absent_package_is_reported_as_not_installed():
    message = _load("rapidocr_onnxruntime")
    assert message.startswith("rapidocr-onnxruntime is not installed")
    assert RAPIDOCR_INSTALL_HINT in message


def test_an_absent_dependency_is_named():
    message = _load("cv2")
    assert "not installed" not in message
    assert "its dependency 'cv2' is missing" in message and "ModuleNotFoundError" in message


def test_a_shared_library_the_loader_cannot_find_is_quoted(tmp_path):
    """A real loader failure: OpenCV's native module seen from a folder where the libraries
    it links (``../opencv_python.libs``, found through ``$ORIGIN``) are absent, as libGL is
    in a bare container."""
    spec = importlib.util.find_spec("cv2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("OpenCV is not installed as a package folder here")
    real = Path(next(iter(spec.submodule_search_locations)))
    if not list(real.glob("cv2*.so")):
        pytest.skip(f"no native cv2 module in {real}")
    # Real files, not symlinks: cv2's loader and the dynamic loader both resolve symlinks
    # back to the real folder, where the libraries are found.
    shutil.copytree(real, tmp_path / "cv2", copy_function=_link_or_copy)
    message = _load(pythonpath=tmp_path)
    assert "not installed" not in message
    assert "cannot open shared object file" in message and "ImportError" in message, message
    assert OPENCV_SYSTEM_HINT in message
