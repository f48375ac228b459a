"""The user overlay: a per-user registries folder every command reads after the shipped ones.

Entries a user adds without editing a checkout (``vlmhb import ...`` writes them here) live in
``$VLMHB_USER_OVERLAY``, else ``$XDG_CONFIG_HOME/vlmhb/registries``, else
``~/.config/vlmhb/registries``. The registry owns where it is, since it is the registry that
reads it; importers (vlmhb-v01) write to the same place by the same rule.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["user_overlay_dir"]


def user_overlay_dir() -> Path:
    """The user overlay folder (it may not exist yet)."""
    configured = os.environ.get("VLMHB_USER_OVERLAY")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "vlmhb" / "registries"
