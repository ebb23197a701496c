"""The four places where the service steps around its libraries' ordinary way.

Everything else is written the ordinary way. Each of these was measured against the ordinary
way on its endpoints and kept because it buys at least 10 % there (docs/performance.md has the
figures); each is held by tests/service/test_bypasses.py against the ordinary way, so that a
library change that breaks it fails loudly.

1. `RequestOnlyRoute` + `read_json_text` / `validate_json_text`, for `POST /predict` and
   `POST /predict/batch`. Replaces FastAPI's body handling (content type parsed with
   `email.message`, `json.loads`, dependency resolution, validation of the dict), which costs
   more than a short prediction: the endpoint gets the bare `Request` through FastAPI's
   documented `get_route_handler` hook and validates the body with one `model_validate_json`.
   A bad body is decoded and validated again as FastAPI does, so its 400 or 422 is FastAPI's.
   Relies on: FastAPI's body errors and its OpenAPI description of a body.
2. `HttpMetricsMiddleware`, starlette-exporter's `PrometheusMiddleware` with its own metric
   objects, names and labels, recorded from the route the router left in the scope. The
   library's `__call__` builds a `Request`, copies the scope and matches every route again to
   find the path template. Relies on: the library's metric properties and label order, and
   FastAPI putting the matched route in `scope["route"]`.
3. `add_routes`, instead of `app.include_router`: the routers' routes are put on the app
   itself, as `@app.get` would put them. FastAPI keeps an included router as one nested
   route that a request is matched against twice (to pick the router, then inside it).
   Relies on: an `APIRouter`'s routes carrying their full path, tags and dependencies (true
   while the routers have no router-level dependencies, which `add_routes` checks).
4. `HeaderLimitedHttpTools`, uvicorn's httptools protocol with a limit on header size,
   instead of its h11 protocol with `--h11-max-incomplete-event-size`, the ordinary way to
   bound headers: httptools has no limit of its own, and h11, in pure Python, is far slower
   on every request. The bytes a request sends before its headers end are counted; past
   `MAX_HEADER_BYTES` the client gets uvicorn's own 400 and the connection is closed.
   Relies on: uvicorn's `HttpToolsProtocol` calling `on_headers_complete` and
   `on_message_complete` from `data_received`, and its `send_400_response`.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware
from starlette_exporter.middleware import get_matching_route_path
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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
    """The request body as JSON text, or FastAPI's 400/422: no body, a content type that is
    not JSON, or bytes that are not UTF-8."""
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
    """JSON text validated as `model`, or FastAPI's 422 (errors located under `body`)."""
    try:
        return model.model_validate_json(text)
    except ValidationError:
        pass
    # Only a bad body gets here: decoded and validated as FastAPI does, for the same errors.
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise RequestValidationError(
            [_body_error("json_invalid", "JSON decode error", (error.pos,))]
        ) from None
    except RecursionError:  # nested too deep to decode
        raise HTTPException(400, "There was an error parsing the body") from None
    try:
        return model.model_validate(data, from_attributes=True)  # as FastAPI validates bodies
    except ValidationError as error:
        raise RequestValidationError(
            [
                _body_error(e["type"], e["msg"], tuple(e["loc"]))
                for e in error.errors(include_url=False, include_input=False)
            ]
        ) from None


def request_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `requestBody` FastAPI would write for a `model` body (route `openapi_extra`)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


class RequestOnlyRoute(APIRoute):
    """A route whose `async def endpoint(request: Request) -> Response` is called directly,
    without FastAPI's parameter parsing; its OpenAPI comes from the route's declaration."""

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


class HttpMetricsMiddleware(PrometheusMiddleware):
    """starlette-exporter's HTTP metrics (same names, labels and registry), recorded from the
    route the router already matched. Probe and scrape paths are skipped, like the library's
    `skip_paths`; requests that matched no route are not counted (`filter_unhandled_paths`)."""

    def __init__(self, app: ASGIApp, app_name: str, skip_paths: frozenset[str]) -> None:
        super().__init__(app, app_name=app_name, group_paths=True, filter_unhandled_paths=True)
        self._skip = skip_paths
        self._in_progress: dict[str, Any] = {}
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _observers(self, method: str, path: str, status: int) -> tuple[Any, Any]:
        """The counter and histogram children of one label combination, looked up once."""
        key = (method, path, status)
        children = self._children.get(key)
        if children is None:
            labels = (method, path, str(status), self.app_name)
            children = (self.request_count.labels(*labels), self.request_time.labels(*labels))
            self._children[key] = children
        return children

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._skip:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        in_progress = self._in_progress.get(method)
        if in_progress is None:
            in_progress = self._in_progress[method] = self.requests_in_progress.labels(
                method, self.app_name
            )
        status_code = 500  # what an exception escaping the app becomes
        ended: float | None = None
        started = time.perf_counter()

        async def send_observing(message: Message) -> None:
            nonlocal status_code, ended
            if message["type"] == "http.response.start":
                status_code = message["status"]
            elif ended is None:  # the first body chunk, where the library stops its clock
                ended = time.perf_counter()
            await send(message)

        in_progress.inc()
        try:
            await self.app(scope, receive, send_observing)
        except Exception:
            status_code = 500
            raise
        finally:
            in_progress.dec()
            path = _route_template(scope)
            if path is not None:
                count, duration = self._observers(method, path, status_code)
                count.inc()
                duration.observe((ended or time.perf_counter()) - started)


def _route_template(scope: Scope) -> str | None:
    """The path template of the route that served the request, None when none matched."""
    route = scope.get("route")
    if route is not None:  # FastAPI records the API route it chose
        return str(route.path)
    router = scope.get("router")
    if scope.get("endpoint") is None or router is None:
        return None
    # Plain Starlette routes (the docs, /openapi.json, /metrics): the library's own search.
    return get_matching_route_path(dict(scope), router.routes)


def add_routes(app: FastAPI, *routers: APIRouter) -> None:
    """Put the routers' routes on the app in this order, ahead of the docs routes."""
    routes: list[BaseRoute] = []
    for router in routers:
        if router.dependencies or router.callbacks:
            raise ValueError(f"router {router.prefix!r} has router-level settings to keep")
        routes += router.routes
    app.router.routes[:0] = routes


MAX_HEADER_BYTES = 16 * 1024  # as h11's default and Node's


class HeaderLimitedHttpTools(HttpToolsProtocol):
    """httptools with a limit on the bytes a request sends before its headers end.

    Served by `python -m app.server` (uvicorn's `--http` takes a protocol class). A chunk is
    counted after it is parsed, and only when it neither ended the headers nor a request:
    the bound is the limit plus one chunk, and a body never counts.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_headers = True
        self._header_bytes = 0
        self._requests_ended = 0

    def data_received(self, data: bytes) -> None:
        """Parse the chunk; refuse the request when its headers pass the limit."""
        if self.transport.is_closing():
            return
        ended = self._requests_ended
        super().data_received(data)
        if self._reading_headers and self._requests_ended == ended:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self.send_400_response(f"Request headers over {MAX_HEADER_BYTES} bytes")

    def on_headers_complete(self) -> None:
        """Headers done: the rest of this request (its body) is not counted."""
        self._reading_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """Request done: the next bytes begin the next request's headers."""
        super().on_message_complete()
        self._reading_headers = True
        self._header_bytes = 0
        self._requests_ended += 1
