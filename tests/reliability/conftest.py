"""Fixtures for the fault tests: a private PostgreSQL cluster the test may stop and start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.reliability.support import PostgresCluster, missing_postgres_tools
from tests.support import IN_CI, migrate


@pytest.fixture
def pg_cluster() -> Iterator[PostgresCluster]:
    """A started throwaway cluster holding a migrated `itemsense` database."""
    missing = missing_postgres_tools()
    if missing:
        message = f"fault tests need {', '.join(missing)} on PATH (PostgreSQL server tools)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message + " (CI=true makes this an error)")
    cluster = PostgresCluster()
    try:
        cluster.start()
        admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE itemsense"))
        admin.dispose()
        migrate(cluster.url("itemsense"))
        yield cluster
    finally:
        cluster.destroy()
