"""The proof's data model: what one test did in one run, what it did across runs, and a
whole proof's result. Every other module of the package builds on this one; it imports none
of them.

Vocabulary, used the same way in code, files and reports:

- an *outcome* is what one test did in one run: passed, failed, skipped, or flaky (it failed
  and then passed within the same run: a Playwright retry, or the same test reported twice);
- a *verdict* is what a test did across runs: **flaky** (it passed in some runs and failed in
  others, or was flaky within any run), **failing** (it failed in every run it ran), **stable**
  (it passed in every run it ran) or **skipped** (it never ran to a result).

A proof is OK only when every run exited 0 and no test is flaky or failing.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from compose_gen.errors import ExitCode

# Where a proof's files go inside its out_dir.
PROOF_FILE_PATTERN = "proof_run{index}.txt"
JUNIT_DIR_NAME = "junit"
REPORT_FILE_NAMES = ("report.md", "report.json", "report.html")


class Outcome(str, enum.Enum):
    """What one test did in one run."""

    PASSED = "passed"
    FAILED = "failed"
    FLAKY = "flaky"  # failed, then passed on retry within the same run
    SKIPPED = "skipped"


class Verdict(str, enum.Enum):
    """What one test did across the runs of a proof."""

    FLAKY = "flaky"
    FAILING = "failing"
    STABLE = "stable"
    SKIPPED = "skipped"


class RunnerKind(str, enum.Enum):
    """The test runners whose JUnit output `prove` knows how to switch on and name."""

    PYTEST = "pytest"
    PLAYWRIGHT = "playwright"
    GENERIC = "generic"


@dataclasses.dataclass(frozen=True)
class CaseResult:
    """One test in one run."""

    test_id: str
    suite: str  # pytest: the test file; Playwright: "[project] › file"; else the classname
    outcome: Outcome
    duration_s: float
    attempts: int = 1


@dataclasses.dataclass(frozen=True)
class RunResult:
    """One completed run of the command."""

    index: int
    argv: tuple[str, ...]
    exit_code: int
    started_at: datetime
    ended_at: datetime
    duration_s: float
    cases: tuple[CaseResult, ...]
    junit_files: tuple[Path, ...]  # copies kept under out_dir/junit/
    proof_file: Path
    note: str | None = None  # why per-test results are missing or disagree with the exit status

    def count(self, outcome: Outcome) -> int:
        return sum(1 for case in self.cases if case.outcome is outcome)

    @property
    def has_test_results(self) -> bool:
        return bool(self.junit_files)

    @property
    def ok(self) -> bool:
        return (self.exit_code == 0 and self.count(Outcome.FAILED) == 0
                and self.count(Outcome.FLAKY) == 0)

    @property
    def closing_line(self) -> str:
        """`<P> passed, <F> failed, <K> flaky[, <S> skipped]`: the last line of the proof file.

        The categories are disjoint: a test flaky within the run is not also counted as passed.
        """
        line = (f"{self.count(Outcome.PASSED)} passed, {self.count(Outcome.FAILED)} failed, "
                f"{self.count(Outcome.FLAKY)} flaky")
        if skipped := self.count(Outcome.SKIPPED):
            line += f", {skipped} skipped"
        if not self.has_test_results:
            line += f" (no per-test results: {self.note}; exit status {self.exit_code})"
        return line


@dataclasses.dataclass(frozen=True)
class CaseVerdict:
    """One test across all runs: its verdict and its outcome in each run (None: not reported)."""

    test_id: str
    suite: str
    verdict: Verdict
    outcomes: tuple[Outcome | None, ...]
    durations_s: tuple[float | None, ...]

    def runs_with(self, outcome: Outcome) -> list[int]:
        return [i for i, seen in enumerate(self.outcomes, start=1) if seen is outcome]


@dataclasses.dataclass(frozen=True)
class ProofResult:
    """Everything a proof found; `ok` and `exit_code` are what the CLI returns."""

    command: tuple[str, ...]
    cwd: Path
    out_dir: Path
    runs_requested: int
    runs: tuple[RunResult, ...]
    verdicts: tuple[CaseVerdict, ...]  # flaky first, then failing, stable, skipped
    stop_reason: str | None = None
    report_files: tuple[Path, ...] = ()

    def count(self, verdict: Verdict) -> int:
        return sum(1 for case in self.verdicts if case.verdict is verdict)

    def tests_with(self, verdict: Verdict) -> list[CaseVerdict]:
        return [case for case in self.verdicts if case.verdict is verdict]

    @property
    def ok(self) -> bool:
        return (len(self.runs) == self.runs_requested
                and all(run.exit_code == 0 for run in self.runs)
                and self.count(Verdict.FLAKY) == 0 and self.count(Verdict.FAILING) == 0)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.FAILURE

    @property
    def summary_line(self) -> str:
        """E.g. `5 runs: 42 passed, 0 failed, 0 flaky` (counts of tests, by verdict)."""
        done = len(self.runs)
        if done == self.runs_requested:
            head = f"{done} run" + ("" if done == 1 else "s")
        else:
            head = f"{done} of {self.runs_requested} runs"
        if self.runs and not any(run.has_test_results for run in self.runs):
            statuses = ", ".join(str(run.exit_code) for run in self.runs)
            return f"{head}: no per-test results (no JUnit XML found); exit status {statuses}"
        line = (f"{head}: {self.count(Verdict.STABLE)} passed, {self.count(Verdict.FAILING)} "
                f"failed, {self.count(Verdict.FLAKY)} flaky")
        if skipped := self.count(Verdict.SKIPPED):
            line += f", {skipped} skipped"
        return line

    def summary(self) -> str:
        """The summary line, then (when not OK) one line per reason: each flaky and failing
        test by id with the runs that show it, runs whose exit status alone failed, and why
        the proof stopped early."""
        lines = [self.summary_line]
        for case in self.tests_with(Verdict.FLAKY):
            lines.append(f"  flaky:   {case.test_id} ({describe_outcomes(case)})")
        for case in self.tests_with(Verdict.FAILING):
            lines.append(f"  failing: {case.test_id} ({describe_outcomes(case)})")
        for run in self.runs:
            if run.exit_code != 0 and run.count(Outcome.FAILED) == 0:
                reason = f" ({run.note})" if run.note else ""
                lines.append(f"  run {run.index} exited with status {run.exit_code}{reason}")
        if self.stop_reason:
            lines.append(f"  {self.stop_reason}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class FlakeRecord:
    """A test's flakiness across past `prove` invocations recorded in the history file."""

    test_id: str
    invocations: int  # invocations in which the test ran (not only skipped)
    flaky_invocations: int  # ... of which its verdict was flaky
    last_flaky_at: str  # ISO time of the last run of the last flaky invocation

    @property
    def rate(self) -> float:
        return self.flaky_invocations / self.invocations if self.invocations else 0.0



def describe_outcomes(case: CaseVerdict) -> str:
    """E.g. `passed in runs 1, 3; failed in run 2; not reported in run 4`."""
    labels = [(Outcome.PASSED, "passed"), (Outcome.FAILED, "failed"),
              (Outcome.FLAKY, "passed on retry"), (Outcome.SKIPPED, "skipped")]
    parts = []
    for outcome, label in labels:
        if indexes := case.runs_with(outcome):
            parts.append(f"{label} in {_runs_phrase(indexes)}")
    if missing := [i for i, seen in enumerate(case.outcomes, start=1) if seen is None]:
        parts.append(f"not reported in {_runs_phrase(missing)}")
    return "; ".join(parts)


def _runs_phrase(indexes: Sequence[int]) -> str:
    return ("run " if len(indexes) == 1 else "runs ") + ", ".join(map(str, indexes))
