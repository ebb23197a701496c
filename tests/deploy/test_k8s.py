"""k8s/ (every overlay) and k8s/migrate/: rendered by kustomize, valid for the pinned
Kubernetes version, clean under checkov, and consistent with the image and the application
they run. The objects checked one by one are production's; tests/deploy/test_environments.py
compares the environments."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.deploy.support import (
    APP_UID,
    BASE_DIR,
    K8S_DIR,
    PROJECT_ROOT,
    SERVER_COMMAND,
    dockerfile_stages,
    exec_form,
    load_yaml,
    require_tool,
    run,
    settings_env_names,
)

KUBERNETES_VERSION = "1.34"  # pinned by infra/
VALIDATE_HINT = "kubernetes-validate: a dev dependency, installed by make test"
Objects = list[dict[str, Any]]


def one(objects: Objects, kind: str, name: str | None = None) -> dict[str, Any]:
    """The single object of this kind (and name)."""
    found = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod template spec of a Deployment or Job."""
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def image_cmd() -> list[str]:
    """The Dockerfile's runtime CMD."""
    runtime = dockerfile_stages((PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8"))[-1]
    return exec_form(next(i.value for i in runtime if i.keyword == "CMD"))


@pytest.fixture(scope="module")
def deployment(rendered_app: Objects) -> dict[str, Any]:
    """The rendered itemsense-api Deployment."""
    return one(rendered_app, "Deployment", "itemsense-api")


@pytest.fixture(scope="module")
def api(deployment: dict[str, Any]) -> dict[str, Any]:
    """Its container `api`."""
    containers = pod_spec(deployment)["containers"]
    assert [c["name"] for c in containers] == ["api"]
    container: dict[str, Any] = containers[0]
    return container


@pytest.fixture(scope="module")
def job(rendered_migrate: Objects) -> dict[str, Any]:
    """The rendered itemsense-migrate Job."""
    return one(rendered_migrate, "Job", "itemsense-migrate")


@pytest.fixture(scope="module")
def checkov_report(rendered_files: list[Path]) -> dict[str, Any]:
    """One checkov run over both renders (it is slow to start: once per session)."""
    checkov = require_tool("checkov")
    args = [checkov, "--skip-download", "--framework", "kubernetes", "-o", "json"]
    for path in rendered_files:
        args += ["-f", str(path)]
    result = run(args)
    report: dict[str, Any] = json.loads(result.stdout)
    report["returncode"] = result.returncode
    return report


# --- tools --------------------------------------------------------------------------------


def test_kubernetes_validate_strict_passes(rendered_files: list[Path]) -> None:
    validate = require_tool("kubernetes-validate", VALIDATE_HINT)
    result = run(
        [
            validate,
            "--strict",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            *map(str, rendered_files),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "against version 1.34" in result.stdout
    for kind in ("deployment", "job", "horizontalpodautoscaler", "networkpolicy", "ingress"):
        assert f"passed for resource {kind}/" in result.stdout


def test_kubernetes_validate_strict_rejects_unknown_fields(
    tmp_path: Path, deployment: dict[str, Any]
) -> None:
    # Control: a misspelt field (the classic silent mistake) must fail strict validation.
    broken = json.loads(json.dumps(deployment))
    pod_spec(broken)["containers"][0]["livenesProbe"] = {"httpGet": {"path": "/", "port": 1}}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    validate = require_tool("kubernetes-validate", VALIDATE_HINT)
    result = run([validate, "--strict", "--kubernetes-version", KUBERNETES_VERSION, str(path)])
    assert result.returncode != 0
    assert "livenesProbe" in result.stdout + result.stderr


def test_checkov_has_no_failures(checkov_report: dict[str, Any]) -> None:
    results = checkov_report["results"]
    failed = [(c["check_id"], c["resource"]) for c in results["failed_checks"]]
    assert checkov_report["summary"]["failed"] == 0, failed
    assert checkov_report["returncode"] == 0
    scanned = {c["resource"].split(".")[0] for c in results["passed_checks"]}
    assert {"Deployment", "Job", "Service", "ServiceAccount", "Ingress"} <= scanned


def test_every_checkov_skip_is_annotated_with_a_reason(
    checkov_report: dict[str, Any], rendered_app: Objects, rendered_migrate: Objects
) -> None:
    for check in checkov_report["results"]["skipped_checks"]:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 40, f"{check['check_id']} on {check['resource']}: {reason!r}"
    for obj in [*rendered_app, *rendered_migrate]:
        for key, value in obj["metadata"].get("annotations", {}).items():
            if key.startswith("checkov.io/skip"):
                assert re.fullmatch(r"CKV2?_K8S_\d+=.{40,}", value, re.DOTALL), value


def test_example_secret_is_not_applied(rendered_app: Objects, rendered_migrate: Objects) -> None:
    assert not [o for o in [*rendered_app, *rendered_migrate] if o["kind"] == "Secret"]
    example = load_yaml(BASE_DIR / "secret.example.yaml")
    assert example["metadata"]["name"] == "itemsense-secrets"
    assert set(example["stringData"]) == {"DATABASE_URL", "API_KEYS"}
    assert all("CHANGE-ME" in value for value in example["stringData"].values())
    for kustomization in (BASE_DIR / "kustomization.yaml", K8S_DIR / "migrate/kustomization.yaml"):
        assert "secret.example.yaml" not in load_yaml(kustomization)["resources"]


# --- names, images, namespace -------------------------------------------------------------


def test_everything_lives_in_the_itemsense_namespace(
    rendered_app: Objects, rendered_migrate: Objects
) -> None:
    # The Namespace itself belongs to infra/ (the deploy role is scoped to it), never to -k.
    assert not [obj for obj in [*rendered_app, *rendered_migrate] if obj["kind"] == "Namespace"]
    for obj in [*rendered_app, *rendered_migrate]:
        assert obj["metadata"]["namespace"] == "itemsense", obj["metadata"]["name"]


def test_both_kustomizations_pin_the_same_image_by_tag(
    api: dict[str, Any], job: dict[str, Any]
) -> None:
    image = api["image"]
    assert re.fullmatch(r"itemsense(:[\w.-]+|@sha256:[0-9a-f]{64})", image), image
    assert not image.endswith(":latest")
    assert pod_spec(job)["containers"][0]["image"] == image
    for path in (BASE_DIR / "kustomization.yaml", K8S_DIR / "migrate/kustomization.yaml"):
        images = load_yaml(path)["images"]
        assert [i["name"] for i in images] == ["itemsense"], path


# --- the Deployment ----------------------------------------------------------------------


def test_replicas_and_rollout(deployment: dict[str, Any], rendered_app: Objects) -> None:
    spec = deployment["spec"]
    hpa = one(rendered_app, "HorizontalPodAutoscaler", "itemsense-api")
    assert spec["replicas"] >= 2
    assert spec["replicas"] == hpa["spec"]["minReplicas"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_probes_use_real_routes_that_answer(
    api: dict[str, Any], app_routes: set[tuple[str, str]], live_client: TestClient
) -> None:
    paths = {
        kind: api[kind]["httpGet"]["path"]
        for kind in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    # Start-up holds traffic until the database answered; readiness then means "can serve"
    # (a database outage keeps pods in the load balancer); liveness touches nothing.
    assert paths["startupProbe"] == "/health"
    assert paths["readinessProbe"] == "/health/ready"
    assert paths["livenessProbe"] == "/health/live"
    for kind, path in paths.items():
        assert ("GET", path) in app_routes, kind
        assert live_client.get(path).status_code == 200, kind
        assert api[kind]["httpGet"]["port"] == "http"


def test_container_port_is_the_server_port(api: dict[str, Any]) -> None:
    # The image's CMD is the server command; the manifest must not override it.
    assert "command" not in api
    assert "args" not in api
    command = image_cmd()
    assert command == SERVER_COMMAND
    assert api["ports"] == [
        {
            "name": "http",
            "containerPort": int(command[command.index("--port") + 1]),
            "protocol": "TCP",
        }
    ]


def test_startup_budget_is_separate_from_liveness(api: dict[str, Any]) -> None:
    startup, liveness = api["startupProbe"], api["livenessProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60
    assert liveness["failureThreshold"] * liveness["periodSeconds"] <= 60


def test_grace_period_covers_pre_stop_and_graceful_shutdown(
    deployment: dict[str, Any], api: dict[str, Any]
) -> None:
    command = image_cmd()
    graceful = int(command[command.index("--timeout-graceful-shutdown") + 1])
    pre_stop = api["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop >= 5
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > pre_stop + graceful


def test_resources_requests_and_limits(api: dict[str, Any], job: dict[str, Any]) -> None:
    for container in (api, pod_spec(job)["containers"][0]):
        resources = container["resources"]
        for section in ("requests", "limits"):
            assert set(resources[section]) == {"cpu", "memory"}, container["name"]


@pytest.mark.parametrize("workload", ["deployment", "job"])
def test_restricted_security_context(workload: str, request: pytest.FixtureRequest) -> None:
    obj = request.getfixturevalue(workload)
    spec = pod_spec(obj)
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] not in {"", "default"}
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] == APP_UID
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in spec["containers"]:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["runAsUser"] == APP_UID
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]


def test_service_accounts_exist_without_tokens(
    deployment: dict[str, Any],
    job: dict[str, Any],
    rendered_app: Objects,
    rendered_migrate: Objects,
) -> None:
    # Each kustomization carries the account it uses (the Job runs before k8s/ exists).
    for workload, objects in ((deployment, rendered_app), (job, rendered_migrate)):
        account = one(objects, "ServiceAccount", pod_spec(workload)["serviceAccountName"])
        assert account["automountServiceAccountToken"] is False


def test_spread_across_zones_and_nodes(deployment: dict[str, Any]) -> None:
    constraints = pod_spec(deployment)["topologySpreadConstraints"]
    keys = {c["topologyKey"] for c in constraints}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for constraint in constraints:
        assert constraint["labelSelector"]["matchLabels"].items() <= pod_labels.items()


def test_secrets_by_reference_and_settings_from_the_configmap(
    api: dict[str, Any], rendered_app: Objects
) -> None:
    from_secret = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in api["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert from_secret == {
        "DATABASE_URL": {"name": "itemsense-secrets", "key": "DATABASE_URL"},
        "API_KEYS": {"name": "itemsense-secrets", "key": "API_KEYS"},
    }
    assert not [e for e in api["env"] if "value" in e], "plain values belong in the ConfigMap"
    assert api["envFrom"] == [{"configMapRef": {"name": "itemsense-config"}}]
    config = one(rendered_app, "ConfigMap", "itemsense-config")["data"]
    assert config["APP_ENV"] == "production"
    assert not set(config) & {"DATABASE_URL", "API_KEYS"}


def test_every_variable_set_in_the_manifests_is_a_setting(
    api: dict[str, Any], job: dict[str, Any], rendered_app: Objects
) -> None:
    known = settings_env_names()
    config = one(rendered_app, "ConfigMap", "itemsense-config")["data"]
    names = set(config) | {e["name"] for e in api["env"]}
    names |= {e["name"] for e in pod_spec(job)["containers"][0]["env"]}
    assert names <= known, names - known


def test_configmap_values_are_accepted_by_settings(rendered_app: Objects) -> None:
    from app.config import Settings

    config = one(rendered_app, "ConfigMap", "itemsense-config")["data"]
    values = {key.lower(): value for key, value in config.items()}
    settings = Settings.model_validate({**values, "api_keys": "k"})  # no env, no .env
    assert settings.app_env == "production"
    assert str(settings.model_path) == "/app/models/sentiment.joblib"
    # A pooled connection for every worker thread: requests never wait on the pool.
    assert settings.db_pool_size >= settings.threadpool_size


def test_model_path_is_where_the_image_puts_the_model(rendered_app: Objects) -> None:
    config = one(rendered_app, "ConfigMap", "itemsense-config")["data"]
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"MODEL_PATH={config['MODEL_PATH']}" in dockerfile


def test_service_monitor_scrapes_the_services_pods_on_metrics(
    rendered_app: Objects, app_routes: set[tuple[str, str]]
) -> None:
    monitor = one(rendered_app, "ServiceMonitor", "itemsense-api")["spec"]
    service = one(rendered_app, "Service", "itemsense-api")
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert ("GET", endpoint["path"]) in app_routes
    # The operator names the job after the Service: the name every alert rule selects.
    assert "jobLabel" not in monitor
    assert service["metadata"]["name"] == "itemsense-api"


# --- Service, HPA, PDB, NetworkPolicy -----------------------------------------------------


def test_service_is_internal_and_maps_80_to_the_container_port(
    rendered_app: Objects, deployment: dict[str, Any], api: dict[str, Any]
) -> None:
    service = one(rendered_app, "Service", "itemsense-api")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert api["ports"][0]["name"] == "http"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_hpa_scales_the_deployment_on_cpu(rendered_app: Objects) -> None:
    hpa = one(rendered_app, "HorizontalPodAutoscaler", "itemsense-api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "itemsense-api",
    }
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


def test_pdb_selects_the_api_pods(rendered_app: Objects, deployment: dict[str, Any]) -> None:
    pdb = one(rendered_app, "PodDisruptionBudget", "itemsense-api")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1


def test_network_policies(
    rendered_app: Objects,
    rendered_migrate: Objects,
    deployment: dict[str, Any],
    job: dict[str, Any],
) -> None:
    deny = one(rendered_app, "NetworkPolicy", "default-deny-all")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for objects, workload, ingress_ports in (
        (rendered_app, deployment, [{"protocol": "TCP", "port": 8000}]),
        (rendered_migrate, job, None),
    ):
        policy = one(objects, "NetworkPolicy", workload["metadata"]["name"])["spec"]
        pod_labels = workload["spec"]["template"]["metadata"]["labels"]
        assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        if ingress_ports is None:
            assert policy["ingress"] == []
        else:
            # Prometheus, then the load balancer (its peers: tests/deploy/test_environments.py).
            assert [rule["ports"] for rule in policy["ingress"]] == [ingress_ports] * 2
        egress_ports = sorted(
            (p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"]
        )
        assert egress_ports == [("TCP", 53), ("TCP", 5432), ("UDP", 53)]


# --- the migration Job --------------------------------------------------------------------


def test_migration_job(job: dict[str, Any]) -> None:
    spec = job["spec"]
    assert spec["backoffLimit"] >= 1
    assert 0 < spec["activeDeadlineSeconds"] <= 1800
    assert spec["ttlSecondsAfterFinished"] > 0
    assert pod_spec(job)["restartPolicy"] == "Never"
    container = pod_spec(job)["containers"][0]
    assert container["command"] == ["alembic", "upgrade", "head"]
    assert container["env"] == [
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "itemsense-secrets", "key": "DATABASE_URL"}},
        }
    ]
    assert (PROJECT_ROOT / "alembic.ini").exists()
