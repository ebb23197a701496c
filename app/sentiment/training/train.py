"""Train the sentiment model: ``python -m app.sentiment.training.train [--cross-domain]``.

Reads data/sentiment/, evaluates the recipe on a held-out stratified split (and, with
``--cross-domain``, on each held-out domain), refits on all the data and writes
``models/sentiment.joblib`` plus ``models/sentiment.json`` (metadata, metrics included).
``--figures DIR`` also draws the model card's confusion matrix and reliability diagram.
The same data and seed give the same artifact, byte for byte.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from app.sentiment.model import file_sha256
from app.sentiment.recipe.pipeline import Recipe, build_pipeline
from app.sentiment.training.data import (
    EVAL_MIN_ABS_RATING,
    Corpus,
    labels_for,
    load_corpus,
    polar_mask,
)
from app.sentiment.training.evaluation import (
    PredictionsFn,
    ProbaFn,
    cross_domain_splits,
    evaluate_split,
    stratified_split,
    summarize_cross_domain,
)
from app.sentiment.training.package import metadata, serialize, write_atomically, write_metadata

MODEL_NAME = "itemsense-sentiment"
# Bump when the recipe or the text functions change; the artifact hash is appended.
RECIPE_VERSION = "2.2.0"
DEFAULT_SEED = 42
CITATION = (
    "Hutto, C.J. & Gilbert, E.E. (2014). VADER: A Parsimonious Rule-based Model for Sentiment "
    "Analysis of Social Media Text. Eighth International Conference on Weblogs and Social "
    "Media (ICWSM-14). Ann Arbor, MI, June 2014."
)


class Progress:
    """Timestamped progress lines on stderr."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f}s] {message}", file=sys.stderr)

    @property
    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.started


def fit_pipeline(corpus: Corpus, recipe: Recipe, seed: int) -> Pipeline:
    """Fit the recipe on the polar sentences of ``corpus``, each weighted by its rating."""
    mask = polar_mask(corpus.ratings, recipe.min_abs_rating)
    texts = [t for t, keep in zip(corpus.texts, mask, strict=True) if keep]
    ratings = corpus.ratings[mask]
    weights = np.abs(ratings) ** recipe.weight_power
    pipeline = build_pipeline(recipe, seed)
    # BLAS adds up in an order that depends on its thread count, and so would the fitted
    # coefficients' last bits: one thread gives the same bytes whatever the core count.
    with threadpool_limits(limits=1):
        pipeline.fit(texts, labels_for(ratings), clf__sample_weight=weights)
    return pipeline


def fitter(recipe: Recipe, seed: int) -> Any:
    """A function that fits the recipe on a corpus and returns its P(positive) function."""

    def fit(corpus: Corpus) -> ProbaFn:
        pipeline = fit_pipeline(corpus, recipe, seed)
        positive = list(pipeline.classes_).index("positive")

        def proba(texts: Sequence[str]) -> npt.NDArray[np.float64]:
            return np.asarray(pipeline.predict_proba(list(texts))[:, positive], dtype=np.float64)

        return proba

    return fit


def evaluate(
    corpus: Corpus,
    recipe: Recipe,
    seed: int,
    cross_domain: bool,
    progress: Progress,
    baselines: dict[str, ProbaFn] | None = None,
    stratified_predictions: PredictionsFn | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Run the stratified split and optionally the four held-out-domain splits;
    ``stratified_predictions`` receives the stratified split's predictions."""
    splits = [stratified_split(corpus, seed)]
    if cross_domain:
        splits += list(cross_domain_splits(corpus))
    results: dict[str, dict[str, dict[str, float]]] = {}
    for split in splits:
        progress(f"evaluating on split {split.name} ({split.train.size} train sentences)")
        predictions = stratified_predictions if split.name == "stratified" else None
        results[split.name] = evaluate_split(
            corpus, split, fitter(recipe, seed), baselines, predictions
        )
    return results


def format_table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """A plain-text table: one row per split and system."""
    lines = [
        f"{'split':<20} {'system':<8} {'n':>6} {'accuracy':>9} {'macro_f1':>9} {'bal_acc':>8}"
        f" {'ece':>7}"
    ]
    for split, systems in results.items():
        for system, m in systems.items():
            ece = f"{m['ece']:>7.4f}" if "ece" in m else f"{'-':>7}"
            lines.append(
                f"{split:<20} {system:<8} {int(m['n']):>6} {m['accuracy']:>9.4f} "
                f"{m['macro_f1']:>9.4f} {m['balanced_accuracy']:>8.4f} {ece}"
            )
    return "\n".join(lines)


def figure_drawer(directory: Path, progress: Progress) -> PredictionsFn:
    """A function that draws the model card's confusion matrix and reliability diagram of
    the predictions it is given into ``directory``."""

    def draw(proba_positive: npt.NDArray[np.float64], ratings: npt.NDArray[np.float64]) -> None:
        from app.sentiment.training.figures import write_figures  # needs matplotlib

        for path in write_figures(proba_positive, ratings, directory):
            progress(f"drew {path}")

    return draw


def train(
    data_dir: Path,
    output: Path,
    seed: int = DEFAULT_SEED,
    cross_domain: bool = False,
    recipe: Recipe | None = None,
    figures: Path | None = None,
) -> dict[str, Any]:
    """Evaluate, refit on everything, write the artifact + metadata (and, given a directory,
    the figures); return the metadata."""
    recipe = recipe or Recipe()
    progress = Progress()
    progress(f"reading {data_dir}")
    corpus = load_corpus(data_dir)
    progress(f"{len(corpus)} sentences; recipe {recipe.as_dict()}")
    drawer = figure_drawer(figures, progress) if figures is not None else None
    results = evaluate(corpus, recipe, seed, cross_domain, progress, None, drawer)
    print(format_table(results))
    progress("fitting the final model on all sentences")
    pipeline = fit_pipeline(corpus, recipe, seed)
    data = serialize(pipeline)
    metrics: dict[str, Any] = {"eval_min_abs_rating": EVAL_MIN_ABS_RATING, "splits": results}
    if cross_domain:
        metrics["cross_domain_summary"] = summarize_cross_domain(results)
    training_data = {
        **corpus.summary(),
        "used_for_training": int(polar_mask(corpus.ratings, recipe.min_abs_rating).sum()),
        "source": "VADER sentence corpora (data/sentiment/), MIT license",
        "citation": CITATION,
    }
    sha = file_sha256(data)
    meta = metadata(
        data,
        pipeline.classes_,
        name=MODEL_NAME,
        version=f"{RECIPE_VERSION}+{sha[:12]}",
        trained_at=datetime.now(UTC),
        training_data=training_data,
        metrics=metrics,
        recipe=recipe.as_dict(),
        seed=seed,
        training_seconds=round(progress.elapsed, 1),
    )
    write_atomically(output, data)
    write_metadata(output, meta)
    progress(f"wrote {output} ({len(data) / 1e6:.1f} MB, sha256 {sha[:12]}) and its metadata")
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=Path("data/sentiment"))
    parser.add_argument("--output", type=Path, default=Path("models/sentiment.joblib"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--cross-domain",
        action="store_true",
        help="also evaluate on each held-out domain (4 more fits) and record it",
    )
    parser.add_argument(
        "--figures",
        type=Path,
        help="also draw the confusion matrix and reliability diagram here (needs matplotlib)",
    )
    args = parser.parse_args(argv)
    train(args.data_dir, args.output, args.seed, args.cross_domain, figures=args.figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
