"""`compose_gen.proof.invocation`: how a proof asks each test runner for JUnit XML (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose_gen.proof.invocation import plan_invocation
from compose_gen.proof.model import RunnerKind


@pytest.mark.parametrize(
    ("command", "argv", "env_keys"),
    [
        (["pytest", "-x"], ["pytest", "--junitxml=/o/j.xml", "-x"], []),
        ([".venv/bin/pytest"], [".venv/bin/pytest", "--junitxml=/o/j.xml"], []),
        (["python3", "-m", "pytest", "tests"],
         ["python3", "-m", "pytest", "--junitxml=/o/j.xml", "tests"], []),
        (["uv", "run", "pytest"], ["uv", "run", "pytest", "--junitxml=/o/j.xml"], []),
        (["npx", "playwright", "test"], ["npx", "playwright", "test", "--reporter=list,junit"],
         ["PLAYWRIGHT_JUNIT_INCLUDE_RETRIES", "PLAYWRIGHT_JUNIT_OUTPUT_FILE",
          "PLAYWRIGHT_JUNIT_OUTPUT_NAME"]),
        (["npx", "playwright", "test", "--reporter", "html"],
         ["npx", "playwright", "test", "--reporter", "html,junit"],
         ["PLAYWRIGHT_JUNIT_INCLUDE_RETRIES", "PLAYWRIGHT_JUNIT_OUTPUT_FILE",
          "PLAYWRIGHT_JUNIT_OUTPUT_NAME"]),
        (["playwright", "test", "--reporter=junit,line"],
         ["playwright", "test", "--reporter=junit,line"],
         ["PLAYWRIGHT_JUNIT_INCLUDE_RETRIES", "PLAYWRIGHT_JUNIT_OUTPUT_FILE",
          "PLAYWRIGHT_JUNIT_OUTPUT_NAME"]),
        (["python", "manage.py", "test"], ["python", "manage.py", "test"], []),
        (["make", "test"], ["make", "test"], []),
    ],
    ids=["pytest", "venv-pytest", "python-m-pytest", "uv-run-pytest", "npx-playwright",
         "playwright-own-reporter", "playwright-already-junit", "other-python", "make"],
)
def test_plan_invocation_asks_known_runners_for_junit(
        command: list[str], argv: list[str], env_keys: list[str]) -> None:
    plan = plan_invocation(command, junit_file=Path("/o/j.xml"), cwd=Path("/w"))
    assert list(plan.argv) == argv
    assert sorted(plan.env) == env_keys


def test_plan_invocation_reads_the_users_own_junitxml() -> None:
    plan = plan_invocation(["pytest", "--junitxml", "out/results.xml"],
                           junit_file=Path("/o/j.xml"), cwd=Path("/w"))
    assert plan.argv == ("pytest", "--junitxml", "out/results.xml")
    assert plan.junit_path == Path("/w/out/results.xml") and not plan.owns_junit_path
    assert plan.kind is RunnerKind.PYTEST
