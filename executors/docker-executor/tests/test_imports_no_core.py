"""The plugin imports only the executor contract, never the core."""

from __future__ import annotations

import subprocess
import sys


def test_the_plugin_imports_without_the_core():
    code = (
        "import sys, vlmhb_docker_executor\n"
        "assert 'vlmhyperbench' not in sys.modules, 'the core was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
