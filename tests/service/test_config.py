"""Settings: environment only, normalised URLs, unsafe combinations refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from app import PROJECT_ROOT
from app.config import Settings, normalise_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg2://u:p@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("sqlite:///./x.db", "sqlite:///./x.db"),
    ],
)
def test_database_urls_are_normalised_to_psycopg2(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


def test_defaults_need_no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.is_sqlite and settings.app_env == "development"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/app")
    monkeypatch.setenv("DB_POOL_SIZE", "3")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("API_KEYS", "k1,k2")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+psycopg2://u@db/app"
    assert settings.db_pool_size == 3
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert [k.get_secret_value() for k in settings.api_keys] == ["k1", "k2"]
    assert "k1" not in repr(settings)


def test_wildcard_cors_with_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="refused"):
        Settings(_env_file=None, cors_origins="*", cors_allow_credentials=True)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("field", "value"),
    [("db_pool_size", 0), ("log_level", "LOUD"), ("max_body_bytes", 10), ("app_env", "prod")],
)
def test_invalid_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **{field: value})  # type: ignore[arg-type]


def test_every_setting_is_documented_in_readme_and_env_example() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    example = (PROJECT_ROOT / ".env.example").read_text()
    example_names = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))
    for name in Settings.model_fields:
        assert f"| `{name.upper()}` |" in readme, f"{name.upper()} missing from README table"
        assert name.upper() in example_names, f"{name.upper()} missing from .env.example"
