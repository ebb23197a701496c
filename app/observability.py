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

from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_exporter import handle_metrics

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
INFERENCE_QUEUE_DEPTH = Gauge(
    "itemsense_inference_queue_depth",
    "Predictions waiting for or running on the inference thread (batches and long texts).",
)
INFERENCE_REJECTED = Counter(
    "itemsense_inference_rejected",
    "Predictions answered 503 because the inference queue was full.",
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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, service name, the request id
    and trace context of the request being served, and the record's extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._encode = json.JSONEncoder(default=str, ensure_ascii=False).encode

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service.name": self.service,
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # only while a traced request is served
            entry["trace_id"] = trace.format_trace_id(span.trace_id)
            entry["span_id"] = trace.format_span_id(span.span_id)
        attributes = record.__dict__
        for key in sorted(attributes.keys() - _RESERVED):
            if not key.startswith("_"):
                entry[key] = attributes[key]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._encode(entry)


def configure_logging(level: str, service: str) -> None:
    """Send every logger, uvicorn's included, through one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
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

access_logger = logging.getLogger("itemsense.access")


class RequestContextMiddleware:
    """Pure ASGI: request id (accepted or generated, echoed in the answer) and access log."""

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
        request_id_header = (b"x-request-id", request_id.encode())
        status_code = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", []), request_id_header]
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


async def metrics(request: Request) -> Response:
    """Prometheus' text format. `async def`, unlike the library's handler: rendering takes
    about a millisecond, and a scrape must never queue behind database work for a thread."""
    return handle_metrics(request)
