"""Database plumbing: metadata with stable constraint names, the engine, and portable types.

Every item operation is one SQL statement run in autocommit mode: PostgreSQL makes a single
statement atomic on its own, so there is no BEGIN/COMMIT round trip and no half-applied write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from sqlalchemy import BigInteger, DateTime, Engine, MetaData, Numeric, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.config import Settings
from app.errors import DatabaseUnavailableError
from app.observability import DB_ERRORS

# Stable constraint names, identical on PostgreSQL and SQLite, so migrations can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

_CENTS = Decimal("0.01")
_ResultProcessor = Callable[[Any], Any]


class Money(TypeDecorator[Decimal]):
    """An exact amount with two decimal places.

    NUMERIC(12, 2) on PostgreSQL. SQLite has no exact decimal type (it would store a float),
    so there the value is kept as an integer number of cents.
    """

    impl = Numeric(12, 2, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(12, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value).quantize(_CENTS)
        return int(exact * 100) if dialect.name == "sqlite" else exact

    def result_processor(self, dialect: Dialect, coltype: object) -> _ResultProcessor | None:
        # psycopg2 returns NUMERIC(12, 2) as a Decimal with exactly two places already:
        # no per-value call on PostgreSQL (20 rows x 3 columns add up on a page).
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(_CENTS)
        return Decimal(value).quantize(_CENTS)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def result_processor(self, dialect: Dialect, coltype: object) -> _ResultProcessor | None:
        # The engine's sessions run with timezone=UTC (create_db_engine), so psycopg2 already
        # returns aware datetimes in datetime.timezone.utc: no per-value call on PostgreSQL.
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def create_db_engine(settings: Settings) -> Engine:
    """Build the engine with explicit pool limits and timeouts from the settings."""
    if settings.is_sqlite:
        engine = create_engine(
            settings.database_url,
            isolation_level="AUTOCOMMIT",
            connect_args={"check_same_thread": False, "timeout": settings.db_pool_timeout},
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options = "-c timezone=UTC"
    if settings.db_statement_timeout_ms:
        options += f" -c statement_timeout={settings.db_statement_timeout_ms}"
    return create_engine(
        settings.database_url,
        isolation_level="AUTOCOMMIT",
        # Autocommit leaves no transaction open, so the ROLLBACK-on-checkin reset has nothing
        # to undo; skipping it saves work on every request.
        pool_reset_on_return=None,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=settings.db_pool_pre_ping,
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "application_name": "itemsense",
            "options": options,
            # A dead host or a partition must not hold a pooled connection (and its request)
            # forever: TCP keepalives and a send timeout make the kernel give up in ~15-45 s.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": 15000,
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; busy_timeout waits instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def database_engine(request: Request) -> Engine:
    """The engine the application opened at start-up."""
    engine: Engine = request.app.state.engine
    return engine


Database = Annotated[Engine, Depends(database_engine)]


class WorkerSlots:
    """The worker threads that run database work, each taken with a deadline.

    Starlette queues a `def` endpoint for a worker thread without end, so behind a slow
    database requests would wait far longer than `DB_POOL_TIMEOUT`. A request first takes
    one of these slots (as many as worker threads); one that gets none in time is answered
    503 with `Retry-After` at once, and the threads it would have queued for stay free.
    """

    def __init__(self, threads: int, timeout: float) -> None:
        self.timeout = timeout
        self._free = anyio.Semaphore(threads)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold a slot for the block; 503 (`DatabaseUnavailableError`) after the timeout."""
        try:
            with anyio.fail_after(self.timeout):
                await self._free.acquire()
        except TimeoutError:
            DB_ERRORS.inc()
            raise DatabaseUnavailableError(
                "Database unavailable, retry later", headers={"Retry-After": "1"}
            ) from None
        try:
            yield
        finally:
            self._free.release()
