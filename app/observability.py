"""Logs, request ids and the application's own Prometheus metrics.

Metrics live in prometheus_client's process-wide registry (as starlette-exporter's do), so
they are module-level: a second app in the same process shares them rather than failing.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_exporter import PrometheusMiddleware

# --- metrics ----------------------------------------------------------------------------

# `*_created` series double the scrape size and no dashboard or alert reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

PREDICTIONS = Counter(
    "itemsense_predictions", "Sentiment predictions served, by predicted label.", ["label"]
)
PREDICTION_ERRORS = Counter(
    "itemsense_prediction_errors", "Prediction requests that failed (model missing or error)."
)
INFERENCE_SECONDS = Histogram(
    "itemsense_model_inference_seconds",
    "Model time per prediction call (a batch counts once), excluding HTTP.",
    buckets=(0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25),
)
MODEL_INFO = Gauge("itemsense_model_info", "The loaded model (value 1).", ["name", "version"])
MODEL_LOADED = Gauge("itemsense_model_loaded", "1 when a verified model is loaded, else 0.")
READY = Gauge("itemsense_ready", "Result of the latest readiness check (1 ready, 0 not).")
ITEMS_WRITTEN = Counter(
    "itemsense_items_written", "Item writes that succeeded, by operation.", ["operation"]
)
DB_ERRORS = Counter(
    "itemsense_db_errors", "Requests that failed because the database was unavailable."
)

for _operation in ("create", "update", "delete"):
    ITEMS_WRITTEN.labels(operation=_operation)

# Paths that are probed or scraped all the time: not counted in HTTP metrics, logged at DEBUG.
QUIET_PATHS = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})

# --- logging ----------------------------------------------------------------------------

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# color_message: uvicorn's ANSI-coloured copy of the message, noise in JSON.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str) -> None:
    """Send every logger, uvicorn's included, through one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    # Our middleware logs each request with its id; uvicorn's access line would repeat it.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


# --- request context middleware ---------------------------------------------------------

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
# The interactive docs load Swagger UI from a CDN, so they get no restrictive CSP.
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOC_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

access_logger = logging.getLogger("itemsense.access")


class RequestContextMiddleware:
    """Pure ASGI: request id (accepted or generated, echoed), security headers, access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Generated ids: a random per-process prefix and a counter. Unique across replicas
        # and restarts, without a getrandom() system call on every request as uuid4() makes.
        self._id_prefix = uuid.uuid4().hex[:16]
        self._id_counter = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = (
            _incoming_request_id(scope) or f"{self._id_prefix}{next(self._id_counter):016x}"
        )
        token = request_id_var.set(request_id)
        path: str = scope["path"]
        extra_headers = [(b"x-request-id", request_id.encode()), *_SECURITY_HEADERS]
        if path not in _DOC_PATHS:
            extra_headers.append(_API_CSP)
        status_code = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 3)
            level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
            if access_logger.isEnabledFor(level):
                access_logger.log(
                    level,
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": path,
                        "status": status_code,
                        "duration_ms": duration_ms,
                    },
                )
            request_id_var.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _VALID_REQUEST_ID.fullmatch(candidate) else None
    return None


class _MatchedRouteOnly:
    """A stand-in router holding just the route that served the request."""

    def __init__(self, route: object) -> None:
        self.routes = [route]


class _NarrowRouterForGrouping:
    """After the app ran, leave only the matched route in `scope["router"]`.

    starlette-exporter finds the path template by matching the request against every route
    of `scope["router"]` again, a quarter of a small request's time with FastAPI's route
    objects. The router already recorded the winner in `scope["route"]` (whose `path` is the
    full template), so the exporter's search is given that one route to confirm.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            if route is not None:
                scope["router"] = _MatchedRouteOnly(route)


class HttpMetricsMiddleware:
    """starlette-exporter's HTTP metrics, with probe and scrape paths routed around it.

    starlette-exporter would skip them too, but only after building URL objects for every
    request; probes arrive every few seconds from every kubelet, so they bypass it outright.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.plain = app
        self.measured = PrometheusMiddleware(
            _NarrowRouterForGrouping(app),
            app_name="itemsense",
            group_paths=True,
            filter_unhandled_paths=True,
            skip_paths=sorted(QUIET_PATHS),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in QUIET_PATHS:
            await self.plain(scope, receive, send)
        else:
            await self.measured(scope, receive, send)
