"""Every problem type the service answers with is documented in docs/problems.md."""

from __future__ import annotations

import re

import app.main  # noqa: F401  (imports every domain, so every AppError subclass exists)
from app import PROJECT_ROOT
from app.errors import INVALID_REQUEST, PROBLEM_TYPES, AppError

DOC = PROJECT_ROOT / "docs" / "problems.md"


def _subclasses(cls: type[AppError]) -> list[type[AppError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_each_problem_type_has_its_heading() -> None:
    headings = set(re.findall(r"^## ([a-z-]+)$", DOC.read_text(encoding="utf-8"), re.MULTILINE))
    types = {error.problem_type for error in _subclasses(AppError)}
    types |= {INVALID_REQUEST, PROBLEM_TYPES + "unhealthy"}
    assert len(types) >= 6
    for problem_type in types:
        assert problem_type.startswith(PROBLEM_TYPES), problem_type
        assert problem_type.removeprefix(PROBLEM_TYPES) in headings, problem_type
    assert headings == {t.removeprefix(PROBLEM_TYPES) for t in types}
