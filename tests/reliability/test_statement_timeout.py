"""Stuck statements and an exhausted pool are answered 503 within the configured timeouts.

Without the timeout such a request would hold a worker thread and a pooled connection for
as long as the lock lasts; with it the client gets a retryable 503 and nothing is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from tests.support import DATABASE_UNAVAILABLE, make_settings, migrate

UNAVAILABLE = DATABASE_UNAVAILABLE


@pytest.fixture
def database(create_pg_database: Callable[[], str]) -> str:
    """A fresh migrated PostgreSQL database of this module's own (tests lock its table)."""
    url = create_pg_database()
    migrate(url)
    return url


@pytest.fixture
def client(database: str, model_path: Path) -> Iterator[TestClient]:
    """The app with a 300 ms statement timeout."""
    settings = make_settings(database, model_path, db_statement_timeout_ms=300)
    with TestClient(create_app(settings)) as client:
        yield client


def test_statements_blocked_by_a_table_lock_get_503_and_write_nothing(
    client: TestClient, database: str
) -> None:
    item = client.post("/items", json={"name": "Lamp", "price": "5.00"}).json()
    engine = sa.create_engine(database)
    with engine.connect() as locker:
        locker.execute(sa.text("BEGIN"))
        locker.execute(sa.text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
        blocked = [
            client.get(f"/items/{item['id']}"),
            client.get("/items"),
            client.post("/items", json={"name": "blocked"}),
            client.patch(f"/items/{item['id']}", json={"name": "blocked"}),
            client.delete(f"/items/{item['id']}"),
        ]
        locker.execute(sa.text("ROLLBACK"))
    for response in blocked:
        assert response.status_code == 503, response.text
        assert response.json() == UNAVAILABLE
        assert response.headers["retry-after"] == "1"
    page = client.get("/items").json()
    assert page["total"] == 1
    assert page["items"][0] == item  # neither renamed nor deleted
    engine.dispose()


def test_update_blocked_by_a_row_lock_gets_503_and_keeps_the_version(
    client: TestClient, database: str
) -> None:
    item = client.post("/items", json={"name": "Lamp"}).json()
    engine = sa.create_engine(database)
    with engine.connect() as locker:
        locker.execute(sa.text("BEGIN"))
        locker.execute(sa.text("SELECT 1 FROM items WHERE id = :id FOR UPDATE"), {"id": item["id"]})
        response = client.patch(f"/items/{item['id']}", json={"price": "1.00"})
        # The row lock blocks only writers of that row: reads and other items still work.
        assert client.get(f"/items/{item['id']}").status_code == 200
        assert client.post("/items", json={"name": "Other"}).status_code == 201
        locker.execute(sa.text("ROLLBACK"))
    engine.dispose()
    assert response.status_code == 503 and response.json() == UNAVAILABLE
    after = client.get(f"/items/{item['id']}")
    assert after.headers["etag"] == '"1"' and after.json()["price"] is None
    assert client.patch(f"/items/{item['id']}", json={"price": "1.00"}).status_code == 200


def test_exhausted_pool_gives_503_after_the_pool_timeout(database: str, model_path: Path) -> None:
    # One pooled connection and no overflow: a write stuck behind a lock holds it, so the next
    # request must give up after DB_POOL_TIMEOUT with a 503 instead of queueing forever.
    settings = make_settings(
        database,
        model_path,
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=0.5,
        db_statement_timeout_ms=10_000,
    )
    engine = sa.create_engine(database)
    with TestClient(create_app(settings)) as client, engine.connect() as locker:
        locker.execute(sa.text("BEGIN"))
        locker.execute(sa.text("LOCK TABLE items IN EXCLUSIVE MODE"))
        with ThreadPoolExecutor(1) as pool:
            stuck = pool.submit(client.post, "/items", json={"name": "stuck"})
            _wait_for_lock_waiter(engine)
            starved = client.get("/items")
            locker.execute(sa.text("COMMIT"))
            finished = stuck.result(timeout=30)
        assert starved.status_code == 503 and starved.json() == UNAVAILABLE
        assert finished.status_code == 201  # the stuck write completes once the lock goes
        assert client.get("/items").json()["total"] == 1
    engine.dispose()


def test_behind_a_locked_table_extra_requests_get_503_at_once_and_metrics_still_answer(
    database: str, model_path: Path
) -> None:
    # Two worker threads, both stuck behind the lock for up to 10 s: every further item
    # request must give up after DB_POOL_TIMEOUT instead of queueing for a thread, and the
    # probes and /metrics must not queue at all.
    pool_timeout = 0.5
    settings = make_settings(
        database,
        model_path,
        threadpool_size=2,
        db_pool_timeout=pool_timeout,
        db_statement_timeout_ms=10_000,
    )
    engine = sa.create_engine(database)
    with TestClient(create_app(settings)) as client, engine.connect() as locker:
        url = f"/items/{client.post('/items', json={'name': 'Lamp'}).json()['id']}"
        errors_before = _database_errors(client)
        locker.execute(sa.text("BEGIN"))
        locker.execute(sa.text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
        with ThreadPoolExecutor(8) as pool:
            stuck = [pool.submit(client.get, url) for _ in range(2)]
            _wait_for_lock_waiter(engine, count=2)
            queued = [pool.submit(_timed, client.get, url) for _ in range(4)]
            observers = {
                path: pool.submit(_timed, client.get, path)
                for path in ("/metrics", "/health/live", "/health/ready", "/health")
            }
            refused = [future.result(timeout=30) for future in queued]
            observed = {path: future.result(timeout=30) for path, future in observers.items()}
            locker.execute(sa.text("COMMIT"))
            finished = [future.result(timeout=30) for future in stuck]
        errors_after = _database_errors(client)
    engine.dispose()
    for seconds, response in refused:
        assert response.status_code == 503 and response.json() == UNAVAILABLE
        assert response.headers["retry-after"] == "1"
        assert pool_timeout <= seconds < pool_timeout + 1.5  # not the lock's 10 s
    for path, (seconds, response) in observed.items():
        assert response.status_code == 200, (path, response.text)
        assert seconds < 1.5, (path, seconds)
    assert errors_after - errors_before == 4  # the refusals are counted
    assert [response.status_code for response in finished] == [200, 200]


def _database_errors(client: TestClient) -> float:
    scrape = client.get("/metrics").text
    for family in text_string_to_metric_families(scrape):
        if family.name == "itemsense_db_errors":
            return sum(sample.value for sample in family.samples)
    raise AssertionError("itemsense_db_errors_total is not exported")


def _timed(call: Callable[[str], httpx.Response], path: str) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = call(path)
    return time.monotonic() - started, response


def _wait_for_lock_waiter(engine: sa.Engine, count: int = 1) -> None:
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = 'itemsense' AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 10
    while True:
        with engine.connect() as conn:
            if conn.execute(query).scalar_one() == count:
                return
        assert time.monotonic() < deadline, "the write never blocked on the lock"
        time.sleep(0.05)
