"""The API, one router per area; :func:`vlmhb_server.create_app` includes :data:`ROUTERS`.

``meta`` (health, docs, registries), ``experiments`` (submit, list, get, cancel, resume),
``events`` (the WebSocket), ``results`` (leaderboard, figures, compare), ``explorer``
(samples, facets, answers, images), ``admin`` (imports, tokens). Routes get what they need
through the dependencies in :mod:`vlmhb_server.services`; scopes are checked before any route,
by the ``TokenAuth`` middleware.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import admin, events, experiments, explorer, meta, results

ROUTERS: tuple[APIRouter, ...] = (
    meta.router,
    experiments.router,
    events.router,
    results.router,
    explorer.router,
    admin.router,
)

__all__ = ["ROUTERS"]
