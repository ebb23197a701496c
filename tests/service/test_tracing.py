"""Tracing: configured by the OTEL_* environment only, spans nested HTTP -> SQL and
HTTP -> inference, and the trace context in every log line of a traced request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.main import create_app
from app.observability import JsonFormatter
from app.tracing import service_name, tracer_provider_from_environment
from tests.support import make_settings

ENDPOINT = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"OTEL_TRACES_EXPORTER": "otlp"},  # nowhere to send them
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},  # no exporter asked for
        {**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"},
        {**ENDPOINT, "OTEL_SDK_DISABLED": "true"},
    ],
)
def test_tracing_is_off_unless_an_exporter_and_an_endpoint_are_set(
    environ: dict[str, str],
) -> None:
    assert tracer_provider_from_environment(environ) is None


def test_the_environment_configures_otlp_export_and_the_service_name() -> None:
    provider = tracer_provider_from_environment({**ENDPOINT, "OTEL_SERVICE_NAME": "itemsense-eu"})
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "itemsense-eu"
    [processor] = provider._active_span_processor._span_processors
    assert type(processor).__name__ == "BatchSpanProcessor"
    assert type(processor.span_exporter).__name__ == "OTLPSpanExporter"
    provider.shutdown()
    assert service_name({}) == "itemsense"


@pytest.fixture
def traced(
    database_url: str, model_path: Path
) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(make_settings(database_url, model_path), tracer_provider=provider)
    with TestClient(app) as client:
        yield client, exporter


@contextmanager
def json_log_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines the service logs while inside the block (its handler on the root)."""
    [handler] = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        handler.setStream(previous)
        lines += [json.loads(line) for line in buffer.getvalue().splitlines()]


def _tree(spans: tuple[ReadableSpan, ...]) -> tuple[ReadableSpan, dict[int, ReadableSpan]]:
    """The root span of one trace and every span by id."""
    assert len({s.context.trace_id for s in spans}) == 1, "one request, one trace"
    by_id = {s.context.span_id: s for s in spans}
    [root] = [s for s in spans if s.parent is None]
    return root, by_id


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def test_an_item_read_traces_http_then_sql(traced: tuple[TestClient, InMemorySpanExporter]) -> None:
    client, exporter = traced
    item = client.post("/items", json={"name": "lamp"}).json()
    exporter.clear()
    with json_log_lines() as lines:
        assert client.get(f"/items/{item['id']}").status_code == 200
    root, by_id = _tree(exporter.get_finished_spans())
    assert root.kind.name == "SERVER" and "/items/{item_id}" in root.name
    [sql] = [s for s in by_id.values() if s.attributes and "db.system" in s.attributes]
    assert root in _ancestors(sql, by_id)
    assert "SELECT" in str(sql.attributes.get("db.statement", sql.name))
    [access] = [line for line in lines if line.get("logger") == "itemsense.access"]
    assert access["trace_id"] == f"{root.context.trace_id:032x}"
    assert access["span_id"] in {f"{s.context.span_id:016x}" for s in by_id.values()}
    assert access["service.name"] == "itemsense"


@pytest.mark.parametrize(
    ("path", "body"),
    [("/predict", {"text": "I love it"}), ("/predict/batch", {"texts": ["good", "bad"]})],
)
def test_a_prediction_traces_http_then_inference(
    traced: tuple[TestClient, InMemorySpanExporter], path: str, body: dict[str, object]
) -> None:
    client, exporter = traced
    exporter.clear()
    assert client.post(path, json=body).status_code == 200
    root, by_id = _tree(exporter.get_finished_spans())
    [inference] = [s for s in by_id.values() if s.name == "sentiment.inference"]
    assert root in _ancestors(inference, by_id)
    version = client.get("/model/info").json()["version"]
    assert inference.attributes is not None
    assert inference.attributes["model.version"] == version
    assert inference.attributes["texts"] == len(body.get("texts", [None]))  # type: ignore[arg-type]


def test_without_tracing_log_lines_carry_no_trace_context(client: TestClient) -> None:
    with json_log_lines() as lines:
        client.get("/items")
    assert lines and all("trace_id" not in line for line in lines)
    assert all(line["service.name"] == "itemsense" for line in lines)
