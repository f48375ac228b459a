"""What runs for the app's lifetime: monitors, the start-up load, the parent watch.

Everything started here is stopped here, in reverse order, and the model is unloaded, so a
server that ends (Ctrl-C, SIGTERM, its parent gone) leaves no GPU memory behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from vlmhb_api_wrapper.errors import ApiError
from vlmhb_api_wrapper.server_state import ServerState
from vlmhb_api_wrapper.watchdog import ParentWatch

log = logging.getLogger("vlmhb_api_wrapper")


async def _initial_load(server: ServerState) -> None:
    with contextlib.suppress(ApiError):  # the failure is kept in the state, shown at /ready
        await server.model_slot.load(dict(server.startup_config))


async def _watch_parent(server: ServerState, pid: int) -> None:
    try:
        watch = ParentWatch(pid)
    except ValueError as exc:
        log.error("%s: shutting down", exc)
        server.request_shutdown()
        return
    await watch.wait_gone(server.settings.watchdog_interval_s)
    log.warning("parent process %d is gone: shutting the server down", pid)
    server.request_shutdown()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan: reads its services from ``app.state.server``."""
    server: ServerState = app.state.server
    parent_pid = server.settings.parent_pid
    server.monitor.start()
    server.watchdog.start()
    loading = asyncio.create_task(_initial_load(server), name="vlmhb-initial-load")
    parent = (
        asyncio.create_task(_watch_parent(server, parent_pid), name="vlmhb-parent")
        if parent_pid is not None
        else None
    )
    try:
        yield
    finally:
        for task in (loading, parent):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await server.dispatcher.stop()
        await server.watchdog.stop()
        await server.monitor.stop()
        if server.model_slot.loaded:
            with contextlib.suppress(Exception):
                await server.model_slot.backend.unload()
