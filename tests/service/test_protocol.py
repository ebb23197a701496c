"""Hostile or broken requests get clean 4xx JSON; responses carry ids and security headers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.observability import JsonFormatter
from tests.support import problem


def test_body_over_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=2048)
    response = client.post("/items", json={"name": "x", "description": "d" * 3000})
    assert response.status_code == 413
    assert "2048" in problem(response)["detail"]
    assert client.get("/items").json()["total"] == 0


def test_chunked_body_over_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=2048)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts bytes as they come
        yield b'{"text": "'
        for _ in range(10):
            yield b"a" * 500
        yield b'"}'

    response = client.post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert problem(response)["type"] == "about:blank"


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert problem(response)["errors"][0]["type"] == "json_invalid"


def test_invalid_utf8_is_4xx_json(client: TestClient) -> None:
    response = client.post(
        "/items", content=b'{"name": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert problem(response)["detail"]


def test_deeply_nested_json_is_4xx(client: TestClient) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert problem(response)["detail"]


def test_lone_surrogate_is_422(client: TestClient) -> None:
    response = client.post(
        "/items", content=b'{"name": "a\\ud800b"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_wrong_content_type_is_4xx(client: TestClient) -> None:
    response = client.post("/items", content=b"name=x", headers={"content-type": "text/plain"})
    assert 400 <= response.status_code < 500


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    not_found = problem(client.get("/nope"))
    assert (not_found["type"], not_found["detail"]) == ("about:blank", "Not Found")
    response = client.put("/items/1", json={})
    assert response.status_code == 405 and problem(response)["title"] == "Method Not Allowed"


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert client.get("/", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/", headers={"X-Request-ID": "bad id\twith spaces"})
    assert generated.headers["x-request-id"] != "bad id\twith spaces"
    assert len(generated.headers["x-request-id"]) == 32


def test_security_headers_and_no_server_details(client: TestClient) -> None:
    response = client.get("/items/1")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "server" not in response.headers
    # The interactive docs need their CDN scripts, so they get no restrictive CSP.
    assert "content-security-policy" not in client.get("/docs").headers


def test_access_log_is_one_json_line_with_request_id(
    make_client: Callable[..., TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client()  # built here so its log handler writes to the captured stdout
    client.get("/items/7", headers={"X-Request-ID": "trace-me"})
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "trace-me"]
    assert access, out
    entry = access[-1]
    assert entry["method"] == "GET" and entry["path"] == "/items/7" and entry["status"] == 404
    assert entry["duration_ms"] >= 0 and entry["level"] == "INFO"


def test_cors_allows_only_configured_origins(make_client: Callable[..., TestClient]) -> None:
    client = make_client(cors_origins="https://shop.example")
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = client.options("/items", headers={"Origin": "https://shop.example", **preflight})
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    denied = client.options("/items", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in denied.headers


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = client.get("/", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("timestamp", [0.0, 1_700_000_000.0, 1_700_000_000.9994, 1_799_999_999.5])
def test_log_time_is_utc_iso_with_milliseconds(timestamp: float) -> None:
    record = logging.makeLogRecord({"msg": "x", "created": timestamp})
    line = json.loads(JsonFormatter("itemsense").format(record))
    assert line["service.name"] == "itemsense"
    logged = datetime.fromisoformat(line["time"])
    assert logged.utcoffset() == timedelta(0)
    assert abs(logged.timestamp() - timestamp) < 0.001
    assert logged.microsecond % 1000 == 0
