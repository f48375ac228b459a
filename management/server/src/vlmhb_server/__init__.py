"""VLMHyperBench management server: experiments over an API, a database, live events on a
WebSocket, and Plotly figures built server-side for the dashboard.

Run it with ``vlmhb-server`` (see ``vlmhb-server --help``), or embed it::

    from vlmhb_server import Settings, create_app
    app = create_app(Settings(workdir=".work", registries="registries"))

The names below are imported when first asked for: an experiment worker
(``vlmhb_server.worker``) or a ``vlmhb-server token`` command imports this package too, and
needs neither the web app (FastAPI, the routers) nor what only the app's routes use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

# eager: the function ``migrate`` shares its module's name, and importing the module later
# (the app and the worker do) would bind the module to ``vlmhb_server.migrate`` instead
from .migrate import SchemaError, migrate

if TYPE_CHECKING:
    from .app import create_app
    from .auth import TokenAuth, create_token, hash_token
    from .core_bridge import InputError
    from .settings import Settings

#: exported name -> the module that defines it
_LAZY = {
    "create_app": "app",
    "TokenAuth": "auth",
    "create_token": "auth",
    "hash_token": "auth",
    "InputError": "core_bridge",
    "Settings": "settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # asked once
    return value


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
