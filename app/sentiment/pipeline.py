"""The model recipe: which features, which classifier, which training sentences and weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from app.sentiment.data import Corpus, labels_for, polar_mask
from app.sentiment.lexicon import LexiconFeatures
from app.sentiment.nb import NBScaler
from app.sentiment.text import normalize, tokenize


class CharNgrams(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TF-IDF of the ``char_wb`` n-grams of ``text.normalize``d text, each row divided by
    ``sqrt(sum_t count_t * idf_t ** 2)``.

    That norm equals the L2 norm of the row when no n-gram repeats (most n-grams of a
    sentence occur once), and, unlike the L2 norm, it is a sum over the text's words (char_wb
    n-grams never cross a space). So is the row's dot product with any weight vector: a
    scorer can precompute each word's two numbers once and score a text with one look-up
    per word. Raw counts (no sublinear tf) keep the sums additive.
    """

    def __init__(self, ngram_range: tuple[int, int] = (2, 5), min_df: int = 2) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df

    def fit(self, texts: Sequence[str], y: Any = None) -> CharNgrams:
        """Learn the vocabulary and idf."""
        self.vectorizer_ = TfidfVectorizer(
            preprocessor=normalize,
            analyzer="char_wb",
            lowercase=False,
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            norm=None,
            dtype=np.float64,
        ).fit(texts)
        return self

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """One normalised row per text (all-zero rows for texts without known n-grams)."""
        rows = sparse.csr_matrix(self.vectorizer_.transform(texts))
        norm2 = np.asarray(rows @ self.vectorizer_.idf_, dtype=np.float64)  # sum c * idf^2
        scale = np.zeros_like(norm2)
        np.divide(1.0, np.sqrt(norm2), out=scale, where=norm2 > 0.0)
        return sparse.csr_matrix(sparse.diags(scale) @ rows)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """The n-grams, in column order."""
        names: npt.NDArray[np.object_] = self.vectorizer_.get_feature_names_out()
        return names


@dataclass(frozen=True)
class Recipe:
    """Every choice that shapes the artifact; stored in the metadata JSON."""

    # Training sentences closer to neutral than this are dropped (their sign is noise).
    min_abs_rating: float = 0.5
    # Weight each sentence by |rating| ** weight_power (0 = unweighted).
    weight_power: float = 1.0
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (1, 5)  # (0, 0) = no character features
    # "additive": ``CharNgrams``, whose dot products and norm are sums over words, so the
    # fast scorer precomputes each word's share (same accuracy, several times faster than
    # "tfidf": a TfidfVectorizer with sublinear tf and L2 norm, which was used with (2, 5)).
    char_block: str = "additive"
    min_df: int = 2
    sublinear_tf: bool = True
    C: float = 2.0
    class_weight: str | None = "balanced"
    # Scale of the VADER-lexicon features (0 = no lexicon block).
    lexicon_scale: float = 1.0
    # Naive-Bayes scaling of each TF-IDF block, factor ** nb_power (0 = none).
    nb_power: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Recipe:
        """Inverse of ``as_dict`` after a JSON round trip (lists back to tuples)."""
        fields: dict[str, Any] = {
            "char_block": "tfidf",  # recipes recorded before the field existed
            **{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()},
        }
        return cls(**fields)


def build_pipeline(recipe: Recipe, seed: int) -> Pipeline:
    """An unfitted pipeline: TF-IDF word (negation-marked) + char_wb n-grams + lexicon
    features -> logistic regression. Each TF-IDF block is normalised on its own (L2, or
    ``CharNgrams``' additive norm), which the fast scorer relies on."""
    features: list[tuple[str, Any]] = [
        (
            "word",
            TfidfVectorizer(
                preprocessor=normalize,
                tokenizer=tokenize,
                token_pattern=None,
                lowercase=False,
                ngram_range=recipe.word_ngrams,
                min_df=recipe.min_df,
                sublinear_tf=recipe.sublinear_tf,
                dtype=np.float64,
            ),
        )
    ]
    if recipe.char_ngrams != (0, 0) and recipe.char_block == "additive":
        features.append(("char", CharNgrams(recipe.char_ngrams, recipe.min_df)))
    elif recipe.char_ngrams != (0, 0):
        features.append(
            (
                "char",
                TfidfVectorizer(
                    preprocessor=normalize,
                    analyzer="char_wb",
                    lowercase=False,
                    ngram_range=recipe.char_ngrams,
                    min_df=recipe.min_df,
                    sublinear_tf=recipe.sublinear_tf,
                    dtype=np.float64,
                ),
            )
        )
    if recipe.nb_power > 0:
        features = [
            (name, Pipeline([("tfidf", vec), ("nb", NBScaler(power=recipe.nb_power))]))
            for name, vec in features
        ]
    if recipe.lexicon_scale > 0:
        features.append(("lexicon", LexiconFeatures(scale=recipe.lexicon_scale)))
    classifier = LogisticRegression(
        C=recipe.C,
        class_weight=recipe.class_weight,
        solver="liblinear",
        max_iter=1000,
        random_state=seed,
    )
    return Pipeline([("features", FeatureUnion(features)), ("clf", classifier)])


def fit_pipeline(corpus: Corpus, recipe: Recipe, seed: int) -> Pipeline:
    """Fit the recipe on the polar sentences of ``corpus``."""
    mask = polar_mask(corpus.ratings, recipe.min_abs_rating)
    texts = [t for t, keep in zip(corpus.texts, mask, strict=True) if keep]
    ratings = corpus.ratings[mask]
    weights = np.abs(ratings) ** recipe.weight_power
    pipeline = build_pipeline(recipe, seed)
    pipeline.fit(texts, labels_for(ratings), clf__sample_weight=weights)
    return pipeline
