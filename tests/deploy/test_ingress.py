"""/metrics is never routed from outside: not by the Ingress rules, not by the ALB's rules.

The ALB side follows the AWS Load Balancer Controller's documented translation: each path of
each rule becomes one listener rule, in order; `Exact` matches the path, `Prefix` the path
and everything below it (`/x` and `/x/*`); unmatched requests get the listener's default
404. The model is then asked where requests for /metrics and for the API would go.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

Objects = list[dict[str, Any]]
SERVICE = "itemsense-api"
METRICS_PATHS = ["/metrics", "/metrics/", "/metrics/x", "/metrics?name[]=up", "/metrics/../x"]
API_PATHS = ["/items", "/items/7", "/predict", "/predict/batch", "/model/info", "/health/ready"]


def ingress(objects: Objects) -> dict[str, Any]:
    """The application's Ingress."""
    [found] = [o for o in objects if o["kind"] == "Ingress"]
    return found


def listener_rules(ing: dict[str, Any]) -> list[tuple[list[str], dict[str, Any]]]:
    """(path patterns, action) per listener rule, in priority order."""
    annotations = ing["metadata"].get("annotations", {})
    rules = []
    for rule in ing["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            value = path["path"]
            if path["pathType"] == "Exact":
                patterns = [value]
            elif path["pathType"] == "Prefix":
                patterns = ["/*"] if value == "/" else [value, value.rstrip("/") + "/*"]
            else:
                patterns = [value]
            backend = path["backend"]["service"]
            if backend["port"].get("name") == "use-annotation":
                action = json.loads(
                    annotations[f"alb.ingress.kubernetes.io/actions.{backend['name']}"]
                )
            else:
                action = {"type": "forward", "service": backend["name"]}
            rules.append((patterns, action))
    return rules


def alb_route(ing: dict[str, Any], request_path: str) -> dict[str, Any]:
    """The action the ALB takes for a request (path patterns are case-sensitive globs)."""
    path = request_path.split("?", 1)[0]
    for patterns, action in listener_rules(ing):
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns):
            return action
    return {"type": "fixed-response", "default": True}


def ingress_prefix_match(prefix: str, path: str) -> bool:
    """Kubernetes `Prefix` semantics: element-wise on `/`-separated parts."""
    want = [p for p in prefix.split("/") if p]
    have = [p for p in path.split("/") if p]
    return have[: len(want)] == want


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_no_ingress_path_to_the_service_covers_metrics(
    rendered_overlays: dict[str, Objects], environment: str
) -> None:
    for rule in ingress(rendered_overlays[environment])["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            if path["backend"]["service"]["name"] != SERVICE:
                continue
            if path["pathType"] == "Exact":
                assert path["path"] != "/metrics"
            else:
                assert not ingress_prefix_match(path["path"], "/metrics"), path


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_alb_answers_metrics_itself_and_forwards_the_api(
    rendered_overlays: dict[str, Objects], environment: str
) -> None:
    ing = ingress(rendered_overlays[environment])
    for path in METRICS_PATHS:
        action = alb_route(ing, path)
        assert action["type"] == "fixed-response", (path, action)
        assert action.get("fixedResponseConfig", {"statusCode": "404"})["statusCode"] == "404"
    for path in API_PATHS:
        assert alb_route(ing, path) == {"type": "forward", "service": SERVICE}, path


def test_the_model_sees_a_catch_all_route_leak_metrics(rendered_app: Objects) -> None:
    # Control: put a catch-all `/` Prefix first, and /metrics would reach the pods.
    leaky = json.loads(json.dumps(ingress(rendered_app)))
    paths = leaky["spec"]["rules"][0]["http"]["paths"]
    catch_all = {"path": "/", "pathType": "Prefix", "backend": paths[1]["backend"]}
    paths.insert(0, catch_all)
    assert alb_route(leaky, "/metrics") == {"type": "forward", "service": SERVICE}
