"""infra/README.md and k8s/README.md walk an operator from an empty AWS account to
`curl https://<host>/health` and an alert firing: every repository file they name exists,
and every command they give is a real tool or one of the repository's own scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.support import PROJECT_ROOT, code_snippets, fenced_blocks

WALKTHROUGHS = [PROJECT_ROOT / "infra" / "README.md", PROJECT_ROOT / "k8s" / "README.md"]
# The outside tools the walkthroughs use (installed by the operator, see infra/README.md).
TOOLS = {"aws", "pulumi", "kubectl", "gh", "curl", "jq", "python3", "sleep", "cd", "base64"}
# Made by the walkthrough's own commands (`pulumi install` creates the program's virtualenv).
GENERATED = {"infra/venv"}
SHELL_WORDS = {"export", "image=", "digest=", "secret=", "password="}
_REPO_PATH = re.compile(
    r"(?<![\w/.-])((?:\.github|infra|k8s|monitoring|scripts|tests|docs)/[\w./<>-]*[\w/])"
)


def rel(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def named_paths(text: str) -> set[str]:
    """Repository paths in the document's code (fenced and inline), placeholders excluded."""
    return {
        match
        for snippet in code_snippets(text)
        for match in _REPO_PATH.findall(snippet)
        if "<" not in match
    }


def commands(text: str) -> list[str]:
    """The first word of every command line in the shell blocks (continuations skipped)."""
    found = []
    for block in fenced_blocks(text, "sh") + fenced_blocks(text, "bash"):
        continued = False
        for line in block.splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#") and not continued:
                found.append(stripped.split()[0])
            continued = stripped.endswith("\\")
    return found


@pytest.mark.parametrize("document", WALKTHROUGHS, ids=rel)
def test_every_file_named_exists(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    paths = named_paths(text)
    assert paths, f"{rel(document)} names no repository file"
    missing = sorted(
        path for path in paths - GENERATED if not (PROJECT_ROOT / path.rstrip("/")).exists()
    )
    assert not missing, f"{rel(document)} names missing files: {missing}"


@pytest.mark.parametrize("document", WALKTHROUGHS, ids=rel)
def test_every_command_is_a_known_tool_or_a_repository_script(document: Path) -> None:
    unknown = []
    for word in commands(document.read_text(encoding="utf-8")):
        if word in TOOLS or any(word.startswith(prefix) for prefix in SHELL_WORDS):
            continue
        if "/" in word and (PROJECT_ROOT / word).is_file():
            continue
        unknown.append(word)
    assert not unknown, f"{rel(document)}: {unknown}"


def test_the_walkthroughs_reach_the_health_check_and_an_alert() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in WALKTHROUGHS)
    assert "curl -s https://" in text and "/health" in text
    assert "pulumi up" in text
    assert "deploy-environment.sh" in text
    assert "/api/v1/alerts" in text  # the cluster Prometheus shows the alert firing


def test_path_and_command_extraction() -> None:
    doc = (
        "See `k8s/base/ingress.yaml`.\n"
        "```sh\nkubectl get x \\\n  --y\n# c\n.github/scripts/a.sh\n```\n"
    )
    assert named_paths(doc) == {"k8s/base/ingress.yaml", ".github/scripts/a.sh"}
    assert commands(doc) == ["kubectl", ".github/scripts/a.sh"]
