"""Kubernetes probes.

Liveness never touches a dependency. Readiness means "this instance can serve": the model is
loaded and the database has answered once since start-up; a later database outage does not
take the instance out of the load balancer, because `/predict` and the health endpoints still
work and item requests get a clear 503 with `Retry-After`. `/health` is the live verdict of
every dependency (what the start-up probe and humans read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine, text

from app.config import AppSettings
from app.db import Database
from app.errors import PROBLEM_TYPES, is_database_unavailable, problem_response
from app.observability import READY

router = APIRouter(tags=["health"])

# Threads of their own for `SELECT 1`: a probe must not queue behind item requests for the
# worker threads, which a slow database can keep busy for seconds.
_PROBE_THREADS = anyio.CapacityLimiter(2)


@dataclass
class DatabaseReached:
    """Whether the database has answered since start-up, and why not yet if not."""

    reached: bool = False
    error: str = "not reached yet"


async def database_reached(request: Request) -> DatabaseReached:
    """The instance's record of its first database answer (made in the lifespan)."""
    state: DatabaseReached = request.app.state.database_reached
    return state


async def model_check(request: Request) -> str:
    """`ok` when a verified model is loaded, else why not."""
    if request.app.state.model is not None:
        return "ok"
    return f"not loaded: {request.app.state.model_error}"


FirstAnswer = Annotated[DatabaseReached, Depends(database_reached)]
ModelCheck = Annotated[str, Depends(model_check)]


class Liveness(BaseModel):
    """The process answers."""

    status: str = Field(examples=["ok"])


class Health(BaseModel):
    """Every check passed."""

    status: str = Field(description="`ok`.", examples=["ok"])
    checks: dict[str, str] = Field(
        description="One entry per dependency: `ok` or the reason it failed.",
        examples=[{"database": "ok", "model": "ok"}],
    )


_UNHEALTHY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "A check failed: problem details whose `checks` say which.",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
}


@router.get(
    "/health/live", operation_id="health-live", response_model=Liveness, summary="Liveness probe"
)
async def live() -> dict[str, str]:
    """Answers 200 while the process can serve; never touches the database or the model."""
    return {"status": "ok"}


@router.get(
    "/health/ready",
    operation_id="health-ready",
    response_model=Health,
    responses=_UNHEALTHY,
    summary="Readiness probe",
)
async def ready(
    engine: Database, settings: AppSettings, first: FirstAnswer, model: ModelCheck
) -> Response:
    """200 when the model is loaded and the database has answered once since start-up.

    A database outage after that keeps the instance ready: item requests answer 503 with
    `Retry-After` while predictions go on. `/health` has the live database verdict.
    """
    if not first.reached:  # until the first answer; then never again
        await _check_database(engine, settings.health_db_timeout, first)
    response = _verdict({"database": "ok" if first.reached else first.error, "model": model})
    READY.set(1 if response.status_code == 200 else 0)
    return response


@router.get(
    "/health",
    operation_id="health",
    response_model=Health,
    responses=_UNHEALTHY,
    summary="Health: every dependency, now",
)
async def health(
    engine: Database, settings: AppSettings, first: FirstAnswer, model: ModelCheck
) -> Response:
    """200 when the database answers `SELECT 1` within the timeout and the model is loaded.

    The start-up probe reads it, so a pod takes no traffic before it has reached the database.
    """
    database = await _check_database(engine, settings.health_db_timeout, first)
    return _verdict({"database": database, "model": model})


def _verdict(checks: dict[str, str]) -> Response:
    failed = {name: result for name, result in checks.items() if result != "ok"}
    if not failed:
        return JSONResponse({"status": "ok", "checks": checks})
    detail = "; ".join(f"{name}: {result}" for name, result in failed.items())
    return problem_response(
        503,
        detail,
        title="Unhealthy",
        problem_type=PROBLEM_TYPES + "unhealthy",
        checks=checks,
    )


async def _check_database(engine: Engine, timeout: float, first: DatabaseReached) -> str:
    """`SELECT 1` within `timeout`; records the first answer in `first`."""
    result = await _select_one(engine, timeout)
    if result == "ok":
        first.reached = True
    else:
        first.error = result
    return result


async def _select_one(engine: Engine, timeout: float) -> str:
    def select_one() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        with anyio.fail_after(timeout):
            await anyio.to_thread.run_sync(
                select_one, abandon_on_cancel=True, limiter=_PROBE_THREADS
            )
    except TimeoutError:
        return f"no answer within {timeout} s"
    except Exception as error:
        if is_database_unavailable(error):
            return f"unavailable ({type(error).__name__})"
        raise
    return "ok"
