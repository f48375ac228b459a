"""Path and query parameters shared by the routers, bounded the same way everywhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException
from fastapi import Path as PathParam

from .. import limits

MAX_PAGE = 1000
#: ids are 32-bit integer columns on PostgreSQL; a larger one is a 422, not a database error
MAX_ID = limits.MAX_INT
ExperimentId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
RowId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


def not_found(experiment_id: int) -> HTTPException:
    return HTTPException(404, f"no experiment {experiment_id}")
