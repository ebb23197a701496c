"""The /metrics exposition and the OpenAPI document."""

from __future__ import annotations

from collections import Counter

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families


def samples(client: TestClient) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for s in family.samples
    ]


def test_http_metrics_group_paths_and_skip_probes(client: TestClient) -> None:
    item = client.post("/items", json={"name": "x"}).json()
    client.get(f"/items/{item['id']}")
    client.get("/items/999999")
    client.get("/health/live")
    client.get("/health/ready")
    paths = {
        labels.get("path")
        for name, labels, _ in samples(client)
        if name == "starlette_requests_total"
    }
    assert "/items/{item_id}" in paths and "/items" in paths
    assert not any(p and p.startswith("/items/") and p != "/items/{item_id}" for p in paths)
    assert not paths & {"/health/live", "/health/ready", "/health", "/metrics"}


LABELS = ("negative", "positive")


def test_app_metrics_count_predictions_and_writes(client: TestClient) -> None:
    def value(name: str, **labels: str) -> float:
        return sum(v for n, ls, v in samples(client) if n == name and labels.items() <= ls.items())

    before = {label: value("itemsense_predictions_total", label=label) for label in LABELS}
    before_latency = value("itemsense_model_inference_seconds_count")
    before_created = value("itemsense_items_written_total", operation="create")
    single = client.post("/predict", json={"text": "I love it, wonderful"}).json()
    texts = ["great", "awful and broken", "superb", "love it", "broke in a day"]
    batch = client.post("/predict/batch", json={"texts": texts}).json()["predictions"]
    client.post("/items", json={"name": "x"})
    answered = Counter([single["label"], *(p["label"] for p in batch)])
    assert set(answered) == set(LABELS)  # both labels counted, each by its number of answers
    for label in LABELS:
        assert value("itemsense_predictions_total", label=label) == before[label] + answered[label]
    assert value("itemsense_model_inference_seconds_count") == before_latency + 2
    assert value("itemsense_items_written_total", operation="create") == before_created + 1
    assert value("itemsense_model_loaded") == 1
    version = client.get("/model/info").json()["version"]
    assert value("itemsense_model_info", version=version) == 1


def test_every_operation_is_documented_with_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operations = [
        (path, method, op)
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    ]
    assert len(operations) >= 12
    for path, method, op in operations:
        assert op.get("summary") and op.get("description"), (method, path)
        if "requestBody" in op:
            body_schema = op["requestBody"]["content"]["application/json"]["schema"]
            if "$ref" in body_schema:  # inline for /predict, which parses its own body
                body_schema = schema["components"]["schemas"][body_schema["$ref"].split("/")[-1]]
            assert body_schema.get("examples"), (method, path)
    for name in ("ItemRead", "PredictionOut"):
        assert schema["components"]["schemas"][name].get("examples"), name


def _requests_total(client: TestClient, **labels: str) -> float:
    return sum(
        value
        for name, sample_labels, value in samples(client)
        if name == "starlette_requests_total" and labels.items() <= sample_labels.items()
    )


def test_http_metrics_count_each_answer_under_its_route_and_status(client: TestClient) -> None:
    def count(status: str) -> float:
        return _requests_total(client, path="/items/{item_id}", method="GET", status_code=status)

    ok_before, missing_before = count("200"), count("404")
    item = client.post("/items", json={"name": "counted"}).json()
    for _ in range(3):
        client.get(f"/items/{item['id']}")
    client.get("/items/987654")
    assert count("200") == ok_before + 3
    assert count("404") == missing_before + 1
    # A path no route matches is not counted (it would be a label per scanned URL).
    client.get("/no/such/route")
    assert not any(
        labels.get("path") == "/no/such/route"
        for name, labels, _ in samples(client)
        if name.startswith("starlette_")
    )
    in_progress = [
        value
        for name, labels, value in samples(client)
        if name == "starlette_requests_in_progress" and labels.get("method") == "GET"
    ]
    assert in_progress == [0.0]  # back to zero between requests


def test_request_duration_histogram_counts_like_the_request_counter(client: TestClient) -> None:
    client.post("/predict", json={"text": "fine"})
    durations = sum(
        value
        for name, labels, value in samples(client)
        if name == "starlette_request_duration_seconds_count" and labels["path"] == "/predict"
    )
    assert durations == _requests_total(client, path="/predict") > 0


def test_plain_starlette_routes_are_counted_too(client: TestClient) -> None:
    before = _requests_total(client, path="/openapi.json", status_code="200")
    client.get("/openapi.json")
    assert _requests_total(client, path="/openapi.json", status_code="200") == before + 1


OPERATION_IDS = {
    ("get", "/"): "index",
    ("post", "/items"): "items-create",
    ("get", "/items"): "items-list",
    ("get", "/items/{item_id}"): "items-get",
    ("patch", "/items/{item_id}"): "items-update",
    ("delete", "/items/{item_id}"): "items-delete",
    ("post", "/predict"): "predict",
    ("post", "/predict/batch"): "predict-batch",
    ("get", "/model/info"): "model-info",
    ("get", "/health/live"): "health-live",
    ("get", "/health/ready"): "health-ready",
    ("get", "/health"): "health",
}


def test_operation_ids_are_stable_and_readable(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    found = {
        (method, path): op["operationId"]
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    }
    assert found == OPERATION_IDS


def test_every_error_answer_is_documented_as_problem_details(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert {"Problem", "ValidationProblem", "InvalidField"} <= set(components)
    assert "HTTPValidationError" not in components  # FastAPI's own 422 shape is never answered
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            errors = {code: r for code, r in op["responses"].items() if int(code) >= 400}
            for code, response in errors.items():
                content = response["content"]
                assert list(content) == ["application/problem+json"], (method, path, code)
                ref = content["application/problem+json"]["schema"]["$ref"].split("/")[-1]
                assert ref == ("ValidationProblem" if code == "422" else "Problem")
