"""The FastAPI application: routes, lifespan (migrate, recover, supervise), auth middleware."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import func, select
from starlette.datastructures import UploadFile
from vlmhb_reports import higher_is_better

from . import __version__, core_bridge, figures, limits, sample_views, search, store
from . import samples as sample_pages
from .auth import (
    Identity,
    TokenAuth,
    TokenStore,
    create_token,
    install_log_redaction,
    list_tokens,
    revoke_tokens,
)
from .compare import compare_runs
from .dashboard import add_dashboard
from .db import Database, EventRow, Experiment, RunRow, SampleRow
from .feed import FeedHub
from .guards import BodyLimit, RejectNul, SecurityHeaders
from .importer import import_experiment
from .leader import LeaderLock
from .migrate import check_schema, head_revision, migrate
from .settings import Settings
from .supervisor import StateError, Supervisor

MAX_PAGE = 1000
#: ids are 32-bit integer columns on PostgreSQL; a larger one is a 422, not a database error
MAX_ID = limits.MAX_INT
ExperimentId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
RowId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


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
        self.leader = LeaderLock(settings.leader_lock)
        self.schema: str | None = None

    async def lead(self) -> None:
        """Wait for the supervisor lock (its holder died or stopped), then run the queue."""
        while not self.leader.try_acquire():
            await asyncio.sleep(self.settings.leader_retry_s)
        await self.supervisor.start()


def create_app(settings: Settings) -> FastAPI:
    """The server as an ASGI app; migrations run and workers start when it starts."""
    services = Services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_log_redaction()
        settings.create_dirs()
        if settings.migrate_on_start:
            services.schema = await migrate(services.database)
        else:  # `vlmhb-server --workers N` migrated once, before starting the N processes
            await check_schema(services.database)
            services.schema = head_revision()
        services.samples.backend = await search.detect(services.database.engine)
        leading: asyncio.Task[None] | None = None
        if services.leader.try_acquire():
            await services.supervisor.start()
        else:
            leading = asyncio.create_task(services.lead())
        try:
            yield
        finally:
            if leading is not None:
                leading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await leading
            if services.leader.held:
                await services.supervisor.shutdown()
                services.leader.release()
            await services.feeds.close()
            services.samples.close()
            await services.database.dispose()

    app = FastAPI(
        title="VLMHyperBench management server",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.services = services
    # the last added runs first: NUL check, then the token (401/403 before any body is read),
    # then the body limit
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TokenAuth, store=services.tokens)
    app.add_middleware(RejectNul)
    _routes(app, services)
    add_dashboard(app)  # the built web UI at / (outside the token check; see dashboard.py)
    app.add_middleware(SecurityHeaders)  # outermost: every answer gets the headers
    return app


def _who(request: Request) -> str:
    """The owner of the request's token (set by ``TokenAuth``)."""
    identity: Identity | None = getattr(request.state, "identity", None)
    return identity.owner if identity is not None else "unknown"


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


def _not_found(experiment_id: int) -> HTTPException:
    return HTTPException(404, f"no experiment {experiment_id}")


def _routes(app: FastAPI, s: Services) -> None:
    db = s.database

    async def experiment_or_404(experiment_id: ExperimentId) -> Experiment:
        async with db.session() as session:
            exp = await session.get(Experiment, experiment_id)
        if exp is None:
            raise _not_found(experiment_id)
        return exp

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "schema": s.schema}

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        csp = (
            f"default-src 'none'; script-src 'nonce-{nonce}' https://cdn.jsdelivr.net; "
            "style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: "
            "https://cdn.jsdelivr.net; connect-src 'self'; frame-ancestors 'none'"
        )
        return HTMLResponse(
            _DOCS_PAGE.format(nonce=nonce), headers={"content-security-policy": csp}
        )

    @app.get("/api/registries/{kind}")
    async def registries(kind: str) -> dict[str, Any]:
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

    @app.post("/api/experiments", status_code=201)
    async def submit(request: Request) -> dict[str, Any]:
        spec = await _read_spec(request)
        try:
            prepared = await asyncio.to_thread(
                core_bridge.prepare,
                spec,
                s.settings.registries,
                s.settings.mode,
                s.settings.server_dir / "specs",
                limits.Policy.of(s.settings),
            )
        except core_bridge.InputError as exc:
            raise HTTPException(
                422, {"message": "the experiment cannot be run", "problems": exc.problems}
            ) from exc
        stages = {st["id"]: {**st, "state": "planned"} for st in prepared.stages}
        async with db.session() as session:
            exp = Experiment(
                name=prepared.name,
                status="queued",
                spec=spec,
                source="api",
                stages=stages,
                attempts=0,
                cancel_requested=0,
                created_at=time.time(),
                launched_by=_who(request),
            )
            session.add(exp)
            await session.commit()
        s.supervisor.kick()
        return {"id": exp.id, "name": exp.name, "status": exp.status}

    @app.get("/api/experiments")
    async def list_experiments(
        status: str | None = None,
        name: str | None = None,
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0, le=limits.MAX_OFFSET),
    ) -> dict[str, Any]:
        where = []
        if status:
            where.append(Experiment.status.in_(status.split(",")))
        if name:  # a substring, taken literally: % and _ are characters
            where.append(Experiment.name.ilike(f"%{search.literal(name)}%", escape="\\"))
        async with db.session() as session:
            total = (
                await session.execute(select(func.count()).select_from(Experiment).where(*where))
            ).scalar_one()
            rows = (
                await session.execute(
                    select(Experiment)
                    .where(*where)
                    .order_by(Experiment.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            ).scalars()
            items = [store.experiment_json(e, stages=False) for e in rows]
            ids = [i["id"] for i in items]
            best = await _best_per_task(session, ids)
        for item in items:
            item["best"] = best.get(item["id"], {})
        return {"total": total, "items": items}

    @app.get("/api/experiments/{experiment_id}")
    async def get_experiment(experiment_id: ExperimentId) -> dict[str, Any]:
        return store.experiment_json(await experiment_or_404(experiment_id))

    @app.post("/api/experiments/{experiment_id}/cancel")
    async def cancel(experiment_id: ExperimentId, request: Request) -> dict[str, Any]:
        try:
            state = await s.supervisor.cancel(experiment_id, by=_who(request))
        except KeyError as exc:
            raise _not_found(experiment_id) from exc
        except StateError as exc:
            raise HTTPException(409, str(exc)) from exc
        return {"id": experiment_id, "status": state}

    @app.post("/api/experiments/{experiment_id}/resume")
    async def resume(experiment_id: ExperimentId, request: Request) -> dict[str, Any]:
        try:
            await s.supervisor.resume(experiment_id, by=_who(request))
        except KeyError as exc:
            raise _not_found(experiment_id) from exc
        except StateError as exc:
            raise HTTPException(409, str(exc)) from exc
        return {"id": experiment_id, "status": "queued"}

    @app.websocket("/api/experiments/{experiment_id}/events")
    async def events(
        websocket: WebSocket,
        experiment_id: ExperimentId,
        after: int = Query(0, ge=0, le=limits.MAX_OFFSET),
    ) -> None:
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

    @app.get("/api/experiments/{experiment_id}/leaderboard")
    async def leaderboard(experiment_id: ExperimentId) -> dict[str, Any]:
        await experiment_or_404(experiment_id)
        return {"rows": await _runs(db, experiment_id)}

    @app.get("/api/experiments/{experiment_id}/samples")
    async def samples(
        experiment_id: ExperimentId,
        request: Request,
        run: str | None = None,
        q: str | None = None,
        sort: str = "id",
        order: str = Query("asc", pattern="^(asc|desc)$"),
        limit: int = Query(50, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0, le=limits.MAX_OFFSET),
    ) -> Response:
        try:
            query = sample_pages.Query.from_params(request.query_params, run, q, sort, order)
        except sample_pages.BadQuery as exc:
            raise HTTPException(422, str(exc)) from exc
        try:
            total, rows = await s.samples.page(experiment_id, query, limit, offset)
        except sample_pages.NotFound as exc:
            raise _not_found(experiment_id) from exc
        # bytes made here: FastAPI's encoder pass would only cost time
        return Response(
            sample_pages.render(experiment_id, total, rows), media_type="application/json"
        )

    @app.get("/api/experiments/{experiment_id}/samples/facets")
    async def sample_facets(experiment_id: ExperimentId) -> dict[str, list[str]]:
        """The explorer's filter choices: runs, doc classes, question types, score names."""
        try:
            return await s.facets.of(experiment_id)
        except sample_pages.NotFound as exc:
            raise _not_found(experiment_id) from exc

    @app.get("/api/experiments/{experiment_id}/samples/{row_id}/answers")
    async def sample_answers(experiment_id: ExperimentId, row_id: RowId) -> Response:
        """This row's sample in every run of the experiment, with a per-field table each
        (``fields``) when the reference is a JSON object."""
        try:
            rows = await sample_views.same_sample(s.database.engine, experiment_id, row_id)
        except sample_pages.NotFound as exc:
            raise HTTPException(404, f"no sample {row_id} in experiment {experiment_id}") from exc
        return Response(
            sample_views.render_answers(experiment_id, rows), media_type="application/json"
        )

    @app.get("/api/experiments/{experiment_id}/samples/{row_id}/image")
    async def image(
        experiment_id: ExperimentId, row_id: RowId, i: int = Query(0, ge=0, le=1000)
    ) -> FileResponse:
        async with db.session() as session:
            row = await session.get(SampleRow, row_id)
            exp = await session.get(Experiment, experiment_id)
            run = (
                await session.execute(
                    select(RunRow).where(
                        RunRow.experiment_id == experiment_id,
                        RunRow.run == (row.run if row else ""),
                    )
                )
            ).scalar_one_or_none()
        if row is None or exp is None or row.experiment_id != experiment_id:
            raise HTTPException(404, f"no sample {row_id} in experiment {experiment_id}")
        images = (row.meta or {}).get("images") or ([row.image_path] if row.image_path else [])
        if i >= len(images):
            raise HTTPException(
                404, f"sample {row.sample_id} has {len(images)} image(s), not {i + 1}"
            )
        workdir = Path((exp.spec or {}).get("_workdir") or s.settings.workdir)
        roots = core_bridge.data_roots(workdir)
        if run is not None and (run.extra or {}).get("data_root"):
            roots.append(Path(run.extra["data_root"]))
        path = limits.servable_image(Path(images[i]), roots, forbidden=[s.settings.server_dir])
        if path is None:
            raise HTTPException(
                403, f"image of sample {row.sample_id} is not an image file in its dataset's folder"
            )
        if not path.is_file():
            raise HTTPException(404, f"image of sample {row.sample_id} is missing: {path.name}")
        return FileResponse(path)

    @app.get("/api/experiments/{experiment_id}/figures")
    async def figure_list(experiment_id: ExperimentId) -> list[dict[str, str]]:
        await experiment_or_404(experiment_id)
        board = figures.Board(runs=await _runs(db, experiment_id))
        return [{"name": n, "title": t} for n, (t, _, _) in figures.catalogue(board).items()]

    @app.get("/api/experiments/{experiment_id}/figures/{name}")
    async def figure(experiment_id: ExperimentId, name: str) -> Response:
        await experiment_or_404(experiment_id)
        board = figures.Board(runs=await _runs(db, experiment_id))
        found = figures.catalogue(board).get(name)
        if found is None:
            raise HTTPException(
                404,
                f"no figure {name!r}; expected one of {', '.join(figures.catalogue(board))}",
            )
        _, build, needs_samples = found
        if needs_samples:
            board.samples = await _figure_samples(db, experiment_id)
        fig = await asyncio.to_thread(build, board)
        return Response(fig.to_json(), media_type="application/json")

    @app.get("/api/compare")
    async def compare(
        a: str = Query(max_length=1000), b: str = Query(max_length=1000)
    ) -> dict[str, Any]:
        left, right = await _side(db, a, "a"), await _side(db, b, "b")
        pairs: list[tuple[dict[str, Any], dict[str, Any]]]
        if len(left) == 1 and len(right) == 1:
            pairs = [(left[0], right[0])]
        else:
            by_key = {_key(r): r for r in right}
            pairs = [(r, by_key[_key(r)]) for r in left if _key(r) in by_key]
            if not pairs:
                raise HTTPException(
                    422, f"{a} and {b} share no run (same model, dataset, prompt and task)"
                )
        results = []
        for ra, rb in pairs:
            sa = await _sample_scores(db, ra["experiment_id"], ra["run"])
            sb = await _sample_scores(db, rb["experiment_id"], rb["run"])
            results.append(await asyncio.to_thread(compare_runs, ra, rb, sa, sb))
        return {"a": a, "b": b, "runs": results}

    @app.post("/api/import", status_code=201)
    async def import_workdir(body: dict[str, Any]) -> dict[str, Any]:
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
            await import_experiment(s.database, workdir, name, notify=s.feeds.notify)
            for name in names
        ]
        return {"imported": imported}

    @app.get("/api/tokens")
    async def tokens() -> dict[str, Any]:
        items = await list_tokens(db)
        for item in items:
            item["created_at"] = store.iso(item["created_at"])
        return {"items": items}

    @app.post("/api/tokens", status_code=201)
    async def new_token(body: dict[str, Any]) -> dict[str, Any]:
        name, scope = body.get("name"), body.get("scope", "read")
        if not isinstance(name, str) or not isinstance(scope, str):
            raise HTTPException(422, "name, scope: expected the owner's name and a scope")
        try:
            token = await create_token(db, name, scope)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return {"name": name.strip(), "scope": scope, "token": token}

    @app.delete("/api/tokens/{token_id}")
    async def revoke(token_id: RowId) -> dict[str, Any]:
        if not await revoke_tokens(db, token_id):
            raise HTTPException(404, f"no token {token_id}")
        return {"revoked": token_id}


async def _read_spec(request: Request) -> dict[str, Any]:
    """The submitted experiment: JSON ``{experiment|yaml|user_config, limit, overrides}`` or a
    multipart form with a ``user_config`` file (and optional ``limit``)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("user_config")
        if not isinstance(upload, UploadFile):
            raise HTTPException(
                422, "user_config: expected a file field with a v0.1 user_config.csv"
            )
        raw = await upload.read(limits.MAX_SPEC_CHARS * 4 + 1)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise HTTPException(422, f"user_config: {upload.filename}: not UTF-8 text") from exc
        body: dict[str, Any] = {"user_config": text}
        if form.get("limit"):
            body["limit"] = form.get("limit")
    else:
        try:
            body = await request.json()
        except ValueError as exc:
            raise HTTPException(
                422, "body: expected JSON (or a multipart user_config file)"
            ) from exc
        except RecursionError as exc:
            raise HTTPException(
                422, f"body: JSON nested deeper than {limits.MAX_DEPTH} levels"
            ) from exc
        if not isinstance(body, dict):
            raise HTTPException(422, "body: expected a JSON object")
    given = [k for k in ("experiment", "yaml", "user_config") if body.get(k) not in (None, "")]
    if len(given) != 1:
        raise HTTPException(
            422, "body: expected exactly one of 'experiment' (a name), 'yaml' or 'user_config'"
        )
    unknown = sorted(set(body) - {"experiment", "yaml", "user_config", "limit", "overrides"})
    if unknown:
        raise HTTPException(422, f"body: unknown field(s) {', '.join(unknown)}")
    spec: dict[str, Any] = {given[0]: body[given[0]]}
    if not isinstance(spec[given[0]], str):
        raise HTTPException(422, f"{given[0]}: expected a string")
    try:
        limits.check_text(
            spec[given[0]],
            given[0],
            limits.MAX_FIELD_CHARS if given[0] == "experiment" else limits.MAX_SPEC_CHARS,
        )
        if body.get("overrides") is not None:
            limits.check_json(body["overrides"], "overrides")
    except limits.LimitError as exc:
        raise HTTPException(422, str(exc)) from exc
    if body.get("limit") is not None:
        try:
            limit = int(body["limit"])
        except (TypeError, ValueError):
            limit = 0
        if not 0 < limit <= limits.MAX_INT or str(body["limit"]).strip() != str(limit):
            raise HTTPException(422, f"limit: expected a positive integer, got {body['limit']!r}")
        spec["limit"] = limit
    if body.get("overrides") is not None:
        if given[0] != "experiment" or not isinstance(body["overrides"], dict):
            raise HTTPException(422, "overrides: expected a mapping, with 'experiment' only")
        spec["overrides"] = body["overrides"]
    return spec


def _run_json(row: RunRow) -> dict[str, Any]:
    extra = dict(row.extra or {})
    extra.pop("data_root", None)
    return {
        "experiment_id": row.experiment_id,
        "run": row.run,
        "model": row.model,
        "dataset": row.dataset,
        "prompt": row.prompt,
        "task": row.task,
        "output_kind": row.output_kind,
        "metrics": row.metrics or {},
        **extra,
    }


async def _runs(db: Database, experiment_id: int) -> list[dict[str, Any]]:
    async with db.session() as session:
        rows = (
            await session.execute(
                select(RunRow).where(RunRow.experiment_id == experiment_id).order_by(RunRow.id)
            )
        ).scalars()
        return [_run_json(r) for r in rows]


async def _best_per_task(session: Any, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = (await session.execute(select(RunRow).where(RunRow.experiment_id.in_(ids)))).scalars()
    best: dict[int, dict[str, Any]] = {}
    for row in rows:
        metric = figures.main_metric({"metrics": row.metrics, **(row.extra or {})})
        value = (row.metrics or {}).get(metric) if metric else None
        if not isinstance(value, int | float):
            continue
        tasks = best.setdefault(row.experiment_id, {})
        current = tasks.get(row.task)
        better = higher_is_better(metric)
        if current is None or (value > current["value"] if better else value < current["value"]):
            tasks[row.task] = {
                "metric": metric,
                "value": value,
                "model": row.model,
                "prompt": row.prompt,
            }
    return best


async def _figure_samples(db: Database, experiment_id: int) -> list[tuple[Any, ...]]:
    async with db.session() as session:
        rows = await session.execute(
            select(
                SampleRow.run,
                SampleRow.doc_class,
                SampleRow.latency_s,
                SampleRow.scores,
                SampleRow.answer,
                SampleRow.meta,
            ).where(SampleRow.experiment_id == experiment_id)
        )
        return [tuple(r) for r in rows]


async def _sample_scores(db: Database, experiment_id: int, run: str) -> dict[str, dict[str, Any]]:
    async with db.session() as session:
        rows = await session.execute(
            select(SampleRow.sample_id, SampleRow.answer, SampleRow.scores).where(
                SampleRow.experiment_id == experiment_id, SampleRow.run == run
            )
        )
        return {sid: {"answer": answer, "scores": scores or {}} for sid, answer, scores in rows}


def _key(row: dict[str, Any]) -> tuple[str, str, str, str]:
    return (row["model"], row["dataset"], row["prompt"], row["task"])


async def _side(db: Database, ref: str, label: str) -> list[dict[str, Any]]:
    """``ref``: an experiment id, or ``<id>:<run>`` (run name or model/dataset/prompt)."""
    head, _, run = ref.partition(":")
    try:
        experiment_id = int(head)
    except ValueError as exc:
        raise HTTPException(
            422, f"{label}: expected an experiment id or <id>:<run>, got {ref!r}"
        ) from exc
    if not 1 <= experiment_id <= limits.MAX_INT:
        raise HTTPException(
            422, f"{label}: expected an experiment id from 1 to {limits.MAX_INT}, got {head}"
        )
    rows = await _runs(db, experiment_id)
    if not rows:
        raise HTTPException(404, f"{label}: experiment {experiment_id} has no results")
    if not run:
        return rows
    chosen = [r for r in rows if run in (r["run"], f"{r['model']}/{r['dataset']}/{r['prompt']}")]
    if not chosen:
        raise HTTPException(
            404,
            f"{label}: no run {run!r} in experiment {experiment_id} (has: "
            f"{', '.join(r['run'] for r in rows)})",
        )
    return chosen


__all__ = ["create_app"]
