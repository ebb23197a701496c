"""load_model's verification and the SentimentModel prediction interface."""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from app.sentiment.model import (
    ModelLoadError,
    PipelineScorer,
    SentimentModel,
    load_model,
    metadata_path_for,
)


def _copy(artifact: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    target = tmp_path / "sentiment.joblib"
    shutil.copyfile(artifact, target)
    shutil.copyfile(metadata_path_for(artifact), metadata_path_for(target))
    meta = json.loads(metadata_path_for(target).read_text())
    return target, metadata_path_for(target), meta


def _replace_artifact(path: Path, meta_path: Path, meta: dict[str, Any], data: bytes) -> None:
    """Write new bytes and record their (correct) sha256, so only unpickling can fail."""
    path.write_bytes(data)
    meta_path.write_text(json.dumps({**meta, "sha256": hashlib.sha256(data).hexdigest()}))


@pytest.fixture(scope="module")
def model(artifact: Path) -> SentimentModel:
    return load_model(artifact)


def test_loads_with_metadata_and_loaded_at(model: SentimentModel, artifact: Path) -> None:
    meta = json.loads(metadata_path_for(artifact).read_text())
    assert model.name == meta["name"] == "itemsense-sentiment"
    assert model.version == meta["version"]
    assert model.classes == ("negative", "positive")
    assert model.info["scorer"] == model.scorer.kind == "fast"
    assert model.info["sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()
    for key in ("classes", "sklearn_version", "trained_at", "training_data", "metrics"):
        assert model.info[key] == meta[key]
    assert datetime.fromisoformat(model.info["loaded_at"]).utcoffset() is not None


def test_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="model artifact not found"):
        load_model(tmp_path / "nope.joblib")


def test_missing_metadata(artifact: Path, tmp_path: Path) -> None:
    path, meta_path, _ = _copy(artifact, tmp_path)
    meta_path.unlink()
    with pytest.raises(ModelLoadError, match="model metadata not found"):
        load_model(path)


def test_metadata_not_json(artifact: Path, tmp_path: Path) -> None:
    path, meta_path, _ = _copy(artifact, tmp_path)
    meta_path.write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(path)


def test_metadata_missing_keys(artifact: Path, tmp_path: Path) -> None:
    path, meta_path, meta = _copy(artifact, tmp_path)
    del meta["sha256"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="lacks keys: sha256"):
        load_model(path)


def test_sha256_mismatch_is_refused_before_unpickling(artifact: Path, tmp_path: Path) -> None:
    path, _, _ = _copy(artifact, tmp_path)
    # A pickle that would raise if it were ever executed: the hash check must stop it first.
    path.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(ModelLoadError, match="sha256 mismatch"):
        load_model(path)


class _Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (_explode, ())


def _explode() -> None:
    raise AssertionError("unpickled an unverified artifact")


def test_sklearn_version_mismatch(artifact: Path, tmp_path: Path) -> None:
    path, meta_path, meta = _copy(artifact, tmp_path)
    meta_path.write_text(json.dumps({**meta, "sklearn_version": "0.24.2"}))
    with pytest.raises(ModelLoadError, match=r"scikit-learn version mismatch.*0\.24\.2"):
        load_model(path)


def test_corrupt_file(artifact: Path, tmp_path: Path) -> None:
    path, meta_path, meta = _copy(artifact, tmp_path)
    _replace_artifact(path, meta_path, meta, artifact.read_bytes()[:5000])
    with pytest.raises(ModelLoadError, match="cannot unpickle"):
        load_model(path)


def test_wrong_object_is_not_a_usable_pipeline(artifact: Path, tmp_path: Path) -> None:
    path, meta_path, meta = _copy(artifact, tmp_path)
    joblib.dump({"not": "a pipeline"}, path)
    _replace_artifact(path, meta_path, meta, path.read_bytes())
    with pytest.raises(ModelLoadError, match="not a classifier with predict_proba"):
        load_model(path)


def test_predict_shape(model: SentimentModel) -> None:
    p = model.predict("The battery lasts all day and the screen is gorgeous.")
    assert p.label in model.classes
    assert set(p.probabilities) == set(model.classes)
    assert math.isclose(sum(p.probabilities.values()), 1.0, abs_tol=1e-12)
    assert p.confidence == max(p.probabilities.values()) == p.probabilities[p.label]


def test_obvious_sentences(model: SentimentModel) -> None:
    assert model.predict("I love it, excellent quality, highly recommended!").label == "positive"
    assert model.predict("Terrible. It broke after a day, total waste of money.").label == (
        "negative"
    )


def test_predict_batch_matches_predict_in_order(model: SentimentModel) -> None:
    texts = [
        "great",
        "awful service and cold food",
        "",
        "not bad at all",
        "&lt;3 this &amp; that",
        "great",
    ]
    batch = model.predict_batch(texts)
    assert len(batch) == len(texts)
    for text, got in zip(texts, batch, strict=True):
        single = model.predict(text)
        assert got.label == single.label
        for cls in model.classes:
            assert got.probabilities[cls] == pytest.approx(single.probabilities[cls], abs=1e-12)
    assert model.predict_batch([]) == []


def test_the_first_class_wins_a_tie() -> None:
    pipeline = Pipeline(
        [("words", TfidfVectorizer()), ("clf", DummyClassifier(strategy="uniform"))]
    ).fit(["good", "bad", "okay"], ["positive", "negative", "neutral"])
    model = SentimentModel(PipelineScorer(pipeline), {"name": "tie", "version": "1"})
    prediction = model.predict("anything")
    assert prediction.probabilities == pytest.approx({c: 1 / 3 for c in model.classes})
    assert prediction.label == model.classes[0] == "negative"
