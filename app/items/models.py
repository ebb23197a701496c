"""The items tables (SQLAlchemy Core). Alembic migrations must match them exactly."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Integer,
    SmallInteger,
    String,
    Table,
    text,
)

from app.db import Money, UTCDateTime, metadata

# BIGINT identity on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")

items = Table(
    "items",
    metadata,
    Column("id", _ID_TYPE, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("description", String(2000), nullable=True),
    Column("price", Money(), nullable=True),
    # Bumped on every update; exposed as the ETag for optimistic concurrency (If-Match).
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# The number of items, kept exact by triggers on `items` (migration 0003) and split over 16
# slots so that concurrent writers do not queue on one row lock; a page's total is the sum of
# 16 rows instead of a count(*) over the whole table.
items_count = Table(
    "items_count",
    metadata,
    Column("slot", SmallInteger, primary_key=True),
    Column("total", BigInteger, nullable=False),
    CheckConstraint("slot >= 0 AND slot < 16", name="slot_range"),
)
