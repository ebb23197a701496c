"""Reading the VADER sentence corpora (data/sentiment/) and turning ratings into labels."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

POSITIVE = "positive"
NEGATIVE = "negative"
CLASSES: tuple[str, str] = (NEGATIVE, POSITIVE)  # sorted, the order scikit-learn uses

# File name -> short domain name used in reports.
DOMAINS: dict[str, str] = {
    "amazonReviewSnippets_GroundTruth.txt": "amazon",
    "movieReviewSnippets_GroundTruth.txt": "movies",
    "nytEditorialSnippets_GroundTruth.txt": "nyt",
    "tweets_GroundTruth.txt": "tweets",
}

# A sentence counts as positive/negative for evaluation only when its mean human rating
# (-4..+4) is at least this far from 0: the target task has no neutral sentences.
EVAL_MIN_ABS_RATING = 0.5


class DataError(Exception):
    """The training data is missing or malformed."""


@dataclass(frozen=True)
class Corpus:
    """All sentences of the four domains, in file order."""

    texts: list[str]
    ratings: npt.NDArray[np.float64]
    domains: npt.NDArray[np.str_]
    sha256: str  # over the raw bytes of the files, in name order

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int] | npt.NDArray[np.intp]) -> Corpus:
        """Return the sentences at the given positions (sha256 is kept: same source)."""
        idx = np.asarray(index, dtype=np.intp)
        return Corpus(
            texts=[self.texts[i] for i in idx],
            ratings=self.ratings[idx],
            domains=self.domains[idx],
            sha256=self.sha256,
        )

    def summary(self) -> dict[str, object]:
        """Counts per domain and label, for the metadata JSON and /model/info."""
        per_domain: dict[str, dict[str, int]] = {}
        for name in sorted(set(self.domains.tolist())):
            r = self.ratings[self.domains == name]
            per_domain[name] = {
                "sentences": int(r.size),
                "positive": int((r >= EVAL_MIN_ABS_RATING).sum()),
                "negative": int((r <= -EVAL_MIN_ABS_RATING).sum()),
                "near_neutral": int((np.abs(r) < EVAL_MIN_ABS_RATING).sum()),
            }
        return {"sentences": len(self), "sha256": self.sha256, "domains": per_domain}


def _parse_line(line: str, path: Path, lineno: int) -> tuple[str, float]:
    parts = line.split("\t", 2)
    if len(parts) != 3:
        raise DataError(f"{path.name}:{lineno}: expected ID<TAB>RATING<TAB>TEXT")
    try:
        rating = float(parts[1])
    except ValueError as exc:
        raise DataError(f"{path.name}:{lineno}: rating {parts[1]!r} is not a number") from exc
    if not -4.0 <= rating <= 4.0:
        raise DataError(f"{path.name}:{lineno}: rating {rating} outside -4..4")
    return parts[2].strip(), rating


def load_corpus(data_dir: Path) -> Corpus:
    """Read the four ``*_GroundTruth.txt`` files (CRLF, stray non-UTF-8 bytes replaced)."""
    texts: list[str] = []
    ratings: list[float] = []
    domains: list[str] = []
    digest = hashlib.sha256()
    for file_name, domain in sorted(DOMAINS.items()):
        path = data_dir / file_name
        if not path.is_file():
            raise DataError(f"training data file not found: {path}")
        raw = path.read_bytes()
        digest.update(raw)
        for lineno, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            text, rating = _parse_line(line, path, lineno)
            texts.append(text)
            ratings.append(rating)
            domains.append(domain)
    return Corpus(
        texts=texts,
        ratings=np.asarray(ratings, dtype=np.float64),
        domains=np.asarray(domains, dtype=np.str_),
        sha256=digest.hexdigest(),
    )


def labels_for(ratings: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
    """Positive for ratings > 0, negative otherwise (callers drop near-neutral ones first)."""
    return np.where(ratings > 0, POSITIVE, NEGATIVE).astype(np.str_)


def polar_mask(ratings: npt.NDArray[np.float64], min_abs: float) -> npt.NDArray[np.bool_]:
    """Sentences whose mean rating is at least ``min_abs`` away from neutral."""
    return np.abs(ratings) >= min_abs
