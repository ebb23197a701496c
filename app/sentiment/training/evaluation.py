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

# texts -> P(positive) per text
ProbaFn = Callable[[Sequence[str]], npt.NDArray[np.float64]]


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


def evaluate_split(
    corpus: Corpus,
    split: Split,
    fit: Callable[[Corpus], ProbaFn],
    baselines: dict[str, ProbaFn] | None = None,
) -> dict[str, dict[str, float]]:
    """Fit on ``split.train``, score on the polar part of ``split.test``; score the
    (untrained) baselines on the same sentences. Returns {"model": ..., name: ...}."""
    started = time.perf_counter()
    proba = fit(corpus.subset(split.train))
    test = corpus.subset(split.test)
    keep = polar_mask(test.ratings, EVAL_MIN_ABS_RATING)
    texts = [t for t, k in zip(test.texts, keep, strict=True) if k]
    ratings = test.ratings[keep]
    results = {"model": score(proba(texts), ratings)}
    results["model"]["seconds"] = round(time.perf_counter() - started, 1)
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
