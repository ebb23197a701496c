"""Every error answer as RFC 9457 problem details (`application/problem+json`), in one place.

Domains raise subclasses of `AppError`, which carry their status, title and problem type;
this module knows no domain. Clients never see a traceback, SQL or the rejected input.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.observability import DB_ERRORS, request_id_var

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Problem types are documented, one heading each, in docs/problems.md.
PROBLEM_TYPES = "https://github.com/itemsense/itemsense/blob/main/docs/problems.md#"


class AppError(Exception):
    """An error a client must be told about. Subclasses set the status, title and type."""

    status_code: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    problem_type: ClassVar[str] = "about:blank"  # a URI; `about:blank`: the status says it all

    def __init__(self, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})


class DatabaseUnavailableError(AppError):
    """The database is down or saturated: retry later."""

    status_code = 503
    title = "Database unavailable"
    problem_type = PROBLEM_TYPES + "database-unavailable"


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(
        description="URI of the problem type, documented in docs/problems.md; `about:blank` "
        "when the status code says it all.",
        examples=[PROBLEM_TYPES + "item-not-found"],
    )
    title: str = Field(description="Short summary of the problem type.", examples=["Not Found"])
    status: int = Field(description="The HTTP status code.", examples=[404])
    detail: str = Field(
        description="What went wrong in this case, for a human.", examples=["Item 42 not found"]
    )
    request_id: str | None = Field(
        None, description="Only on 500: the request id to quote when reporting it."
    )


class InvalidField(BaseModel):
    """One reason a request was rejected."""

    loc: list[str | int] = Field(
        description="Where: `body`, `query`, `path` or `header`, then names."
    )
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="Pydantic's error type, e.g. `string_too_short`.")


class ValidationProblem(Problem):
    """A 422: problem details with every invalid field."""

    errors: list[InvalidField] = Field(description="Each invalid field and why.")


INVALID_REQUEST = PROBLEM_TYPES + "invalid-request"


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    problem_type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem details answer. ASCII-escaped JSON: safe whatever text the detail holds."""
    body = {
        "type": problem_type,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return Response(
        json.dumps(body, ensure_ascii=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def is_database_unavailable(error: Exception) -> bool:
    """True for failures that mean "database down or overloaded", as opposed to a bug."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection free in time
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return False


async def _app_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, AppError)
    return problem_response(
        error.status_code,
        error.detail,
        title=error.title,
        problem_type=error.problem_type,
        headers=error.headers,
    )


async def _invalid_request(_request: Request, error: Exception) -> Response:
    """422 naming each bad field. The rejected input is never echoed back: it may be huge,
    or hold text (a lone surrogate) that cannot even be encoded."""
    assert isinstance(error, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
        for e in error.errors()
    ]
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return problem_response(
        422,
        f"Invalid request: {summary}",
        title="Invalid request",
        problem_type=INVALID_REQUEST,
        errors=errors,
    )


async def _database_error(request: Request, error: Exception) -> Response:
    if not is_database_unavailable(error):
        return await _unexpected(request, error)
    DB_ERRORS.inc()
    logger.warning("database unavailable: %s", type(error).__name__)
    unavailable = DatabaseUnavailableError(
        "Database unavailable, retry later", headers={"Retry-After": "1"}
    )
    return await _app_error(request, unavailable)


async def _unexpected(_request: Request, error: Exception) -> Response:
    logger.error("unhandled error", exc_info=error)
    return problem_response(500, "Internal server error", request_id=request_id_var.get())


async def _http_error(request: Request, error: Exception) -> Response:
    """The framework's errors (404 no route, 405, 401/403 from security, 400 unreadable
    body). Starlette's 405 names only the methods of the first route on the path; the
    `Allow` header here names them all."""
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        allowed: set[str] = set()
        for route in request.app.router.routes:
            regex = getattr(route, "path_regex", None)
            if regex is not None and regex.match(request.url.path):
                allowed |= getattr(route, "methods", None) or set()
        headers["Allow"] = ", ".join(sorted(allowed))
    return problem_response(error.status_code, str(error.detail), headers=headers)


def problem_responses(*errors: type[AppError] | int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route that can answer with these errors (or status codes)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        status = error if isinstance(error, int) else error.status_code
        schema = "ValidationProblem" if status == 422 else "Problem"
        description = HTTPStatus(status).phrase
        if not isinstance(error, int):
            description = f"{error.title}: {(error.__doc__ or '').strip().splitlines()[0]}"
        responses[status] = {
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    return responses


def install_error_handlers(app: FastAPI) -> None:
    """Register every translation from exception to problem details, and document the
    problem schemas in the OpenAPI document."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
    _document_problem_schemas(app)


def _document_problem_schemas(app: FastAPI) -> None:
    """FastAPI's documented way to extend its OpenAPI document: the problem schemas the
    routes' `responses` refer to are added to its components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (Problem, InvalidField, ValidationProblem):
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
