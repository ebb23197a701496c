"""API keys on the write endpoints; reads stay open."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.security import ApiKeys
from tests.support import problem


def test_writes_need_a_valid_key_when_keys_are_set(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys="alpha-key,beta-key")
    missing = client.post("/items", json={"name": "x"})
    assert missing.status_code == 401
    assert problem(missing)["detail"] == "API key required in the X-API-Key header"
    wrong = client.post("/items", json={"name": "x"}, headers={"X-API-Key": "alpha-ke"})
    assert wrong.status_code == 403 and problem(wrong)["detail"] == "API key not accepted"
    created = client.post("/items", json={"name": "x"}, headers={"X-API-Key": "beta-key"})
    assert created.status_code == 201
    url = created.headers["location"]
    assert client.patch(url, json={"name": "y"}).status_code == 401
    assert client.delete(url, headers={"X-API-Key": "nope"}).status_code == 403
    assert client.get(url).status_code == 200  # reads are public
    assert client.get("/items").json()["total"] == 1
    assert client.post("/predict", json={"text": "hi"}).status_code == 200
    ok = client.patch(url, json={"name": "y"}, headers={"X-API-Key": "alpha-key"})
    assert ok.status_code == 200
    assert client.delete(url, headers={"X-API-Key": "alpha-key"}).status_code == 204


def test_keys_can_come_from_a_mounted_file(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text("# rotated 2026-11\nfile-key-1\n\nfile-key-2\n")
    client = make_client(api_keys_file=key_file)
    assert client.post("/items", json={"name": "x"}).status_code == 401
    response = client.post("/items", json={"name": "x"}, headers={"X-API-Key": "file-key-2"})
    assert response.status_code == 201
    comment = client.post("/items", json={"name": "x"}, headers={"X-API-Key": "# rotated 2026-11"})
    assert comment.status_code == 403


def test_production_without_keys_refuses_to_start() -> None:
    settings = Settings(_env_file=None, app_env="production")  # type: ignore[call-arg]
    with pytest.raises(RuntimeError, match="needs API keys"):
        create_app(settings)


def test_keys_are_kept_only_as_hashes() -> None:
    keys = ApiKeys(["s3cret-value"])
    assert "s3cret-value" not in repr(vars(keys))
    assert keys.accepts("s3cret-value") and not keys.accepts("s3cret-valu")
    assert not ApiKeys([]).enabled
