"""The training command: reproducible artifact, honest metadata, printed evaluation."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from app import PROJECT_ROOT
from app.sentiment.model import installed_sklearn_version, load_model, metadata_path_for
from app.sentiment.training.data import load_corpus
from app.sentiment.training.train import main

# The numerical libraries' thread pools, as an operator or a container runtime may size them.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _train_in_subprocess(
    data_dir: Path, output: Path, threads: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_VARIABLES}
    if threads is not None:
        env.update(dict.fromkeys(_THREAD_VARIABLES, str(threads)))
    return subprocess.run(
        [
            sys.executable,
            *("-m", "app.sentiment.training.train", "--data-dir", str(data_dir)),
            *("--output", str(output), "--seed", "42"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )


def test_the_training_command_reproduces_the_artifact_byte_for_byte_whatever_the_threads(
    small_data_dir: Path, tmp_path: Path
) -> None:
    first = _train_in_subprocess(small_data_dir, tmp_path / "first.joblib", threads=1)
    _train_in_subprocess(small_data_dir, tmp_path / "second.joblib", threads=4)
    for word in ("stratified", "accuracy", "macro_f1"):
        assert word in first.stdout
    assert "fitting the final model" in first.stderr  # progress
    assert (tmp_path / "first.joblib").read_bytes() == (tmp_path / "second.joblib").read_bytes()
    scores = [
        json.loads((tmp_path / name).read_text())["metrics"]["splits"]["stratified"]["model"]
        for name in ("first.json", "second.json")
    ]
    for score in scores:
        del score["seconds"]  # wall time, the only thing allowed to differ
    assert scores[0] == scores[1]


def test_training_again_gives_the_same_predictions(
    artifact: Path, small_data_dir: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.joblib"
    _train_in_subprocess(small_data_dir, again)
    texts = load_corpus(small_data_dir).texts
    first = [p.probabilities for p in load_model(artifact).predict_batch(texts)]
    second = [p.probabilities for p in load_model(again).predict_batch(texts)]
    assert first == second


def test_metadata_describes_the_artifact(artifact: Path, small_data_dir: Path) -> None:
    meta = json.loads(metadata_path_for(artifact).read_text())
    assert meta["sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert meta["version"].endswith("+" + meta["sha256"][:12])
    assert meta["sklearn_version"] == installed_sklearn_version()
    assert meta["classes"] == ["negative", "positive"]
    corpus = load_corpus(small_data_dir)
    assert meta["training_data"]["sentences"] == len(corpus)
    assert meta["training_data"]["sha256"] == corpus.sha256
    assert "Hutto" in meta["training_data"]["citation"]
    stratified = meta["metrics"]["splits"]["stratified"]["model"]
    assert 0.6 < stratified["accuracy"] <= 1.0
    assert 0.6 < stratified["macro_f1"] <= 1.0
    assert stratified["n"] > 100
    assert 0 <= stratified["ece"] < 0.2
    # readable by a service running as another user
    assert os.stat(artifact).st_mode & 0o044 == 0o044


def test_different_seed_changes_the_evaluation_split(
    small_data_dir: Path, tmp_path: Path, artifact: Path
) -> None:
    other = tmp_path / "seed7.joblib"
    main(["--data-dir", str(small_data_dir), "--output", str(other), "--seed", "7"])
    meta7 = json.loads(metadata_path_for(other).read_text())
    meta42 = json.loads(metadata_path_for(artifact).read_text())
    assert (meta7["seed"], meta42["seed"]) == (7, 42)
    # The final model uses all data either way; only the held-out evaluation differs.
    assert meta7["metrics"]["splits"] != meta42["metrics"]["splits"]


def test_the_training_command_draws_the_model_cards_figures(
    small_data_dir: Path, tmp_path: Path
) -> None:
    figures = tmp_path / "figures"
    args = ["--data-dir", str(small_data_dir), "--output", str(tmp_path / "m.joblib")]
    assert main([*args, "--figures", str(figures)]) == 0
    drawn = sorted(p.name for p in figures.iterdir())
    assert drawn == ["confusion-matrix.png", "reliability.png"]
    first = {name: (figures / name).read_bytes() for name in drawn}
    assert all(png.startswith(b"\x89PNG") and len(png) > 5000 for png in first.values())
    assert main([*args, "--figures", str(figures)]) == 0  # the same model draws the same bytes
    assert {name: (figures / name).read_bytes() for name in drawn} == first
