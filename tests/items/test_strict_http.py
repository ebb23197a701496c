"""Strict parsing of what clients send, and the conditional and HEAD requests HTTP defines:
prices and ids exactly as documented, strong If-Match, If-None-Match, one API key, HEAD."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import problem


def _create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/items", json={"name": "Lamp", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("price", ["١٢", "1_000", "1e2", " 12", "12 ", "+5", "0x10", "NaN", "1,5"])
def test_a_price_string_outside_the_documented_pattern_is_refused(
    client: TestClient, price: str
) -> None:
    response = client.post("/items", json={"name": "Lamp", "price": price})
    assert response.status_code == 422
    [error] = problem(response)["errors"]
    assert error["loc"][-1] == "price"
    assert client.get("/items").json()["total"] == 0  # nothing stored


@pytest.mark.parametrize(("price", "stored"), [("12", "12.00"), ("0012.5", "12.50"), (3.5, "3.50")])
def test_plain_prices_are_stored_exactly(client: TestClient, price: object, stored: str) -> None:
    assert _create(client, price=price)["price"] == stored


@pytest.mark.parametrize("item_id", ["1_0", "+10", "%2010", "10%20", "\u0661\u0660", "1e1", "10.0"])
def test_an_item_id_is_a_plain_decimal_number(client: TestClient, item_id: str) -> None:
    for _ in range(10):
        _create(client)
    assert client.get("/items/10").status_code == 200
    response = client.get(f"/items/{item_id}")
    assert response.status_code == 422, (item_id, response.text)
    assert problem(response)["errors"][0]["loc"] == ["path", "item_id"]


def test_if_match_uses_strong_comparison(client: TestClient) -> None:
    item = _create(client)
    etag = client.get(f"/items/{item['id']}").headers["etag"]
    for stale in (f"W/{etag}", '"7"', '"abc"'):
        response = client.patch(
            f"/items/{item['id']}", json={"price": "1"}, headers={"If-Match": stale}
        )
        assert response.status_code == 412, stale
    response = client.patch(
        f"/items/{item['id']}", json={"price": "1"}, headers={"If-Match": f'"7", {etag}'}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("header", ['junk"1"junk', "1", '"1', "W/1", '"1";"2"', '"1",,x'])
def test_a_garbled_if_match_matches_nothing_and_changes_nothing(
    client: TestClient, header: str
) -> None:
    item = _create(client, price="5")
    for method in ("PATCH", "DELETE"):
        response = client.request(
            method, f"/items/{item['id']}", json={"price": "1"}, headers={"If-Match": header}
        )
        assert response.status_code == 412, (method, header)
    assert client.get(f"/items/{item['id']}").json()["price"] == "5.00"


def test_if_none_match_answers_304_while_the_copy_is_current(client: TestClient) -> None:
    item = _create(client)
    url = f"/items/{item['id']}"
    etag = client.get(url).headers["etag"]
    for current in (etag, f"W/{etag}", f'"99", {etag}', "*"):
        response = client.get(url, headers={"If-None-Match": current})
        assert (response.status_code, response.content) == (304, b""), current
        assert response.headers["etag"] == etag
    client.patch(url, json={"price": "2"})
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["price"] == "2.00"
    assert changed.headers["etag"] != etag
    assert client.get(url, headers={"If-None-Match": 'x"1"'}).status_code == 200  # ignored


def test_two_api_keys_are_refused_even_when_one_is_accepted(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(api_keys="alpha-key")
    for keys in (["alpha-key", "wrong"], ["wrong", "alpha-key"], ["alpha-key", "alpha-key"]):
        headers = [("X-API-Key", key) for key in keys]
        response = client.post("/items", json={"name": "Lamp"}, headers=headers)
        assert response.status_code == 400, keys
        assert problem(response)["detail"] == "Send one X-API-Key header"
    ok = client.post("/items", json={"name": "Lamp"}, headers={"X-API-Key": "alpha-key"})
    assert ok.status_code == 201
    assert client.get("/items").json()["total"] == 1


def test_head_answers_wherever_get_does_without_a_body(client: TestClient) -> None:
    item = _create(client)
    for url in (f"/items/{item['id']}", "/items?limit=5", "/health/live", "/model/info", "/"):
        get, head = client.get(url), client.head(url)
        assert head.status_code == get.status_code, url
        assert head.content == b""
        for name in ("content-type", "content-length", "etag"):
            assert head.headers.get(name) == get.headers.get(name), (url, name)
    assert client.head("/items/999999").status_code == 404
    post_only = client.head("/predict")
    assert post_only.status_code == 405 and post_only.headers["allow"] == "POST"
