"""A statement stuck behind a lock is cancelled by statement_timeout and answered 503.

Without the timeout such a request would hold a worker thread and a pooled connection for
as long as the lock lasts; with it the client gets a retryable 503 and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import make_settings, migrate

UNAVAILABLE = {"detail": "Database unavailable, retry later"}


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
