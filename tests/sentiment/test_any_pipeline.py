"""Any scikit-learn text classifier, packaged by the documented command, is served over HTTP:
by the fast scorer when it reproduces the pipeline, by `predict_proba` otherwise."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline

from app.main import create_app
from app.sentiment.recipe.text import WordNgrams
from app.sentiment.training.data import Corpus
from tests.support import PROJECT_ROOT, make_settings

TEXTS = ["I love this lamp!", "Broke after a day, awful.", "It is a lamp.", "not bad at all"]


def _labels(corpus: Corpus, classes: int) -> Any:
    if classes == 2:
        return np.where(corpus.ratings > 0, "positive", "negative")
    return np.select(
        [corpus.ratings <= -1, corpus.ratings >= 1], ["negative", "positive"], "neutral"
    )


PIPELINES = {
    "plain-logistic": (
        lambda: Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())]),
        2,
    ),
    "complement-nb": (lambda: Pipeline([("tfidf", TfidfVectorizer()), ("clf", ComplementNB())]), 2),
    "sgd-three-classes": (
        lambda: Pipeline(
            [("tfidf", TfidfVectorizer()), ("clf", SGDClassifier(loss="log_loss", random_state=0))]
        ),
        3,
    ),
    # The fast scorer accepts this shape, but float32 features drift from its float64
    # arithmetic by more than the tolerance: the check at load must fall back.
    "float32-words": (
        lambda: Pipeline(
            [
                ("tfidf", TfidfVectorizer(analyzer=WordNgrams(), dtype=np.float32)),
                ("clf", LogisticRegression()),
            ]
        ),
        2,
    ),
}


def _package(pipeline: Any, folder: Path, name: str) -> tuple[Path, str]:
    """Save a fitted pipeline and write its metadata with the documented command."""
    artifact = folder / f"{name}.joblib"
    joblib.dump(pipeline, artifact)
    packaged = subprocess.run(
        [sys.executable, "-m", "app.sentiment.training.package", str(artifact), "--name", name],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return artifact, packaged.stdout


def _serve(artifact: Path, tmp_path: Path) -> TestClient:
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'items.db'}", model_path=artifact)
    return TestClient(create_app(settings))


@pytest.mark.parametrize("name", list(PIPELINES))
def test_a_pipeline_trained_elsewhere_is_served_by_predict_proba(
    name: str, small_corpus: Corpus, tmp_path: Path
) -> None:
    make, classes = PIPELINES[name]
    pipeline = make().fit(small_corpus.texts, _labels(small_corpus, classes))
    artifact, printed = _package(pipeline, tmp_path, name)
    assert "served by predict_proba" in printed
    meta = json.loads(artifact.with_suffix(".json").read_text())
    assert meta["classes"] == [str(c) for c in pipeline.classes_]
    with _serve(artifact, tmp_path) as client:
        info = client.get("/model/info").json()
        assert (info["name"], info["scorer"], info["classes"]) == (
            name,
            "predict_proba",
            meta["classes"],
        )
        batch = client.post("/predict/batch", json={"texts": TEXTS}).json()["predictions"]
        expected = pipeline.predict_proba(TEXTS)
        for text, row, answer in zip(TEXTS, expected, batch, strict=True):
            single = client.post("/predict", json={"text": text}).json()
            assert single == answer
            assert list(answer["probabilities"]) == meta["classes"]
            assert np.allclose(list(answer["probabilities"].values()), row, atol=1e-12)
            assert answer["label"] == meta["classes"][int(np.argmax(row))]
            assert math.isclose(answer["confidence"], float(row.max()))
        assert 'scorer="predict_proba"' in _model_info_line(client.get("/metrics").text, name)


def test_the_recipe_is_served_by_the_fast_scorer(model_path: Path, tmp_path: Path) -> None:
    with _serve(model_path, tmp_path) as client:
        assert client.get("/model/info").json()["scorer"] == "fast"
        name = client.get("/model/info").json()["name"]
        assert 'scorer="fast"' in _model_info_line(client.get("/metrics").text, name)
        assert client.post("/predict", json={"text": TEXTS[0]}).json()["label"] == "positive"


def _model_info_line(metrics: str, name: str) -> str:
    return next(
        line
        for line in metrics.splitlines()
        if line.startswith("itemsense_model_info{") and f'name="{name}"' in line
    )
