"""The work dir as the core uses it.

Its layout (folder and file names, the ``.done`` marker) is owned by ``vlmhb-workdir``, which
the reports, the v0.1 export and the management server read it with too; the core only
re-exports it here, so its modules keep one import. "workdir" is the root path; a
:class:`Workdir` object is its layout (variables holding one are called ``layout``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vlmhb_workdir import DONE_MARKER, Workdir, write_json

__all__ = ["DONE_MARKER", "Workdir", "read_json", "write_json"]


def read_json(path: Path) -> Any:
    """A JSON file the core itself wrote: missing or broken is an error (unlike a report
    reader's ``vlmhb_workdir.read_json``, for which a missing file is an empty part)."""
    return json.loads(path.read_text(encoding="utf-8"))
