"""`make demo` (scripts/demo.py) against the real server process on SQLite."""

from __future__ import annotations

import ast
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.docs.support import PROJECT_ROOT
from tests.support import migrate

DEMO = PROJECT_ROOT / "scripts" / "demo.py"
API_KEY = "demo-test-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the script as `make demo` does: a separate interpreter, its own arguments."""
    clean = {k: v for k, v in os.environ.items() if k != "ITEMSENSE_API_KEY"}
    return subprocess.run(
        [sys.executable, str(DEMO), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**clean, **(env or {})},
    )


@pytest.fixture(scope="module")
def server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service (python -m app.server) on a migrated SQLite file, with an API key."""
    workdir = tmp_path_factory.mktemp("demo-server")
    database_url = f"sqlite:///{workdir / 'items.db'}"
    migrate(database_url)
    port = free_port()
    env = {
        **os.environ,
        # Run from a scratch directory so a developer's .env cannot change the settings.
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": database_url,
        "MODEL_PATH": str(model_path),
        "APP_ENV": "development",
        "API_KEYS": API_KEY,
        "LOG_LEVEL": "WARNING",
    }
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.server", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (workdir / "server.log").read_text()
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server not ready in time"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def item_count(base: str) -> int:
    return int(httpx.get(f"{base}/items", params={"limit": 1}).json()["total"])


def test_demo_without_a_key_stops_and_says_how_to_pass_one(server: str) -> None:
    before = item_count(server)
    result = run_demo("--url", server)
    assert result.returncode == 1
    assert "--api-key" in result.stderr
    assert "Traceback" not in result.stderr
    assert item_count(server) == before  # the refused write created nothing


def test_demo_tours_the_service(server: str) -> None:
    before = item_count(server)
    result = run_demo("--url", server, env={"ITEMSENSE_API_KEY": API_KEY})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "is ready (database ok, model ok)" in out
    assert "Created 3 items" in out
    assert "HTTP 412" in out  # the stale If-Match was refused
    lines = out.splitlines()
    love = next(line for line in lines if "I love this lamp" in line)
    broke = next(line for line in lines if "grinder broke" in line)
    assert love.split()[0] == "positive" and broke.split()[0] == "negative"
    # What it printed is what the service stored.
    assert item_count(server) == before + 3
    page = httpx.get(f"{server}/items", params={"limit": 3, "offset": before}).json()["items"]
    assert [item["name"] for item in page] == ["Desk lamp", "Notebook", "Coffee grinder"]
    lamp = httpx.get(f"{server}/items/{page[0]['id']}")
    assert lamp.json()["price"] == "17.50" and lamp.headers["etag"] == '"2"'


def test_demo_reports_an_unreachable_service() -> None:
    result = run_demo("--url", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert result.returncode == 1
    assert "cannot reach Itemsense" in result.stderr
    assert "make run" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_refuses_a_non_http_url() -> None:
    result = run_demo("--url", "file:///etc/passwd")
    assert result.returncode == 2
    assert "http://" in result.stderr


def test_demo_uses_only_the_standard_library() -> None:
    # `make demo` runs it with the runtime dependencies only, which have no HTTP client.
    tree = ast.parse(DEMO.read_text(encoding="utf-8"))
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    modules |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules
