"""The fast scorer must be the pipeline, only faster."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from app.sentiment.data import Corpus
from app.sentiment.fast import (
    FastScorer,
    UnsupportedPipelineError,
    char_wb_ngrams,
    word_ngrams,
)


def test_fast_path_equals_pipeline_on_every_training_text(
    full_pipeline: Any, corpus: Corpus
) -> None:
    scorer = FastScorer(full_pipeline)
    positive = list(full_pipeline.classes_).index("positive")
    expected = full_pipeline.predict_proba(corpus.texts)[:, positive]
    single = np.array([scorer.proba_positive_class(t) for t in corpus.texts])
    batch = scorer.proba_positive_class_batch(corpus.texts)
    assert np.max(np.abs(single - expected)) < 1e-9
    assert np.max(np.abs(batch - expected)) < 1e-9
    # Not a vacuous match: the model really separates the texts.
    assert 0.3 < float(np.mean(expected >= 0.5)) < 0.7


def test_fast_path_handles_texts_without_known_features(full_pipeline: Any) -> None:
    scorer = FastScorer(full_pipeline)
    texts = ["", "   ", "\u2603\u2603", "zzqxj vvkq", "good", ""]
    positive = list(full_pipeline.classes_).index("positive")
    expected = full_pipeline.predict_proba(texts)[:, positive]
    single = [scorer.proba_positive_class(t) for t in texts]
    assert np.allclose(single, expected, atol=1e-9, rtol=0)
    assert np.allclose(scorer.proba_positive_class_batch(texts), expected, atol=1e-9, rtol=0)
    assert scorer.proba_positive_class_batch([]).shape == (0,)


def test_plain_word_pipeline_without_sublinear_tf_is_supported() -> None:
    texts = ["good good movie", "bad movie", "good plot", "bad bad bad acting", "fine"]
    labels = ["positive", "negative", "positive", "negative", "positive"]
    pipeline = Pipeline(
        [
            ("features", FeatureUnion([("w", TfidfVectorizer(sublinear_tf=False))])),
            ("clf", LogisticRegression()),
        ]
    ).fit(texts, labels)
    scorer = FastScorer(pipeline)
    probe = [*texts, "good bad good", "unknown words"]
    expected = pipeline.predict_proba(probe)[:, 1]
    assert np.allclose(scorer.proba_positive_class_batch(probe), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("vectorizer", "message"),
    [
        (TfidfVectorizer(norm="l1"), "need l2 TF-IDF"),
        (TfidfVectorizer(binary=True), "need l2 TF-IDF"),
        (TfidfVectorizer(use_idf=False), "need l2 TF-IDF"),
    ],
)
def test_unsupported_vectorizers_are_refused(vectorizer: TfidfVectorizer, message: str) -> None:
    pipeline = Pipeline(
        [("features", FeatureUnion([("w", vectorizer)])), ("clf", LogisticRegression())]
    ).fit(["good", "bad", "good film", "bad film"], ["p", "n", "p", "n"])
    with pytest.raises(UnsupportedPipelineError, match=message):
        FastScorer(pipeline)


def test_multiclass_is_refused() -> None:
    pipeline = Pipeline(
        [("features", FeatureUnion([("w", TfidfVectorizer())])), ("clf", LogisticRegression())]
    ).fit(["good", "bad", "meh", "good one", "bad one", "meh one"], list("pnmpnm"))
    with pytest.raises(UnsupportedPipelineError, match="binary"):
        FastScorer(pipeline)


def test_non_pipeline_is_refused() -> None:
    with pytest.raises(UnsupportedPipelineError, match="2-step Pipeline"):
        FastScorer({"not": "a pipeline"})


TRICKY = [
    "a",
    "",
    "banana bananas",
    "i  x\u00a0y\tz",
    "an antelope, an ant!",
    "the other there then",
    "superlongwordwithoutspaces",
]


@pytest.mark.parametrize("ngram_range", [(2, 5), (1, 1), (3, 4), (1, 6)])
def test_char_wb_ngrams_match_scikit_learn(ngram_range: tuple[int, int]) -> None:
    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range).build_analyzer()
    for text in TRICKY:
        assert char_wb_ngrams(text, *ngram_range) == analyzer(text)


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3), (1, 3)])
def test_word_ngrams_match_scikit_learn(ngram_range: tuple[int, int]) -> None:
    analyzer = TfidfVectorizer(
        tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=ngram_range
    ).build_analyzer()
    for text in TRICKY:
        assert sorted(word_ngrams(text.split(), *ngram_range)) == sorted(analyzer(text))


def test_char_cache_gives_the_same_scores_when_warm(full_pipeline: Any) -> None:
    scorer = FastScorer(full_pipeline)
    texts = ["the food was good", "good food, bad service", "the the the"]
    cold = [scorer.decision(t) for t in texts]
    warm = [scorer.decision(t) for t in texts]
    assert cold == warm
