"""Item tests run the app without a sentiment model: they never predict, and loading one per
app would cost seconds per test (the loader has its own tests in tests/sentiment)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model path with nothing at it: the app starts and serves items without a model."""
    return tmp_path_factory.mktemp("no-model") / "absent.joblib"
