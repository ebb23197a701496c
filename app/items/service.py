"""Item queries. One SQL statement per operation (autocommit), so every write is atomic."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from sqlalchemy import (
    BigInteger,
    Engine,
    RowMapping,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)

from app.errors import PROBLEM_TYPES, AppError
from app.items.models import items, items_count


class ItemNotFoundError(AppError):
    """No item has this id."""

    status_code = 404
    title = "Item not found"
    problem_type = PROBLEM_TYPES + "item-not-found"

    def __init__(self, item_id: int) -> None:
        super().__init__(f"Item {item_id} not found")
        self.item_id = item_id


class VersionMismatchError(AppError):
    """The item changed since the version named in If-Match; its ETag is the current one."""

    status_code = 412
    title = "Item changed"
    problem_type = PROBLEM_TYPES + "version-mismatch"

    def __init__(self, item_id: int, current_version: int) -> None:
        super().__init__(
            f"Item {item_id} has changed (now version {current_version}); fetch it and retry",
            headers={"ETag": f'"{current_version}"'},
        )
        self.item_id = item_id
        self.current_version = current_version


_ALL_COLUMNS = list(items.c)
_GET = select(*_ALL_COLUMNS).where(items.c.id == bindparam("item_id"))
_VERSION = select(items.c.version).where(items.c.id == bindparam("item_id"))
# The total rides along as a scalar subquery over the counter slots (maintained by triggers):
# read in the same statement, so it matches the page's snapshot exactly.
_TOTAL = select(cast(func.sum(items_count.c.total), BigInteger)).scalar_subquery()
_PAGE = (
    select(*_ALL_COLUMNS, _TOTAL.label("total"))
    .order_by(items.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_COUNT = select(_TOTAL)


class ItemsService:
    """Create, read, update and delete items on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, fields: Mapping[str, Any]) -> RowMapping:
        """Insert an item and return the stored row."""
        now = datetime.now(UTC)
        statement = (
            insert(items)
            .values(**fields, version=1, created_at=now, updated_at=now)
            .returning(*_ALL_COLUMNS)
        )
        with self._engine.connect() as conn:
            return conn.execute(statement).mappings().one()

    def get(self, item_id: int) -> RowMapping:
        """Return one item or raise ItemNotFoundError."""
        with self._engine.connect() as conn:
            row = conn.execute(_GET, {"item_id": item_id}).mappings().first()
        if row is None:
            raise ItemNotFoundError(item_id)
        return row

    def list_page(self, limit: int, offset: int) -> tuple[list[RowMapping], int]:
        """Return one page ordered by id and the total number of items."""
        with self._engine.connect() as conn:
            rows = conn.execute(_PAGE, {"limit": limit, "offset": offset}).mappings().all()
            if rows:
                return list(rows), int(rows[0]["total"])
            # Past the end the total has no row to ride on: count separately.
            return [], int(conn.execute(_COUNT).scalar_one())

    def update(
        self,
        item_id: int,
        changes: Mapping[str, Any],
        expected_versions: Collection[int] | None = None,
    ) -> RowMapping:
        """Apply a partial update; with expected_versions, only if the stored version is one."""
        if not changes:
            row = self.get(item_id)
            self._check_version(row, expected_versions)
            return row
        statement = (
            update(items)
            .where(items.c.id == item_id)
            .values(**changes, version=items.c.version + 1, updated_at=datetime.now(UTC))
            .returning(*_ALL_COLUMNS)
        )
        if expected_versions is not None:
            statement = statement.where(items.c.version.in_(list(expected_versions)))
        with self._engine.connect() as conn:
            updated = conn.execute(statement).mappings().first()
            if updated is None:
                self._explain_miss(conn.execute(_VERSION, {"item_id": item_id}).scalar(), item_id)
        assert updated is not None  # _explain_miss always raises
        return updated

    def delete(self, item_id: int, expected_versions: Collection[int] | None = None) -> None:
        """Delete an item; with expected_versions, only if the stored version is one."""
        statement = delete(items).where(items.c.id == item_id).returning(items.c.id)
        if expected_versions is not None:
            statement = statement.where(items.c.version.in_(list(expected_versions)))
        with self._engine.connect() as conn:
            if conn.execute(statement).first() is None:
                self._explain_miss(conn.execute(_VERSION, {"item_id": item_id}).scalar(), item_id)

    @staticmethod
    def _check_version(row: RowMapping, expected_versions: Collection[int] | None) -> None:
        if expected_versions is not None and row["version"] not in expected_versions:
            raise VersionMismatchError(row["id"], row["version"])

    @staticmethod
    def _explain_miss(current_version: int | None, item_id: int) -> NoReturn:
        if current_version is None:
            raise ItemNotFoundError(item_id)
        raise VersionMismatchError(item_id, current_version)
