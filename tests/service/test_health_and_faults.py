"""Probes, and what happens when the database is unreachable."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.errors import PROBLEM_TYPES
from tests.support import DATABASE_UNAVAILABLE, problem

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1


def metric_value(client: TestClient, name: str) -> float:
    """Read one unlabelled sample from the app's /metrics (metrics are process-wide)."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return float(sample.value)
    raise AssertionError(f"{name} not exposed")


def test_probes_are_ok_when_everything_is_up(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    for path in ("/health/ready", "/health"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": "ok", "model": "ok"}}


def test_index_links_docs_and_health(client: TestClient) -> None:
    body = client.get("/").json()
    assert body["name"] == "itemsense" and body["docs"] == "/docs" and body["health"] == "/health"
    assert client.get(body["docs"]).status_code == 200


def test_database_down_gives_503_json_and_keeps_the_rest_serving(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(database_url=UNREACHABLE, db_connect_timeout=1)
    errors_before = metric_value(client, "itemsense_db_errors_total")
    for method, path, body in [
        ("post", "/items", {"name": "x"}),
        ("get", "/items", None),
        ("get", "/items/1", None),
        ("patch", "/items/1", {"name": "y"}),
        ("delete", "/items/1", None),
    ]:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(client, method)(path, **kwargs)
        assert response.status_code == 503, (method, path, response.text)
        assert response.json() == DATABASE_UNAVAILABLE
        assert "Traceback" not in response.text and "psycopg2" not in response.text
    ready = problem(client.get("/health/ready"))
    assert ready["status"] == 503 and ready["type"] == PROBLEM_TYPES + "unhealthy"
    assert ready["checks"]["database"].startswith("unavailable")
    assert ready["detail"].startswith("database: unavailable")
    assert client.get("/health").status_code == 503
    assert client.get("/health/live").status_code == 200
    assert client.post("/predict", json={"text": "fine"}).status_code == 200
    assert metric_value(client, "itemsense_db_errors_total") == errors_before + 5
    assert metric_value(client, "itemsense_ready") == 0
