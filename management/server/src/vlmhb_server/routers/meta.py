"""What the server is: health (open), the API docs page, registry entries to build from."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from .. import core_bridge
from .._version import __version__
from ..services import Svc

router = APIRouter()

#: the API docs page: Swagger UI reads the token from the page's own URL in the browser and
#: sends it as a header; nothing from the request is written into this HTML
_DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>vlmhb-server API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script nonce="{nonce}">
const token = new URLSearchParams(window.location.search).get("token");
SwaggerUIBundle({{
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  requestInterceptor: (request) => {{
    if (token) request.headers.Authorization = "Bearer " + token;
    return request;
  }},
}});
</script></body></html>
"""


@router.get("/api/health")
async def health(s: Svc) -> dict[str, Any]:
    return {"status": "ok", "version": __version__, "schema": s.schema}


@router.get("/api/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}' https://cdn.jsdelivr.net; "
        "style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: "
        "https://cdn.jsdelivr.net; connect-src 'self'; frame-ancestors 'none'"
    )
    return HTMLResponse(_DOCS_PAGE.format(nonce=nonce), headers={"content-security-policy": csp})


@router.get("/api/registries/{kind}")
async def registries(kind: str, s: Svc) -> dict[str, Any]:
    try:
        entries = await asyncio.to_thread(
            core_bridge.registry_entries, s.settings.registries, s.settings.mode, kind
        )
    except KeyError as exc:
        raise HTTPException(404, str(exc).strip('"')) from exc
    except core_bridge.InputError as exc:
        raise HTTPException(
            500, {"message": "the registries are invalid", "problems": exc.problems}
        ) from exc
    return {"kind": kind, "entries": entries}
