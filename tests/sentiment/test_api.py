"""Prediction endpoints and model information over HTTP, and the 503 paths without a model."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import make_settings, problem


def test_predict_returns_label_probabilities_and_version(client: TestClient) -> None:
    response = client.post("/predict", json={"text": "I absolutely love this, it is wonderful!"})
    assert response.status_code == 200
    body = response.json()
    assert body["label"] == "positive"
    assert set(body["probabilities"]) >= {"positive", "negative"}
    assert math.isclose(sum(body["probabilities"].values()), 1.0, abs_tol=1e-9)
    assert body["confidence"] == max(body["probabilities"].values())
    assert body["model_version"] == client.get("/model/info").json()["version"]


def test_negative_text_is_negative(client: TestClient) -> None:
    body = client.post("/predict", json={"text": "Terrible. It broke in a day, a waste of money."})
    assert body.json()["label"] == "negative"


@pytest.mark.parametrize(
    "payload",
    [{}, {"text": ""}, {"text": "x" * 5001}, {"text": 3}, {"text": "ok", "lang": "en"}],
)
def test_invalid_predict_is_422(client: TestClient, payload: dict[str, object]) -> None:
    response = client.post("/predict", json=payload)
    assert response.status_code == 422
    assert problem(response)["errors"][0]["loc"][0] == "body"


def test_longest_allowed_text_is_accepted(client: TestClient) -> None:
    assert client.post("/predict", json={"text": "good " * 1000}).status_code == 200


def test_batch_matches_single_predictions_in_order(client: TestClient) -> None:
    texts = ["Great value.", "Broke after a day.", "Not bad at all", "meh", "Love it!!!"]
    response = client.post("/predict/batch", json={"texts": texts})
    assert response.status_code == 200
    batch = response.json()["predictions"]
    singles = [client.post("/predict", json={"text": t}).json() for t in texts]
    assert len(batch) == len(texts)
    for one, other in zip(batch, singles, strict=True):
        assert one["label"] == other["label"]
        for label, p in one["probabilities"].items():
            assert math.isclose(p, other["probabilities"][label], abs_tol=1e-12)


def test_concurrent_batches_each_get_their_own_predictions_in_order(client: TestClient) -> None:
    # Batches queue for the one inference thread; none may see another's texts or order.
    requests = [[f"{word} {i}" for i in range(40)] for word in ("great", "awful", "fine", "bad")]
    expected = [
        [client.post("/predict", json={"text": t}).json()["label"] for t in texts]
        for texts in requests
    ]

    def labels(texts: list[str]) -> list[str]:
        response = client.post("/predict/batch", json={"texts": texts})
        assert response.status_code == 200
        return [p["label"] for p in response.json()["predictions"]]

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        for _ in range(3):
            assert list(pool.map(labels, requests)) == expected


def test_inference_thread_stops_with_the_app(database_url: str, model_path: Path) -> None:
    app = create_app(make_settings(database_url, model_path))
    with TestClient(app) as client:
        assert client.post("/predict/batch", json={"texts": ["good"]}).status_code == 200
        inference = app.state.inference
        assert asyncio.run(inference.run(sum, [1, 2])) == 3
    with pytest.raises(RuntimeError):  # shut down: nothing more can be queued
        asyncio.run(inference.run(sum, [1, 2]))


def test_batch_limits(make_client: Callable[..., TestClient]) -> None:
    client = make_client(predict_batch_max=3)
    assert client.post("/predict/batch", json={"texts": ["a", "b", "c"]}).status_code == 200
    too_many = client.post("/predict/batch", json={"texts": ["a", "b", "c", "d"]})
    assert too_many.status_code == 422
    assert problem(too_many)["errors"][0]["loc"] == ["body", "texts"]
    assert client.post("/predict/batch", json={"texts": []}).status_code == 422
    assert client.post("/predict/batch", json={"texts": ["ok", ""]}).status_code == 422


def test_model_info_describes_the_loaded_artifact(client: TestClient, model_path: Path) -> None:
    info = client.get("/model/info").json()
    metadata = json.loads(model_path.with_suffix(".json").read_text())
    assert info["sha256"] == metadata["sha256"]
    assert info["version"] == metadata["version"]
    assert set(info["classes"]) >= {"positive", "negative"}
    assert info["metrics"] == metadata["metrics"] and info["metrics"]
    assert info["training_data"] == metadata["training_data"]
    assert info["sklearn_version"] == metadata["sklearn_version"]
    assert info["loaded_at"] and info["trained_at"]


def _broken_model_client(
    make_client: Callable[..., TestClient], tmp_path: Path, model_path: Path, how: str
) -> TestClient:
    broken = tmp_path / "broken.joblib"
    if how == "missing":
        return make_client(model_path=tmp_path / "absent.joblib")
    broken.with_suffix(".json").write_text(model_path.with_suffix(".json").read_text())
    data = model_path.read_bytes()
    broken.write_bytes(data[: len(data) // 2] if how == "truncated" else data + b"tampered")
    return make_client(model_path=broken)


@pytest.mark.parametrize("how", ["missing", "truncated", "tampered"])
def test_unusable_model_gives_503_but_service_runs(
    make_client: Callable[..., TestClient], tmp_path: Path, model_path: Path, how: str
) -> None:
    client = _broken_model_client(make_client, tmp_path, model_path, how)
    predict = client.post("/predict", json={"text": "hello"})
    assert predict.status_code == 503
    assert problem(predict)["detail"].startswith("Sentiment model unavailable:")
    assert ("not found" if how == "missing" else "sha256") in predict.json()["detail"]
    assert client.post("/predict/batch", json={"texts": ["a"]}).status_code == 503
    assert client.get("/model/info").status_code == 503
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["model"].startswith("not loaded")
    assert client.get("/health/live").status_code == 200
    assert client.post("/items", json={"name": "still works"}).status_code == 201


def test_a_batch_is_limited_in_characters_too(make_client: Callable[..., TestClient]) -> None:
    client = make_client(predict_batch_max_chars=10)
    assert client.post("/predict/batch", json={"texts": ["great", "awful"]}).status_code == 200
    too_long = client.post("/predict/batch", json={"texts": ["great", "awful!"]})
    assert too_long.status_code == 422
    [error] = problem(too_long)["errors"]
    assert error["loc"] == ["body", "texts"] and "10 characters" in error["msg"]


def test_long_texts_get_the_same_answer_on_the_inference_thread(
    make_client: Callable[..., TestClient],
) -> None:
    inline, queued = make_client(), make_client(predict_inline_chars=0)
    for text in ("not bad at all", "The screen is lovely. " * 200):
        first = inline.post("/predict", json={"text": text})
        assert first.status_code == 200
        assert queued.post("/predict", json={"text": text}).json() == first.json()


def _metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name}")


def test_a_full_inference_queue_answers_503_at_once_and_recovers(
    database_url: str, model_path: Path
) -> None:
    app = create_app(
        make_settings(database_url, model_path, inference_queue_max=1, predict_inline_chars=20)
    )
    release = threading.Event()
    with TestClient(app) as client:
        assert client.portal is not None
        held = client.portal.start_task_soon(app.state.inference.run, release.wait, 30)
        rejected = _metric(client, "itemsense_inference_rejected_total")
        try:
            assert _metric(client, "itemsense_inference_queue_depth") == 1
            for path, body in (
                ("/predict/batch", {"texts": ["good"]}),
                ("/predict", {"text": "a text longer than twenty characters"}),
            ):
                busy = client.post(path, json=body)
                assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
                assert problem(busy)["type"].endswith("#model-busy")
            # Short texts never wait for the inference thread.
            assert client.post("/predict", json={"text": "good"}).status_code == 200
            assert _metric(client, "itemsense_inference_rejected_total") == rejected + 2
        finally:
            release.set()
        assert held.result(timeout=10) is True
        assert client.post("/predict/batch", json={"texts": ["good"]}).status_code == 200
        assert _metric(client, "itemsense_inference_queue_depth") == 0
