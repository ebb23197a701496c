"""The fast scorer must be the pipeline, only faster."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
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
from app.sentiment.pipeline import CharNgrams, Recipe, fit_pipeline


def _assert_fast_path_equals_pipeline(pipeline: Any, texts: list[str]) -> None:
    """Single texts, one batch of everything and batches of 100 all match predict_proba."""
    scorer = FastScorer(pipeline)
    positive = list(pipeline.classes_).index("positive")
    expected = pipeline.predict_proba(texts)[:, positive]
    single = np.array([scorer.proba_positive_class(t) for t in texts])
    batch = scorer.proba_positive_class_batch(texts)
    batches = np.concatenate(
        [scorer.proba_positive_class_batch(texts[i : i + 100]) for i in range(0, len(texts), 100)]
    )
    assert np.max(np.abs(single - expected)) < 1e-9
    assert np.max(np.abs(batch - expected)) < 1e-9
    assert np.max(np.abs(batches - expected)) < 1e-9
    # Not a vacuous match: the model really separates the texts.
    assert 0.3 < float(np.mean(expected >= 0.5)) < 0.7


def test_fast_path_equals_pipeline_on_every_training_text(
    full_pipeline: Any, corpus: Corpus
) -> None:
    _assert_fast_path_equals_pipeline(full_pipeline, corpus.texts)


@pytest.fixture(scope="module")
def tfidf_pipeline(small_corpus: Corpus) -> Any:
    """The previous recipe's character block (TfidfVectorizer: sublinear tf, L2 norm)."""
    recipe = replace(Recipe(), char_block="tfidf", char_ngrams=(2, 5))
    return fit_pipeline(small_corpus, recipe, 42)


def test_tfidf_char_block_equals_pipeline_on_every_training_text(
    tfidf_pipeline: Any, corpus: Corpus
) -> None:
    _assert_fast_path_equals_pipeline(tfidf_pipeline, corpus.texts)


# Words the load-time tables cannot hold: unseen, very long (past the precomputed slice
# lists), punctuated, repeated, non-ASCII.
UNSEEN = [
    "zzqxj vvkq zzqxj",
    "floccinaucinihilipilification " * 3,
    "x" * 70 + " great " + "y" * 200,
    '(wow)!! "amazing", truly-unbelievable... :-) :) <3',
    "caf\u00e9 na\u00efve \u00fcber \u2603 \U0001f600 good",
    "good good good good good bad bad",
]


@pytest.mark.parametrize("char_block", ["additive", "tfidf"])
def test_words_outside_the_tables_are_scored_exactly(
    char_block: str, full_pipeline: Any, tfidf_pipeline: Any
) -> None:
    pipeline = full_pipeline if char_block == "additive" else tfidf_pipeline
    scorer = FastScorer(pipeline)
    positive = list(pipeline.classes_).index("positive")
    expected = pipeline.predict_proba(UNSEEN)[:, positive]
    single = [scorer.proba_positive_class(t) for t in UNSEEN]
    assert np.allclose(single, expected, atol=1e-12, rtol=0)
    assert np.allclose(scorer.proba_positive_class_batch(UNSEEN), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    "changes",
    [{"lexicon_scale": 0.0}, {"word_ngrams": (1, 3)}, {"word_ngrams": (2, 2)}, {"nb_power": 0.0}],
)
def test_other_recipes_are_scored_exactly(
    changes: dict[str, Any], small_corpus: Corpus, corpus: Corpus
) -> None:
    """Shapes off the fused path of the production recipe (no lexicon block, other word
    n-gram ranges, no NB scaling) go through the block-by-block path, just as exactly."""
    pipeline = fit_pipeline(small_corpus, replace(Recipe(), **changes), 42)
    texts = corpus.texts[::5] + UNSEEN
    scorer = FastScorer(pipeline)
    positive = list(pipeline.classes_).index("positive")
    expected = pipeline.predict_proba(texts)[:, positive]
    single = np.array([scorer.proba_positive_class(t) for t in texts])
    assert np.max(np.abs(single - expected)) < 1e-9
    assert np.max(np.abs(scorer.proba_positive_class_batch(texts) - expected)) < 1e-9


# Neighbours in a batch whose tokens would interact if a block let them cross a text's end:
# a degree word, "but" and a negator at a text's end, texts without any token.
NEIGHBOURS = ["this is very", "good but", "but bad", "...", "not", "great stuff", "so", "awful", ""]


def test_batch_neighbours_do_not_leak_into_each_other(full_pipeline: Any) -> None:
    scorer = FastScorer(full_pipeline)
    positive = list(full_pipeline.classes_).index("positive")
    expected = full_pipeline.predict_proba(NEIGHBOURS)[:, positive]
    together = scorer.proba_positive_class_batch(NEIGHBOURS)
    alone = [scorer.proba_positive_class_batch([t])[0] for t in NEIGHBOURS]
    assert np.allclose(together, expected, atol=1e-12, rtol=0)
    assert np.allclose(alone, expected, atol=1e-12, rtol=0)
    # The neighbours matter: scored as one text they give another answer.
    assert abs(scorer.proba_positive_class(" ".join(NEIGHBOURS[:3])) - together[1]) > 1e-3


def test_a_score_does_not_depend_on_earlier_texts(full_pipeline: Any) -> None:
    scorer = FastScorer(full_pipeline)
    texts = ["the food was good", "zzqxj unseen words, the food was good", "the the the"]
    cold = [scorer.decision(t) for t in texts]
    again = [scorer.decision(t) for t in reversed(texts)][::-1]
    assert cold == again


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


@pytest.mark.parametrize("char_block", ["additive", "tfidf"])
def test_threads_score_the_same_as_one_thread(
    char_block: str, full_pipeline: Any, tfidf_pipeline: Any, corpus: Corpus
) -> None:
    """The scorers keep no per-call state that threads could share by mistake."""
    scorer = FastScorer(full_pipeline if char_block == "additive" else tfidf_pipeline)
    texts = corpus.texts[:2000]
    expected = [scorer.decision(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        chunks = [texts[i::4] for i in range(4)]
        results = list(pool.map(lambda chunk: [scorer.decision(t) for t in chunk], chunks))
    for i, chunk in enumerate(results):
        assert chunk == expected[i::4]


def test_char_ngrams_norm_is_additive_over_words(corpus: Corpus) -> None:
    block = CharNgrams((1, 5), min_df=2).fit(corpus.texts[:3000])
    idf = block.vectorizer_.idf_
    unscaled = block.vectorizer_.transform(["good movie", "good", "movie"])  # count * idf
    norm2 = np.asarray(unscaled @ idf).ravel()  # sum of count * idf ** 2
    assert norm2[0] == pytest.approx(norm2[1] + norm2[2], rel=1e-12)
    rows = block.transform(["", "zzqxj"])
    assert rows[0].nnz == 0
    assert len(block.get_feature_names_out()) == rows.shape[1]
    # Without repeated n-grams (no 1-grams: the padding spaces repeat) it is the L2 norm.
    row = CharNgrams((2, 5), min_df=2).fit(corpus.texts[:3000]).transform(["fun"])
    assert float((row @ row.T).toarray()[0, 0]) == pytest.approx(1.0, rel=1e-12)
