"""Helpers the tests import: paths, Alembic runs and test settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from app.config import Settings, normalise_database_url

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = normalise_database_url(
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the project's migrations aimed at `database_url`."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
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
