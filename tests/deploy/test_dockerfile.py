"""The Dockerfile and .dockerignore: linted, policy-checked, and tied to the service contract."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.deploy.support import (
    APP_UID,
    PROJECT_ROOT,
    SERVER_COMMAND,
    Instruction,
    copy_sources,
    dockerfile_global_args,
    dockerfile_stages,
    exec_form,
    require_tool,
    run,
)

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    """Instructions of each build stage."""
    return dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runtime(stages: list[list[Instruction]]) -> list[Instruction]:
    """Instructions of the final (runtime) stage."""
    return stages[-1]


def only(instructions: list[Instruction], keyword: str) -> Instruction:
    """The single instruction with this keyword (asserting there is exactly one)."""
    found = [i for i in instructions if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def test_hadolint_is_clean() -> None:
    hadolint = require_tool("hadolint")
    result = run([hadolint, "--failure-threshold", "info", str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    # Control: the linter must fail on a Dockerfile with the classic mistakes.
    hadolint = require_tool("hadolint")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nCMD python app.py\n")
    result = run([hadolint, str(bad)])
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3025"):
        assert rule in result.stdout


def test_checkov_dockerfile_has_no_failures() -> None:
    checkov = require_tool("checkov")
    result = run(
        [
            checkov,
            "--skip-download",
            "--framework",
            "dockerfile",
            "-f",
            str(DOCKERFILE),
            "-o",
            "json",
        ]
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["check_name"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] >= 20, summary  # it really scanned the file
    assert result.returncode == 0, result.stderr


def _stage(stages: list[list[Instruction]], name: str) -> list[Instruction]:
    return next(stage for stage in stages if stage[0].value.endswith(f" AS {name}"))


def test_one_pinned_slim_python_for_builder_and_runtime(stages: list[list[Instruction]]) -> None:
    """The image's Python is named once, and both stages use it (the venv needs it)."""
    image = dockerfile_global_args(DOCKERFILE.read_text(encoding="utf-8"))["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.13\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", image)
    for name in ("builder", "runtime"):
        assert _stage(stages, name)[0].value == f"${{PYTHON_IMAGE}} AS {name}"
    assert len(stages) == 3  # uv, builder, runtime


def test_uv_is_the_pinned_version_the_makefile_uses(stages: list[list[Instruction]]) -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    version = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert version
    assert _stage(stages, "uv")[0].value == f"ghcr.io/astral-sh/uv:{version.group(1)} AS uv"


def test_builder_installs_the_locked_runtime_dependencies_and_trains_the_model(
    stages: list[list[Instruction]],
) -> None:
    builder = _stage(stages, "builder")
    copies = [copy_sources(i) for i in builder if i.keyword == "COPY"]
    assert (None, ["pyproject.toml", "uv.lock"]) in copies
    runs = " ".join(i.value for i in builder if i.keyword == "RUN")
    assert "uv sync --locked --no-default-groups --no-cache" in runs
    assert "python -m app.sentiment.training.train" in runs


def test_builder_leaves_out_what_serving_never_uses(stages: list[list[Instruction]]) -> None:
    """The packages' test suites and headers, and the offline training code."""
    runs = [i.value for i in _stage(stages, "builder") if i.keyword == "RUN"]
    install = next(run for run in runs if "uv sync" in run)
    assert "-name tests -o -name test -o -name include" in install
    assert "-exec rm -rf {} +" in install
    training = next(run for run in runs if "app.sentiment.training.train" in run)
    assert training.endswith("rm -rf app/sentiment/training")


def test_runtime_copies_only_code_migrations_and_model(runtime: list[Instruction]) -> None:
    copied = {
        (from_stage, tuple(paths))
        for from_stage, paths in (copy_sources(i) for i in runtime if i.keyword == "COPY")
    }
    assert copied == {
        ("builder", ("/opt/venv",)),
        ("builder", ("/build/app/",)),
        (None, ("migrations/",)),
        (None, ("alembic.ini",)),
        ("builder", ("/build/models/",)),
    }
    assert not [i for i in runtime if i.keyword in {"ADD", "ARG"}]


def test_runtime_runs_as_fixed_non_root_uid(runtime: list[Instruction]) -> None:
    user = [i for i in runtime if i.keyword == "USER"]
    assert user, "no USER in the runtime stage"
    assert user[-1].value == f"{APP_UID}:{APP_UID}"
    # Nothing after USER may need root.
    after_user = runtime[runtime.index(user[-1]) :]
    assert not [i for i in after_user if i.keyword in {"RUN", "COPY", "ADD"}]
    setup = " ".join(i.value for i in runtime if i.keyword == "RUN")
    assert f"--uid {APP_UID}" in setup
    assert f"--gid {APP_UID}" in setup


def test_cmd_is_the_contract_server_command_in_exec_form(runtime: list[Instruction]) -> None:
    assert exec_form(only(runtime, "CMD").value) == SERVER_COMMAND
    assert not [i for i in runtime if i.keyword == "ENTRYPOINT"]


def test_exposed_port_is_the_server_port(runtime: list[Instruction]) -> None:
    command = exec_form(only(runtime, "CMD").value)
    port = command[command.index("--port") + 1]
    assert only(runtime, "EXPOSE").value == port


def test_healthcheck_probes_liveness_on_the_server_port_without_curl(
    runtime: list[Instruction], app_routes: set[tuple[str, str]]
) -> None:
    value = only(runtime, "HEALTHCHECK").value
    options, _, check = value.partition("CMD ")
    assert "--timeout=" in options
    argv = exec_form(check)
    assert argv[0] == "python", "slim images have no curl"
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)", argv[-1])
    assert url is not None
    assert url.group(1) == "8000"
    assert url.group(2) == "/health/live"
    assert ("GET", url.group(2)) in app_routes


def test_runtime_environment(runtime: list[Instruction]) -> None:
    env = " ".join(i.value for i in runtime if i.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env


def test_settings_in_the_image_are_real_settings(runtime: list[Instruction]) -> None:
    from tests.deploy.support import settings_env_names

    names = set(
        re.findall(
            r"(?:^|\s)([A-Z][A-Z0-9_]*)=", " ".join(i.value for i in runtime if i.keyword == "ENV")
        )
    )
    python_runtime = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "VIRTUAL_ENV", "PATH"}
    assert names - python_runtime <= settings_env_names()
    assert "MODEL_PATH" in names


def test_model_path_in_the_image_is_where_the_model_is_copied(
    runtime: list[Instruction],
) -> None:
    workdir = only(runtime, "WORKDIR").value
    env = " ".join(i.value for i in runtime if i.keyword == "ENV")
    model_path = re.search(r"MODEL_PATH=(\S+)", env)
    assert model_path is not None
    assert model_path.group(1) == f"{workdir}/models/sentiment.joblib"


def test_dockerignore_is_an_allow_list_matching_the_copies(
    stages: list[list[Instruction]],
) -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert lines[0] == "*", "start by ignoring everything"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied_from_context = {
        path.rstrip("/")
        for stage in stages
        for from_stage, paths in (copy_sources(i) for i in stage if i.keyword == "COPY")
        if from_stage is None
        for path in paths
    }
    assert allowed == copied_from_context
    for path in allowed:
        assert (PROJECT_ROOT / path).exists(), f"{path} is copied but does not exist"
    assert not allowed & {"tests", ".env", "models", ".git", ".venv"}
    assert "**/.env" in lines
