"""Property-based tests from the service's own OpenAPI schema (schemathesis).

Every operation gets generated valid and invalid requests; every answer must be non-5xx,
have a documented status code and content type, and match its documented schema. The run
is bounded and derandomized so CI sees the same examples every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi import from_asgi

from app.main import create_app
from tests.support import make_settings, migrate

API_KEY = "schemathesis-key"
# Explicit, so a stray schemathesis.toml cannot change the run. A valid PATCH or DELETE with
# a stale If-Match is rightly refused with 412, and a GET whose If-None-Match names the
# current version rightly answers 304: both are accepted answers to valid data.
CONFIG = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "304", "401", "403", "404", "409", "412", "429"]
        }
    }
}


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Iterator[FastAPI]:
    """The app on a migrated SQLite file, with API keys on, started (lifespan run)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'items.db'}"
    migrate(url)
    app = create_app(make_settings(url, model_path, api_keys=API_KEY))
    with TestClient(app):
        yield app


@pytest.fixture(scope="module")
def api_schema(api_app: FastAPI) -> schemathesis.BaseSchema:
    """The schema the app serves, loaded over ASGI."""
    return from_asgi("/openapi.json", api_app, config=SchemathesisConfig.from_dict(CONFIG))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(headers={"X-API-Key": API_KEY})


def test_stateful_sequences_conform(api_schema: schemathesis.BaseSchema) -> None:
    """Create, read, change and delete chained through the links schemathesis infers."""
    base = api_schema.as_state_machine()

    class Workflow(base):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, object]:
            kwargs: dict[str, object] = super().get_call_kwargs(case)
            kwargs["headers"] = {"X-API-Key": API_KEY}
            return kwargs

    Workflow.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
