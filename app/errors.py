"""Domain errors translated to HTTP in one place. Clients never see a traceback or SQL."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.items.service import ItemNotFoundError, VersionMismatchError
from app.observability import DB_ERRORS, request_id_var

logger = logging.getLogger(__name__)


class ModelUnavailableError(Exception):
    """No verified sentiment model is loaded; the message says why."""


def _error(status_code: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def is_database_unavailable(error: Exception) -> bool:
    """True for failures that mean "database down or overloaded", as opposed to a bug."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection free in time
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return False


async def _invalid_request(_request: Request, error: Exception) -> Response:
    """422 naming each bad field. The rejected input is not echoed back: it may be huge, or
    hold text (a lone surrogate) that cannot even be encoded; ASCII-escaped JSON is always safe.
    """
    assert isinstance(error, RequestValidationError)
    details: list[dict[str, Any]] = [
        {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")}
        for e in error.errors()
    ]
    body = json.dumps({"detail": details}, ensure_ascii=True, default=str)
    return Response(body, status_code=422, media_type="application/json")


async def _not_found(_request: Request, error: Exception) -> JSONResponse:
    return _error(404, str(error))


async def _version_mismatch(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, VersionMismatchError)
    return _error(412, str(error), headers={"ETag": f'"{error.current_version}"'})


async def _model_unavailable(_request: Request, error: Exception) -> JSONResponse:
    return _error(503, f"Sentiment model unavailable: {error}", headers={"Retry-After": "30"})


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    if not is_database_unavailable(error):
        return await _unexpected(request, error)
    DB_ERRORS.inc()
    logger.warning("database unavailable: %s", type(error).__name__)
    return _error(503, "Database unavailable, retry later", headers={"Retry-After": "1"})


async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=error)
    return JSONResponse(
        {"detail": "Internal server error", "request_id": request_id_var.get()}, status_code=500
    )


async def _http_error(request: Request, error: Exception) -> Response:
    """Starlette's 405 names only the methods of the first route on the path; name them all."""
    if not isinstance(error, StarletteHTTPException):
        return await _unexpected(request, error)
    if error.status_code == 405:
        allowed: set[str] = set()
        for route in request.app.router.routes:
            regex = getattr(route, "path_regex", None)
            if regex is not None and regex.match(request.url.path):
                allowed |= getattr(route, "methods", None) or set()
        error.headers = {**(error.headers or {}), "Allow": ", ".join(sorted(allowed))}
    return await http_exception_handler(request, error)


def install_error_handlers(app: FastAPI) -> None:
    """Register every translation from exception to JSON response."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ItemNotFoundError, _not_found)
    app.add_exception_handler(VersionMismatchError, _version_mismatch)
    app.add_exception_handler(ModelUnavailableError, _model_unavailable)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
