"""A submitted experiment (``POST /api/experiments``): the body read, checked and bounded.

JSON ``{experiment|yaml|user_config, limit, overrides}`` or a multipart form with a
``user_config`` file; every refusal is a 422 naming the field. The body's size was already
bounded by the ``BodyLimit`` middleware before this reads it.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile

from . import limits


async def read_spec(request: Request) -> dict[str, Any]:
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


__all__ = ["read_spec"]
