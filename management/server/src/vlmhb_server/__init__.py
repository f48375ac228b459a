"""VLMHyperBench management server: experiments over an API, a database, live events on a
WebSocket, and Plotly figures built server-side for the dashboard.

Run it with ``vlmhb-server`` (see ``vlmhb-server --help``), or embed it::

    from vlmhb_server import Settings, create_app
    app = create_app(Settings(workdir=".work", registries="registries"))
"""

from __future__ import annotations

from ._version import __version__
from .app import create_app
from .auth import TokenAuth, create_token, hash_token
from .core_bridge import InputError
from .migrate import SchemaError, migrate
from .settings import Settings

__all__ = [
    "InputError",
    "SchemaError",
    "Settings",
    "TokenAuth",
    "__version__",
    "create_app",
    "create_token",
    "hash_token",
    "migrate",
]
