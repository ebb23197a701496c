"""Behavioural probes (CheckList style, Ribeiro et al., ACL 2020): short sentences grouped by
the capability they test ("not bad", "X, but Y", comparatives, ...), each with the label
any reader would give it. ``data/behaviour.tsv`` holds them; none comes from the training
data (tests/sentiment/test_behaviour.py checks).

``make bench-model`` prints the pass rate per capability for the model and for VADER; the
test suite holds a floor on each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.sentiment.training.evaluation import ProbaFn

PROBES_PATH = Path(__file__).resolve().parents[3] / "data" / "behaviour.tsv"
LABELS = ("negative", "positive")


@dataclass(frozen=True)
class Probe:
    """One sentence, the capability it tests and its expected label."""

    capability: str
    label: str
    text: str


def load_probes(path: Path = PROBES_PATH) -> list[Probe]:
    """The probes of a ``capability<TAB>label<TAB>sentence`` file (``#`` lines are comments)."""
    probes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or fields[1] not in LABELS:
            raise ValueError(f"{path}:{number}: expected capability, label and sentence")
        probes.append(Probe(*fields))
    return probes


def pass_rates(proba_positive: ProbaFn, probes: Sequence[Probe]) -> dict[str, float]:
    """Share of probes labelled right ("positive" iff P(positive) >= 0.5), per capability
    in file order, then ``overall``."""
    scores = proba_positive([p.text for p in probes])
    passed: dict[str, list[bool]] = defaultdict(list)
    for probe, score in zip(probes, scores, strict=True):
        passed[probe.capability].append((score >= 0.5) == (probe.label == "positive"))
    rates = {capability: sum(ok) / len(ok) for capability, ok in passed.items()}
    rates["overall"] = sum(sum(ok) for ok in passed.values()) / len(probes)
    return rates


def format_rates(systems: dict[str, dict[str, float]], probes: Sequence[Probe]) -> str:
    """A plain-text table: one row per capability, one column per system."""
    counts: dict[str, int] = defaultdict(int)
    for probe in probes:
        counts[probe.capability] += 1
    counts["overall"] = len(probes)
    names = list(systems)
    lines = [f"{'capability':<20} {'n':>4} " + " ".join(f"{name:>8}" for name in names)]
    for capability in next(iter(systems.values())):
        rates = " ".join(f"{systems[name][capability]:>8.2f}" for name in names)
        lines.append(f"{capability:<20} {counts[capability]:>4} {rates}")
    return "\n".join(lines)
