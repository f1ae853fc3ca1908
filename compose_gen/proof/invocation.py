"""How one run of the proof is started: which test runner the command is, and the options
that make it write JUnit XML where the proof will read it (pure: no I/O).

pytest gets `--junitxml=<file>` unless the command already names one; Playwright gets its
junit reporter added to `--reporter` and the `PLAYWRIGHT_JUNIT_*` variables; anything else
runs untouched.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from compose_gen.proof.model import RunnerKind

# Tokens that may stand before the test runner: package runners and their flags
# (`npx playwright test`, `uv run pytest`, `pnpm exec playwright test`).
_RUNNER_PREFIXES = frozenset(
    {"npx", "bunx", "pnpm", "yarn", "npm", "exec", "dlx", "run", "uv", "poetry", "pipenv",
     "pdm", "hatch"}
)
_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)*)?")
_PYTEST_JUNIT_OPTIONS = ("--junitxml", "--junit-xml")


@dataclasses.dataclass(frozen=True)
class Invocation:
    """How one run is started: the argv actually run, extra env, and where its JUnit XML lands."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    kind: RunnerKind
    junit_path: Path | None  # one file this run writes, or None (a glob, or no JUnit at all)
    owns_junit_path: bool  # True when the file is ours (under out_dir) and may be deleted



def plan_invocation(command: Sequence[str], *, junit_file: Path, cwd: Path,
                    junit_glob: str | None = None) -> Invocation:
    """Decide how to run one run so that it writes JUnit XML we can find (pure: no I/O).

    `junit_file` is where the run should write its JUnit XML when we can ask it to.
    """
    argv = list(command)
    kind, after = detect_runner(argv)
    if junit_glob is not None:
        # The user said where the XML is: run their command untouched.
        return Invocation(tuple(argv), {}, kind, None, owns_junit_path=False)
    if kind is RunnerKind.PYTEST:
        given = _option_value(argv[after:], _PYTEST_JUNIT_OPTIONS)
        if given is not None:
            return Invocation(tuple(argv), {}, kind, cwd / given, owns_junit_path=False)
        argv.insert(after, f"--junitxml={junit_file}")
        return Invocation(tuple(argv), {}, kind, junit_file, owns_junit_path=True)
    if kind is RunnerKind.PLAYWRIGHT:
        argv = _with_junit_reporter(argv, after)
        env = {
            # _FILE since Playwright 1.4x; older versions read _NAME (an absolute path works).
            "PLAYWRIGHT_JUNIT_OUTPUT_FILE": str(junit_file),
            "PLAYWRIGHT_JUNIT_OUTPUT_NAME": str(junit_file),
            # Without this a test that passed on retry looks like a plain pass in the XML;
            # with it, recent Playwright adds Surefire-style <flakyFailure> elements.
            "PLAYWRIGHT_JUNIT_INCLUDE_RETRIES": "1",
        }
        return Invocation(tuple(argv), env, kind, junit_file, owns_junit_path=True)
    return Invocation(tuple(argv), {}, kind, None, owns_junit_path=False)


def detect_runner(argv: Sequence[str]) -> tuple[RunnerKind, int]:
    """The test runner behind `argv`, and the index just past its name (where options go)."""
    for i, token in enumerate(argv):
        name = os.path.basename(token)
        if name in ("pytest", "py.test"):
            return RunnerKind.PYTEST, i + 1
        if _PYTHON_NAME.fullmatch(name):
            rest = list(argv[i + 1:i + 3])
            if rest == ["-m", "pytest"]:
                return RunnerKind.PYTEST, i + 3
            if rest[:1] == ["-mpytest"]:
                return RunnerKind.PYTEST, i + 2
            break
        if name == "playwright" and list(argv[i + 1:i + 2]) == ["test"]:
            return RunnerKind.PLAYWRIGHT, i + 2
        if name in _RUNNER_PREFIXES or token.startswith("-"):
            continue
        break
    return RunnerKind.GENERIC, len(argv)


def _option_value(args: Sequence[str], names: Iterable[str]) -> str | None:
    """The value of `--name=value` or `--name value` among `args` (the last one wins)."""
    value = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        for name in names:
            if arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
            elif arg == name and i + 1 < len(args):
                value = args[i + 1]
    return value


def _with_junit_reporter(argv: list[str], after: int) -> list[str]:
    """Add Playwright's junit reporter to the user's `--reporter`, or `list,junit` if none."""
    for i in range(after, len(argv)):
        arg = argv[i]
        if arg == "--":
            break
        if arg.startswith("--reporter="):
            argv[i] = _add_junit(arg)
            return argv
        if arg == "--reporter" and i + 1 < len(argv):
            argv[i + 1] = _add_junit(argv[i + 1])
            return argv
    argv.insert(after, "--reporter=list,junit")
    return argv


def _add_junit(reporters: str) -> str:
    head, sep, names = reporters.rpartition("=")
    listed = [name for name in names.split(",") if name]
    if "junit" in listed:
        return reporters
    return f"{head}{sep}{','.join([*listed, 'junit'])}"
