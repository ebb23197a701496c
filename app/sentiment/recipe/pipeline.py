"""The model recipe: which features, which classifier, which training sentences and weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from app.sentiment.recipe.features import CharTfidf, LexiconFeatures, NBScaler
from app.sentiment.recipe.text import WordNgrams


@dataclass(frozen=True)
class Recipe:
    """Every choice that shapes the artifact; stored in the metadata JSON."""

    # Training sentences closer to neutral than this are dropped (their sign is noise).
    min_abs_rating: float = 0.5
    # Weight each sentence by |rating| ** weight_power (0 = unweighted).
    weight_power: float = 1.0
    word_ngrams: tuple[int, int] = (1, 3)
    char_ngrams: tuple[int, int] = (1, 5)  # (0, 0) = no character features
    min_df: int = 2
    sublinear_tf: bool = True
    C: float = 2.0
    class_weight: str | None = "balanced"
    # Scale of the VADER-lexicon features (0 = no lexicon block).
    lexicon_scale: float = 2.0
    # Naive-Bayes scaling of each TF-IDF block, factor ** nb_power (0 = none).
    nb_power: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Recipe:
        """Inverse of ``as_dict`` after a JSON round trip (lists back to tuples)."""
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
        }
        return cls(**fields)


def build_pipeline(recipe: Recipe, seed: int) -> Pipeline:
    """An unfitted pipeline: TF-IDF of word n-grams (negation-marked) + character TF-IDF
    (``CharTfidf``) + lexicon features -> logistic regression. Each TF-IDF block is
    normalised on its own, which the fast scorer relies on."""
    words = TfidfVectorizer(
        analyzer=WordNgrams(*recipe.word_ngrams),
        lowercase=False,
        min_df=recipe.min_df,
        sublinear_tf=recipe.sublinear_tf,
        dtype=np.float64,
    )
    features: list[tuple[str, Any]] = [("word", words)]
    if recipe.char_ngrams != (0, 0):
        features.append(("char", CharTfidf(recipe.char_ngrams, recipe.min_df)))
    if recipe.nb_power > 0:
        features = [
            (name, Pipeline([("tfidf", block), ("nb", NBScaler(power=recipe.nb_power))]))
            for name, block in features
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
