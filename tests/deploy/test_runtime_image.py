"""The runtime stage's file set really runs: a stand-in for `docker run` where no engine exists.

The files the Dockerfile's runtime stage copies (parsed from the Dockerfile itself) are staged
in a temporary directory standing for WORKDIR (fixture `staged_image`); the migration command
and the image's CMD run from there with the image's ENV, the HEALTHCHECK command is executed
against the server, and the staged tree must be untouched afterwards (the pods run with a
read-only root filesystem).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.deploy.support import (
    RUNTIME_API_KEY,
    exec_form,
    free_port,
    loopback_server_command,
    runtime_stage,
    stop,
    wait_for_http,
)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file below root."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
    }


def healthcheck_argv(port: int) -> list[str]:
    """The image's HEALTHCHECK command, aimed at `port` instead of 8000."""
    value = next(i.value for i in runtime_stage() if i.keyword == "HEALTHCHECK")
    argv = exec_form(value.partition("CMD ")[2])
    argv[-1] = argv[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    return argv


def test_server_from_the_staged_image_is_ready_with_its_model(
    image_server: tuple[str, int],
) -> None:
    base, _ = image_server
    ready = httpx.get(f"{base}/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    prediction = httpx.post(f"{base}/predict", json={"text": "works great"}, timeout=5)
    assert prediction.status_code == 200
    created = httpx.post(
        f"{base}/items", json={"name": "lamp"}, headers={"X-API-Key": RUNTIME_API_KEY}, timeout=5
    )
    assert created.status_code == 201, "the migration command created the schema"
    metrics = httpx.get(f"{base}/metrics", timeout=5).text
    assert "itemsense_model_loaded 1.0" in metrics


def test_the_image_serves_without_the_training_code(
    staged_image: tuple[Path, str], image_server: tuple[str, int]
) -> None:
    root, _ = staged_image
    assert (root / "app" / "sentiment" / "scorer.py").is_file()
    assert not (root / "app" / "sentiment" / "training").exists()
    info = httpx.get(f"{image_server[0]}/model/info", timeout=5)
    assert info.json()["scorer"] == "fast"


def test_healthcheck_command_passes_against_the_server(
    image_server: tuple[str, int], staged_image: tuple[Path, str], image_env_vars: dict[str, str]
) -> None:
    _, port = image_server
    result = subprocess.run(
        healthcheck_argv(port),
        cwd=staged_image[0],
        env=image_env_vars,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_healthcheck_command_fails_without_a_server(
    staged_image: tuple[Path, str], image_env_vars: dict[str, str]
) -> None:
    # Control: the HEALTHCHECK really reports an unreachable server as unhealthy.
    result = subprocess.run(
        healthcheck_argv(free_port()),
        cwd=staged_image[0],
        env=image_env_vars,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0


def test_nothing_is_written_into_the_image_and_sigterm_shuts_down_gracefully(
    staged_image: tuple[Path, str], image_env_vars: dict[str, str], tmp_path: Path
) -> None:
    # Its own server, so that the tree is compared across a whole start-serve-stop cycle.
    root, _ = staged_image
    before = snapshot(root)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            loopback_server_command(port),
            cwd=root,
            env=image_env_vars,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/health/ready", process)
            answer = httpx.post(f"http://127.0.0.1:{port}/predict", json={"text": "ok"}, timeout=5)
            assert answer.status_code == 200
        finally:
            # app.server: uvicorn's graceful shutdown, then exit status 0 (not "killed").
            returncode = stop(process)
    assert returncode == 0
    text = log.read_text(encoding="utf-8")
    assert "Finished server process" in text, text[-2000:]
    assert "itemsense stopped" in text, "the lifespan shutdown ran"
    assert snapshot(root) == before, "the service wrote into its read-only image directory"
