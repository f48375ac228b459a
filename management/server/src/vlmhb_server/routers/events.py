"""``WS /api/experiments/{id}/events``: the experiment's events, replayed then live.

Replay reads the database up to where the client's feed subscription started; live events
come from the ``FeedHub``'s poller through the client's own bounded buffer. A client that
falls behind is closed with 1013 and told the ``?after=`` to reconnect with.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from sqlalchemy import select

from .. import limits, store
from ..db import EventRow, Experiment
from ..services import Svc
from .params import ExperimentId

router = APIRouter()


@router.websocket("/api/experiments/{experiment_id}/events")
async def events(
    websocket: WebSocket,
    experiment_id: ExperimentId,
    s: Svc,
    after: int = Query(0, ge=0, le=limits.MAX_OFFSET),
) -> None:
    db = s.database
    async with db.session() as session:
        exists = await session.get(Experiment, experiment_id)
    await websocket.accept()
    if exists is None:  # accepted first, so the client sees why (403 means a bad token)
        await websocket.close(code=4404, reason=f"no experiment {experiment_id}")
        return
    client = await s.feeds.subscribe(experiment_id)
    sent = after
    try:
        while True:  # replay what happened before this client subscribed
            async with db.session() as session:
                rows = (
                    await session.execute(
                        select(EventRow.seq, EventRow.payload)
                        .where(
                            EventRow.experiment_id == experiment_id,
                            EventRow.seq > sent,
                            EventRow.seq <= client.start,
                        )
                        .order_by(EventRow.seq)
                        .limit(1000)
                    )
                ).all()
            if not rows:
                break
            for seq, payload in rows:
                await websocket.send_json({**payload, "seq": seq})
                sent = seq
                if payload.get("type") == store.FINISHED:
                    await websocket.close(1000)
                    return
        while True:  # then live
            await client.ready.wait()
            client.ready.clear()
            if client.overflow:
                break
            while client.items:
                item = client.items.popleft()
                if item["seq"] <= sent:
                    continue
                sent = item["seq"]  # a send cut short has already queued the frame
                client.sending = True
                await websocket.send_json(item)
                client.sending = False
                if item.get("type") == store.FINISHED:
                    await websocket.close(1000)
                    return
            if client.overflow:
                break
    except asyncio.CancelledError:
        if not client.overflow:
            raise
    except WebSocketDisconnect:
        return
    finally:
        s.feeds.unsubscribe(experiment_id, client)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(
            websocket.close(1013, f"client too slow; reconnect with ?after={sent}"), 2.0
        )
