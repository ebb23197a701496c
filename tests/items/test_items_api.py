"""Items CRUD over HTTP, on SQLite and on PostgreSQL (every test runs on both)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.errors import PROBLEM_TYPES
from tests.support import problem


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/items", json={"name": "Lamp", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def error_fields(response: Any) -> list[str]:
    return [str(error["loc"][-1]) for error in problem(response)["errors"]]


def test_create_returns_201_location_etag_and_stored_item(client: TestClient) -> None:
    response = client.post(
        "/items", json={"name": "  Desk lamp  ", "description": "Warm", "price": "19.99"}
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/items/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body["name"] == "Desk lamp"  # trimmed
    assert body["price"] == "19.99"
    created = datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0
    assert body["created_at"] == body["updated_at"]
    assert client.get(response.headers["location"]).json() == body


def test_price_is_stored_exactly(client: TestClient, database_url: str) -> None:
    # 0.1 + 0.2 is the classic float trap; 9999999999.99 needs all 12 digits.
    cheap = create(client, price="0.30")
    dear = create(client, price=9999999999.99)
    assert client.get(f"/items/{cheap['id']}").json()["price"] == "0.30"
    assert client.get(f"/items/{dear['id']}").json()["price"] == "9999999999.99"
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT price FROM items ORDER BY id")).scalars().all()
    engine.dispose()
    if database_url.startswith("sqlite"):
        assert raw == [30, 999999999999]  # integer cents, never a float
    else:
        assert raw == [Decimal("0.30"), Decimal("9999999999.99")]


def test_price_is_optional(client: TestClient) -> None:
    assert create(client)["price"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "ok", "description": "d" * 2001}, "description"),
        ({"name": "ok", "price": -1}, "price"),
        ({"name": "ok", "price": "1.999"}, "price"),
        ({"name": "ok", "price": "abc"}, "price"),
        ({"name": "ok", "price": "100000000000.00"}, "price"),
        ({"name": "ok", "colour": "red"}, "colour"),
        ({"name": "bad\u0000name"}, "name"),
        ({"name": 5}, "name"),
    ],
)
def test_invalid_create_is_422_naming_the_field(
    client: TestClient, payload: dict[str, Any], field: str
) -> None:
    response = client.post("/items", json=payload)
    assert response.status_code == 422
    assert field in error_fields(response)


def test_boundary_lengths_are_accepted(client: TestClient) -> None:
    item = create(client, name="n" * 200, description="d" * 2000, price="0")
    assert len(item["name"]) == 200 and len(item["description"]) == 2000
    assert item["price"] == "0.00"


def test_odd_but_valid_text_is_stored_verbatim(client: TestClient) -> None:
    name = "Robert'); DROP TABLE items;--"
    description = "tab\there, bell\x07, emoji \U0001f600, accents àé, ctrl \x1f"
    item = create(client, name=name, description=description)
    stored = client.get(f"/items/{item['id']}").json()
    assert stored["name"] == name and stored["description"] == description
    assert client.get("/items").json()["total"] == 1


def test_unknown_id_is_404_json(client: TestClient) -> None:
    for method in ("get", "patch", "delete"):
        kwargs: dict[str, Any] = {"json": {"name": "x"}} if method == "patch" else {}
        response = getattr(client, method)("/items/424242", **kwargs)
        assert response.status_code == 404
        body = problem(response)
        assert body["detail"] == "Item 424242 not found"
        assert body["type"] == PROBLEM_TYPES + "item-not-found"


@pytest.mark.parametrize("item_id", ["0", "-1", "abc", "1.5", str(2**63), "9" * 40])
def test_impossible_ids_are_422(client: TestClient, item_id: str) -> None:
    response = client.get(f"/items/{item_id}")
    assert response.status_code == 422
    assert error_fields(response) == ["item_id"]


def test_list_pages_in_id_order_with_total(client: TestClient) -> None:
    ids = [create(client, name=f"item {n}")["id"] for n in range(5)]
    first = client.get("/items", params={"limit": 2}).json()
    second = client.get("/items", params={"limit": 2, "offset": 2}).json()
    last = client.get("/items", params={"limit": 2, "offset": 4}).json()
    beyond = client.get("/items", params={"limit": 2, "offset": 50}).json()
    assert [i["id"] for i in first["items"] + second["items"] + last["items"]] == ids
    assert first["total"] == second["total"] == last["total"] == beyond["total"] == 5
    assert beyond["items"] == []
    assert first["limit"] == 2 and second["offset"] == 2


def test_list_defaults_to_20(client: TestClient) -> None:
    for n in range(21):
        create(client, name=f"item {n}")
    page = client.get("/items").json()
    assert len(page["items"]) == 20 and page["total"] == 21 and page["limit"] == 20


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": 10**30}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 2**63}, "offset"),
        ({"limit": "ten"}, "limit"),
    ],
)
def test_bad_paging_is_422(client: TestClient, params: dict[str, Any], field: str) -> None:
    response = client.get("/items", params=params)
    assert response.status_code == 422
    assert error_fields(response) == [field]


def test_patch_changes_only_given_fields_and_bumps_version(client: TestClient) -> None:
    item = create(client, description="keep me", price="5.00")
    response = client.patch(f"/items/{item['id']}", json={"price": "7.25"})
    assert response.status_code == 200
    updated = response.json()
    assert updated["price"] == "7.25"
    assert updated["name"] == "Lamp" and updated["description"] == "keep me"
    assert updated["updated_at"] > item["updated_at"]
    assert updated["created_at"] == item["created_at"]
    assert response.headers["etag"] == '"2"'


def test_patch_can_clear_optional_fields(client: TestClient) -> None:
    item = create(client, description="gone soon", price="1.00")
    updated = client.patch(f"/items/{item['id']}", json={"description": None, "price": None})
    assert updated.json()["description"] is None and updated.json()["price"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": None}, "body"),
        ({"name": ""}, "name"),
        ({"price": -0.01}, "price"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_invalid_patch_is_422(client: TestClient, payload: dict[str, Any], field: str) -> None:
    item = create(client)
    response = client.patch(f"/items/{item['id']}", json=payload)
    assert response.status_code == 422
    assert field in [str(e["loc"][-1]) for e in problem(response)["errors"]] or field == "body"
    assert client.get(f"/items/{item['id']}").json() == item


def test_empty_patch_changes_nothing(client: TestClient) -> None:
    item = create(client)
    response = client.patch(f"/items/{item['id']}", json={})
    assert response.status_code == 200 and response.json() == item


def test_delete_is_204_then_404(client: TestClient) -> None:
    item = create(client)
    response = client.delete(f"/items/{item['id']}")
    assert response.status_code == 204 and response.content == b""
    assert client.get(f"/items/{item['id']}").status_code == 404
    assert client.delete(f"/items/{item['id']}").status_code == 404


def test_if_match_guards_patch_and_delete(client: TestClient) -> None:
    item = create(client)
    url = f"/items/{item['id']}"
    etag = client.get(url).headers["etag"]
    assert client.patch(url, json={"name": "A"}, headers={"If-Match": etag}).status_code == 200
    stale = client.patch(url, json={"name": "B"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["etag"] == '"2"'
    assert client.get(url).json()["name"] == "A"
    assert client.delete(url, headers={"If-Match": etag}).status_code == 412
    assert client.delete(url, headers={"If-Match": "not-an-etag"}).status_code == 412
    assert client.delete(url, headers={"If-Match": '"2"'}).status_code == 204


def test_if_match_star_means_any_version(client: TestClient) -> None:
    item = create(client)
    response = client.patch(f"/items/{item['id']}", json={"name": "B"}, headers={"If-Match": "*"})
    assert response.status_code == 200


def test_racing_conditional_updates_cannot_both_win(client: TestClient) -> None:
    item = create(client)
    url = f"/items/{item['id']}"
    etag = client.get(url).headers["etag"]

    def update(name: str) -> int:
        return client.patch(url, json={"name": name}, headers={"If-Match": etag}).status_code

    for round_ in range(5):
        names = [f"writer-{round_}-{n}" for n in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(update, names))
        assert sorted(statuses) == [200] + [412] * 7
        winner = names[statuses.index(200)]
        current = client.get(url)
        assert current.json()["name"] == winner
        etag = current.headers["etag"]


def test_unconditional_concurrent_updates_all_apply(client: TestClient) -> None:
    item = create(client)
    url = f"/items/{item['id']}"
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda n: client.patch(url, json={"name": f"n{n}"}).status_code, range(16))
        )
    assert statuses == [200] * 16
    assert client.get(url).headers["etag"] == '"17"'
