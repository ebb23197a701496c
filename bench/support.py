"""What both benchmarks need: a throw-away PostgreSQL database, migrated as a deployment is."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from app import PROJECT_ROOT
from app.config import normalise_database_url

# The PostgreSQL server on which the tests and the benchmarks create their own databases.
ADMIN_URL = normalise_database_url(
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new, migrated database on the admin server, dropped afterwards; yields its URL."""
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        # The deployment's migration command, with the database named by DATABASE_URL.
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
