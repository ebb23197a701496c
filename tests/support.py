"""Helpers the tests import: paths, Alembic runs and test settings."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config

from app import PROJECT_ROOT
from app.config import Settings
from app.errors import PROBLEM_TYPES
from bench.support import ADMIN_URL as ADMIN_URL  # one PostgreSQL server for tests and bench


def in_ci() -> bool:
    """True under CI (CI=true), where a missing tool or server fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


IN_CI = in_ci()

DEFAULT_INSTALL_HINT = "a dev dependency (uv.lock, installed by make test) or `make tools`"


def require_tool(name: str, install_hint: str = DEFAULT_INSTALL_HINT) -> str:
    """Path of an executable, preferring the running interpreter's virtualenv.

    Under CI=true a missing tool fails the test (a check that does not run is a missing
    check); elsewhere it skips with the way to install it, so a partial setup runs the rest.
    """
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.is_file() else shutil.which(name)
    if found is None:
        message = f"{name} not found: {install_hint}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message + " (CI=true makes this a failure)")
    return found


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the project's migrations aimed at `database_url`."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url)
    config.attributes["configure_logger"] = False
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    """Run `alembic upgrade <revision>` against `database_url`."""
    command.upgrade(alembic_config(database_url), revision)


def make_settings(database_url: str, model_path: Path, **overrides: Any) -> Settings:
    """Settings for a test app: nothing read from the environment or a .env file."""
    values: dict[str, Any] = {"database_url": database_url, "model_path": model_path}
    values.update(overrides)
    return Settings(_env_file=None, **values)


# The whole answer of a request that found the database unavailable.
DATABASE_UNAVAILABLE = {
    "type": PROBLEM_TYPES + "database-unavailable",
    "title": "Database unavailable",
    "status": 503,
    "detail": "Database unavailable, retry later",
}


def problem(response: Any) -> dict[str, Any]:
    """The RFC 9457 problem details of an error answer, checked for their media type."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert {"type", "title", "status", "detail"} <= set(body)
    return body
