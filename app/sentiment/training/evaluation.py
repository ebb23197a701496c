"""Evaluation splits and metrics: a stratified split and leave-one-domain-out.

The target task (single review sentences, half positive, half negative, from another source)
is approximated by scoring only polar sentences (|mean rating| >= EVAL_MIN_ABS_RATING) of
data the model did not train on. Leave-one-domain-out is the honest proxy for "another
source"; the stratified split shows in-domain quality.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from app.sentiment.training.data import (
    DOMAINS,
    EVAL_MIN_ABS_RATING,
    POSITIVE,
    Corpus,
    labels_for,
    polar_mask,
)

TEST_SIZE = 0.2
# Equal-width bins of P(positive) for the expected calibration error and its diagram.
CALIBRATION_BINS = 10

# texts -> P(positive) per text
ProbaFn = Callable[[Sequence[str]], npt.NDArray[np.float64]]
# (P(positive), ratings) of a split's scored sentences, e.g. to draw them
PredictionsFn = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], None]


@dataclass(frozen=True)
class Split:
    """One train/test division of the corpus."""

    name: str
    train: npt.NDArray[np.intp]
    test: npt.NDArray[np.intp]


def stratified_split(corpus: Corpus, seed: int) -> Split:
    """80/20 split stratified by domain and sign of the rating."""
    strata = np.char.add(corpus.domains, np.where(corpus.ratings > 0, "+", "-"))
    train, test = train_test_split(
        np.arange(len(corpus)), test_size=TEST_SIZE, random_state=seed, stratify=strata
    )
    return Split("stratified", np.sort(train), np.sort(test))


def cross_domain_splits(corpus: Corpus) -> Iterator[Split]:
    """Train on three domains, test on the fourth, for each domain."""
    for domain in sorted(DOMAINS.values()):
        held_out = corpus.domains == domain
        yield Split(f"held-out:{domain}", np.flatnonzero(~held_out), np.flatnonzero(held_out))


def score(
    proba_positive: npt.NDArray[np.float64], ratings: npt.NDArray[np.float64]
) -> dict[str, float]:
    """Accuracy, macro-F1 and balanced accuracy of "positive iff P(pos) >= 0.5" on the polar
    sentences; ``proba_positive`` and ``ratings`` are aligned and already polar-filtered."""
    truth = labels_for(ratings)
    predicted = np.where(proba_positive >= 0.5, POSITIVE, "negative")
    return {
        "n": int(truth.size),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
        "balanced_accuracy": round(float(balanced_accuracy_score(truth, predicted)), 4),
    }


def calibration_error(
    proba_positive: npt.NDArray[np.float64], ratings: npt.NDArray[np.float64]
) -> float:
    """Expected calibration error: in each of ``CALIBRATION_BINS`` equal-width bins of
    P(positive), the gap between the mean prediction and the share of sentences that are
    positive, weighted by the bin's share of the sentences (0 = perfectly calibrated)."""
    positive = (ratings > 0).astype(np.float64)
    bins = np.minimum((proba_positive * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    error = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        gap = abs(float(proba_positive[in_bin].mean()) - float(positive[in_bin].mean()))
        error += float(in_bin.mean()) * gap
    return error


def test_side(corpus: Corpus, split: Split) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The polar sentences of ``split.test`` and their ratings: what every system is scored on."""
    test = corpus.subset(split.test)
    keep = polar_mask(test.ratings, EVAL_MIN_ABS_RATING)
    return [t for t, k in zip(test.texts, keep, strict=True) if k], test.ratings[keep]


def evaluate_split(
    corpus: Corpus,
    split: Split,
    fit: Callable[[Corpus], ProbaFn],
    baselines: dict[str, ProbaFn] | None = None,
    predictions: PredictionsFn | None = None,
) -> dict[str, dict[str, float]]:
    """Fit on ``split.train``, score on the polar part of ``split.test``; score the
    (untrained) baselines on the same sentences. Returns {"model": ..., name: ...}; the
    model's entry also holds its expected calibration error (``ece``). ``predictions``, if
    given, receives the model's P(positive) and the ratings it was scored against."""
    started = time.perf_counter()
    proba = fit(corpus.subset(split.train))
    texts, ratings = test_side(corpus, split)
    predicted = proba(texts)
    results = {"model": score(predicted, ratings)}
    results["model"]["ece"] = round(calibration_error(predicted, ratings), 4)
    results["model"]["seconds"] = round(time.perf_counter() - started, 1)
    if predictions is not None:
        predictions(predicted, ratings)
    for name, baseline in (baselines or {}).items():
        results[name] = score(baseline(texts), ratings)
    return results


def summarize_cross_domain(results: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    """Mean and worst accuracy over the held-out-domain splits, per system."""
    folds = [r for name, r in results.items() if name.startswith("held-out:")]
    out: dict[str, float] = {}
    for system in folds[0] if folds else {}:
        accs = [fold[system]["accuracy"] for fold in folds]
        f1s = [fold[system]["macro_f1"] for fold in folds]
        out[f"{system}_mean_accuracy"] = round(float(np.mean(accs)), 4)
        out[f"{system}_min_accuracy"] = round(float(np.min(accs)), 4)
        out[f"{system}_mean_macro_f1"] = round(float(np.mean(f1s)), 4)
    return out
