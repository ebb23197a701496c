"""Application factory: settings -> logging -> engine -> model -> routers.

Run with `uvicorn app.main:create_app --factory`. Tests call `create_app(settings)` directly.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel, Field
from starlette_exporter import handle_metrics

from app import __version__
from app.config import Settings
from app.db import create_db_engine
from app.errors import install_error_handlers
from app.health import router as health_router
from app.items.router import router as items_router
from app.items.service import ItemsService
from app.limits import BodySizeLimitMiddleware
from app.observability import (
    MODEL_INFO,
    MODEL_LOADED,
    HttpMetricsMiddleware,
    RequestContextMiddleware,
    configure_logging,
)
from app.security import ApiKeys
from app.sentiment.model import ModelLoadError, SentimentModel, load_model
from app.sentiment.router import router as sentiment_router

logger = logging.getLogger("itemsense")

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
    engine = create_db_engine(settings)
    model, model_error = _load_model_or_reason(settings)
    app.state.engine = engine
    app.state.items_service = ItemsService(engine)
    app.state.model = model
    app.state.model_error = model_error
    # Batches run on one thread of their own: under the GIL, two model threads cannot run
    # at once, only take turns every few milliseconds and evict each other's caches.
    # Through the shared threadpool, 32 concurrent batches went ~1.5 x slower than this.
    inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
    app.state.inference_executor = inference
    # Readiness waits for the database's first answer (app/health.py), then no longer asks.
    app.state.database_reached = False
    app.state.database_error = "not reached yet"
    MODEL_LOADED.set(1 if model else 0)
    if model is not None:
        MODEL_INFO.labels(name=model.name, version=model.version, scorer=model.scorer.kind).set(1)
    logger.info("itemsense started", extra={"database": engine.url.get_backend_name()})
    try:
        yield
    finally:
        inference.shutdown(wait=True)  # a batch still running finishes first
        engine.dispose()
        logger.info("itemsense stopped")


def add_routes_first(app: FastAPI, *routers: APIRouter) -> None:
    """Put the routers' routes on the app itself, ahead of the docs routes, in this order.

    `include_router` keeps each router as one nested route that FastAPI matches a request
    against twice (to pick the router, then inside it), after the four docs routes: about
    30 us of a `GET /items/{id}`. These routers hold nothing but routes (no router-level
    dependencies or callbacks; each route already carries its full path and tags), so
    their routes can sit at the top level, as `@app.get` would put them.
    """
    routes = []
    for router in routers:
        if router.dependencies or router.on_startup or router.on_shutdown:
            raise ValueError(f"router {router.prefix!r} has router-level settings to keep")
        routes += router.routes
    app.router.routes[:0] = routes


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. Fails fast on invalid settings (e.g. production without keys)."""
    settings = settings or Settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="Itemsense",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry hooks look up the global providers on every request;
        # this service's telemetry is Prometheus metrics and JSON logs (docs/operations.md).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.api_keys = ApiKeys.from_settings(settings)

    install_error_handlers(app)
    add_routes_first(app, sentiment_router, items_router, health_router)
    app.add_route("/metrics", handle_metrics, include_in_schema=False)

    @app.get("/", response_model=ServiceIndex, tags=["meta"], summary="Service index")
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
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
