"""The recipe's transformers: per-word-norm character TF-IDF, naive-Bayes scaling, lexicon."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from app.sentiment.recipe.features import CharTfidf, LexiconFeatures, NBScaler
from app.sentiment.recipe.lexicon import FEATURE_NAMES
from app.sentiment.recipe.text import CharNgrams
from app.sentiment.training.data import Corpus


def test_char_tfidf_norm_is_additive_over_words(corpus: Corpus) -> None:
    block = CharTfidf((1, 5), min_df=2).fit(corpus.texts[:3000])
    idf = block.vectorizer_.idf_
    unscaled = block.vectorizer_.transform(["good movie", "good", "movie"])  # count * idf
    norm2 = np.asarray(unscaled @ idf).ravel()  # sum of count * idf ** 2
    assert norm2[0] == pytest.approx(norm2[1] + norm2[2], rel=1e-12)
    rows = block.transform(["", "zzqxj"])
    assert rows[0].nnz == 0
    assert len(block.get_feature_names_out()) == rows.shape[1]
    # Without repeated n-grams (no 1-grams: the padding spaces repeat) it is the L2 norm.
    row = CharTfidf((2, 5), min_df=2).fit(corpus.texts[:3000]).transform(["fun"])
    assert float((row @ row.T).toarray()[0, 0]) == pytest.approx(1.0, rel=1e-12)


def test_a_negated_word_counts_against_its_character_ngrams(corpus: Corpus) -> None:
    block = CharTfidf((1, 5), min_df=2).fit(corpus.texts[:3000])
    negated, plain = block.transform(["never slow", "slow never"]).toarray()
    vocabulary = block.vectorizer_.vocabulary_
    slow = [vocabulary[gram] for gram in CharNgrams(3, 5).of_word("slow")]
    never = [vocabulary[gram] for gram in CharNgrams(3, 5).of_word("never")]  # none shared
    assert (negated[slow] < 0).all() and (plain[slow] > 0).all()
    assert negated[never] == pytest.approx(plain[never])
    assert (plain[never] > 0).all()
    assert -negated[slow] == pytest.approx(plain[slow])  # the same norm either way


def test_lexicon_features_react_to_negation_degree_and_contrast() -> None:
    block = LexiconFeatures(scale=2.0).fit([])
    rows = block.transform(["good", "very good", "not good", "bad but good", "table"]).toarray()
    compound = list(rows[:, FEATURE_NAMES.index("lex_compound")])
    assert compound[1] > compound[0] > 0 > compound[2]
    assert compound[3] > 0  # what follows "but" weighs more
    assert compound[4] == 0
    assert rows.shape == (5, len(FEATURE_NAMES))
    assert np.allclose(
        rows,
        LexiconFeatures(scale=1.0)
        .fit([])
        .transform(["good", "very good", "not good", "bad but good", "table"])
        .toarray()
        * 2.0,
    )


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
