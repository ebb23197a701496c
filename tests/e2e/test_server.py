"""End to end: the real uvicorn process on PostgreSQL, over HTTP, then SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.support import Server, running_server, server_env
from tests.support import migrate


@pytest.fixture
def server(
    create_pg_database: Callable[[], str], model_path: Path, tmp_path: Path
) -> Iterator[Server]:
    """The real server process in production mode on a freshly migrated PostgreSQL database."""
    database_url = create_pg_database()
    migrate(database_url)
    env = server_env(database_url, model_path, app_env="production", api_keys="e2e-key")
    with running_server(env, tmp_path / "server.log") as running:
        yield running


def test_real_server_serves_measures_and_stops_cleanly(server: Server) -> None:
    base, process = server.base_url, server.process
    key = {"X-API-Key": "e2e-key"}
    with httpx.Client(base_url=base, timeout=5) as http:
        assert http.get("/health").json()["checks"] == {"database": "ok", "model": "ok"}
        assert http.post("/items", json={"name": "no key"}).status_code == 401
        created = http.post("/items", json={"name": "Lamp", "price": "9.90"}, headers=key)
        assert created.status_code == 201
        item_url = created.headers["location"]
        assert http.get(item_url).json()["price"] == "9.90"
        patched = http.patch(
            item_url, json={"price": "8.00"}, headers={**key, "If-Match": created.headers["etag"]}
        )
        assert patched.status_code == 200
        assert http.get("/items").json()["total"] == 1
        prediction = http.post("/predict", json={"text": "What a great lamp"}).json()
        assert prediction["label"] in prediction["probabilities"]
        metrics = http.get("/metrics").text
        assert 'path="/items/{item_id}"' in metrics
        assert "itemsense_predictions_total" in metrics
        assert 'itemsense_items_written_total{operation="create"} 1.0' in metrics
        assert "server" not in http.get("/").headers
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    log = server.log()
    lines = [line for line in log.splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), log  # uvicorn's lines are JSON too
    assert '"message": "itemsense stopped"' in log
