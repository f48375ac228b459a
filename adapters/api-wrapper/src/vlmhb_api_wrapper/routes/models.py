"""The control plane: list, load and unload the model (``/v1/models...``)."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from vlmhb_api_wrapper.dependencies import Server
from vlmhb_api_wrapper.schemas import LoadRequest
from vlmhb_api_wrapper.server_state import ServerState

router = APIRouter()


def _described(server: ServerState) -> Response:
    """What is loaded, masked as a whole text: a secret anywhere in it never leaves."""
    text = json.dumps(server.model_slot.describe(), ensure_ascii=False, default=str)
    return Response(server.masker.mask(text), media_type="application/json")


# OpenAI's list shape, plus state, masked config and versions.
@router.get("/v1/models")
async def models(server: Server) -> Response:
    return _described(server)


# Load (or replace) the model; answers once loaded, with what ``/v1/models`` shows.
@router.post("/v1/models/load")
async def load(body: LoadRequest, server: Server) -> Response:
    await server.model_slot.load(body.config, model=body.model, secrets=body.secrets)
    server.watchdog.reset()
    return _described(server)


# Free the model once the requests in flight have finished.
@router.post("/v1/models/unload")
async def unload(server: Server) -> Response:
    await server.model_slot.unload()
    server.watchdog.reset()
    return _described(server)
