"""Reading the corpus files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.sentiment.training.data import (
    DOMAINS,
    Corpus,
    DataError,
    labels_for,
    load_corpus,
    polar_mask,
)


def test_full_corpus_counts(corpus: Corpus) -> None:
    assert len(corpus) == 23_703
    counts = {d: int((corpus.domains == d).sum()) for d in sorted(DOMAINS.values())}
    assert counts == {"amazon": 3708, "movies": 10605, "nyt": 5190, "tweets": 4200}
    assert corpus.ratings.min() >= -4
    assert corpus.ratings.max() <= 4
    # CRLF is gone and no text is empty
    assert not any("\r" in t or "\n" in t or not t for t in corpus.texts)


def _write_all(tmp_path: Path, body: bytes) -> None:
    for name in DOMAINS:
        (tmp_path / name).write_bytes(body)


def test_crlf_and_bad_bytes(tmp_path: Path) -> None:
    _write_all(tmp_path, b"1\t2.5\tgood \xff stuff\r\n2\t-1\tbad &amp; worse\r\n\r\n")
    corpus = load_corpus(tmp_path)
    assert len(corpus) == 8
    assert corpus.texts[:2] == ["good \ufffd stuff", "bad &amp; worse"]
    assert list(corpus.ratings[:2]) == [2.5, -1.0]


def test_sha256_tracks_content(tmp_path: Path) -> None:
    _write_all(tmp_path, b"1\t2.5\tgood\r\n")
    first = load_corpus(tmp_path).sha256
    (tmp_path / "tweets_GroundTruth.txt").write_bytes(b"1\t2.4\tgood\r\n")
    assert load_corpus(tmp_path).sha256 != first


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"1\tgood\r\n", "expected ID<TAB>RATING<TAB>TEXT"),
        (b"1\tx\tgood\r\n", "is not a number"),
        (b"1\t7\tgood\r\n", "outside -4..4"),
    ],
)
def test_malformed_lines(tmp_path: Path, line: bytes, message: str) -> None:
    _write_all(tmp_path, line)
    with pytest.raises(DataError, match=message):
        load_corpus(tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_corpus(tmp_path)


def test_labels_and_polar_mask() -> None:
    ratings = np.array([-2.0, -0.3, 0.0, 0.49, 0.5, 3.0])
    assert list(labels_for(ratings)) == [
        "negative",
        "negative",
        "negative",
        "positive",
        "positive",
        "positive",
    ]
    assert list(polar_mask(ratings, 0.5)) == [True, False, False, False, True, True]
