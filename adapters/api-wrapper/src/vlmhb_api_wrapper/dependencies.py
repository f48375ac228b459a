"""FastAPI dependencies: how a route handler gets the server's services.

Handlers declare what they use (``server: Server``, ``slot: Slot``) instead of closing over
``create_app``'s locals, so the routers are plain modules and a test can override a service
with ``app.dependency_overrides``. The providers are ``async``: a sync dependency would cost a
thread hop on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vlmhb_api_wrapper.model_slot import ModelSlot
from vlmhb_api_wrapper.server_state import ServerState


async def get_server(request: Request) -> ServerState:
    """The services of the app serving this request (set by ``create_app``)."""
    return request.app.state.server


async def get_model_slot(request: Request) -> ModelSlot:
    """The one model slot of the app serving this request."""
    return request.app.state.server.model_slot


Server = Annotated[ServerState, Depends(get_server)]
Slot = Annotated[ModelSlot, Depends(get_model_slot)]
