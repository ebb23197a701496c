"""Kubernetes probes: liveness never touches a dependency; readiness checks them all."""

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
    """Whether this instance should receive traffic, and what is wrong if not."""

    status: str = Field(description="`ok` or `unavailable`.", examples=["ok"])
    checks: dict[str, str] = Field(
        description="One entry per dependency: `ok` or the reason it failed.",
        examples=[{"database": "ok", "model": "ok"}],
    )


_READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"model": Readiness, "description": "A dependency is down; the body says which."}
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
    """200 when the database answers `SELECT 1` within the timeout and the model is loaded."""
    return await _readiness(request)


@router.get(
    "/health",
    response_model=Readiness,
    responses=_READINESS_RESPONSES,
    summary="Health (same verdict as readiness)",
)
async def health(request: Request) -> JSONResponse:
    """The readiness verdict with a check per dependency; what the probes and humans read."""
    return await _readiness(request)


async def _readiness(request: Request) -> JSONResponse:
    state = request.app.state
    checks = {
        "database": await _check_database(state.engine, state.settings.health_db_timeout),
        "model": "ok" if state.model is not None else f"not loaded: {state.model_error}",
    }
    healthy = all(result == "ok" for result in checks.values())
    READY.set(1 if healthy else 0)
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


async def _check_database(engine: Engine, timeout: float) -> str:
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
