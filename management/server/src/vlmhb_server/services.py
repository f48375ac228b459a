"""What the routes need, made once per app, and handed to them as FastAPI dependencies.

The app factory creates one :class:`Services` and its lifespan starts and stops it; a route
asks for the part it uses (``Db``, ``Svc``, ``Who``) instead of closing over the factory's
variables, so each router module stands alone and a test can override a dependency.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection, Request

from . import sample_views
from . import samples as sample_pages
from .auth import Identity, TokenStore
from .db import Database
from .feed import FeedHub
from .settings import Settings
from .supervisor import Supervisor
from .supervisor_lock import SupervisorLock


class Services:
    """What routes need, created with the app and started by its lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(settings.url)
        self.tokens = TokenStore(self.database, settings.tokens)
        self.feeds = FeedHub(self.database, settings.poll_interval_s, settings.ws_queue_size)
        self.supervisor = Supervisor(settings, self.database, self.feeds)
        self.samples = sample_pages.SamplesService(self.database.engine)
        self.facets = sample_views.Facets(self.database.engine)
        self.supervisor_lock = SupervisorLock(settings.leader_lock)
        self.schema: str | None = None

    async def lead(self) -> None:
        """Wait for the supervisor lock (its holder died or stopped), then run the queue."""
        while not self.supervisor_lock.try_acquire():
            await asyncio.sleep(self.settings.leader_retry_s)
        await self.supervisor.start()


def services(connection: HTTPConnection) -> Services:
    """The app's services (HTTP routes and the WebSocket alike)."""
    return connection.app.state.services


def database(connection: HTTPConnection) -> Database:
    return services(connection).database


def who(request: Request) -> str:
    """The owner of the request's token (set by ``TokenAuth``)."""
    identity: Identity | None = getattr(request.state, "identity", None)
    return identity.owner if identity is not None else "unknown"


Svc = Annotated[Services, Depends(services)]
Db = Annotated[Database, Depends(database)]
Who = Annotated[str, Depends(who)]

__all__ = ["Db", "Services", "Svc", "Who", "database", "services", "who"]
