"""Benchmark the model: ``python -m app.sentiment.training.bench [--no-eval] [--json PATH]``.

Prints single-text latency (p50/p99) of ``SentimentModel.predict`` and of scikit-learn's own
``predict_proba`` for comparison, the per-text cost of ``predict_batch`` on batches of 100,
the pass rate per capability on the behavioural probes (``training/behaviour.py``), and
accuracy / macro-F1 of the recipe on the stratified split and on each held-out domain, each
with VADER's on the same sentences. Needs the dev dependencies (vaderSentiment).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt

from app.sentiment.model import SentimentModel, load_model
from app.sentiment.recipe.pipeline import Recipe
from app.sentiment.scorer import from_pipeline
from app.sentiment.training.behaviour import format_rates, load_probes, pass_rates
from app.sentiment.training.data import Corpus, load_corpus
from app.sentiment.training.evaluation import ProbaFn, summarize_cross_domain
from app.sentiment.training.train import (
    DEFAULT_SEED,
    Progress,
    evaluate,
    fit_pipeline,
    format_table,
    train,
)

BATCH_SIZE = 100
# The fast scorer's single-text p50 must stay under this share of predict_proba's p50.
SPEED_BAR = 1 / 30
SHORT_CHARS = 80
UNSEEN_DOMAIN = "amazon"  # product reviews: the closest domain to the target set


def vader_proba() -> ProbaFn:
    """VADER's compound score mapped to [0, 1], so >= 0.5 means positive (compound >= 0)."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:  # a dev dependency
        raise SystemExit("vaderSentiment missing: run make bench-model") from exc
    analyzer = SentimentIntensityAnalyzer()

    def proba(texts: Sequence[str]) -> npt.NDArray[np.float64]:
        compound = [analyzer.polarity_scores(t)["compound"] for t in texts]
        return (np.asarray(compound, dtype=np.float64) + 1.0) / 2.0

    return proba


def model_proba(model: SentimentModel) -> ProbaFn:
    """The served model's P(positive), as the API computes it."""

    def proba(texts: Sequence[str]) -> npt.NDArray[np.float64]:
        rows = model.predict_batch(texts)
        return np.asarray([p.probabilities["positive"] for p in rows], dtype=np.float64)

    return proba


def behaviour(model: SentimentModel) -> dict[str, dict[str, float]]:
    """Pass rates per capability on the behavioural probes, the model's and VADER's."""
    probes = load_probes()
    systems = {"model": pass_rates(model_proba(model), probes)}
    systems["vader"] = pass_rates(vader_proba(), probes)
    print("\nBehavioural probes (share passed per capability; data/behaviour.tsv)")
    print(format_rates(systems, probes))
    return systems


def _percentiles_us(seconds: list[float]) -> dict[str, float]:
    arr = np.asarray(seconds) * 1e6
    return {
        "p50_us": round(float(np.percentile(arr, 50)), 1),
        "p99_us": round(float(np.percentile(arr, 99)), 1),
        "mean_us": round(float(arr.mean()), 1),
    }


def _time_each(fn: Callable[[str], object], texts: Sequence[str]) -> list[float]:
    clock = time.perf_counter
    out = []
    for text in texts:
        start = clock()
        fn(text)
        out.append(clock() - start)
    return out


def latency(model: SentimentModel, pipeline: Any, texts: Sequence[str]) -> dict[str, Any]:
    """Single-text latency of the fast path (texts seen for the first time, then the same
    texts again: the scorer keeps no per-text state, so only CPU caches differ), of the
    pipeline's own ``predict_proba``, and the per-text cost of batches."""
    for text in ("warm up", "the allocator and", "the code paths"):
        model.predict(text)
    first_sight = _time_each(model.predict, texts)
    single = _percentiles_us(first_sight)
    # The target use is short review sentences; same first-sight timings, short texts only.
    short = _percentiles_us(
        [s for s, t in zip(first_sight, texts, strict=True) if len(t) <= SHORT_CHARS]
    )
    steady = _percentiles_us(_time_each(model.predict, texts))
    sklearn = _percentiles_us(_time_each(lambda t: pipeline.predict_proba([t]), texts[:300]))
    per_text = []
    for start in range(0, len(texts) - BATCH_SIZE + 1, BATCH_SIZE):
        batch = texts[start : start + BATCH_SIZE]
        t0 = time.perf_counter()
        model.predict_batch(batch)
        per_text.append((time.perf_counter() - t0) / BATCH_SIZE)
    batch_stats = _percentiles_us(per_text)
    return {
        "machine": machine_load(),
        "texts": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "predict": single,
        f"predict_up_to_{SHORT_CHARS}_chars": short,
        "predict_steady_state": steady,
        "pipeline_predict_proba": sklearn,
        f"predict_batch_{BATCH_SIZE}_per_text": batch_stats,
    }


def unseen_domain_latency(
    corpus: Corpus, recipe: Recipe, seed: int, domain: str = UNSEEN_DOMAIN
) -> dict[str, Any]:
    """First-sight latency on the sentences of a domain the model was trained without: the
    share of words outside the model's vocabulary (computed per text, never cached) is what
    new review text brings, unlike corpus sentences the served model was trained on."""
    held_out = corpus.domains == domain
    pipeline = fit_pipeline(corpus.subset(np.flatnonzero(~held_out)), recipe, seed)
    model = SentimentModel(from_pipeline(pipeline), {"name": "unseen-domain", "version": "bench"})
    texts = [t for t, keep in zip(corpus.texts, held_out, strict=True) if keep]
    for text in ("warm up", "the allocator and", "the code paths"):
        model.predict(text)
    return {
        "domain": domain,
        "texts": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "predict": _percentiles_us(_time_each(model.predict, texts)),
    }


def machine_load() -> dict[str, float]:
    """Context for the latency numbers: load average and a fixed pure-Python loop's time
    (``sum(range(1000))``: ~10 us on an idle 2.6 GHz core; higher means a busy machine)."""
    loop = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000
    return {"loadavg_1m": round(os.getloadavg()[0], 2), "reference_loop_us": round(loop * 1e6, 1)}


def _print_latency(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(
        f"\nMachine: load average {m['loadavg_1m']}, reference loop {m['reference_loop_us']} us"
        " (~10 us idle)"
    )
    print(f"Latency over {result['texts']} corpus sentences (mean {result['mean_chars']} chars)")
    names = (
        "predict",
        f"predict_up_to_{SHORT_CHARS}_chars",
        "predict_steady_state",
        "pipeline_predict_proba",
        f"predict_batch_{BATCH_SIZE}_per_text",
    )
    for name in names:
        s = result[name]
        print(f"  {name:<32} p50 {s['p50_us']:8.1f} us  p99 {s['p99_us']:8.1f} us")
    share = result["predict"]["p50_us"] / result["pipeline_predict_proba"]["p50_us"]
    ok = share <= SPEED_BAR
    print(
        f"  predict p50 / predict_proba p50: 1/{1 / share:.0f} "
        f"(bar 1/{1 / SPEED_BAR:.0f})  {'yes' if ok else 'NO'}"
    )


def _ensure_model(path: Path, data_dir: Path) -> None:
    if not path.exists():
        print(f"{path} does not exist; training it first", file=sys.stderr)
        train(data_dir, path)


def _sample(corpus: Corpus, n: int) -> list[str]:
    rng = np.random.default_rng(DEFAULT_SEED)
    picked = rng.choice(len(corpus), size=min(n, len(corpus)), replace=False)
    return [corpus.texts[i] for i in picked]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", type=Path, default=Path("models/sentiment.joblib"))
    parser.add_argument("--data-dir", type=Path, default=Path("data/sentiment"))
    parser.add_argument("--samples", type=int, default=3000, help="texts timed one by one")
    parser.add_argument("--no-eval", action="store_true", help="latency only (seconds, not min)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    _ensure_model(args.model, args.data_dir)
    model = load_model(args.model)
    corpus = load_corpus(args.data_dir)
    print(f"model {model.name} {model.version}")
    results: dict[str, Any] = {
        "model": model.version,
        "latency": latency(model, joblib.load(args.model), _sample(corpus, args.samples)),
    }
    _print_latency(results["latency"])
    results["behaviour"] = behaviour(model)
    if not args.no_eval:
        recipe = Recipe.from_dict(model.info["recipe"])
        seed = int(model.info.get("seed", DEFAULT_SEED))
        unseen = unseen_domain_latency(corpus, recipe, seed)
        results["latency"]["predict_unseen_domain"] = unseen
        s = unseen["predict"]
        print(
            f"  {'predict, held-out ' + unseen['domain']:<32} p50 {s['p50_us']:8.1f} us  "
            f"p99 {s['p99_us']:8.1f} us  ({unseen['texts']} sentences, mean "
            f"{unseen['mean_chars']} chars, model trained without them)"
        )
        splits = evaluate(corpus, recipe, seed, True, Progress(), {"vader": vader_proba()})
        print("\nEvaluation (polar sentences of the test side; VADER on the same sentences)")
        print(format_table(splits))
        summary = summarize_cross_domain(splits)
        print("\nCross-domain summary: " + json.dumps(summary))
        results["evaluation"] = {"splits": splits, "cross_domain_summary": summary}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
