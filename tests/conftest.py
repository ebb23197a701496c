"""Fixtures shared by the whole suite: a real PostgreSQL database, a trained model, app builders.

PostgreSQL: the suite creates its own database on the server named by TEST_POSTGRES_URL
(default: the local server, user postgres) and drops it at the end. Under CI=true an
unreachable server is an error, never a skip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import ADMIN_URL, IN_CI, PROJECT_ROOT, make_settings, migrate


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server (fails under CI, skips elsewhere)."""
    engine = sa.create_engine(ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        message = f"PostgreSQL not reachable at {engine.url!r}: {error.orig}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message + " (set TEST_POSTGRES_URL; CI=true makes this an error)")
    finally:
        engine.dispose()
    return ADMIN_URL


@pytest.fixture(scope="session")
def create_pg_database(postgres_server: str) -> Iterator[Callable[[], str]]:
    """Factory: a fresh, empty PostgreSQL database per call, all dropped at session end."""
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def create() -> str:
        name = f"itemsense_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return str(sa.make_url(postgres_server).set(database=name).render_as_string(False))

    yield create
    with admin.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url(create_pg_database: Callable[[], str]) -> str:
    """One migrated PostgreSQL database shared by the suite (tests empty the table)."""
    url = create_pg_database()
    migrate(url)
    return url


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained model artifact in a private folder (copied from models/ or trained anew)."""
    folder = tmp_path_factory.mktemp("model")
    target = folder / "sentiment.joblib"
    built = PROJECT_ROOT / "models" / "sentiment.joblib"
    if built.exists() and built.with_suffix(".json").exists():
        shutil.copy(built, target)
        shutil.copy(built.with_suffix(".json"), target.with_suffix(".json"))
    else:
        subprocess.run(
            [sys.executable, "-m", "app.sentiment.training.train", "--output", str(target)],
            cwd=PROJECT_ROOT,
            check=True,
        )
    return target


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on a migrated SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'items.db'}"
        migrate(url)
        return url
    url: str = request.getfixturevalue("pg_url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE items RESTART IDENTITY"))
    engine.dispose()
    return url


@pytest.fixture
def make_client(database_url: str, model_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Factory: a started TestClient for an app with these settings overrides."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {"database_url": database_url, "model_path": model_path}
        values.update(overrides)
        client = TestClient(create_app(make_settings(**values)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """A client for the default app on the current database backend."""
    return make_client()
