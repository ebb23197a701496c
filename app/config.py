"""Service settings, read once from the environment (or a `.env` file) by pydantic-settings."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    """Where the service runs; production turns on the strict start-up checks."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


def normalise_database_url(url: str) -> str:
    """Map `postgres://` and `postgresql://` URLs to the psycopg2 driver we ship.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, and Heroku-style
    `postgres://` is not recognised at all.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Every knob of the service. Each field is one environment variable (upper-cased name)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    app_env: Environment = Field(
        Environment.DEVELOPMENT,
        description="`development` or `production`; production refuses to start without API keys.",
    )
    database_url: str = Field(
        "sqlite:///./itemsense.db",
        description="SQLAlchemy URL. `postgres://` and `postgresql://` are mapped to psycopg2.",
    )
    db_pool_size: int = Field(4, ge=1, le=100, description="Connections kept open per process.")
    db_max_overflow: int = Field(2, ge=0, le=100, description="Extra connections under bursts.")
    db_pool_timeout: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Seconds an item request waits for a worker thread, then for a pooled "
        "connection, before 503.",
    )
    db_pool_recycle: int = Field(
        1800, ge=-1, description="Seconds after which a pooled connection is replaced (-1: never)."
    )
    db_pool_pre_ping: bool = Field(
        False,
        description="Test each connection with a round trip on checkout. Off by default: broken "
        "connections are detected on use and the pool is invalidated, which saves a round trip "
        "on every request.",
    )
    db_connect_timeout: int = Field(
        3, ge=1, le=60, description="Seconds to wait for a new PostgreSQL connection."
    )
    db_statement_timeout_ms: int = Field(
        5000, ge=0, description="PostgreSQL statement_timeout per connection (0: none)."
    )
    health_db_timeout: float = Field(
        1.0, gt=0, le=30, description="Seconds the readiness check waits for `SELECT 1`."
    )
    model_path: Path = Field(
        Path("models/sentiment.joblib"),
        description="Model artifact; its metadata JSON sits beside it with the same stem.",
    )
    log_level: str = Field("INFO", description="Root log level (DEBUG, INFO, WARNING, ERROR).")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed by CORS; empty disables CORS.",
    )
    cors_allow_credentials: bool = Field(
        False, description="Allow credentials in CORS requests (never together with `*`)."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body accepted; larger gets 413."
    )
    predict_batch_max: int = Field(
        256, ge=1, le=10_000, description="Most texts accepted by `POST /predict/batch`."
    )
    predict_batch_max_chars: int = Field(
        100_000,
        ge=1,
        description="Most characters, all texts together, accepted by `POST /predict/batch`.",
    )
    predict_inline_chars: int = Field(
        300,
        ge=0,
        description="Longer texts are scored on the inference thread, not the event loop.",
    )
    inference_queue_max: int = Field(
        32, ge=1, description="Predictions that may wait for the inference thread; then 503."
    )
    threadpool_size: int = Field(
        4, ge=1, le=200, description="Worker threads for the synchronous (database) endpoints."
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys for the write endpoints.",
    )
    api_keys_file: Path | None = Field(
        None, description="File with one API key per line (e.g. a mounted Kubernetes Secret)."
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_cors(self) -> Settings:
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError("CORS_ORIGINS='*' together with CORS_ALLOW_CREDENTIALS is refused")
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


async def app_settings(request: Request) -> Settings:
    """The settings the application was built with."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(app_settings)]
