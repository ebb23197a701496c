"""Loading, verifying and running the sentiment model artifact.

The artifact is a joblib file (a fitted scikit-learn ``Pipeline``) with a metadata JSON beside
it (same stem, ``.json``). Unpickling runs code, so the file's sha256 and the scikit-learn
version it was built with are checked against the metadata before ``joblib.load`` sees a byte,
and the bytes that were hashed are the bytes that get loaded.

Importing this module is cheap: scikit-learn and joblib are imported inside ``load_model``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

# Warm-up texts; the fast path must agree with the pipeline on them or the load fails.
_PROBES = (
    "This is wonderful, I love it!",
    "Not good at all. The worst purchase I've made.",
)
_FAST_PATH_TOLERANCE = 1e-9
_REQUIRED_METADATA = (
    "name",
    "version",
    "classes",
    "sha256",
    "sklearn_version",
    "trained_at",
    "training_data",
    "metrics",
)


class Prediction(NamedTuple):
    """One text's prediction (a named tuple: ~3 x cheaper to make than a frozen dataclass,
    which counts in a batch)."""

    label: str  # one of the model's classes
    confidence: float  # the probability of ``label`` (the largest one)
    probabilities: dict[str, float]  # one per class, summing to 1


class ModelLoadError(Exception):
    """The artifact cannot be used; the message says why (shown in logs and 503 bodies)."""


def metadata_path_for(artifact_path: Path) -> Path:
    """Where the metadata JSON of an artifact lives."""
    return artifact_path.with_suffix(".json")


def file_sha256(data: bytes) -> str:
    """Hex sha256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


def installed_sklearn_version() -> str:
    """scikit-learn's version from package metadata (no import of sklearn itself)."""
    from importlib import metadata as importlib_metadata  # ~40 ms: only when loading

    try:
        return importlib_metadata.version("scikit-learn")
    except importlib_metadata.PackageNotFoundError as exc:  # pragma: no cover - env problem
        raise ModelLoadError("scikit-learn is not installed") from exc


def make_prediction(classes: tuple[str, ...], p_second: float) -> Prediction:
    """The prediction for P(classes[1]) = ``p_second`` in a binary model.

    Ties go to the second class ("positive"): positive iff P(positive) >= P(negative).
    """
    first, second = classes
    p_first = 1.0 - p_second
    probabilities = {first: p_first, second: p_second}
    if p_second >= p_first:
        return Prediction(second, p_second, probabilities)
    return Prediction(first, p_first, probabilities)


class SentimentModel:
    """A verified, loaded model. Thread-safe: prediction only reads fitted state."""

    def __init__(self, pipeline: Any, info: dict[str, Any]) -> None:
        from app.sentiment.fast import FastScorer  # imports numpy only

        self.pipeline = pipeline
        self._scorer = FastScorer(pipeline)
        self.name: str = str(info["name"])
        self.version: str = str(info["version"])
        self.classes: tuple[str, ...] = self._scorer.classes
        self.info: dict[str, Any] = info

    def predict(self, text: str) -> Prediction:
        """Classify one text."""
        return make_prediction(self.classes, self._scorer.proba_positive_class(text))

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """Classify several texts; one prediction per text, in order."""
        classes = self.classes
        return [make_prediction(classes, p) for p in self.second_class_probabilities(texts)]

    def second_class_probabilities(self, texts: Sequence[str]) -> list[float]:
        """P(classes[1]) of each text, in order (what ``make_prediction`` takes)."""
        probabilities: list[float] = self._scorer.proba_positive_class_batch(texts).tolist()
        return probabilities

    def pipeline_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Probabilities from scikit-learn's own ``predict_proba`` (slow; for checks)."""
        rows = self.pipeline.predict_proba(list(texts))
        order = [str(c) for c in self.pipeline.classes_]
        return [{c: float(p) for c, p in zip(order, row, strict=True)} for row in rows]


def _read_metadata(meta_path: Path) -> dict[str, Any]:
    try:
        raw = meta_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ModelLoadError(f"model metadata not found: {meta_path}") from exc
    except OSError as exc:
        raise ModelLoadError(f"cannot read model metadata {meta_path}: {exc}") from exc
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"model metadata {meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise ModelLoadError(f"model metadata {meta_path} must be a JSON object")
    missing = [key for key in _REQUIRED_METADATA if key not in meta]
    if missing:
        raise ModelLoadError(f"model metadata {meta_path} lacks keys: {', '.join(missing)}")
    return meta


def _verify(meta: dict[str, Any], data: bytes, artifact_path: Path) -> None:
    actual = file_sha256(data)
    if actual != meta["sha256"]:
        raise ModelLoadError(
            f"sha256 mismatch for {artifact_path}: file has {actual}, "
            f"metadata expects {meta['sha256']} (artifact replaced or corrupted)"
        )
    installed = installed_sklearn_version()
    if installed != meta["sklearn_version"]:
        raise ModelLoadError(
            f"scikit-learn version mismatch for {artifact_path}: artifact was built with "
            f"{meta['sklearn_version']}, this environment has {installed}; retrain the model"
        )


def _unpickle(data: bytes, artifact_path: Path) -> Any:
    import joblib

    try:
        return joblib.load(io.BytesIO(data))
    except Exception as exc:  # any unpickling failure means the file is unusable
        raise ModelLoadError(f"cannot unpickle model {artifact_path}: {exc!r}") from exc


def _warm_up(model: SentimentModel, artifact_path: Path) -> None:
    fast = model.predict_batch(_PROBES)
    slow = model.pipeline_proba(_PROBES)
    for text, f, s in zip(_PROBES, fast, slow, strict=True):
        for cls in model.classes:
            p = f.probabilities[cls]
            if not math.isfinite(p) or abs(p - s[cls]) > _FAST_PATH_TOLERANCE:
                raise ModelLoadError(
                    f"model {artifact_path}: fast scorer disagrees with the pipeline on "
                    f"{text!r} ({p} vs {s[cls]})"
                )


def load_model(artifact_path: Path) -> SentimentModel:
    """Load ``artifact_path`` (joblib) and its metadata ``artifact_path.with_suffix('.json')``.

    Verifies the file's sha256 and the scikit-learn version recorded in the metadata BEFORE
    unpickling (joblib is code), builds the fast scorer, warms up with a prediction (checking
    the fast scorer against the pipeline) and raises ``ModelLoadError`` on anything wrong.
    """
    artifact_path = Path(artifact_path)
    try:
        data = artifact_path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelLoadError(f"model artifact not found: {artifact_path}") from exc
    except OSError as exc:
        raise ModelLoadError(f"cannot read model artifact {artifact_path}: {exc}") from exc
    meta = _read_metadata(metadata_path_for(artifact_path))
    _verify(meta, data, artifact_path)
    pipeline = _unpickle(data, artifact_path)
    try:
        model = SentimentModel(pipeline, {**meta, "loaded_at": datetime.now(UTC).isoformat()})
    except Exception as exc:  # wrong object type, unsupported pipeline shape, ...
        raise ModelLoadError(f"model {artifact_path} is not a usable pipeline: {exc}") from exc
    if list(model.classes) != list(meta["classes"]):
        raise ModelLoadError(
            f"model {artifact_path}: classes {list(model.classes)} differ from metadata "
            f"{meta['classes']}"
        )
    if not {"positive", "negative"} <= set(model.classes):
        raise ModelLoadError(f"model {artifact_path}: classes must include positive/negative")
    _warm_up(model, artifact_path)
    return model
