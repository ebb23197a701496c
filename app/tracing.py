"""OpenTelemetry tracing, configured only by the standard `OTEL_*` environment variables.

Off unless `OTEL_TRACES_EXPORTER` is `otlp` and an OTLP endpoint is set
(`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); `OTEL_SDK_DISABLED=true`
turns it off again. When on, spans are exported over OTLP/HTTP in batches: FastAPI's own
request spans, one span per SQL statement (the SQLAlchemy instrumentation) and one per model
inference. The exporter reads the other `OTEL_EXPORTER_OTLP_*` variables itself, and the
resource takes `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`. When off, the SDK is not
even imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Tracer

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy import Engine

DEFAULT_SERVICE_NAME = "itemsense"


def service_name(environ: Mapping[str, str] = os.environ) -> str:
    """The service's name in traces and log lines (`OTEL_SERVICE_NAME`, else itemsense)."""
    return environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the environment asks for OTLP trace export and says where to."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {e.strip().lower() for e in environ.get("OTEL_TRACES_EXPORTER", "").split(",")}
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return "otlp" in exporters and bool(endpoint)


def tracer_provider_from_environment(
    environ: Mapping[str, str] = os.environ,
) -> TracerProvider | None:
    """A tracer provider exporting over OTLP as the environment says, or None (tracing off)."""
    if not tracing_enabled(environ):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name(environ)}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def span(tracer: Tracer | None, name: str, **attributes: Any) -> AbstractContextManager[object]:
    """A span named `name` when tracing is on (`tracer`), else nothing: even a no-op span
    costs a few microseconds."""
    if tracer is None:
        return nullcontext()
    return tracer.start_as_current_span(name, attributes=attributes)


def trace_sql(engine: Engine, tracer_provider: TracerProvider) -> None:
    """One span per SQL statement on `engine` (OpenTelemetry's SQLAlchemy instrumentation).

    Its `EngineTracer` listens on this one engine; the instrumentor's `instrument()` would also
    patch `create_engine` process-wide and import SQLAlchemy's asyncio extension, and its
    declared version range stops before SQLAlchemy 2.1, whose engine events it uses unchanged.
    """
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeter

    tracer = tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    connections = NoOpMeter("itemsense").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine, connections)  # type: ignore[no-untyped-call]  # untyped package
