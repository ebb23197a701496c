"""The recipe's own scikit-learn transformers: character TF-IDF with a per-word norm,
naive-Bayes column scaling and the lexicon features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from app.sentiment.recipe.lexicon import (
    FEATURE_NAMES,
    lexicon_features,
    load_lexicon,
    with_negated_forms,
)
from app.sentiment.recipe.text import CharNgrams, normalize, tokenize


class CharTfidf(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TF-IDF of ``text.CharNgrams``, each row divided by ``sqrt(sum_t count_t * idf_t ** 2)``.

    That norm equals the L2 norm of the row when no n-gram repeats (most n-grams of a
    sentence occur once), and, unlike the L2 norm, it is a sum over the text's words (the
    n-grams never cross a space). So is the row's dot product with any weight vector: the
    fast scorer precomputes each word's two numbers once and scores a text with one look-up
    per word. Raw counts (no sublinear tf) keep the sums additive.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 5), min_df: int = 2) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df

    def fit(self, texts: Sequence[str], y: Any = None) -> CharTfidf:
        """Learn the vocabulary and idf."""
        self.vectorizer_ = TfidfVectorizer(
            analyzer=CharNgrams(*self.ngram_range),
            lowercase=False,
            min_df=self.min_df,
            norm=None,
            dtype=np.float64,
        ).fit(texts)
        self.negated_ = CountVectorizer(
            analyzer=CharNgrams(*self.ngram_range, negated=True),
            lowercase=False,
            vocabulary=self.vectorizer_.vocabulary_,
            dtype=np.float64,
        )
        return self

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """One normalised row per text (all-zero rows for texts without known n-grams)."""
        idf = self.vectorizer_.idf_
        plain = sparse.csr_matrix(self.vectorizer_.transform(texts))
        negated = sparse.csr_matrix(self.negated_.transform(texts) @ sparse.diags(idf))
        rows = plain - negated
        norm2 = np.asarray((plain + negated) @ idf, dtype=np.float64)  # sum |c| * idf^2
        scale = np.zeros_like(norm2)
        np.divide(1.0, np.sqrt(norm2), out=scale, where=norm2 > 0.0)
        return sparse.csr_matrix(sparse.diags(scale) @ rows)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """The n-grams, in column order."""
        names: npt.NDArray[np.object_] = self.vectorizer_.get_feature_names_out()
        return names


class NBScaler(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Multiply each column by how strongly it separates the two classes (NBSVM-style,
    Wang & Manning 2012).

    The factor is the naive-Bayes log-count ratio |log(P(f | one class) / P(f | other))|
    with additive smoothing ``alpha``, divided by its mean and raised to ``power``. A linear
    model on scaled features pays less L2 penalty for weights on discriminative n-grams, and
    rare n-grams (heavily smoothed, ratio near 0) are damped. A per-column factor keeps the
    model linear, so the fast scorer folds it into the coefficients.
    """

    def __init__(self, alpha: float = 1.0, power: float = 0.5) -> None:
        self.alpha = alpha
        self.power = power

    def fit(self, features: Any, y: Any) -> NBScaler:
        """Compute ``scale_`` from non-negative ``features`` and two-class labels ``y``."""
        matrix = abs(sparse.csr_matrix(features))  # a negated word's n-grams count too
        labels = np.asarray(y)
        first = labels == np.unique(labels)[-1]  # the ratio's absolute value is symmetric
        p = self.alpha + np.asarray(matrix[first].sum(axis=0), dtype=np.float64).ravel()
        q = self.alpha + np.asarray(matrix[~first].sum(axis=0), dtype=np.float64).ravel()
        ratio = np.abs(np.log((p / p.sum()) / (q / q.sum())))
        self.scale_: npt.NDArray[np.float64] = (ratio / ratio.mean()) ** self.power
        return self

    def transform(self, features: Any) -> sparse.csr_matrix:
        """Scaled copy of ``features``."""
        return sparse.csr_matrix(sparse.csr_matrix(features).multiply(self.scale_))


class LexiconFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Texts -> ``lexicon.lexicon_features`` of their tokens, times ``scale``.

    ``scale`` sets how strongly the classifier's regularisation lets these features speak
    (a larger scale costs less penalty for the same effect); chosen by cross-domain CV.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def fit(self, texts: Sequence[str], y: Any = None) -> LexiconFeatures:
        """Copy the lexicon into the estimator (no learning from ``texts``)."""
        self.lexicon_ = with_negated_forms(load_lexicon())
        return self

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Feature matrix, one row per text."""
        rows = [lexicon_features(self.lexicon_, tokenize(normalize(t))) for t in texts]
        matrix = np.array(rows, dtype=np.float64).reshape(len(texts), len(FEATURE_NAMES))
        return sparse.csr_matrix(matrix * self.scale)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """Names of the features, for inspection."""
        return np.array(FEATURE_NAMES, dtype=object)
