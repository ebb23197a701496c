"""The deploy pipeline's helper scripts (.github/scripts/), run for real.

- kustomize-overlay.sh is rendered with kubectl's built-in kustomize against the real k8s/
  and k8s/migrate/ directories: the image must be exactly the pushed one, nothing else may
  change, and the tracked kustomizations stay untouched.
- wait-for-job.sh is driven by a stand-in kubectl that answers from Job objects on disk but
  evaluates the script's real jsonpath with the real kubectl (in --local mode, no cluster).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.ci.support import (
    PROJECT_ROOT,
    SCRIPTS_DIR,
    containers_of,
    rendered_kustomize,
    require_tool,
    run,
)

OVERLAY = SCRIPTS_DIR / "kustomize-overlay.sh"
WAIT = SCRIPTS_DIR / "wait-for-job.sh"
REGISTRY_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/itemsense"
WORKLOAD_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet", "CronJob"}


def without_images(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects with every container image blanked, for comparing everything else."""
    result = copy.deepcopy(objects)
    for obj in result:
        if obj["kind"] in WORKLOAD_KINDS:
            for container in containers_of(obj):
                container["image"] = "<image>"
    return result


@pytest.mark.parametrize("base", ["k8s/overlays/staging", "k8s/overlays/production", "k8s/migrate"])
@pytest.mark.parametrize(
    "tag", ["3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39", "1234567890", "sha256:" + "ab" * 32]
)
def test_overlay_pins_every_container_to_the_pushed_image(
    tmp_path: Path, base: str, tag: str
) -> None:
    tracked = (PROJECT_ROOT / base / "kustomization.yaml").read_text()
    out = tmp_path / "overlays" / "x"
    result = run(["bash", str(OVERLAY), base, str(out), REGISTRY_IMAGE, tag])
    assert result.returncode == 0, result.stderr

    rendered = rendered_kustomize(out)
    original = rendered_kustomize(PROJECT_ROOT / base)
    workloads = [obj for obj in rendered if obj["kind"] in WORKLOAD_KINDS]
    assert workloads, f"{base} renders no workload"
    images = {c["image"] for obj in workloads for c in containers_of(obj)}
    # A digits-only SHA must stay a string tag (an unquoted YAML number would break it).
    separator = "@" if tag.startswith("sha256:") else ":"
    assert images == {f"{REGISTRY_IMAGE}{separator}{tag}"}
    # Nothing else changes, except that the platform-owned Namespace is left out.
    kept = [obj for obj in original if obj["kind"] != "Namespace"]
    assert without_images(rendered) == without_images(kept)
    assert (PROJECT_ROOT / base / "kustomization.yaml").read_text() == tracked


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        (REGISTRY_IMAGE, "abc\nimages: []"),
        (REGISTRY_IMAGE, "$(id)"),
        (REGISTRY_IMAGE, ""),
        (REGISTRY_IMAGE, "sha256:abc"),
        ("registry.example.com/itemsense tag", "abc"),
    ],
)
def test_overlay_rejects_what_is_not_an_image_name_and_tag(
    tmp_path: Path, name: str, tag: str
) -> None:
    out = tmp_path / "overlay"
    result = run(["bash", str(OVERLAY), "k8s", str(out), name, tag])
    assert result.returncode != 0
    assert not (out / "kustomization.yaml").exists()


def test_overlay_refuses_a_directory_without_a_kustomization(tmp_path: Path) -> None:
    result = run(["bash", str(OVERLAY), str(tmp_path), str(tmp_path / "o"), REGISTRY_IMAGE, "a"])
    assert result.returncode != 0
    assert "no kustomization.yaml" in result.stderr


# --- wait-for-job.sh ----------------------------------------------------------------------------

FAKE_KUBECTL = """#!/usr/bin/env bash
# Stand-in for `kubectl get job NAME --namespace NS -o jsonpath=EXPR`: answers from the next
# Job object in $FAKE_DIR (state-1.json, state-2.json, ...; the last one repeats). A state
# file holding ERROR simulates an API error. The jsonpath is evaluated by the real kubectl.
set -euo pipefail
echo "$*" >>"$FAKE_DIR/calls"
n=$(( $(cat "$FAKE_DIR/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$FAKE_DIR/count"
state="$FAKE_DIR/state-$n.json"
[[ -f "$state" ]] || state="$(ls "$FAKE_DIR"/state-*.json | sort -V | tail -n 1)"
if [[ "$(cat "$state")" == "ERROR" ]]; then echo "connection refused" >&2; exit 1; fi
[[ "$1 $2" == "get job" ]] || { echo "unexpected: $*" >&2; exit 99; }
exec "$REAL_KUBECTL" annotate --local -f "$state" fake=1 -o "${@: -1}"
"""


def job(*conditions: tuple[str, str]) -> dict[str, Any]:
    """A Job object whose status has the given (type, status) conditions."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "itemsense-migrate", "namespace": "itemsense"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "migrate", "image": "itemsense:x"}],
                }
            }
        },
        "status": {"conditions": [{"type": t, "status": s} for t, s in conditions]},
    }


RUNNING = job()
COMPLETE = job(("SuccessCriteriaMet", "True"), ("Complete", "True"))
FAILED = job(("FailureTarget", "True"), ("Failed", "True"))
# Conditions that are present but False must not count.
COMPLETE_NOT_FAILED = job(("Failed", "False"), ("Complete", "True"))
FAILED_NOT_COMPLETE = job(("Complete", "False"), ("Failed", "True"))


def wait_for_job(
    tmp_path: Path, states: list[dict[str, Any] | str], timeout: int = 60
) -> tuple[int, str, list[str]]:
    """Run wait-for-job.sh against the stand-in kubectl; return (rc, output, kubectl calls)."""
    real_kubectl = require_tool("kubectl")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "kubectl"
    fake.write_text(FAKE_KUBECTL)
    fake.chmod(0o755)
    for number, state in enumerate(states, 1):
        text = state if isinstance(state, str) else json.dumps(state)
        (tmp_path / f"state-{number}.json").write_text(text)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_DIR": str(tmp_path),
        "REAL_KUBECTL": real_kubectl,
        "POLL_INTERVAL": "0",
    }
    result = run(["bash", str(WAIT), "itemsense-migrate", "itemsense", str(timeout)], env=env)
    calls_file = tmp_path / "calls"
    calls = calls_file.read_text().splitlines() if calls_file.exists() else []
    return result.returncode, result.stdout + result.stderr, calls


def test_wait_succeeds_once_the_job_completes(tmp_path: Path) -> None:
    rc, output, calls = wait_for_job(tmp_path, [RUNNING, RUNNING, COMPLETE])
    assert rc == 0, output
    assert len(calls) == 3
    assert calls[0].startswith("get job itemsense-migrate --namespace itemsense -o jsonpath=")


def test_wait_fails_as_soon_as_the_job_fails_instead_of_waiting_for_the_timeout(
    tmp_path: Path,
) -> None:
    # With no sleep between polls, a script that only watched for Complete would poll until
    # its timeout, many times; this one must stop at the first Failed answer.
    rc, output, calls = wait_for_job(tmp_path, [RUNNING, FAILED], timeout=5)
    assert rc == 1
    assert "job/itemsense-migrate failed" in output
    assert len(calls) == 2


def test_wait_reads_only_conditions_whose_status_is_true(tmp_path: Path) -> None:
    rc, output, _ = wait_for_job(tmp_path, [COMPLETE_NOT_FAILED])
    assert rc == 0, output
    rc, output, _ = wait_for_job(tmp_path / "second", [FAILED_NOT_COMPLETE], timeout=5)
    assert rc == 1
    assert "job/itemsense-migrate failed" in output


def test_wait_rides_out_a_transient_api_error(tmp_path: Path) -> None:
    rc, output, calls = wait_for_job(tmp_path, ["ERROR", COMPLETE])
    assert rc == 0, output
    assert len(calls) == 2


def test_wait_gives_up_at_the_timeout(tmp_path: Path) -> None:
    rc, output, _ = wait_for_job(tmp_path, [RUNNING], timeout=0)
    assert rc == 1
    assert "did not finish within 0s" in output
