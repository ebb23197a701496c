"""Shared, session-scoped fixtures: the corpus, a small copy of it, trained models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app import PROJECT_ROOT
from app.sentiment.recipe.pipeline import Recipe
from app.sentiment.training.data import DOMAINS, Corpus, load_corpus
from app.sentiment.training.train import fit_pipeline, train

DATA_DIR = PROJECT_ROOT / "data" / "sentiment"
SEED = 42


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    """All 23,703 sentences."""
    return load_corpus(DATA_DIR)


@pytest.fixture(scope="session")
def small_corpus(corpus: Corpus) -> Corpus:
    """Every 8th sentence (for fitting extra pipelines quickly)."""
    return corpus.subset(range(0, len(corpus), 8))


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every 8th line of each corpus file, bytes untouched (CRLF, odd encodings kept)."""
    out = tmp_path_factory.mktemp("small-data")
    for name in DOMAINS:
        lines = (DATA_DIR / name).read_bytes().splitlines(keepends=True)
        (out / name).write_bytes(b"".join(lines[::8]))
    return out


@pytest.fixture(scope="session")
def artifact(small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained by the real training entry point on the small corpus."""
    path = tmp_path_factory.mktemp("model") / "sentiment.joblib"
    train(small_data_dir, path, seed=SEED)
    return path


@pytest.fixture(scope="session")
def full_pipeline(corpus: Corpus) -> Any:
    """The production recipe fitted on the whole corpus (what the fast scorer must match)."""
    return fit_pipeline(corpus, Recipe(), SEED)
