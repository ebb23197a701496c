"""Item responses are built from stored rows without re-validation: the bytes must be exactly
what `ItemRead` / `ItemPage` would produce, for every kind of value, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pydantic_core import to_json

from app.config import Settings
from app.db import create_db_engine
from app.items.router import item_json
from app.items.schemas import ItemPage, ItemRead
from app.items.service import ItemsService
from tests.support import migrate

FIELDS = [
    {"name": "plain"},
    {"name": "priced", "description": "with text", "price": Decimal("19.99")},
    {"name": "free", "price": Decimal("0")},
    {"name": "half", "price": Decimal("0.5")},
    {"name": "max", "price": Decimal("9999999999.99")},
    {"name": 'unicode ✓ "quoted" \\ \u2028', "description": "tab\tnew\nline"},
]


@pytest.fixture
def service(database_url: str) -> ItemsService:
    return ItemsService(create_db_engine(Settings(database_url=database_url)))


def test_item_json_equals_item_read(service: ItemsService) -> None:
    for fields in FIELDS:
        row = service.create(fields)
        assert to_json(item_json(row)).decode() == ItemRead.model_validate(row).model_dump_json()
        stored = service.get(row["id"])
        assert to_json(item_json(stored)) == to_json(item_json(row))


def test_whole_second_timestamps_serialize_like_item_read(service: ItemsService) -> None:
    row = dict(service.create({"name": "t"}))
    row["created_at"] = row["updated_at"] = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert to_json(item_json(row)).decode() == ItemRead.model_validate(row).model_dump_json()


def test_page_json_equals_item_page(service: ItemsService) -> None:
    for fields in FIELDS:
        service.create(fields)
    rows, total = service.list_page(limit=100, offset=0)
    page = {"items": [item_json(r) for r in rows], "total": total, "limit": 100, "offset": 0}
    expected = ItemPage(
        items=[ItemRead.model_validate(r) for r in rows], total=total, limit=100, offset=0
    )
    assert to_json(page).decode() == expected.model_dump_json()


def test_rows_carry_exact_cents_and_utc_on_both_databases(service: ItemsService) -> None:
    created = service.create({"name": "x", "price": Decimal("0.5")})
    for row in (created, service.get(created["id"]), service.list_page(1, 0)[0][0]):
        assert row["price"] == Decimal("0.50") and row["price"].as_tuple().exponent == -2
        assert row["created_at"].tzinfo is UTC and row["updated_at"].tzinfo is UTC


def test_postgresql_rows_are_utc_whatever_the_server_time_zone(
    create_pg_database: Callable[[], str],
) -> None:
    url = create_pg_database()
    migrate(url)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
        conn.execute(sa.text(f"ALTER DATABASE \"{database}\" SET timezone TO 'Asia/Kolkata'"))
    engine.dispose()
    service = ItemsService(create_db_engine(Settings(database_url=url)))
    row = service.get(service.create({"name": "x"})["id"])
    assert row["created_at"].tzinfo is UTC
    assert to_json(item_json(row)).decode().endswith('Z"}')
