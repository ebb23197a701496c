"""Package a fitted scikit-learn text classifier for the service.

    python -m app.sentiment.training.package models/my-model.joblib --name my-model

The joblib file must hold a pipeline that takes raw strings and has ``predict_proba`` with
two or more classes. This command checks that, prints which scorer the service will use,
and writes the metadata JSON the service verifies at start-up (sha256, scikit-learn
version, classes) beside the artifact. The training command writes its artifact and
metadata through the same functions.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from app.sentiment.model import (
    fast_scorer_or_reason,
    file_sha256,
    installed_sklearn_version,
    metadata_path_for,
)


def serialize(pipeline: Any) -> bytes:
    """The pipeline as the bytes of a compressed joblib file."""
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    return buffer.getvalue()


def metadata(
    data: bytes,
    classes: Sequence[Any],
    *,
    name: str,
    version: str,
    trained_at: datetime,
    training_data: dict[str, Any],
    metrics: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """The metadata JSON object of an artifact's bytes (the keys ``load_model`` requires)."""
    return {
        "name": name,
        "version": version,
        "classes": [str(c) for c in classes],
        "sha256": file_sha256(data),
        "sklearn_version": installed_sklearn_version(),
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "training_data": training_data,
        "metrics": metrics,
        **extra,
    }


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, readable by every user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes 0600 files; the service may run as another user than the trainer.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_metadata(artifact: Path, meta: dict[str, Any]) -> None:
    """Write the metadata JSON beside its artifact."""
    write_atomically(metadata_path_for(artifact), json.dumps(meta, indent=2).encode() + b"\n")


def package(artifact: Path, name: str, version: str | None, description: str) -> dict[str, Any]:
    """Check the artifact, write its metadata and return it."""
    data = artifact.read_bytes()
    scorer = fast_scorer_or_reason(data, artifact)  # raises when it is no text classifier
    classes = joblib.load(io.BytesIO(data)).classes_
    sha = file_sha256(data)
    meta = metadata(
        data,
        classes,
        name=name,
        version=version or sha[:12],
        trained_at=datetime.fromtimestamp(artifact.stat().st_mtime, UTC),
        training_data={"description": description},
        metrics={},
    )
    write_metadata(artifact, meta)
    served_by = f"predict_proba ({scorer})" if isinstance(scorer, str) else "the fast scorer"
    print(f"{artifact}: classes {meta['classes']}, sha256 {sha[:12]}, served by {served_by}")
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Write the metadata JSON for a model artifact.")
    parser.add_argument("artifact", type=Path, help="joblib file of a fitted pipeline")
    parser.add_argument("--name", help="model name (default: the file's stem)")
    parser.add_argument("--version", help="model version (default: the sha256's first 12)")
    parser.add_argument(
        "--description", default="not recorded", help="what it was trained on, for /model/info"
    )
    args = parser.parse_args(argv)
    package(args.artifact, args.name or args.artifact.stem, args.version, args.description)
    return 0


if __name__ == "__main__":
    sys.exit(main())
