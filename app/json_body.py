"""Parse a JSON request body straight into a pydantic model, with FastAPI's error semantics.

FastAPI's own body handling (content-type parsing with `email.message`, `json.loads`, then
field-by-field validation inside dependency resolution) costs more than a prediction. The
hot `/predict` endpoint parses its body with one `model_validate_json` call instead and
reports problems exactly as FastAPI would: 422 `json_invalid` / `missing` / field errors
located under `body`, and 400 for a body that is not UTF-8.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _body_error(error_type: str, msg: str, loc: tuple[str | int, ...] = ()) -> dict[str, Any]:
    return {"type": error_type, "loc": ("body", *loc), "msg": msg}


async def read_json_text(request: Request) -> str:
    """Read the request body as JSON text, or raise a 400/422 like FastAPI: no body, a
    content type that is not JSON, or bytes that are not UTF-8."""
    body = await request.body()
    if not body:
        raise RequestValidationError([_body_error("missing", "Field required")])
    if not _is_json(request.headers.get("content-type")):
        raise RequestValidationError(
            [
                _body_error(
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from",
                )
            ]
        )
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "There was an error parsing the body") from None


def validate_json_text(text: str, model: type[ModelT]) -> ModelT:
    """Validate JSON text as `model`, or raise FastAPI's 422 (errors located under `body`)."""
    try:
        return model.model_validate_json(text)
    except ValidationError as error:
        raise RequestValidationError(
            [
                _body_error(e["type"], e["msg"], tuple(e["loc"]))
                for e in error.errors(include_url=False, include_input=False)
            ]
        ) from None


async def parse_json_body(request: Request, model: type[ModelT]) -> ModelT:
    """Read the request body and validate it as `model`, or raise a 400/422 like FastAPI."""
    return validate_json_text(await read_json_text(request), model)


def request_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `requestBody` and 422 answer FastAPI would have generated for a `model` body.

    For the route's `openapi_extra`. The 422 schema is FastAPI's `HTTPValidationError`, which
    the other routes' bodies and parameters already put in the document's components.
    """
    validation_error = {"$ref": "#/components/schemas/HTTPValidationError"}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        },
        "responses": {
            "422": {
                "description": "Validation Error",
                "content": {"application/json": {"schema": validation_error}},
            }
        },
    }


class RequestOnlyRoute(APIRoute):
    """A route whose `async def` endpoint takes just the `Request`, called without FastAPI's
    dependency resolution (which parses the query string and headers into parameters the
    endpoint does not have). FastAPI's documented extension point for this is
    `get_route_handler`; OpenAPI still comes from the route's declaration.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Call the endpoint with the request; it must return a `Response`."""
        endpoint = self.endpoint
        parameters = list(inspect.signature(endpoint).parameters.values())
        if not inspect.iscoroutinefunction(endpoint) or [p.annotation for p in parameters] not in (
            [Request],
            ["Request"],
        ):
            raise TypeError(f"{endpoint.__name__} must be `async def f(request: Request)`")

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(request)
            return response

        return handler
