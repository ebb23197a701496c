"""Lexicon features: a VADER-style valence score as a few dense features beside the TF-IDF.

Words seen in training get their own TF-IDF weights; words the training sentences never
used ("yummy", "flimsy") still carry sentiment through the human-rated VADER lexicon
(resources/vader_lexicon.tsv, from the vaderSentiment repository, MIT license, same
source and citation as the training data). The lexicon is copied into the fitted
transformer, so a saved artifact never reads the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

from app.sentiment.text import NEGATION_PREFIX, normalize, tokenize

LEXICON_PATH = Path(__file__).parent / "resources" / "vader_lexicon.tsv"
# VADER's constants: negation flips and damps a word; the score is squashed with alpha = 15.
NEGATION_SCALAR = -0.74
ALPHA = 15.0
# Contrast: what follows "but" weighs more than what precedes it (VADER uses 1.5 / 0.5).
AFTER_BUT, BEFORE_BUT = 1.5, 0.5
# Degree words before a lexicon word scale it ("very good" > "good" > "kind of good").
BOOST, DAMP = 1.3, 0.7
BOOSTERS = frozenset(
    [
        "very",
        "really",
        "so",
        "soo",
        "extremely",
        "absolutely",
        "totally",
        "completely",
        "highly",
        "incredibly",
        "super",
        "truly",
        "most",
        "too",
        "quite",
        "pretty",
    ]
)
DAMPENERS = frozenset(
    ["kind", "sort", "somewhat", "slightly", "barely", "bit", "little", "fairly", "hardly"]
)
FEATURE_NAMES = (
    "lex_compound",  # squashed sum of (modified) valences, like VADER's compound
    "lex_positive_share",
    "lex_negative_share",
    "lex_strong_negative",  # log(1 + count) of modified valences <= -2
    "lex_mild_negative",
    "lex_mild_positive",
    "lex_strong_positive",  # >= 2
    "lex_positive_words",  # log(1 + count) of plain positive words
    "lex_negative_words",
    "lex_negated_positive",  # "not good"
    "lex_negated_negative",  # "no problem": positive in reviews, negative-looking to n-grams
)
N_FEATURES = len(FEATURE_NAMES)


@cache
def load_lexicon(path: Path = LEXICON_PATH) -> dict[str, float]:
    """``token -> mean valence (-4..4)`` from a two-column TSV."""
    lexicon: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            token, valence = line.split("\t")
            lexicon[token] = float(valence)
    return lexicon


_PREFIX_LEN = len(NEGATION_PREFIX)


def lexicon_features(lexicon: Mapping[str, float], tokens: Sequence[str]) -> list[float]:
    """``FEATURE_NAMES`` for the tokens of a text (``text.tokenize`` output: negated words
    carry ``NEGATION_PREFIX``)."""
    valences: list[float] = []
    counts = [0, 0, 0, 0]  # positive, negative, negated positive, negated negative
    but_at = -1
    previous = ""  # the previous token without its negation mark
    for word in tokens:
        if word == "but":
            but_at = len(valences)
            previous = word
            continue
        negated = word.startswith(NEGATION_PREFIX)
        base = word[_PREFIX_LEN:] if negated else word
        v = lexicon.get(base)
        if v:  # in the lexicon with a non-zero valence
            counts[(2 if negated else 0) + (0 if v > 0 else 1)] += 1
            if previous in BOOSTERS:
                v *= BOOST
            elif previous in DAMPENERS:
                v *= DAMP
            valences.append(v * NEGATION_SCALAR if negated else v)
        previous = base
    if but_at >= 0:
        valences = [v * (BEFORE_BUT if i < but_at else AFTER_BUT) for i, v in enumerate(valences)]
    total = sum(valences)
    positive = sum(v for v in valences if v > 0)
    negative = -sum(v for v in valences if v < 0)
    mass = positive + negative + 1.0  # +1 keeps a single weak word from looking extreme
    bins = [0, 0, 0, 0]
    for v in valences:
        bins[(0 if v <= -2 else 1) if v < 0 else (2 if v < 2 else 3)] += 1
    return [
        total / math.sqrt(total * total + ALPHA),
        positive / mass,
        negative / mass,
        *(math.log1p(b) for b in bins),
        *(math.log1p(c) for c in counts),
    ]


class LexiconFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """scikit-learn transformer: texts -> ``N_FEATURES`` lexicon features times ``scale``.

    ``scale`` sets how strongly the classifier's regularisation lets these features speak
    (a larger scale costs less penalty for the same effect); chosen by cross-domain CV.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def fit(self, texts: Sequence[str], y: Any = None) -> LexiconFeatures:
        """Copy the lexicon into the estimator (no learning from ``texts``)."""
        self.lexicon_ = dict(load_lexicon())
        return self

    def features_from_tokens(self, tokens: Sequence[str]) -> list[float]:
        """The scaled features of one tokenised text (the fast scorer calls this directly)."""
        scale = self.scale
        return [scale * f for f in lexicon_features(self.lexicon_, tokens)]

    def features(self, text: str) -> list[float]:
        """The scaled features of one raw text."""
        return self.features_from_tokens(tokenize(normalize(text)))

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Feature matrix, one row per text."""
        rows: npt.NDArray[np.float64] = np.array(
            [self.features(t) for t in texts], dtype=np.float64
        ).reshape(len(texts), N_FEATURES)
        return sparse.csr_matrix(rows)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """Names of the features, for inspection."""
        return np.array(FEATURE_NAMES, dtype=object)
