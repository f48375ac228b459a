"""What needs the ``admin`` scope: importing CLI runs' results, and the API tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException

from .. import core_bridge, store
from ..auth import create_token, list_tokens, revoke_tokens
from ..importer import import_experiment
from ..services import Db, Svc
from .params import RowId

router = APIRouter()


@router.post("/api/import", status_code=201)
async def import_workdir(body: dict[str, Any], s: Svc) -> dict[str, Any]:
    raw = body.get("workdir")
    if not isinstance(raw, str) or not raw:
        raise HTTPException(422, "workdir: expected the path of a vlmhb work dir")
    workdir = Path(raw).expanduser().resolve()
    roots = s.settings.import_roots
    if not any(workdir.is_relative_to(root) for root in roots):
        raise HTTPException(
            403,
            f"workdir: {raw!r} is outside the folders this server imports from "
            f"({', '.join(str(r) for r in roots)}; vlmhb-server --import-root)",
        )
    names = core_bridge.experiments_in(workdir)
    wanted = body.get("experiments")
    if wanted:
        missing = [n for n in wanted if n not in names]
        if missing:
            raise HTTPException(
                404,
                f"workdir {workdir}: no report for {', '.join(missing)} (has: {', '.join(names) or 'none'})",
            )
        names = list(wanted)
    if not names:
        raise HTTPException(404, f"workdir {workdir}: no reports/<experiment>/runs.json found")
    imported = [
        await import_experiment(s.database, workdir, name, notify=s.feeds.notify) for name in names
    ]
    return {"imported": imported}


@router.get("/api/tokens")
async def tokens(db: Db) -> dict[str, Any]:
    items = await list_tokens(db)
    for item in items:
        item["created_at"] = store.iso(item["created_at"])
    return {"items": items}


@router.post("/api/tokens", status_code=201)
async def new_token(body: dict[str, Any], db: Db) -> dict[str, Any]:
    name, scope = body.get("name"), body.get("scope", "read")
    if not isinstance(name, str) or not isinstance(scope, str):
        raise HTTPException(422, "name, scope: expected the owner's name and a scope")
    try:
        token = await create_token(db, name, scope)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"name": name.strip(), "scope": scope, "token": token}


@router.delete("/api/tokens/{token_id}")
async def revoke(token_id: RowId, db: Db) -> dict[str, Any]:
    if not await revoke_tokens(db, token_id):
        raise HTTPException(404, f"no token {token_id}")
    return {"revoked": token_id}
