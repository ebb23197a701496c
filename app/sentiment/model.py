"""Loading, verifying and running a sentiment model artifact.

The artifact is a joblib file holding any fitted scikit-learn pipeline that takes raw
strings and has ``predict_proba``, with a metadata JSON beside it (same stem, ``.json``),
written by the training command or, for a pipeline trained elsewhere, by
``python -m app.sentiment.training.package``. Unpickling runs code, so the file's sha256 and
the scikit-learn version are checked against the metadata before ``joblib`` sees a byte, and
the bytes that were hashed are the bytes that get loaded.

The model is scored by the fast scorer (``scorer.py``) when it reproduces the pipeline's
``predict_proba`` on probe texts, else by ``predict_proba`` itself. The fast scorer is built
and checked in a short-lived child process: it needs neither scikit-learn nor SciPy, and a
serving process that never imports them is about 90 MB smaller.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import pickle  # nosec B403: reads only what this module's own child process wrote
import subprocess  # nosec B404: runs only this module, with this interpreter
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from app import PROJECT_ROOT
from app.errors import PROBLEM_TYPES, AppError
from app.sentiment.scorer import FastScorer, UnsupportedPipelineError, from_pipeline

logger = logging.getLogger(__name__)

# Texts the fast scorer must score as the pipeline does (negation, contrast, entities,
# words outside any vocabulary, emoji), and that warm up the code paths.
PROBES = (
    "This is wonderful, I love it!",
    "Not good at all. The worst purchase I've made.",
    "The screen is great, but the battery isn't.",
    "Fish &amp; chips, sooooo goood :-) \U0001f600",
    "zzqxj floccinaucinihilipilification caf\u00e9",
    "meh",
)
_FAST_SCORER_TOLERANCE = 1e-9
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
    """One text's prediction."""

    label: str  # the most probable class
    confidence: float  # the probability of ``label``
    probabilities: dict[str, float]  # one per class, summing to 1


class ModelLoadError(Exception):
    """The artifact cannot be used; the message says why (shown in logs and 503 bodies)."""


class ModelUnavailableError(AppError):
    """No verified model is loaded; the detail says why (missing, corrupt or mismatched)."""

    status_code = 503
    title = "Model unavailable"
    problem_type = PROBLEM_TYPES + "model-unavailable"

    def __init__(self, reason: str | None) -> None:
        super().__init__(f"Sentiment model unavailable: {reason}", headers={"Retry-After": "30"})


class Scorer(Protocol):
    """Class probabilities for texts; ``kind`` names the implementation."""

    kind: str
    classes: tuple[str, ...]

    def probabilities(self, texts: Sequence[str]) -> list[list[float]]:
        """One row per text, in ``classes`` order."""


class PipelineScorer:
    """The pipeline's own ``predict_proba``: any scikit-learn text classifier."""

    kind = "predict_proba"

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.classes: tuple[str, ...] = tuple(str(c) for c in pipeline.classes_)

    def probabilities(self, texts: Sequence[str]) -> list[list[float]]:
        """One row per text, from scikit-learn."""
        rows: list[list[float]] = self.pipeline.predict_proba(list(texts)).tolist()
        return rows


class SentimentModel:
    """A verified, loaded model. Thread-safe: prediction only reads fitted state."""

    def __init__(self, scorer: Scorer, info: dict[str, Any]) -> None:
        self.scorer = scorer
        self.name: str = str(info["name"])
        self.version: str = str(info["version"])
        self.classes = scorer.classes
        self.info: dict[str, Any] = {**info, "scorer": scorer.kind}

    def predict(self, text: str) -> Prediction:
        """Classify one text."""
        return self.predict_batch([text])[0]

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """Classify several texts; one prediction per text, in order."""
        classes = self.classes
        predictions = []
        for row in self.scorer.probabilities(texts):
            best = max(range(len(row)), key=row.__getitem__)  # the first on a tie
            predictions.append(
                Prediction(classes[best], row[best], dict(zip(classes, row, strict=True)))
            )
        return predictions


def metadata_path_for(artifact_path: Path) -> Path:
    """Where the metadata JSON of an artifact lives."""
    return artifact_path.with_suffix(".json")


def file_sha256(data: bytes) -> str:
    """Hex sha256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


def installed_sklearn_version() -> str:
    """scikit-learn's version from package metadata (no import of sklearn itself)."""
    from importlib import metadata as importlib_metadata

    try:
        return importlib_metadata.version("scikit-learn")
    except importlib_metadata.PackageNotFoundError as exc:  # pragma: no cover - env problem
        raise ModelLoadError("scikit-learn is not installed") from exc


def load_model(artifact_path: Path) -> SentimentModel:
    """Load ``artifact_path`` (joblib) and its metadata ``artifact_path.with_suffix('.json')``.

    Verifies the file's sha256 and the scikit-learn version recorded in the metadata BEFORE
    unpickling, chooses the scorer, checks the classes against the metadata and warms up;
    raises ``ModelLoadError`` on anything wrong.
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
    scorer: Scorer | str = _fast_scorer_in_child_process(data, artifact_path)
    if isinstance(scorer, str):
        logger.warning("model served by predict_proba: %s", scorer)
        scorer = PipelineScorer(_unpickle(data, artifact_path))
    if list(scorer.classes) != list(meta["classes"]):
        raise ModelLoadError(
            f"model {artifact_path}: classes {list(scorer.classes)} differ from metadata "
            f"{meta['classes']}"
        )
    model = SentimentModel(scorer, {**meta, "loaded_at": datetime.now(UTC).isoformat()})
    model.predict_batch(PROBES)  # warm-up
    return model


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


def _fast_scorer_in_child_process(data: bytes, artifact_path: Path) -> FastScorer | str:
    """``fast_scorer_or_reason`` in a fresh interpreter: it reads the verified bytes on
    stdin and writes the pickled result on stdout, so the imports stay in the child."""
    child = subprocess.run(  # noqa: S603  # nosec B603: our own module, this interpreter
        [sys.executable, "-m", __name__, str(artifact_path)],
        input=data,
        capture_output=True,
        cwd=PROJECT_ROOT,  # where the child imports `app` from
        check=False,
    )
    if child.returncode != 0:
        lines = child.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ModelLoadError(lines[-1] if lines else f"the model loader exited {child.returncode}")
    result: FastScorer | str = pickle.loads(child.stdout)  # noqa: S301  # nosec B301: our child
    return result


def fast_scorer_or_reason(data: bytes, artifact_path: Path) -> FastScorer | str:
    """Unpickle the pipeline, check that it classifies text, and return its fast scorer, or
    the reason the fast scorer does not reproduce it."""
    pipeline = _unpickle(data, artifact_path)
    expected = _classifier_probabilities(pipeline, artifact_path)
    try:
        scorer = from_pipeline(pipeline)
    except UnsupportedPipelineError as exc:
        return str(exc)
    for text, want, got in zip(PROBES, expected, scorer.probabilities(PROBES), strict=True):
        if any(abs(w - g) > _FAST_SCORER_TOLERANCE for w, g in zip(want, got, strict=True)):
            return f"the fast scorer differs from predict_proba on {text!r}: {got} vs {want}"
    return scorer


def _classifier_probabilities(pipeline: Any, artifact_path: Path) -> list[list[float]]:
    """``predict_proba`` of the probe texts, or why the object is not a text classifier."""
    classes = getattr(pipeline, "classes_", None)
    if not hasattr(pipeline, "predict_proba") or classes is None or len(classes) < 2:
        raise ModelLoadError(
            f"model {artifact_path} is not a classifier with predict_proba and 2+ classes"
        )
    try:
        rows: list[list[float]] = pipeline.predict_proba(list(PROBES)).tolist()
    except Exception as exc:  # whatever the pipeline raises on raw strings
        raise ModelLoadError(f"model {artifact_path} cannot score raw text: {exc!r}") from exc
    for row in rows:
        if len(row) != len(classes) or not all(map(math.isfinite, row)):
            raise ModelLoadError(f"model {artifact_path} gives unusable probabilities: {row}")
    return rows


def _child_main() -> int:
    """The child process of ``_fast_scorer_in_child_process``."""
    try:
        result = fast_scorer_or_reason(sys.stdin.buffer.read(), Path(sys.argv[1]))
    except ModelLoadError as exc:
        print(exc, file=sys.stderr)
        return 1
    pickle.dump(result, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
