"""The workflows agree with the project: README test command, k8s names, infra names, pins.

These tests read the real files the other parts of the project own (README.md, .ci/run,
k8s/, infra/) so that renaming something on one side without the other fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from tests.ci.support import (
    PROJECT_ROOT,
    SCRIPTS_DIR,
    SHA_PIN,
    WORKFLOW_FILES,
    WORKFLOWS_DIR,
    load_workflow,
    load_yaml,
    rendered_kustomize,
    require_file,
    run,
    steps_of,
    uses_step,
)

CI = "ci.yml"
DEPLOY = "deploy.yml"
INFRA = "infra.yml"


def readme_test_command() -> str:
    """The README's test command: the first line of a fenced code block that starts `make test`."""
    text = require_file(PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    in_fence = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            command = stripped.removeprefix("$ ").split(" #", 1)[0].strip()
            if command == "make test" or command.startswith("make test "):
                return command
    pytest.fail("README.md has no fenced code line starting with `make test`")


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    """(workflow file, job id, job) for every job of every workflow."""
    return [
        (path.name, job_id, job)
        for path in WORKFLOW_FILES
        for job_id, job in load_workflow(path.name)["jobs"].items()
    ]


def all_steps() -> list[tuple[str, dict[str, Any]]]:
    """(workflow file, step) for every step of every job."""
    return [(name, step) for name, _, job in all_jobs() for step in job.get("steps", [])]


def run_text(steps: list[dict[str, Any]]) -> str:
    """Every `run:` script of the steps, joined."""
    return "\n".join(str(step.get("run", "")) for step in steps)


# --- hardening rules that hold for every workflow -------------------------------------------


def test_every_third_party_action_is_pinned_to_a_full_commit_sha_with_its_version() -> None:
    pinned = 0
    for path in WORKFLOW_FILES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if match is None:
                continue
            ref, rest = match.groups()
            if ref.startswith(("./", "docker://")):
                continue
            where = f"{path.name}:{number}: {ref}"
            assert SHA_PIN.match(ref), f"{where} is not pinned to a 40-hex commit SHA"
            assert re.search(r"#\s*v\d+\.\d+\.\d+\b", rest), f"{where} lacks its `# vX.Y.Z` tag"
            pinned += 1
    assert pinned >= 10  # the parser really found the workflows' actions


def test_the_same_action_is_pinned_to_the_same_sha_everywhere() -> None:
    shas: dict[str, set[str]] = {}
    for _, step in all_steps():
        if "uses" in step:
            action, _, sha = str(step["uses"]).partition("@")
            shas.setdefault(action, set()).add(sha)
    assert {action: refs for action, refs in shas.items() if len(refs) > 1} == {}


def test_every_checkout_drops_the_token_after_cloning() -> None:
    checkouts = [
        (name, step)
        for name, step in all_steps()
        if step.get("uses", "").startswith("actions/checkout@")
    ]
    assert len(checkouts) >= 5
    for name, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, name


def test_token_permissions_are_empty_by_default_and_granted_per_job() -> None:
    for path in WORKFLOW_FILES:
        assert load_workflow(path.name).get("permissions") == {}, path.name
    for name, job_id, job in all_jobs():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{name}:{job_id} has no explicit permissions"
        assert "write-all" not in permissions.values()
        writes = {scope for scope, level in permissions.items() if level == "write"}
        # The only write any job needs is its OIDC token for AWS.
        assert writes <= {"id-token"}, f"{name}:{job_id} writes {writes}"


def test_every_job_has_a_timeout() -> None:
    for name, job_id, job in all_jobs():
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int), f"{name}:{job_id}"
        assert 0 < timeout <= 90, f"{name}:{job_id}"


def test_oidc_jobs_use_an_environment_and_no_stored_aws_keys() -> None:
    for name, job_id, job in all_jobs():
        if job["permissions"].get("id-token") == "write":
            assert "environment" in job, f"{name}:{job_id}: the role trusts environments only"
    for path in WORKFLOW_FILES:
        text = path.read_text(encoding="utf-8")
        assert "AWS_ACCESS_KEY_ID" not in text, path.name
        assert "aws-secret-access-key" not in text, path.name


# --- CI ---------------------------------------------------------------------------------------


def test_ci_runs_on_every_push_and_pull_request() -> None:
    triggers = load_workflow(CI)["on"]
    assert set(triggers) == {"push", "pull_request"}
    # No branch or path filters: every push and every pull request is tested.
    assert triggers["push"] is None
    assert triggers["pull_request"] is None


def test_ci_test_step_runs_exactly_the_readme_test_command() -> None:
    command = readme_test_command()
    job = load_workflow(CI)["jobs"]["test"]
    runs = [str(step["run"]).strip() for step in job["steps"] if "run" in step]
    assert command in runs, f"no CI step runs exactly {command!r}: {runs}"
    # Under CI=true the suite fails instead of skipping when a tool is missing.
    assert str(job["env"]["CI"]) == "true"


def test_ci_tests_against_postgresql_15_on_5432() -> None:
    for job_id in ("test", "image"):
        service = load_workflow(CI)["jobs"][job_id]["services"]["postgres"]
        assert service["image"] == "postgres:15"
        assert service["env"]["POSTGRES_USER"] == "postgres"
        assert service["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
        assert "5432:5432" in service["ports"]
        assert "--health-cmd" in service["options"]


def test_ci_tests_every_supported_python_and_the_image_uses_the_newest() -> None:
    job = load_workflow(CI)["jobs"]["test"]
    versions = job["strategy"]["matrix"]["python"]
    assert versions == ["3.11", "3.12", "3.13"]
    assert job["strategy"]["fail-fast"] is False  # one version failing still reports the others
    setup = uses_step(steps_of(load_workflow(CI), "test"), "actions/setup-python")
    assert len(setup) == 1
    assert setup[0]["with"]["python-version"] == "${{ matrix.python }}"
    assert (
        job["env"]["PYTHON"] == "python${{ matrix.python }}"
    )  # what `make test` builds .venv with
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == f">={versions[0]}"
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(
        rf"^ARG PYTHON_IMAGE=python:{re.escape(versions[-1])}\.\d+-slim", dockerfile, re.M
    )


def test_ci_installs_the_system_tools_with_the_projects_own_installer_first() -> None:
    # `make test` calls the installer through its `tools` target, where it can only install as
    # root; the runner user needs sudo, so the workflow runs the very same script before.
    makefile = require_file(PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^tools:.*\n\t(.+)$", makefile, flags=re.MULTILINE)
    assert recipe, "the Makefile has no `tools` target"
    installer = recipe.group(1).strip()
    assert (PROJECT_ROOT / installer.split()[-1]).is_file()
    runs = [str(step.get("run", "")) for step in steps_of(load_workflow(CI), "test")]
    install_at = next(i for i, text in enumerate(runs) if f"sudo {installer}" in text)
    test_at = next(i for i, text in enumerate(runs) if text.strip() == readme_test_command())
    assert install_at < test_at


def test_ci_uploads_the_test_reports_even_when_tests_fail() -> None:
    upload = uses_step(steps_of(load_workflow(CI), "test"), "actions/upload-artifact")
    assert len(upload) == 1
    assert upload[0]["if"] == "always()"
    assert upload[0]["with"]["path"].rstrip("/") == "reports"


def test_ci_builds_the_image_with_a_cache_and_smoke_tests_it() -> None:
    steps = steps_of(load_workflow(CI), "image")
    build = uses_step(steps, "docker/build-push-action")
    assert len(build) == 1
    options = build[0]["with"]
    assert options["load"] is True
    assert options["push"] is False
    assert options["cache-from"] == "type=gha"
    assert options["cache-to"].startswith("type=gha")
    assert uses_step(steps, "docker/setup-buildx-action")
    script = run_text(steps)
    assert "alembic upgrade head" in script
    assert ".github/scripts/smoke-test.sh http://127.0.0.1:8000 --items" in script
    assert any(step.get("if") == "failure()" and "docker logs" in step["run"] for step in steps)


def test_ci_migrates_the_image_with_the_migration_jobs_own_command() -> None:
    job = next(
        o for o in rendered_kustomize(PROJECT_ROOT / "k8s" / "migrate") if o["kind"] == "Job"
    )
    command = " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])
    script = run_text(steps_of(load_workflow(CI), "image"))
    assert f'"$IMAGE" {command}' in script


def test_ci_starts_the_image_with_real_settings_only() -> None:
    settings = {name.upper() for name in Settings.model_fields}
    script = run_text(steps_of(load_workflow(CI), "image"))
    passed = set(re.findall(r"--env ([A-Z_]+)", script))
    assert {"APP_ENV", "DATABASE_URL", "API_KEYS"} <= passed
    assert passed <= settings, f"not settings of the service: {passed - settings}"


# --- deploy -------------------------------------------------------------------------------------

DEPLOY_SCRIPT = SCRIPTS_DIR / "deploy-environment.sh"


def deploy_jobs() -> dict[str, Any]:
    """The deploy workflow's jobs."""
    jobs: dict[str, Any] = load_workflow(DEPLOY)["jobs"]
    return jobs


def test_deploy_runs_after_a_successful_ci_on_main_or_by_hand() -> None:
    workflow = load_workflow(DEPLOY)
    trigger = workflow["on"]["workflow_run"]
    assert trigger["workflows"] == [load_workflow(CI)["name"]]
    assert trigger["types"] == ["completed"]
    assert trigger["branches"] == ["main"]
    assert "workflow_dispatch" in workflow["on"]
    gate = workflow["jobs"]["gate"]
    condition = " ".join(gate["if"].split())
    # workflow_run fires for any CI run, including a fork's pull request from a branch named
    # main: these guards are what make the trigger safe (and justify zizmor's ignore).
    for guard in (
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.event == 'push'",
        "github.event.workflow_run.head_branch == 'main'",
        "github.event.workflow_run.head_repository.full_name == github.repository",
        "github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main'",
    ):
        assert guard in condition, guard
    # Everything else hangs on the gate, which also drops commits main has moved past.
    jobs = deploy_jobs()
    assert jobs["staging"]["needs"] == "gate"
    assert jobs["staging"]["if"] == "needs.gate.outputs.deploy == 'true'"
    assert jobs["production"]["needs"] == "staging"  # only after staging succeeded
    assert gate["outputs"]["deploy"] == "${{ steps.latest.outputs.deploy }}"
    script = run_text(gate["steps"])
    assert "repos/$GITHUB_REPOSITORY/commits/main" in script
    assert '[[ "$head" == "$GIT_SHA" ]]' in script
    for job in ("staging", "production"):
        assert gate["env"]["GIT_SHA"] == jobs[job]["env"]["GIT_SHA"]


def test_deploy_never_cancels_a_running_deployment() -> None:
    concurrency = load_workflow(DEPLOY)["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    assert "${{" not in concurrency["group"]  # one queue for every deployment


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_each_environment_deploys_with_its_own_oidc_role(environment: str) -> None:
    job = deploy_jobs()[environment]
    assert job["environment"]["name"] == environment
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    aws = uses_step(job["steps"], "aws-actions/configure-aws-credentials")
    assert len(aws) == 1
    # vars of the job's environment: each environment's account has its own deploy role.
    assert aws[0]["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert aws[0]["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    assert uses_step(job["steps"], "aws-actions/amazon-ecr-login")
    assert 'aws eks update-kubeconfig --name "$EKS_CLUSTER"' in run_text(job["steps"])


def test_staging_builds_once_and_publishes_the_digest_it_deploys() -> None:
    job = deploy_jobs()["staging"]
    assert job["env"]["GIT_SHA"] == "${{ github.event.workflow_run.head_sha || github.sha }}"
    checkout = uses_step(job["steps"], "actions/checkout")
    assert checkout[0]["with"]["ref"] == "${{ env.GIT_SHA }}"
    builds = uses_step(job["steps"], "docker/build-push-action")
    assert len(builds) == 1
    assert builds[0]["with"]["push"] is True
    assert builds[0]["with"]["tags"] == "${{ steps.image.outputs.ref }}"
    assert "cache-from" not in builds[0]["with"]  # no shared cache feeds a release image
    assert job["outputs"]["digest"] == "${{ steps.digest.outputs.digest }}"
    deploy = job["steps"][-1]
    assert deploy["env"]["DIGEST"] == "${{ steps.digest.outputs.digest }}"
    assert deploy["run"] == '.github/scripts/deploy-environment.sh staging "$IMAGE_NAME" "$DIGEST"'


def test_production_promotes_the_digest_staging_ran_and_builds_nothing() -> None:
    job = deploy_jobs()["production"]
    assert not uses_step(job["steps"], "docker/build-push-action")
    assert job["env"]["DIGEST"] == "${{ needs.staging.outputs.digest }}"
    assert job["env"]["SOURCE_IMAGE"] == "${{ needs.staging.outputs.image }}"
    script = run_text(job["steps"])
    # The manifest is copied unchanged, and the copy's digest is checked to be the same.
    assert (
        'docker buildx imagetools create --tag "$name:$GIT_SHA" "$SOURCE_IMAGE@$DIGEST"' in script
    )
    assert '[[ "$copied" == "$DIGEST" ]]' in script
    deploy = job["steps"][-1]
    assert deploy["run"] == (
        '.github/scripts/deploy-environment.sh production "$IMAGE_NAME" "$DIGEST"'
    )
    assert "DIGEST" not in deploy.get("env", {})  # the job-level one: staging's digest


def test_deploy_names_match_infra() -> None:
    config = require_file(PROJECT_ROOT / "infra" / "itemsense_infra" / "config.py").read_text()
    constants = dict(re.findall(r'^([A-Z_]+) = "([^"]*)"$', config, flags=re.MULTILINE))
    env = load_workflow(DEPLOY)["env"]
    assert env["ECR_REPOSITORY"] == constants["REPOSITORY_NAME"]
    assert env["EKS_CLUSTER"] == constants["CLUSTER_NAME"]
    assert env["NAMESPACE"] == constants["APP_NAMESPACE"]
    script = DEPLOY_SCRIPT.read_text()
    assert f'namespace="{constants["APP_NAMESPACE"]}"' in script


def test_deploy_script_migrates_then_rolls_out_the_environments_overlay() -> None:
    script = DEPLOY_SCRIPT.read_text()
    migrate = rendered_kustomize(PROJECT_ROOT / "k8s" / "migrate")
    [job] = [obj for obj in migrate if obj["kind"] == "Job"]
    assert f'job="{job["metadata"]["name"]}"' in script
    # The script waits longer than the Job may run, so a stuck migration ends as Failed.
    wait = re.search(r'wait-for-job\.sh" "\$job" "\$namespace" (\d+)', script)
    assert wait, "the deploy does not wait for the migration Job"
    assert int(wait.group(1)) > job["spec"]["activeDeadlineSeconds"]
    for environment in ("staging", "production"):
        app = rendered_kustomize(PROJECT_ROOT / "k8s" / "overlays" / environment)
        assert "itemsense-api" in {o["metadata"]["name"] for o in app if o["kind"] == "Deployment"}
    # Order matters: old Job removed, migration applied and awaited, its logs printed, then
    # the app applied, the rollout awaited and smoke-tested, else rolled back.
    order = [
        'kustomize-overlay.sh" k8s/migrate "$work/migrate" "$image" "$digest"',
        'kustomize-overlay.sh" "k8s/overlays/$environment" "$work/app" "$image" "$digest"',
        'kubectl delete job "$job"',
        'kubectl apply -k "$work/migrate"',
        'wait-for-job.sh" "$job" "$namespace"',
        'kubectl logs --namespace "$namespace" --selector "job-name=$job"',
        'kubectl apply -k "$work/app"',
        'kubectl rollout status "deployment/$deployment" --namespace "$namespace" --timeout=10m',
        'kubectl rollout undo "deployment/$deployment"',
    ]
    positions = [script.index(fragment) for fragment in order]
    assert positions == sorted(positions)
    # The smoke test goes through the load balancer, as clients do (no port-forward).
    assert "port-forward" not in script
    assert '"$scripts/smoke-test.sh" "https://$host"' in script
    assert script.rstrip().endswith("exit 1")  # a rollback still fails the run


def test_deploy_only_applies_objects_inside_the_app_namespace(tmp_path: Path) -> None:
    # The deploy role's EKS access entry is scoped to the application namespace (infra
    # ci_access.py, AmazonEKSEditPolicy type=namespace) and infra creates that namespace
    # (cluster.py). So what the pipeline applies, the overlays its script writes, must hold
    # only objects inside it: a cluster-scoped object would be Forbidden on every deploy.
    namespace = load_workflow(DEPLOY)["env"]["NAMESPACE"]
    cluster = require_file(PROJECT_ROOT / "infra" / "itemsense_infra" / "cluster.py").read_text()
    assert "k8s.core.v1.Namespace(" in cluster, "infra no longer creates the app namespace"
    for base in ("k8s/overlays/staging", "k8s/overlays/production", "k8s/migrate"):
        out = tmp_path / base
        digest = "sha256:" + "0" * 64
        result = run(
            ["bash", str(SCRIPTS_DIR / "kustomize-overlay.sh"), base, str(out), "r/i", digest]
        )
        assert result.returncode == 0, result.stderr
        for obj in rendered_kustomize(out):
            where = f"{base}: {obj['kind']}/{obj['metadata']['name']}"
            assert obj["metadata"].get("namespace") == namespace, where


# --- infra --------------------------------------------------------------------------------------


def test_infra_previews_pull_requests_and_applies_main_only_for_infra_changes() -> None:
    workflow = load_workflow(INFRA)
    triggers = workflow["on"]
    assert set(triggers) == {"pull_request", "push"}
    assert "infra/**" in triggers["pull_request"]["paths"]
    assert "infra/**" in triggers["push"]["paths"]
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    jobs = workflow["jobs"]
    commands = {
        job_id: uses_step(job["steps"], "pulumi/actions")[0]["with"] for job_id, job in jobs.items()
    }
    assert commands["preview"]["command"] == "preview"
    assert commands["up"]["command"] == "up"
    assert "pull_request" in jobs["preview"]["if"]
    assert "push" in jobs["up"]["if"]
    assert "refs/heads/main" in jobs["up"]["if"]
    # Staging's stack first, production's only after it succeeded, each in its environment.
    assert jobs["up"]["environment"]["name"] == "${{ matrix.stack }}"
    assert jobs["up"]["strategy"]["max-parallel"] == 1
    assert jobs["up"]["strategy"]["fail-fast"] is True
    for job_id, job in jobs.items():
        assert job["strategy"]["matrix"]["stack"] == ["staging", "production"], job_id
        assert commands[job_id]["stack-name"].endswith("/itemsense/${{ matrix.stack }}")
        assert commands[job_id]["work-dir"] == "infra"
        pulumi = uses_step(job["steps"], "pulumi/actions")[0]
        assert pulumi["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
        # Pulumi runs the program in the virtualenv Pulumi.yaml names: install into that one.
        venv = load_yaml(PROJECT_ROOT / "infra" / "Pulumi.yaml")["runtime"]["options"]["virtualenv"]
        script = run_text(job["steps"])
        assert f"python -m venv infra/{venv}" in script
        assert (
            f"infra/{venv}/bin/python -m pip install --requirement infra/requirements.txt" in script
        )


def test_infra_cli_version_matches_the_pinned_pulumi_sdk() -> None:
    requirements = require_file(PROJECT_ROOT / "infra" / "requirements.txt").read_text()
    match = re.search(r"^pulumi==(\S+)$", requirements, flags=re.MULTILINE)
    assert match, "infra/requirements.txt does not pin pulumi"
    assert load_workflow(INFRA)["env"]["PULUMI_VERSION"] == match.group(1)


def test_dependabot_watches_every_pinned_ecosystem() -> None:
    config = load_yaml(PROJECT_ROOT / ".github" / "dependabot.yml")
    entries = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert {("uv", "/"), ("pip", "/infra"), ("docker", "/"), ("github-actions", "/")} <= entries
    assert (PROJECT_ROOT / "uv.lock").is_file()
    assert (PROJECT_ROOT / "infra" / "requirements.txt").is_file()
    assert (PROJECT_ROOT / "Dockerfile").is_file()


def test_workflow_files_are_the_only_yaml_in_the_workflows_dir() -> None:
    # GitHub only runs *.yml / *.yaml there; a stray .yaml would escape every check above.
    assert sorted(WORKFLOWS_DIR.glob("*.yaml")) == []
