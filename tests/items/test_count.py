"""The page total comes from a one-row table kept by triggers: it must always equal count(*)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from app.config import Settings
from app.db import create_db_engine
from app.items.service import ItemsService
from tests.support import alembic_config, migrate


def real_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM items")).scalar_one())


def reported_total(service: ItemsService) -> int:
    return service.list_page(limit=1, offset=0)[1]


def insert_raw(engine: sa.Engine, names: list[str]) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO items (name, created_at, updated_at) VALUES (:name, :now, :now)"),
            [{"name": name, "now": now} for name in names],
        )


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    return create_db_engine(Settings(database_url=database_url))


def test_total_follows_every_kind_of_write(engine: sa.Engine) -> None:
    service = ItemsService(engine)
    assert reported_total(service) == real_count(engine) == 0
    ids = [service.create({"name": f"n{n}"})["id"] for n in range(5)]
    assert reported_total(service) == 5
    service.delete(ids[0])
    service.update(ids[1], {"name": "renamed"})
    assert reported_total(service) == real_count(engine) == 4
    insert_raw(engine, [f"bulk {n}" for n in range(50)])  # one multi-row statement
    assert reported_total(service) == real_count(engine) == 54
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM items WHERE name LIKE 'bulk %'"))
    assert reported_total(service) == real_count(engine) == 4
    # Past the last page the total is still reported.
    assert service.list_page(limit=10, offset=100) == ([], 4)


def test_a_rolled_back_write_does_not_change_the_total(
    engine: sa.Engine, database_url: str
) -> None:
    service = ItemsService(engine)
    service.create({"name": "kept"})
    transactional = sa.create_engine(database_url)  # the app's engine is autocommit
    with transactional.connect() as conn:
        conn.execute(
            sa.text("INSERT INTO items (name, created_at, updated_at) VALUES ('x', :t, :t)"),
            {"t": datetime.now(UTC)},
        )
        in_transaction = conn.execute(sa.text("SELECT sum(total) FROM items_count"))
        assert int(in_transaction.scalar_one()) == 2
        conn.rollback()
    transactional.dispose()
    assert reported_total(service) == real_count(engine) == 1


def test_concurrent_writers_keep_the_total_exact(pg_url: str) -> None:
    engine = create_db_engine(Settings(database_url=pg_url, db_pool_size=8))
    service = ItemsService(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE items RESTART IDENTITY"))

    def churn(worker: int) -> None:
        for n in range(40):
            created = service.create({"name": f"w{worker}-{n}"})
            if n % 3 == 0:
                service.delete(created["id"])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(churn, range(8)))
    assert reported_total(service) == real_count(engine) == 8 * (40 - 14)
    with engine.connect() as conn:
        slots = conn.execute(sa.text("SELECT count(*) FROM items_count WHERE total <> 0"))
        assert slots.scalar_one() > 1  # sessions add to their own slots, not one hot row
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE items"))
    assert reported_total(service) == 0
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'count.db'}"
    create: Callable[[], str] = request.getfixturevalue("create_pg_database")
    return create()


def test_migration_counts_existing_rows_and_downgrade_removes_the_triggers(
    empty_database: str,
) -> None:
    migrate(empty_database, "0002")
    engine = sa.create_engine(empty_database)
    insert_raw(engine, ["before", "the", "counter"])
    migrate(empty_database)
    service = ItemsService(create_db_engine(Settings(database_url=empty_database)))
    assert reported_total(service) == 3
    insert_raw(engine, ["after"])
    assert reported_total(service) == 4
    command.downgrade(alembic_config(empty_database), "0002")
    assert "items_count" not in sa.inspect(engine).get_table_names()
    insert_raw(engine, ["no trigger left to fail"])
    assert real_count(engine) == 5
    engine.dispose()
