"""A batch normalised and tokenised as one string must give each text's own tokens."""

from __future__ import annotations

import random
from itertools import pairwise

import numpy as np
import pytest

from app.sentiment.data import Corpus
from app.sentiment.text import normalize, normalize_joined, tokenize
from app.sentiment.token_ids import UNKNOWN, NgramColumns, TokenIds

# Negation scopes at and across text ends, unknown contractions, texts without tokens,
# text that decodes to a line break, a final sigma, an entity at a text's end.
TRICKY = [
    "not good, but not bad at all",
    "never",
    "good",
    "i mightn't like it",
    "it isn't bad, it wasn't great!! not not not good",
    "",
    "...",
    "line one\nline two not good",
    "a&#10;b not fine",
    "&NewLine;nope",
    "\u039f\u0394\u039f\u03a3 good",
    "caf\u00e9 \u2018quoted\u2019 \u201cgreat\u201d \u2014 soooo goood!!!! `tick`",
    "fish &amp",
    "chips &amp; not great",
    "nothing works, no way! didn't, don't: won't; never ever great again",
    # Apostrophes and digits where the token pattern splits words or drops the apostrophe.
    "rock'n'roll 90's ab'cd1'ef x'y1'z 'quoted' dogs' a''b don't9 1'a a'1 ''a a'' isn't'",
    "caf\u00e9's x'\u00e9 \ud800 lone | pipes | and\ttabs\u2028here",
]


def test_normalize_joined_gives_each_texts_words(corpus: Corpus) -> None:
    for texts in (corpus.texts, TRICKY, TRICKY[7:9], [""], []):
        lines = normalize_joined(texts).split("\n") if texts else []
        assert len(lines) == len(texts)
        for text, line in zip(texts, lines, strict=True):
            assert " ".join(line.split()) == normalize(text)


def test_normalize_joined_shortens_runs_as_normalize_does() -> None:
    # Runs of letters, "!?." and others, at text ends, beside non-ASCII and surrogates.
    rng = random.Random(3)
    alphabet = "aab!?.. \u00e9\ud800x0"
    for _ in range(300):
        texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 30))) for _ in range(20)]
        lines = normalize_joined(texts).split("\n")
        assert [" ".join(line.split()) for line in lines] == list(map(normalize, texts))


def _expected(ids: TokenIds, text: str) -> list[str]:
    """``tokenize`` with the tokens outside the ids as ""."""
    return [t if ids.id_of(t) != UNKNOWN else "" for t in tokenize(normalize(text))]


@pytest.mark.parametrize("vocabulary", ["corpus", "small"])
def test_encode_equals_tokenize_text_by_text(vocabulary: str, corpus: Corpus) -> None:
    if vocabulary == "corpus":  # every token known: the output is tokenize's exactly
        tokens = {t for text in corpus.texts for t in tokenize(normalize(text))}
    else:  # most tokens unknown, "n't" contractions among them
        tokens = {"good", "not_good", "bad", "great", "not_great"}
    ids = TokenIds(tokens)
    for texts in (corpus.texts, TRICKY):
        encoded, owner = ids.encode(normalize_joined(texts))
        assert np.all(np.diff(owner) >= 0)
        decoded = ids.decode(encoded)
        for i, text in enumerate(texts):
            mine = [decoded[k] for k in np.flatnonzero(owner == i).tolist()]
            assert mine == _expected(ids, text), text
    assert "not_good" in ids.decode(ids.encode("this isn't good")[0])
    assert "not_good" in ids.decode(ids.encode("this mightn't good")[0])


def test_ngram_columns_find_every_vocabulary_ngram_inside_each_text() -> None:
    # Terms as tokenize writes them: "not very good" is "not not_very not_good".
    vocabulary = {
        "good": 0,
        "not_good": 1,
        "very good": 2,
        "not not_very not_good": 3,
        "good but": 4,
    }
    ids = TokenIds(t for term in vocabulary for t in term.split())
    columns = NgramColumns(vocabulary, ids, unknown=len(vocabulary))
    texts = ["not very good", "very good but", "very", "good", "good very good", "very good"]
    encoded, owner = ids.encode(normalize_joined(texts))
    texts_of, cols = columns.occurrences(encoded, owner)
    found = sorted(zip(texts_of.tolist(), cols.tolist(), strict=True))
    expected = []
    for i, text in enumerate(texts):
        tokens = tokenize(normalize(text))
        grams = tokens + [" ".join(p) for p in pairwise(tokens)]
        grams += [" ".join(tokens[k : k + 3]) for k in range(len(tokens) - 2)]
        expected += [(i, vocabulary[g]) for g in grams if g in vocabulary]
    assert found == sorted(expected)
    assert (1, 2) in found and (0, 3) in found
    assert not any(t == 2 and c == 2 for t, c in found)  # "very" + next text's "good"
