"""docker-compose.yml: valid compose spec, credentials from .env, wired to the app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import (
    PROJECT_ROOT,
    SERVER_COMMAND,
    load_yaml,
    require_tool,
    run,
    settings_env_names,
)

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
APP_SERVICES = ("migrate", "api")
# `${VAR:?message}`: compose refuses to start when VAR is unset or empty.
REQUIRED = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?[^}]*\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file with YAML merge keys resolved."""
    data = load_yaml(COMPOSE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services by name."""
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def test_valid_against_the_compose_spec() -> None:
    checker = require_tool("check-jsonschema")
    result = run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_check_rejects_an_invalid_file(tmp_path: Path) -> None:
    # Control: the schema really applies (a misspelt key must fail).
    checker = require_tool("check-jsonschema")
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  api:\n    image: x\n    depends_onn: [db]\n")
    result = run([checker, "--builtin-schema", "vendor.compose-spec", str(bad)])
    assert result.returncode != 0


def test_the_five_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"db", "migrate", "api", "prometheus", "grafana"}


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service["image"]
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
    assert re.fullmatch(r"postgres:15\.\d+(-\w+)?", services["db"]["image"])


def test_no_credential_is_hard_coded(services: dict[str, dict[str, Any]]) -> None:
    secrets = {
        "db": ["POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"],
        "grafana": ["GF_SECURITY_ADMIN_PASSWORD"],
        "api": ["API_KEYS"],
    }
    for name, keys in secrets.items():
        for key in keys:
            value = services[name]["environment"][key]
            assert REQUIRED.fullmatch(value), f"{name}.{key} must be ${{VAR:?...}}, got {value!r}"
    for name in APP_SERVICES:
        url = services[name]["environment"]["DATABASE_URL"]
        assert set(REQUIRED.findall(url)) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
        assert url.startswith("postgresql+psycopg2://")
        assert "@db:5432/" in url


def strings_in(node: Any) -> list[str]:
    """Every string value in a parsed YAML tree."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings_in(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings_in(value)]
    return [node] if isinstance(node, str) else []


def test_required_variables_are_the_documented_ones(compose: dict[str, Any]) -> None:
    # The lead's .env.example must list exactly these (reported in the deploy notes).
    required = {name for value in strings_in(compose) for name in REQUIRED.findall(value)}
    assert required == {
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
        "API_KEYS",
        "GRAFANA_ADMIN_PASSWORD",
    }


def test_db_is_healthchecked_with_a_named_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    db = services["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data"
    assert volume[0] in compose["volumes"], "a named volume, not a bind mount"


def test_start_order_db_then_migrate_then_api(services: dict[str, dict[str, Any]]) -> None:
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["migrate"]["restart"] == "no"
    assert services["api"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert "command" not in services["api"], "the api runs the image's CMD"


def test_app_services_share_one_hardened_image(services: dict[str, dict[str, Any]]) -> None:
    migrate, api = services["migrate"], services["api"]
    assert migrate["image"] == api["image"]
    assert migrate["build"] == api["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    for service in (migrate, api):
        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]
        assert service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]


def test_app_environment_is_made_of_real_settings(services: dict[str, dict[str, Any]]) -> None:
    known = settings_env_names()
    for name in APP_SERVICES:
        assert set(services[name]["environment"]) <= known, name


def test_app_environment_is_accepted_by_settings(services: dict[str, dict[str, Any]]) -> None:
    from app.config import Settings

    sample = {"POSTGRES_USER": "u", "POSTGRES_PASSWORD": "p", "POSTGRES_DB": "d", "API_KEYS": "k"}

    def interpolate(value: str) -> str:
        value = REQUIRED.sub(lambda m: sample[m.group(1)], value)
        return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)

    env = {k.lower(): interpolate(str(v)) for k, v in services["api"]["environment"].items()}
    settings = Settings.model_validate(env)  # validates the values only: no env, no .env
    assert settings.database_url == "postgresql+psycopg2://u:p@db:5432/d"
    assert settings.app_env == "production"


def test_api_port_is_the_server_port_on_loopback(services: dict[str, dict[str, Any]]) -> None:
    server_port = SERVER_COMMAND[SERVER_COMMAND.index("--port") + 1]
    assert services["api"]["ports"] == [f"127.0.0.1:{server_port}:{server_port}"]
    for name in ("prometheus", "grafana"):
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"]), name


def test_prometheus_scrapes_the_api_service_on_the_server_port() -> None:
    config = load_yaml(PROJECT_ROOT / "monitoring" / "prometheus.yml")
    server_port = SERVER_COMMAND[SERVER_COMMAND.index("--port") + 1]
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "itemsense-api")
    assert job["static_configs"][0]["targets"] == [f"api:{server_port}"]
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_monitoring_mounts_point_at_files_in_the_repo(services: dict[str, dict[str, Any]]) -> None:
    prometheus_mounts = {
        source: target
        for source, target, *_ in (v.split(":") for v in services["prometheus"]["volumes"])
        if source.startswith("./")
    }
    assert prometheus_mounts == {
        "./monitoring/prometheus.yml": "/etc/prometheus/prometheus.yml",
        # prometheus.yml loads rules/*.yml relative to itself
        "./monitoring/rules": "/etc/prometheus/rules",
    }
    grafana_mounts = {
        source: target
        for source, target, *_ in (v.split(":") for v in services["grafana"]["volumes"])
        if source.startswith("./")
    }
    assert grafana_mounts["./monitoring/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = load_yaml(PROJECT_ROOT / "monitoring/grafana/provisioning/dashboards/itemsense.yml")
    dashboards_target = provider["providers"][0]["options"]["path"]
    assert grafana_mounts["./monitoring/grafana/dashboards"] == dashboards_target
    for source in [*prometheus_mounts, *grafana_mounts]:
        assert (PROJECT_ROOT / source).exists(), source
    command = services["prometheus"]["command"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
