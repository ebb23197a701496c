"""The smoke test that CI runs against the image and the deploy runs against the cluster
(.github/scripts/smoke-test.sh) passes against the real service, started with the same server
command as the container, in production mode, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci.support import PROJECT_ROOT, SCRIPTS_DIR, require_tool, run

SMOKE = SCRIPTS_DIR / "smoke-test.sh"
API_KEY = "smoke-test-key-0123456789"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def service(database_url: str, model_path: Path, tmp_path: Path) -> Iterator[str]:
    """Base URL of the service running as its own process (uvicorn, as in the Dockerfile)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "MODEL_PATH": str(model_path),
        "API_KEYS": API_KEY,
        "LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "server.log").open("w")
    # cwd is an empty folder, so no developer .env or SQLite file can leak in.
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-server-header",
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def smoke(base_url: str, *args: str, key: str = API_KEY) -> subprocess.CompletedProcess[str]:
    """Run smoke-test.sh the way the workflows do."""
    require_tool("curl")
    require_tool("jq")
    env = {**os.environ, "SMOKE_API_KEY": key, "SMOKE_ATTEMPTS": "60", "SMOKE_INTERVAL": "0.5"}
    return run(["bash", str(SMOKE), base_url, *args], env=env)


def test_smoke_script_passes_against_the_real_service_and_notices_refused_writes(
    service: str, tmp_path: Path
) -> None:
    result = smoke(service, "--items")
    log = (tmp_path / "server.log").read_text()
    assert result.returncode == 0, result.stdout + result.stderr + log
    for check in ("ok: /health/ready", "ok: /predict", "ok: POST /items"):
        assert check in result.stdout
    # The same service with a wrong key: the script must notice the 401, not report success.
    refused = smoke(service, "--items", key="not-the-key")
    assert refused.returncode != 0
    assert "smoke test passed" not in refused.stdout


def test_smoke_script_fails_when_nothing_answers() -> None:
    result = run(
        ["bash", str(SMOKE), f"http://127.0.0.1:{free_port()}"],
        env={**os.environ, "SMOKE_ATTEMPTS": "2", "SMOKE_INTERVAL": "0"},
    )
    assert result.returncode == 1
    assert "never answered 2xx" in result.stderr
