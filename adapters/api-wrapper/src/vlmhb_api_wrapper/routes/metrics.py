"""Monitoring: ``/v1/metrics`` (JSON or Prometheus) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from vlmhb_api_wrapper.dependencies import Server
from vlmhb_api_wrapper.errors import ApiError
from vlmhb_api_wrapper.monitor import prometheus_text
from vlmhb_api_wrapper.server_state import ServerState

router = APIRouter()


def _metrics(server: ServerState, format: str) -> Response:
    stats = server.stats.snapshot()
    ok, reason = server.readiness()
    if format == "prometheus":
        return PlainTextResponse(
            prometheus_text(stats, server.monitor.last, ok),
            media_type="text/plain; version=0.0.4",
        )
    if format != "json":
        raise ApiError(400, f"format: expected 'json' or 'prometheus', got {format!r}", "format")
    body = {
        "requests": stats,
        "resources": server.monitor.last,
        "gpu_monitoring": "nvml" if server.monitor.gpu_available else "none",
        "batches": {"recent_sizes": server.dispatcher.batch_sizes[-50:]},
        "ready": ok,
        "reason": reason,
    }
    return JSONResponse(body)


# Request counts, tokens, latency percentiles, resources, batch sizes, readiness.
@router.get("/v1/metrics")
async def metrics(server: Server, format: str = "json") -> Response:
    return _metrics(server, format)


# The same figures in Prometheus text format, where scrapers look for them.
@router.get("/metrics")
async def prometheus(server: Server) -> Response:
    return _metrics(server, "prometheus")
