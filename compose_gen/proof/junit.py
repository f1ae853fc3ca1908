"""Reading a run's results from JUnit XML: which files the run wrote, and every test in
them named the way its runner names it (a pytest node id, Playwright's `[project] › spec ›
title`), merged to one result per test.
"""

from __future__ import annotations

import contextlib
import glob
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from compose_gen.proof.invocation import Invocation
from compose_gen.proof.model import CaseResult, Outcome, RunnerKind

# Playwright names each <testsuite> after the spec file, relative to the test dir.
_JS_TEST_FILE = re.compile(r"\.[cm]?[jt]sx?$")


def candidates(invocation: Invocation, junit_glob: str | None, cwd: Path,
                      out_dir: Path) -> list[Path]:
    if invocation.junit_path is not None:
        return [invocation.junit_path]
    if junit_glob is None:
        return []
    matches = (cwd / match for match in glob.glob(junit_glob, root_dir=cwd, recursive=True))
    # Our own copies under out_dir must never be read back as the run's results.
    return sorted(path.resolve() for path in matches
                  if path.is_file() and not path.resolve().is_relative_to(out_dir))


def snapshot(paths: Iterable[Path]) -> dict[Path, tuple[int, int, int]]:
    stamps = {}
    for path in paths:
        with contextlib.suppress(OSError):
            stat = path.stat()
            stamps[path] = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    return stamps


def fresh_files(invocation: Invocation, junit_glob: str | None, cwd: Path,
                       out_dir: Path, before: Mapping[Path, tuple[int, int, int]]) -> list[Path]:
    """The JUnit files this run wrote: new, or changed since the snapshot taken before it.

    A snapshot rather than "mtime after start": file systems stamp mtimes with a coarse
    clock that can lag the start time by milliseconds.
    """
    after = snapshot(candidates(invocation, junit_glob, cwd, out_dir))
    return [path for path, stamp in after.items() if before.get(path) != stamp]


def collect_results(sources: Sequence[Path], *, kind: RunnerKind, cwd: Path, junit_dir: Path,
                     index: int) -> tuple[tuple[Path, ...], tuple[CaseResult, ...], str | None]:
    """Parse the run's JUnit files and keep a copy of each under out_dir/junit/."""
    if not sources:
        return (), (), "no JUnit XML found"
    kept: list[Path] = []
    entries: list[CaseResult] = []
    problems: list[str] = []
    for number, source in enumerate(sources, start=1):
        try:
            entries += read_junit(source, kind=kind, root_dir=cwd)
        except (ET.ParseError, OSError) as err:
            problems.append(f"unreadable JUnit XML {source}: {err}")
            continue
        name = f"run{index}.xml" if len(sources) == 1 else f"run{index}-{number}.xml"
        copy = junit_dir / name
        if source != copy:
            junit_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
        kept.append(copy)
    note = "; ".join(problems) if problems else None
    if not kept:
        note = note or "no JUnit XML found"
    return tuple(kept), merge_cases(entries), note


def read_junit(path: Path, *, kind: RunnerKind = RunnerKind.GENERIC,
               root_dir: Path | None = None) -> list[CaseResult]:
    """Every <testcase> of a JUnit XML file, named the way its runner names tests.

    `kind` GENERIC guesses pytest or Playwright from the file itself; `root_dir` helps turn a
    pytest classname back into a file path. Duplicates are kept; see `merge_cases`.
    """
    root = ET.parse(path).getroot()
    pairs = list(_testcases(root, root if root.tag == "testsuite" else None))
    if kind is RunnerKind.GENERIC:
        kind = _guess_flavour(pairs)
    return [_case_result(case, suite, kind, root_dir) for case, suite in pairs]


def _testcases(element: ET.Element,
               suite: ET.Element | None) -> Iterator[tuple[ET.Element, ET.Element | None]]:
    for child in element:
        if child.tag == "testcase":
            yield child, suite
        elif child.tag in ("testsuite", "testsuites"):
            yield from _testcases(child, child if child.tag == "testsuite" else suite)


def _guess_flavour(pairs: Sequence[tuple[ET.Element, ET.Element | None]]) -> RunnerKind:
    if any(case.get("file") for case, _ in pairs) or any(
            suite is not None and suite.get("name") == "pytest" for _, suite in pairs):
        return RunnerKind.PYTEST
    if pairs and all(suite is not None and case.get("classname") == suite.get("name")
                     and _JS_TEST_FILE.search(suite.get("name", "")) for case, suite in pairs):
        return RunnerKind.PLAYWRIGHT
    return RunnerKind.GENERIC


def _case_result(case: ET.Element, suite: ET.Element | None, kind: RunnerKind,
                 root_dir: Path | None) -> CaseResult:
    tags = [child.tag for child in case]
    if "skipped" in tags:
        outcome = Outcome.SKIPPED
    elif "failure" in tags or "error" in tags:
        outcome = Outcome.FAILED
    elif "flakyFailure" in tags or "flakyError" in tags:
        outcome = Outcome.FLAKY
    else:
        outcome = Outcome.PASSED
    retries = sum(1 for tag in tags if tag.startswith(("flaky", "rerun")))
    try:
        duration_s = float(case.get("time") or 0)
    except ValueError:
        duration_s = 0.0
    test_id, suite_name = _name_case(case, suite, kind, root_dir)
    return CaseResult(test_id, suite_name, outcome, duration_s, attempts=1 + retries)


def _name_case(case: ET.Element, suite: ET.Element | None, kind: RunnerKind,
               root_dir: Path | None) -> tuple[str, str]:
    classname = case.get("classname") or ""
    name = case.get("name") or ""
    if kind is RunnerKind.PYTEST:
        return pytest_node_id(classname, name, file=case.get("file"), root_dir=root_dir)
    if kind is RunnerKind.PLAYWRIGHT:
        spec = (suite.get("name") if suite is not None else None) or classname
        project = (suite.get("hostname") if suite is not None else None) or ""
        # PLAYWRIGHT_JUNIT_INCLUDE_PROJECT_IN_TEST_NAME puts the project in the name too.
        name = name.removeprefix(f"[{project}] ") if project else name
        file_label = f"[{project}] › {spec}" if project else spec
        return f"{file_label} › {name}", file_label
    suite_name = classname or (suite.get("name") if suite is not None else None) or "(no suite)"
    return (f"{classname}::{name}" if classname else name), suite_name


def pytest_node_id(classname: str, name: str, *, file: str | None = None,
                   root_dir: Path | None = None) -> tuple[str, str]:
    """pytest's node id and test file from its JUnit `classname` and `name`.

    pytest writes `tests/test_x.py::TestY::test_z[1]` as classname `tests.test_x.TestY`, name
    `test_z[1]`, so the split between module and classes must be found again: from the `file`
    attribute (junit_family=xunit1), else the first prefix that is a file under `root_dir`,
    else at the first capitalised part (pytest collects classes named `Test*`).
    A collection error has an empty classname and the module in `name`.
    """
    parts = [part for part in classname.split(".") if part]
    if not parts:
        module, _ = _split_module(name.split("."), file=file, root_dir=root_dir)
        return module, module
    module, classes = _split_module(parts, file=file, root_dir=root_dir)
    return "::".join([module, *classes, name]), module


def _split_module(parts: list[str], *, file: str | None,
                  root_dir: Path | None) -> tuple[str, list[str]]:
    if file and file.endswith(".py"):
        dotted = file[:-3].replace("/", ".").split(".")
        if parts[:len(dotted)] == dotted:
            return file, parts[len(dotted):]
    if root_dir is not None:
        for end in range(len(parts), 0, -1):
            candidate = "/".join(parts[:end]) + ".py"
            if (root_dir / candidate).is_file():
                return candidate, parts[end:]
    end = next((i for i, part in enumerate(parts) if i > 0 and part[:1].isupper()), len(parts))
    return "/".join(parts[:end]) + ".py", parts[end:]


def merge_cases(entries: Iterable[CaseResult]) -> tuple[CaseResult, ...]:
    """One result per test id for one run.

    The same id can appear more than once (old Playwright retries, `--repeat-each`, several
    JUnit files): a pass and a failure of the same test in one run make it flaky in that run.
    """
    grouped: dict[str, list[CaseResult]] = {}
    for entry in entries:
        grouped.setdefault(entry.test_id, []).append(entry)
    merged = []
    for test_id, group in grouped.items():
        seen = {entry.outcome for entry in group}
        if seen == {Outcome.SKIPPED}:
            outcome = Outcome.SKIPPED
        elif Outcome.FLAKY in seen or {Outcome.PASSED, Outcome.FAILED} <= seen:
            outcome = Outcome.FLAKY
        elif Outcome.FAILED in seen:
            outcome = Outcome.FAILED
        else:
            outcome = Outcome.PASSED
        merged.append(CaseResult(test_id, group[0].suite, outcome,
                                 sum(entry.duration_s for entry in group),
                                 sum(entry.attempts for entry in group)))
    return tuple(merged)
