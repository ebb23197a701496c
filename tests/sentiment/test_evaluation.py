"""Evaluation splits and scoring."""

from __future__ import annotations

import numpy as np
import pytest

from app.sentiment.training.data import Corpus
from app.sentiment.training.evaluation import (
    calibration_error,
    cross_domain_splits,
    score,
    stratified_split,
    summarize_cross_domain,
)


def test_stratified_split_partitions_and_keeps_proportions(corpus: Corpus) -> None:
    split = stratified_split(corpus, seed=42)
    assert np.intersect1d(split.train, split.test).size == 0
    assert split.train.size + split.test.size == len(corpus)
    for domain in ("amazon", "movies", "nyt", "tweets"):
        share = (corpus.domains[split.test] == domain).mean()
        assert share == pytest.approx((corpus.domains == domain).mean(), abs=0.002)
    assert not np.array_equal(split.test, stratified_split(corpus, seed=1).test)
    assert np.array_equal(split.test, stratified_split(corpus, seed=42).test)


def test_cross_domain_splits_hold_out_one_domain_each(corpus: Corpus) -> None:
    splits = list(cross_domain_splits(corpus))
    assert [s.name for s in splits] == [
        "held-out:amazon",
        "held-out:movies",
        "held-out:nyt",
        "held-out:tweets",
    ]
    for split in splits:
        domain = split.name.split(":")[1]
        assert set(corpus.domains[split.test]) == {domain}
        assert domain not in set(corpus.domains[split.train])
        assert split.train.size + split.test.size == len(corpus)


def test_score_uses_ties_as_positive() -> None:
    ratings = np.array([2.0, 1.0, -1.0, -3.0])
    proba = np.array([0.5, 0.2, 0.1, 0.9])  # right, wrong, right, wrong
    m = score(proba, ratings)
    assert m["n"] == 4
    assert m["accuracy"] == 0.5
    assert m["balanced_accuracy"] == 0.5


def test_summary_of_cross_domain_folds() -> None:
    fold = {"n": 1, "macro_f1": 0.5, "balanced_accuracy": 0.5}
    results = {
        "stratified": {"model": {**fold, "accuracy": 0.99}},
        "held-out:a": {"model": {**fold, "accuracy": 0.8}, "vader": {**fold, "accuracy": 0.7}},
        "held-out:b": {"model": {**fold, "accuracy": 0.6}, "vader": {**fold, "accuracy": 0.9}},
    }
    summary = summarize_cross_domain(results)
    assert summary["model_mean_accuracy"] == 0.7
    assert summary["model_min_accuracy"] == 0.6
    assert summary["vader_mean_accuracy"] == 0.8


def test_calibration_error_is_the_weighted_gap_between_predicted_and_observed() -> None:
    ratings = np.array([1.0] * 30 + [-1.0] * 70 + [2.0] * 90 + [-2.0] * 10)
    calibrated = np.array([0.3] * 100 + [0.9] * 100)  # 30 % and 90 % positive: exact
    assert calibration_error(calibrated, ratings) == pytest.approx(0.0, abs=1e-12)
    overconfident = np.array([0.0] * 100 + [1.0] * 100)  # wrong by 0.3 and 0.1, half each
    assert calibration_error(overconfident, ratings) == pytest.approx(0.2)
