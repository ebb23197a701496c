"""Application factory: settings -> logging -> engine -> model -> routers.

Run with `uvicorn app.main:create_app --factory`. Tests call `create_app(settings)` directly.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel, Field

from app import __version__
from app.bypasses import HttpMetricsMiddleware, add_routes
from app.config import Settings
from app.db import WorkerSlots, create_db_engine
from app.errors import install_error_handlers
from app.head_requests import HeadAsGetMiddleware
from app.health import DatabaseReached
from app.health import router as health_router
from app.items.router import router as items_router
from app.items.service import ItemsService
from app.limits import BodySizeLimitMiddleware
from app.observability import (
    MODEL_INFO,
    MODEL_LOADED,
    QUIET_PATHS,
    RequestContextMiddleware,
    configure_logging,
    metrics,
)
from app.security import ApiKeys, SecurityHeadersMiddleware
from app.sentiment.inference import InferenceQueue
from app.sentiment.model import ModelLoadError, SentimentModel, load_model
from app.sentiment.router import router as sentiment_router
from app.tracing import service_name, trace_sql, tracer_provider_from_environment

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger("itemsense")
GIL_SWITCH_INTERVAL = 0.001  # seconds (docs/architecture.md, "Bounded work per request")

DESCRIPTION = """
Items CRUD with exact prices, and sentiment prediction from a scikit-learn model.

* **Items**: create, list (paged), read, partially update and delete. Writes need an
  `X-API-Key` when keys are configured. `ETag`/`If-Match` prevent lost updates.
* **Sentiment**: `POST /predict` and `POST /predict/batch`; `GET /model/info` describes the model.
* **Operations**: `/health/live`, `/health/ready`, `/health`, and Prometheus `/metrics`.
"""


class ServiceIndex(BaseModel):
    """Where to go next."""

    name: str = Field(examples=["itemsense"])
    version: str = Field(examples=[__version__])
    docs: str = Field(examples=["/docs"])
    health: str = Field(examples=["/health"])


def _load_model_or_reason(settings: Settings) -> tuple[SentimentModel | None, str | None]:
    try:
        model = load_model(settings.model_path)
    except ModelLoadError as error:
        logger.error("sentiment model not loaded; /predict will answer 503: %s", error)
        return None, str(error)
    logger.info(
        "sentiment model loaded",
        extra={"model_version": model.version, "scorer": model.scorer.kind},
    )
    return model, None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the database engine and load the model once; dispose of them on shutdown."""
    settings: Settings = app.state.settings
    # Fewer threads than AnyIO's default 40: less GIL contention, and no more threads than
    # pooled connections, so a request never waits on the pool while holding a thread.
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
    # The inference thread holds the GIL while it scores; a waiting thread gets it after the
    # switch interval. 1 ms instead of Python's 5 keeps probes and item reads quick meanwhile.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    engine = create_db_engine(settings)
    model, model_error = _load_model_or_reason(settings)
    tracer_provider: TracerProvider | None = app.state.tracer_provider
    if tracer_provider is not None:
        trace_sql(engine, tracer_provider)
    app.state.engine = engine
    app.state.items_service = ItemsService(engine)
    app.state.worker_slots = WorkerSlots(settings.threadpool_size, settings.db_pool_timeout)
    app.state.model = model
    app.state.model_error = model_error
    inference = InferenceQueue(settings.inference_queue_max)
    app.state.inference = inference
    # Readiness waits for the database's first answer (app/health.py), then no longer asks.
    app.state.database_reached = DatabaseReached()
    MODEL_LOADED.set(1 if model else 0)
    if model is not None:
        MODEL_INFO.labels(name=model.name, version=model.version, scorer=model.scorer.kind).set(1)
    logger.info("itemsense started", extra={"database": engine.url.get_backend_name()})
    try:
        yield
    finally:
        inference.shutdown()  # a batch still running finishes first
        engine.dispose()
        if tracer_provider is not None:
            tracer_provider.shutdown()  # exports the spans still queued
        logger.info("itemsense stopped")


def create_app(
    settings: Settings | None = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """Build the application. Fails fast on invalid settings (e.g. production without keys).

    Tracing follows the `OTEL_*` environment (app/tracing.py); tests pass their own provider.
    """
    settings = settings or Settings()
    configure_logging(settings.log_level, service_name())
    tracer_provider = tracer_provider or tracer_provider_from_environment()
    app = FastAPI(
        title="Itemsense",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry request spans, on the service's provider when tracing
        # is on; metrics stay Prometheus', logs stay JSON lines (docs/operations.md).
        telemetry={
            "tracing": tracer_provider is not None,
            "tracer_provider": tracer_provider,
            "metrics": False,
            "logs": False,
        },
    )
    app.state.tracer_provider = tracer_provider
    app.state.tracer = tracer_provider and tracer_provider.get_tracer("itemsense", __version__)
    app.state.settings = settings
    app.state.api_keys = ApiKeys.from_settings(settings)

    install_error_handlers(app)
    add_routes(app, sentiment_router, items_router, health_router)
    app.add_route("/metrics", metrics, include_in_schema=False)

    @app.get(
        "/",
        operation_id="index",
        response_model=ServiceIndex,
        tags=["meta"],
        summary="Service index",
    )
    async def index() -> ServiceIndex:
        """Name, version, and links to the API docs and health."""
        return ServiceIndex(name="itemsense", version=__version__, docs="/docs", health="/health")

    # Added last = outermost: the request id and size limit wrap everything else.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "If-Match", "X-Request-ID"],
            expose_headers=["ETag", "Location", "X-Request-ID"],
        )
    app.add_middleware(HttpMetricsMiddleware, app_name="itemsense", skip_paths=QUIET_PATHS)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app
