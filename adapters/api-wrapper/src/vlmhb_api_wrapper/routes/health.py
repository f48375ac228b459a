"""Liveness and readiness: ``/health`` (no key needed) and ``/ready``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from vlmhb_api_wrapper.dependencies import Server

router = APIRouter()


# Alive: answers as long as the event loop does, whatever the model's state.
@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "alive"}


# 200 when a model is loaded and answering, else 503 with the reason.
@router.get("/ready")
async def ready(server: Server) -> JSONResponse:
    ok, reason = server.readiness()
    body = {"ready": ok, "reason": reason, "state": server.model_slot.state}
    return JSONResponse(body, status_code=200 if ok else 503)
