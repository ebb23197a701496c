"""The runtime stage's file set really runs: a stand-in for `docker run` where no engine exists.

The files the Dockerfile's runtime stage copies (parsed from the Dockerfile itself) are staged
in a temporary directory standing for WORKDIR; the migration command and the image's CMD run
from there with the image's ENV, the HEALTHCHECK command is executed against the server, and
the staged tree must be untouched afterwards (the pods run with a read-only root filesystem).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.support import (
    REPO,
    SERVER_COMMAND,
    Instruction,
    copy_sources,
    dockerfile_stages,
    exec_form,
)

API_KEY = "runtime-image-test-key"


def runtime_stage() -> list[Instruction]:
    """Instructions of the Dockerfile's final stage."""
    return dockerfile_stages((REPO / "Dockerfile").read_text(encoding="utf-8"))[-1]


def image_env(workdir: str, root: Path) -> dict[str, str]:
    """The runtime ENV, with the image's WORKDIR mapped to the staged directory."""
    env: dict[str, str] = {}
    for instruction in runtime_stage():
        if instruction.keyword == "ENV":
            for pair in instruction.value.split():
                key, _, value = pair.partition("=")
                env[key] = value.replace(workdir, str(root))
    return env


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file below root."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
    }


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> tuple[Path, str]:
    """(staged WORKDIR, the image's WORKDIR) holding exactly what the runtime stage copies."""
    runtime = runtime_stage()
    workdir = next(i.value for i in runtime if i.keyword == "WORKDIR")
    root = tmp_path_factory.mktemp("image") / "app"
    root.mkdir()
    for instruction in (i for i in runtime if i.keyword == "COPY"):
        from_stage, sources = copy_sources(instruction)
        destination = root / instruction.value.split()[-1].removeprefix("./")
        for source in sources:
            if from_stage is None:
                origin = REPO / source
            elif source.rstrip("/") == "/build/models":
                origin = model_path.parent  # what the builder's training step produces
            else:
                assert source == "/opt/venv", f"unexpected copy from the builder: {source}"
                continue  # the virtualenv running this test stands for /opt/venv
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(origin, destination)
    return root, workdir


@pytest.fixture(scope="module")
def process_env(
    staged: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The container's environment: image ENV plus what compose/k8s set."""
    root, workdir = staged
    database = tmp_path_factory.mktemp("image-db") / "items.db"
    env = image_env(workdir, root)
    venv_bin = str(Path(sys.executable).parent)
    return {
        **env,
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
        "HOME": str(root / "nonexistent"),
        "APP_ENV": "production",
        "API_KEYS": API_KEY,
        "DATABASE_URL": f"sqlite:///{database}",
        "TMPDIR": str(tmp_path_factory.mktemp("image-tmp")),
    }


@pytest.fixture(scope="module")
def server(staged: tuple[Path, str], process_env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """The migration command, then the image's CMD on a free port; yields (base url, port)."""
    root, _ = staged
    migrate = subprocess.run(
        ["alembic", "upgrade", "head"],
        cwd=root,
        env=process_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    command = exec_form(next(i.value for i in runtime_stage() if i.keyword == "CMD"))
    assert command == SERVER_COMMAND
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    # Staying on 0.0.0.0 would expose the test server: bind loopback only.
    command[command.index("--host") + 1] = "127.0.0.1"
    process = subprocess.Popen(
        command, cwd=root, env=process_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not answer /health/live within 90 s")
        yield base, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_server_from_the_staged_image_is_ready_with_its_model(
    server: tuple[str, int],
) -> None:
    base, _ = server
    ready = httpx.get(f"{base}/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    prediction = httpx.post(f"{base}/predict", json={"text": "works great"}, timeout=5)
    assert prediction.status_code == 200
    created = httpx.post(
        f"{base}/items", json={"name": "lamp"}, headers={"X-API-Key": API_KEY}, timeout=5
    )
    assert created.status_code == 201, "the migration command created the schema"
    metrics = httpx.get(f"{base}/metrics", timeout=5).text
    assert "itemsense_model_loaded 1.0" in metrics


def test_healthcheck_command_passes_against_the_server(
    server: tuple[str, int], staged: tuple[Path, str], process_env: dict[str, str]
) -> None:
    _, port = server
    root, _ = staged
    value = next(i.value for i in runtime_stage() if i.keyword == "HEALTHCHECK")
    argv = exec_form(value.partition("CMD ")[2])
    argv[-1] = argv[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    result = subprocess.run(
        argv, cwd=root, env=process_env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


def test_healthcheck_command_fails_without_a_server(
    staged: tuple[Path, str], process_env: dict[str, str]
) -> None:
    # Control: the HEALTHCHECK really reports an unreachable server as unhealthy.
    root, _ = staged
    value = next(i.value for i in runtime_stage() if i.keyword == "HEALTHCHECK")
    argv = exec_form(value.partition("CMD ")[2])
    argv[-1] = argv[-1].replace("127.0.0.1:8000", f"127.0.0.1:{free_port()}")
    result = subprocess.run(
        argv, cwd=root, env=process_env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode != 0


def test_nothing_is_written_into_the_image_and_sigterm_shuts_down_gracefully(
    staged: tuple[Path, str], process_env: dict[str, str], tmp_path: Path
) -> None:
    # Its own server, so that the tree is compared across a whole start-serve-stop cycle.
    root, _ = staged
    before = snapshot(root)
    command = list(SERVER_COMMAND)
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=root, env=process_env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).is_success:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            answer = httpx.post(f"http://127.0.0.1:{port}/predict", json={"text": "ok"}, timeout=5)
            assert answer.status_code == 200
            process.send_signal(signal.SIGTERM)
            # uvicorn shuts down gracefully, then re-raises the captured SIGTERM.
            assert process.wait(timeout=30) in {0, -signal.SIGTERM}
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    text = log.read_text(encoding="utf-8")
    assert "Finished server process" in text, text[-2000:]
    assert "itemsense stopped" in text, "the lifespan shutdown ran"
    assert snapshot(root) == before, "the service wrote into its read-only image directory"
