"""A database outage does not take the instance out of the load balancer.

Readiness means "this instance can serve": while PostgreSQL is down it stays 200, so a load
balancer keeps sending traffic; `/predict` keeps answering 200 and item requests get a clear
503 with `Retry-After` instead of a connection error. `/health` (what the start-up probe
reads) reports the database as it is now.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.reliability.support import PostgresCluster, running_server, server_env
from tests.support import DATABASE_UNAVAILABLE

UNAVAILABLE = DATABASE_UNAVAILABLE


def ready_gauge(base_url: str) -> float:
    """The itemsense_ready gauge as the server exposes it."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "itemsense_ready":
                return float(sample.value)
    raise AssertionError("itemsense_ready not exposed")


def eventually_ok(http: httpx.Client, path: str, limit: float = 15) -> bool:
    """Whether GET `path` answers 200 within `limit` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if http.get(path).status_code == 200:
            return True
        time.sleep(0.2)
    return False


def test_database_down_keeps_the_instance_ready_and_predictions_serving(
    pg_cluster: PostgresCluster, model_path: Path, tmp_path: Path
) -> None:
    env = server_env(
        pg_cluster.url("itemsense"),
        model_path,
        db_connect_timeout="1",
        db_pool_timeout="1",
        log_level="WARNING",
    )
    with running_server(env, tmp_path / "server.log") as server:
        base = server.base_url
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.post("/items", json={"name": "lamp"}).status_code == 201

            pg_cluster.stop("immediate")
            predict = http.post("/predict", json={"text": "I love this lamp"})
            items = http.get("/items")
            ready = http.get("/health/ready")
            health = http.get("/health")
            live = http.get("/health/live")

            assert predict.status_code == 200, predict.text
            assert predict.json()["label"]
            assert items.status_code == 503
            assert items.json() == UNAVAILABLE
            assert items.headers["retry-after"] == "1"
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ok", "checks": {"database": "ok", "model": "ok"}}
            assert ready_gauge(base) == 1
            assert health.status_code == 503
            assert health.json()["checks"]["database"].startswith("unavailable")
            assert live.status_code == 200

            pg_cluster.start()
            # The first requests may meet pooled connections that died with the server.
            assert eventually_ok(http, "/items"), "items did not recover"
            assert http.get("/health").status_code == 200
        assert "unhandled error" not in server.log()
