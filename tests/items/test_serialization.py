"""Stored rows as the API gives them: a page of every kind of value serialises to exact
price strings and UTC times, and rows carry exact cents and UTC times, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.config import Settings
from app.db import create_db_engine
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


def test_a_page_of_stored_rows_serialises_exactly(service: ItemsService) -> None:
    for fields in FIELDS:
        service.create(fields)
    rows, total = service.list_page(limit=100, offset=0)
    # Whole-second timestamps, which ISO formatting writes without a fraction.
    first = dict(rows[0])
    first["created_at"] = first["updated_at"] = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    page = {"items": [first, *rows[1:]], "total": total, "limit": 100, "offset": 0}
    items = json.loads(ItemPage.model_validate(page).model_dump_json())["items"]
    assert [item["name"] for item in items] == [fields["name"] for fields in FIELDS]
    assert [item["price"] for item in items] == [
        None,
        "19.99",
        "0.00",
        "0.50",
        "9999999999.99",
        None,
    ]
    assert items[0]["created_at"] == "2026-01-02T03:04:05Z"
    assert all(item["updated_at"].endswith("Z") for item in items)
    assert items[5]["description"] == "tab\tnew\nline"


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
    assert ItemRead.model_validate(row).model_dump_json().endswith('Z"}')
