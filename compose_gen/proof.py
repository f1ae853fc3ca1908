"""Prove a test suite is not flaky: run it N times and judge every test by its JUnit XML.

`prove` runs the test command N times in order (never through a shell), streams its output to
the caller line by line and into `proof_run<i>.txt`, reads each run's per-test results from
JUnit XML, and writes `report.md`, `report.json` and `report.html` (see `proof_report`).

Vocabulary, used the same way in code, files and reports:

- an *outcome* is what one test did in one run: passed, failed, skipped, or flaky (it failed
  and then passed within the same run: a Playwright retry, or the same test reported twice);
- a *verdict* is what a test did across runs: **flaky** (it passed in some runs and failed in
  others, or was flaky within any run), **failing** (it failed in every run it ran), **stable**
  (it passed in every run it ran) or **skipped** (it never ran to a result).

A proof is OK only when every run exited 0 and no test is flaky or failing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import glob
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import filelock

from compose_gen.errors import ComposeGenError, ExitCode, Interrupted, UsageError

# After Ctrl-C the command gets SIGINT and this long to tear down (a test suite may be
# stopping its own Compose stack), then SIGKILL.
INTERRUPT_GRACE_SECONDS = 10.0
# A process the command left behind may keep its stdout open after the command exited; wait
# this long for end-of-file, then stop reading rather than hang.
OUTPUT_DRAIN_SECONDS = 5.0
HISTORY_FILE_NAME = "history.jsonl"
PROOF_FILE_PATTERN = "proof_run{index}.txt"
JUNIT_DIR_NAME = "junit"
REPORT_FILE_NAMES = ("report.md", "report.json", "report.html")

# Tokens that may stand before the test runner: package runners and their flags
# (`npx playwright test`, `uv run pytest`, `pnpm exec playwright test`).
_RUNNER_PREFIXES = frozenset(
    {"npx", "bunx", "pnpm", "yarn", "npm", "exec", "dlx", "run", "uv", "poetry", "pipenv",
     "pdm", "hatch"}
)
_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)*)?")
_PYTEST_JUNIT_OPTIONS = ("--junitxml", "--junit-xml")
# Playwright names each <testsuite> after the spec file, relative to the test dir.
_JS_TEST_FILE = re.compile(r"\.[cm]?[jt]sx?$")


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
class Invocation:
    """How one run is started: the argv actually run, extra env, and where its JUnit XML lands."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    kind: RunnerKind
    junit_path: Path | None  # one file this run writes, or None (a glob, or no JUnit at all)
    owns_junit_path: bool  # True when the file is ours (under out_dir) and may be deleted


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


# --------------------------------------------------------------------------- running


def prove(
    command: Sequence[str],
    *,
    runs: int = 5,
    out_dir: Path,
    junit_glob: str | None = None,
    keep_going: bool = False,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    echo: Callable[[str], None] | None = None,
    history_dir: Path | None = None,
) -> ProofResult:
    """Run `command` up to `runs` times and judge each test's stability across the runs.

    - `command` is an argv list, run without a shell. pytest (`pytest`, `py.test`,
      `python -m pytest`, also behind `uv run`/`poetry run`) gets `--junitxml=<out_dir>/junit/
      run<i>.xml` unless it already has one; Playwright (`[npx] playwright test`) gets the
      junit reporter added to `--reporter` (or `--reporter=list,junit`, which replaces the
      config's reporters for the proof) and `PLAYWRIGHT_JUNIT_OUTPUT_FILE` set. With
      `junit_glob` nothing is injected: the files matching it (relative to `cwd`) that the run
      created or changed are read instead. Without any JUnit XML a run's result is its exit
      status alone, and its proof file says so.
    - `keep_going=False` (the default) is fail-fast: the proof stops after the first run that
      failed (non-zero exit, or a failed or flaky test), since "0 flaky over N runs" can no
      longer hold; the report then covers the completed runs and says it stopped early.
      `keep_going=True` runs all N regardless, to measure how flaky the suite is.
    - `out_dir` gets `proof_run<i>.txt`, `junit/` and the reports; files of an earlier proof
      there are removed first. A relative `out_dir` is taken from the current directory.
    - `env` is added to (and overrides) the current environment; `cwd` (default: the current
      directory) is where the command runs and what `junit_glob` is relative to; `echo` gets
      every output line as it arrives, plus one line when each run starts and ends.
    - `history_dir`, when given, gets each completed run's per-test outcomes appended to
      `history.jsonl` (see `flake_history`).

    Raises `UsageError` when the command cannot be started (checked before anything is
    written), and `Interrupted` on Ctrl-C after stopping the command (SIGINT to its process
    group, SIGKILL after `INTERRUPT_GRACE_SECONDS`) and writing the report for the runs that
    completed.
    """
    command = tuple(command)
    if not command:
        raise UsageError("no command to prove", hint="give the test command after '--'")
    if runs < 1:
        raise UsageError(f"--runs must be at least 1, got {runs}")
    cwd = (cwd or Path.cwd()).resolve()
    out_dir = out_dir.resolve()
    child_env = {**os.environ, **(env or {})}
    _check_runnable(command[0], cwd=cwd, env=child_env)
    _clear_previous_proof(out_dir)
    say = echo or (lambda _line: None)

    invocation_id = uuid.uuid4().hex[:12]
    completed: list[RunResult] = []
    stop_reason: str | None = None
    index = 0
    try:
        for index in range(1, runs + 1):
            run = _run_once(command, index=index, runs=runs, out_dir=out_dir, cwd=cwd,
                            child_env=child_env, junit_glob=junit_glob, say=say)
            completed.append(run)
            say(f"[prove] run {index} of {runs} finished in {run.duration_s:.1f}s "
                f"(exit status {run.exit_code}): {run.closing_line}")
            if history_dir is not None:
                record_history(history_dir, run, command=command, invocation_id=invocation_id)
            if not run.ok and not keep_going and index < runs:
                stop_reason = (f"stopped after run {index} of {runs} because it failed "
                               f"(keep going to run all {runs} and measure flakiness)")
                break
    except KeyboardInterrupt as err:
        reason = f"interrupted during run {index} of {runs}"
        partial = _finish(command, cwd, out_dir, runs, completed, stop_reason=reason)
        done = len(completed)
        raise Interrupted(
            f"{reason}; kept {done} completed run" + ("" if done == 1 else "s")
            + f" and the report in {out_dir}",
            hint=partial.summary_line,
        ) from err
    return _finish(command, cwd, out_dir, runs, completed, stop_reason=stop_reason)


def _finish(command: tuple[str, ...], cwd: Path, out_dir: Path, runs_requested: int,
            completed: Sequence[RunResult], *, stop_reason: str | None) -> ProofResult:
    from compose_gen import proof_report  # imported here: it imports this module's data classes

    result = ProofResult(command=command, cwd=cwd, out_dir=out_dir,
                         runs_requested=runs_requested, runs=tuple(completed),
                         verdicts=judge(completed), stop_reason=stop_reason)
    report_files = proof_report.write_reports(result)
    return dataclasses.replace(result, report_files=report_files)


def _check_runnable(program: str, *, cwd: Path, env: Mapping[str, str]) -> None:
    """Refuse a command that cannot start before anything is written or deleted."""
    if os.sep in program:
        path = Path(program) if os.path.isabs(program) else cwd / program
        if not path.is_file():
            raise UsageError(f"cannot run '{program}': not found",
                             hint=f"the path is relative to {cwd}")
        if not os.access(path, os.X_OK):
            raise UsageError(f"cannot run '{program}': not executable")
        return
    if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise UsageError(f"cannot run '{program}': not found on PATH",
                         hint="the command after '--' is run without a shell")


def _clear_previous_proof(out_dir: Path) -> None:
    """Remove an earlier proof's files so a shorter proof never sits beside stale runs."""
    if not out_dir.is_dir():
        return
    stale = [*out_dir.glob("proof_run*.txt"), *(out_dir / name for name in REPORT_FILE_NAMES)]
    for path in stale:
        path.unlink(missing_ok=True)
    junit_dir = out_dir / JUNIT_DIR_NAME
    if junit_dir.is_dir():
        for path in junit_dir.glob("run*"):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


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


def _run_once(command: tuple[str, ...], *, index: int, runs: int, out_dir: Path, cwd: Path,
              child_env: Mapping[str, str], junit_glob: str | None,
              say: Callable[[str], None]) -> RunResult:
    junit_dir = out_dir / JUNIT_DIR_NAME
    invocation = plan_invocation(command, junit_file=junit_dir / f"run{index}.xml", cwd=cwd,
                                 junit_glob=junit_glob)
    if invocation.junit_path is not None and invocation.owns_junit_path:
        invocation.junit_path.unlink(missing_ok=True)
    watched = _snapshot(_junit_candidates(invocation, junit_glob, cwd, out_dir))

    out_dir.mkdir(parents=True, exist_ok=True)
    proof_path = out_dir / PROOF_FILE_PATTERN.format(index=index)
    started_at = datetime.now().astimezone()
    with proof_path.open("w", encoding="utf-8", buffering=1) as proof:
        proof.write(_proof_header(command, invocation, index=index, runs=runs, cwd=cwd,
                                  started_at=started_at))

        def sink(line: str) -> None:
            proof.write(line if line.endswith("\n") else line + "\n")
            say(line.rstrip("\r\n"))

        clock = time.monotonic()
        try:
            exit_code = _run_streaming(invocation, cwd=cwd, env={**child_env, **invocation.env},
                                       sink=sink, announce=lambda: say(
                                           f"[prove] run {index} of {runs}: "
                                           f"{shlex.join(invocation.argv)}"))
        except UsageError:
            proof.close()
            proof_path.unlink(missing_ok=True)
            raise
        except KeyboardInterrupt:
            proof.write(
                f"----- interrupted -----\n"
                f"Ctrl-C after {time.monotonic() - clock:.3f}s; the command was stopped "
                f"(SIGINT to its process group, SIGKILL after {INTERRUPT_GRACE_SECONDS:g}s "
                f"if still running).\n"
                f"interrupted: run {index} of {runs} has no result and is not counted\n"
            )
            raise
        duration_s = time.monotonic() - clock
        ended_at = datetime.now().astimezone()

        sources = _fresh_junit_files(invocation, junit_glob, cwd, out_dir, watched)
        junit_files, cases, note = _collect_results(sources, kind=invocation.kind, cwd=cwd,
                                                    junit_dir=junit_dir, index=index)
        failed = sum(1 for case in cases if case.outcome is Outcome.FAILED)
        if junit_files and exit_code != 0 and failed == 0:
            note = f"exit status {exit_code} although the JUnit XML lists no failed test"
        run = RunResult(index=index, argv=invocation.argv, exit_code=exit_code,
                        started_at=started_at, ended_at=ended_at, duration_s=duration_s,
                        cases=cases, junit_files=junit_files, proof_file=proof_path, note=note)
        proof.write(_proof_footer(run, out_dir))
    return run


def _run_streaming(invocation: Invocation, *, cwd: Path, env: Mapping[str, str],
                   sink: Callable[[str], None], announce: Callable[[], None]) -> int:
    """Run the command, copy its combined output to `sink`, return its exit status.

    On Ctrl-C (KeyboardInterrupt, raised from anywhere in here, `sink` included) the command
    is stopped before the interrupt goes on; so it is on any other error (a broken pipe under
    `echo`), since in a session of its own nothing else would ever stop it.
    """
    # A session of its own, so that one Ctrl-C reaches the command exactly once (we forward
    # it) and a second SIGINT from the terminal cannot cut short its teardown of Compose stacks.
    try:
        proc = subprocess.Popen(
            invocation.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
    except OSError as err:  # e.g. a script without a shebang line: "Exec format error"
        raise UsageError(f"cannot run '{invocation.argv[0]}': {err.strerror or err}") from err
    output: _OutputReader | None = None
    try:
        output = _OutputReader(proc)
        announce()
        _copy_output(proc, output, sink)
        return proc.wait()
    except BaseException:
        _stop(proc, output, sink)
        raise


def _proof_header(command: tuple[str, ...], invocation: Invocation, *, index: int, runs: int,
                  cwd: Path, started_at: datetime) -> str:
    lines = [f"compose-gen prove: run {index} of {runs}",
             f"command:  {shlex.join(command)}"]
    if invocation.argv != command:
        lines.append(f"ran:      {shlex.join(invocation.argv)}")
    lines += [*(f"env:      {key}={value}" for key, value in invocation.env.items()),
              f"cwd:      {cwd}",
              f"started:  {started_at.isoformat(timespec='milliseconds')}",
              "----- output -----"]
    return "\n".join(lines) + "\n"


def _proof_footer(run: RunResult, out_dir: Path) -> str:
    junit = ", ".join(str(path.relative_to(out_dir)) for path in run.junit_files) or "none"
    lines = ["----- end of output -----",
             f"started:  {run.started_at.isoformat(timespec='milliseconds')}",
             f"ended:    {run.ended_at.isoformat(timespec='milliseconds')}",
             f"duration: {run.duration_s:.3f}s",
             f"exit status: {run.exit_code}",
             f"junit:    {junit}"]
    if run.note and run.has_test_results:
        lines.append(f"note:     {run.note}")
    lines.append(run.closing_line)
    return "\n".join(lines) + "\n"


class _OutputReader:
    """Reads the command's output on a thread, so the main thread can keep deadlines and
    receive Ctrl-C while the command is silent."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Iterable[bytes]) -> None:
        try:
            for raw in stream:
                self.lines.put(raw)
        except (OSError, ValueError):
            pass  # the pipe was closed under us; end of output either way
        finally:
            self.lines.put(None)


def _copy_output(proc: subprocess.Popen[bytes], output: _OutputReader,
                 sink: Callable[[str], None], *, deadline: float | None = None) -> bool:
    """Copy output lines to `sink` until end of output; False if `deadline` came first."""
    exited_at: float | None = None
    while deadline is None or time.monotonic() < deadline:
        try:
            raw = output.lines.get(timeout=0.1)
        except queue.Empty:
            if proc.poll() is not None:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > OUTPUT_DRAIN_SECONDS:
                    return True
            continue
        if raw is None:
            return True
        sink(raw.decode("utf-8", errors="replace"))
    return False


def _stop(proc: subprocess.Popen[bytes], output: _OutputReader | None,
          sink: Callable[[str], None]) -> None:
    """SIGINT the command's process group, keep its teardown output, SIGKILL after the grace
    period or at a second Ctrl-C."""
    _signal_group(proc, signal.SIGINT)
    deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
    try:
        if output is not None:
            _copy_output(proc, output, sink, deadline=deadline)
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except (KeyboardInterrupt, subprocess.TimeoutExpired):
        pass  # a second Ctrl-C, or the grace period is over
    finally:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


# --------------------------------------------------------------------------- JUnit XML


def _junit_candidates(invocation: Invocation, junit_glob: str | None, cwd: Path,
                      out_dir: Path) -> list[Path]:
    if invocation.junit_path is not None:
        return [invocation.junit_path]
    if junit_glob is None:
        return []
    matches = (cwd / match for match in glob.glob(junit_glob, root_dir=cwd, recursive=True))
    # Our own copies under out_dir must never be read back as the run's results.
    return sorted(path.resolve() for path in matches
                  if path.is_file() and not path.resolve().is_relative_to(out_dir))


def _snapshot(paths: Iterable[Path]) -> dict[Path, tuple[int, int, int]]:
    stamps = {}
    for path in paths:
        with contextlib.suppress(OSError):
            stat = path.stat()
            stamps[path] = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    return stamps


def _fresh_junit_files(invocation: Invocation, junit_glob: str | None, cwd: Path,
                       out_dir: Path, before: Mapping[Path, tuple[int, int, int]]) -> list[Path]:
    """The JUnit files this run wrote: new, or changed since the snapshot taken before it.

    A snapshot rather than "mtime after start": file systems stamp mtimes with a coarse
    clock that can lag the start time by milliseconds.
    """
    after = _snapshot(_junit_candidates(invocation, junit_glob, cwd, out_dir))
    return [path for path, stamp in after.items() if before.get(path) != stamp]


def _collect_results(sources: Sequence[Path], *, kind: RunnerKind, cwd: Path, junit_dir: Path,
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


# --------------------------------------------------------------------------- judging


def classify(outcomes: Iterable[Outcome | None]) -> Verdict:
    """A test's verdict from its outcome in each run (None: the run did not report it)."""
    ran = [outcome for outcome in outcomes if outcome not in (None, Outcome.SKIPPED)]
    if not ran:
        return Verdict.SKIPPED
    if Outcome.FLAKY in ran or (Outcome.PASSED in ran and Outcome.FAILED in ran):
        return Verdict.FLAKY
    if all(outcome is Outcome.FAILED for outcome in ran):
        return Verdict.FAILING
    return Verdict.STABLE


_VERDICT_ORDER = {Verdict.FLAKY: 0, Verdict.FAILING: 1, Verdict.STABLE: 2, Verdict.SKIPPED: 3}


def judge(runs: Sequence[RunResult]) -> tuple[CaseVerdict, ...]:
    """Every test seen in any run, with its verdict; flaky and failing tests first."""
    by_run = [{case.test_id: case for case in run.cases} for run in runs]
    suites: dict[str, str] = {}
    for run in runs:
        for case in run.cases:
            suites.setdefault(case.test_id, case.suite)
    verdicts = []
    for test_id, suite in suites.items():
        cases = [results.get(test_id) for results in by_run]
        outcomes = tuple(case.outcome if case else None for case in cases)
        verdicts.append(CaseVerdict(test_id, suite, classify(outcomes), outcomes,
                                    tuple(case.duration_s if case else None for case in cases)))
    return tuple(sorted(verdicts, key=lambda case: (_VERDICT_ORDER[case.verdict],
                                                    case.test_id)))


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


# --------------------------------------------------------------------------- history


def record_history(history_dir: Path, run: RunResult, *, command: Sequence[str],
                   invocation_id: str) -> None:
    """Append one JSON line with the run's per-test outcomes to `<history_dir>/history.jsonl`.

    Parallel proofs may share the file, so appends happen under a file lock.
    """
    history_dir.mkdir(parents=True, exist_ok=True)
    line = json.dumps({
        "invocation": invocation_id,
        "run": run.index,
        "at": run.ended_at.isoformat(timespec="seconds"),
        "command": list(command),
        "exit_code": run.exit_code,
        "outcomes": {case.test_id: case.outcome.value for case in run.cases},
    }, sort_keys=True)
    path = history_dir / HISTORY_FILE_NAME
    try:
        with filelock.FileLock(str(path) + ".lock", timeout=30), path.open("a",
                                                                           encoding="utf-8") as f:
            f.write(line + "\n")
    except filelock.Timeout as err:
        raise ComposeGenError(f"the flake history {path} stayed locked for 30s",
                              hint="another compose-gen prove is writing it") from err


def flake_history(history_dir: Path, limit: int = 20) -> list[FlakeRecord]:
    """The tests that were most often flaky across past proofs recorded in `history_dir`.

    A test's flake rate is the fraction of the proof invocations that ran it in which its
    verdict was flaky: it passed in some runs of that invocation and failed in others, or
    passed only on retry within a run. A test that failed in every run is failing, not flaky,
    and does not raise the rate. Only tests flaky at least once are listed, highest rate first.
    """
    path = history_dir / HISTORY_FILE_NAME
    if not path.is_file():
        return []
    invocations: dict[str, dict[str, list[Outcome]]] = {}
    last_at: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            tests = {test_id: Outcome(value) for test_id, value in entry["outcomes"].items()}
            invocation, at = str(entry["invocation"]), str(entry["at"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a line cut short by a killed writer must not hide the rest
        per_test = invocations.setdefault(invocation, {})
        for test_id, outcome in tests.items():
            per_test.setdefault(test_id, []).append(outcome)
        last_at[invocation] = max(last_at.get(invocation, at), at)

    ran: dict[str, int] = {}
    flaky: dict[str, int] = {}
    flaky_at: dict[str, str] = {}
    for invocation, per_test in invocations.items():
        for test_id, outcomes in per_test.items():
            verdict = classify(outcomes)
            if verdict is Verdict.SKIPPED:
                continue
            ran[test_id] = ran.get(test_id, 0) + 1
            if verdict is Verdict.FLAKY:
                flaky[test_id] = flaky.get(test_id, 0) + 1
                flaky_at[test_id] = max(flaky_at.get(test_id, ""), last_at[invocation])
    records = [FlakeRecord(test_id, ran[test_id], count, flaky_at[test_id])
               for test_id, count in flaky.items()]
    records.sort(key=lambda record: (-record.rate, -record.flaky_invocations, record.test_id))
    return records[:limit]
