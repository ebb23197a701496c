"""Naive-Bayes column scaling."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from app.sentiment.nb import NBScaler


def test_discriminative_columns_get_larger_factors() -> None:
    # column 0: only in positive rows; column 1: everywhere; column 2: only in negative rows
    x = sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]))
    y = ["positive", "positive", "negative"]
    scaler = NBScaler(alpha=0.5, power=1.0).fit(x, y)
    assert scaler.scale_.shape == (3,)
    assert np.isclose(scaler.scale_.mean(), 1.0)
    assert scaler.scale_[0] > scaler.scale_[1]
    assert scaler.scale_[2] > scaler.scale_[1]
    out = scaler.transform(x).toarray()
    assert np.allclose(out, x.toarray() * scaler.scale_)


def test_power_flattens_the_factors() -> None:
    x = sparse.csr_matrix(np.array([[3.0, 1.0], [0.0, 1.0], [0.0, 2.0]]))
    y = ["positive", "negative", "negative"]
    full = NBScaler(power=1.0).fit(x, y).scale_
    half = NBScaler(power=0.5).fit(x, y).scale_
    assert np.allclose(half, np.sqrt(full))
