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
from starlette_exporter.middleware import get_matching_route_path

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
MODEL_INFO = Gauge(
    "itemsense_model_info",
    "The loaded model (value 1); `scorer` is `fast` or `predict_proba`.",
    ["name", "version", "scorer"],
)
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


# One encoder for every line: json.dumps with options builds a new encoder on each call.
_encode_json = json.JSONEncoder(default=str, ensure_ascii=False).encode


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": format_log_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        attributes = record.__dict__
        # A set difference in C instead of testing ~25 standard attributes one by one.
        for key in sorted(attributes.keys() - _RESERVED):
            if not key.startswith("_"):
                entry[key] = attributes[key]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode_json(entry)


_second_cache: tuple[int, str] = (-1, "")


def format_log_time(timestamp: float) -> str:
    """UTC ISO 8601 with milliseconds; the date-time part is formatted once per second."""
    global _second_cache
    second = int(timestamp)
    if _second_cache[0] != second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_cache = (second, prefix)
    millis = int((timestamp - second) * 1000)
    return f"{_second_cache[1]}.{millis:03d}+00:00"


def configure_logging(level: str) -> None:
    """Send every logger, uvicorn's included, through one JSON handler on stdout."""
    # The logging HOWTO's optimisations: the JSON line never shows the caller's file and line,
    # thread or process, so records need not collect them (a stack walk and several calls).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
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


class HttpMetricsMiddleware(PrometheusMiddleware):
    """starlette-exporter's HTTP metrics (same names, labels and registry), recorded cheaply.

    The library's own ``__call__`` builds a ``Request`` and its URL, tests skip patterns,
    copies the scope and matches the request against every route again to find the path
    template: together about a fifth of a `/predict` request. This subclass keeps the
    library's metric objects and label set (``method``, ``path`` as the route template,
    ``status_code``, ``app_name``) and records them from what the router already left in
    the scope, with each label combination's child looked up once and then cached.
    Probe and scrape paths bypass it (they arrive every few seconds and are not counted);
    requests that matched no route are not counted either (``filter_unhandled_paths``).
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, app_name="itemsense", group_paths=True, filter_unhandled_paths=True)
        self._in_progress: dict[str, Any] = {}
        self._observers: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _children(self, method: str, path: str, status: int) -> tuple[Any, Any]:
        key = (method, path, status)
        children = self._observers.get(key)
        if children is None:
            labels = (method, path, str(status), self.app_name)
            children = (self.request_count.labels(*labels), self.request_time.labels(*labels))
            self._observers[key] = children
        return children

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        in_progress = self._in_progress.get(method)
        if in_progress is None:
            in_progress = self.requests_in_progress.labels(method, self.app_name)
            self._in_progress[method] = in_progress
        status_code = 500  # what an exception escaping the app becomes
        ended: float | None = None
        started = time.perf_counter()

        async def send_observing(message: Message) -> None:
            nonlocal status_code, ended
            if message["type"] == "http.response.start":
                status_code = message["status"]
            elif ended is None:  # the first body chunk, as starlette-exporter times it
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
                count, duration = self._children(method, path, status_code)
                count.inc()
                duration.observe((ended or time.perf_counter()) - started)


def _route_template(scope: Scope) -> str | None:
    """The path template of the route that served the request, None when none matched."""
    route = scope.get("route")
    if route is not None:  # FastAPI records the API route it chose; `path` is the template
        return str(route.path)
    router = scope.get("router")
    if scope.get("endpoint") is None or router is None:
        return None
    # Plain Starlette routes (the docs, /openapi.json): the library's own search.
    return get_matching_route_path(dict(scope), router.routes)
