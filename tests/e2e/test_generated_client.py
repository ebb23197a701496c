"""A client generated from the OpenAPI document (openapi-python-client) calls the real server:
the operation ids name its functions, the schemas its models, problems come back typed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from tests.reliability.support import Server, running_server, server_env
from tests.support import migrate, require_tool

KEY = "client-key"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The generated package, importable under a name of its own."""
    folder = tmp_path_factory.mktemp("generated")
    spec = folder / "openapi.json"
    app = create_app(Settings.model_validate({"api_keys": KEY}))
    spec.write_text(json.dumps(app.openapi()), encoding="utf-8")
    generator = require_tool("openapi-python-client")
    config = folder / "config.json"
    config.write_text(json.dumps({"package_name_override": "itemsense_client", "post_hooks": []}))
    arguments = ["--path", str(spec), "--output-path", str(folder / "pkg"), "--meta", "none"]
    arguments += ["--config", str(config)]
    subprocess.run(
        [generator, "generate", *arguments],
        check=True,
        capture_output=True,
    )
    (folder / "itemsense_client").symlink_to(folder / "pkg")
    sys.path.insert(0, str(folder))
    try:
        yield "itemsense_client"
    finally:
        sys.path.remove(str(folder))


@pytest.fixture
def server(
    create_pg_database: Callable[[], str], model_path: Path, tmp_path: Path
) -> Iterator[Server]:
    database_url = create_pg_database()
    migrate(database_url)
    env = server_env(database_url, model_path, api_keys=KEY)
    with running_server(env, tmp_path / "server.log") as running:
        yield running


def _module(package: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package}.{name}")


def test_the_generated_client_calls_every_kind_of_operation(
    client_package: str, server: Server
) -> None:
    client_module = _module(client_package, "client")
    models = _module(client_package, "models")
    create = _module(client_package, "api.items.items_create")
    get = _module(client_package, "api.items.items_get")
    predict = _module(client_package, "api.sentiment.predict")
    info = _module(client_package, "api.sentiment.model_info")
    client: Any = client_module.Client(base_url=server.base_url, headers={"X-API-Key": KEY})

    created = create.sync(client=client, body=models.ItemCreate(name="Lamp", price="9.90"))
    assert isinstance(created, models.ItemRead)
    assert (created.name, created.price) == ("Lamp", "9.90")
    fetched = get.sync(client=client, item_id=created.id)
    assert isinstance(fetched, models.ItemRead) and fetched.id == created.id

    missing = get.sync_detailed(client=client, item_id=987654)
    assert missing.status_code == 404
    problem = json.loads(missing.content)
    assert problem["type"].endswith("#item-not-found") and problem["status"] == 404

    prediction = predict.sync(client=client, body=models.PredictPredictRequest(text="I love it"))
    assert isinstance(prediction, models.PredictionOut)
    assert prediction.label == "positive"
    assert prediction.model_version == info.sync(client=client).version
