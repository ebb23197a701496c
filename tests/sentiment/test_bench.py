"""The benchmark command (latency part; the evaluation part is the training code's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.sentiment.training.bench import main, vader_proba


def test_bench_prints_and_records_latency(
    artifact: Path, small_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json = tmp_path / "bench.json"
    args = ["--model", str(artifact), "--data-dir", str(small_data_dir), "--no-eval"]
    assert main([*args, "--samples", "250", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    for name in ("predict ", "predict_steady_state", "pipeline_predict_proba", "per_text"):
        assert name in printed
    assert "Behavioural probes" in printed and "negation_negative" in printed
    recorded = json.loads(out_json.read_text())
    result = recorded["latency"]
    assert result["texts"] == 250
    behaviour = recorded["behaviour"]
    assert set(behaviour) == {"model", "vader"}
    assert behaviour["vader"]["negation_negative"] > behaviour["vader"]["negation_positive"]
    assert 0 < behaviour["model"]["overall"] <= 1
    for key in ("predict", "predict_steady_state", "predict_batch_100_per_text"):
        assert 0 < result[key]["p50_us"] <= result[key]["p99_us"]


def test_vader_baseline_maps_compound_to_probability() -> None:
    proba = vader_proba()(["I love it, wonderful!", "I hate it, awful.", "table"])
    assert proba[0] > 0.5 > proba[1]
    assert proba[2] == 0.5  # neutral compound 0 -> positive under ">= 0.5", like the target rule
