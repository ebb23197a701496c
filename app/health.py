"""Kubernetes probes.

Liveness never touches a dependency. Readiness means "this instance can serve": the model is
loaded and the database has answered once since start-up; a later database outage does not
take the instance out of the load balancer, because `/predict` and the health endpoints still
work and item requests get a clear 503 with `Retry-After`. `/health` is the live verdict of
every dependency (what the start-up probe and humans read).
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text

from app.errors import is_database_unavailable
from app.observability import READY

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    """The process answers."""

    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    """A verdict with one check per dependency, and what is wrong if one fails."""

    status: str = Field(description="`ok` or `unavailable`.", examples=["ok"])
    checks: dict[str, str] = Field(
        description="One entry per dependency: `ok` or the reason it failed.",
        examples=[{"database": "ok", "model": "ok"}],
    )


_READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"model": Readiness, "description": "A check failed; the body says which."}
}


@router.get("/health/live", response_model=Liveness, summary="Liveness probe")
async def live() -> dict[str, str]:
    """Answers 200 while the process can serve; never touches the database or the model."""
    return {"status": "ok"}


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses=_READINESS_RESPONSES,
    summary="Readiness probe",
)
async def ready(request: Request) -> JSONResponse:
    """200 when the model is loaded and the database has answered once since start-up.

    A database outage after that keeps the instance ready: item requests answer 503 with
    `Retry-After` while predictions go on. `/health` has the live database verdict.
    """
    state = request.app.state
    if not state.database_reached:
        await _check_database(request)  # until the first answer; then never again
    database = "ok" if state.database_reached else state.database_error
    response = _verdict({"database": database, "model": _model_check(request)})
    READY.set(1 if response.status_code == 200 else 0)
    return response


@router.get(
    "/health",
    response_model=Readiness,
    responses=_READINESS_RESPONSES,
    summary="Health: every dependency, now",
)
async def health(request: Request) -> JSONResponse:
    """200 when the database answers `SELECT 1` within the timeout and the model is loaded.

    The start-up probe reads it, so a pod takes no traffic before it has reached the database.
    """
    database = await _check_database(request)
    return _verdict({"database": database, "model": _model_check(request)})


def _model_check(request: Request) -> str:
    state = request.app.state
    return "ok" if state.model is not None else f"not loaded: {state.model_error}"


def _verdict(checks: dict[str, str]) -> JSONResponse:
    healthy = all(result == "ok" for result in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


async def _check_database(request: Request) -> str:
    """`SELECT 1` within `HEALTH_DB_TIMEOUT`; remembers that the database was reached."""
    state = request.app.state
    result = await _select_one(state.engine, state.settings.health_db_timeout)
    if result == "ok":
        state.database_reached = True
    else:
        state.database_error = result
    return result


async def _select_one(engine: Engine, timeout: float) -> str:
    def select_one() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        with anyio.fail_after(timeout):
            await anyio.to_thread.run_sync(select_one, abandon_on_cancel=True)
    except TimeoutError:
        return f"no answer within {timeout} s"
    except Exception as error:
        if is_database_unavailable(error):
            return f"unavailable ({type(error).__name__})"
        raise
    return "ok"
