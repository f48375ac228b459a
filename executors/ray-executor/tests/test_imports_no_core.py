"""A Ray worker needs no core: the plugin (driver and worker side) imports only the contract."""

from __future__ import annotations

import subprocess
import sys


def test_the_plugin_imports_without_the_core():
    code = (
        "import sys, vlmhb_ray_executor, vlmhb_ray_executor.remote\n"
        "assert 'vlmhyperbench' not in sys.modules, 'the core was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
