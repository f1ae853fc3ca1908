"""`prove`: run a test command N times in order and judge every test by its JUnit XML.

Each run streams its output to the caller line by line and into `proof_run<i>.txt`, with a
header (what ran, where, when) and a footer ending in the closing line `<P> passed, <F>
failed, <K> flaky`; the reports (`report.md`, `report.json`, `report.html`) cover every
completed run. How the parts fit: `invocation` decides the argv, `runner` runs it, `junit`
reads its results, `judge` gives the verdicts, `history` records them, `report` renders them.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from compose_gen.errors import Interrupted, UsageError
from compose_gen.proof import junit, report, runner
from compose_gen.proof.history import record_history
from compose_gen.proof.invocation import Invocation, plan_invocation
from compose_gen.proof.judge import judge
from compose_gen.proof.model import (
    JUNIT_DIR_NAME,
    PROOF_FILE_PATTERN,
    REPORT_FILE_NAMES,
    Outcome,
    ProofResult,
    RunResult,
)


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
    runner.check_runnable(command[0], cwd=cwd, env=child_env)
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
    result = ProofResult(command=command, cwd=cwd, out_dir=out_dir,
                         runs_requested=runs_requested, runs=tuple(completed),
                         verdicts=judge(completed), stop_reason=stop_reason)
    report_files = report.write_reports(result)
    return dataclasses.replace(result, report_files=report_files)


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


def _run_once(command: tuple[str, ...], *, index: int, runs: int, out_dir: Path, cwd: Path,
              child_env: Mapping[str, str], junit_glob: str | None,
              say: Callable[[str], None]) -> RunResult:
    junit_dir = out_dir / JUNIT_DIR_NAME
    invocation = plan_invocation(command, junit_file=junit_dir / f"run{index}.xml", cwd=cwd,
                                 junit_glob=junit_glob)
    if invocation.junit_path is not None and invocation.owns_junit_path:
        invocation.junit_path.unlink(missing_ok=True)
    watched = junit.snapshot(junit.candidates(invocation, junit_glob, cwd, out_dir))

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
            exit_code = runner.run_streaming(
                invocation.argv, cwd=cwd, env={**child_env, **invocation.env}, sink=sink,
                announce=lambda: say(f"[prove] run {index} of {runs}: "
                                     f"{shlex.join(invocation.argv)}"))
        except UsageError:
            proof.close()
            proof_path.unlink(missing_ok=True)
            raise
        except KeyboardInterrupt:
            proof.write(
                f"----- interrupted -----\n"
                f"Ctrl-C after {time.monotonic() - clock:.3f}s; the command was stopped "
                f"(SIGINT to its process group, SIGKILL after {runner.INTERRUPT_GRACE_SECONDS:g}s "
                f"if still running).\n"
                f"interrupted: run {index} of {runs} has no result and is not counted\n"
            )
            raise
        duration_s = time.monotonic() - clock
        ended_at = datetime.now().astimezone()

        sources = junit.fresh_files(invocation, junit_glob, cwd, out_dir, watched)
        junit_files, cases, note = junit.collect_results(sources, kind=invocation.kind, cwd=cwd,
                                                         junit_dir=junit_dir, index=index)
        failed = sum(1 for case in cases if case.outcome is Outcome.FAILED)
        if junit_files and exit_code != 0 and failed == 0:
            note = f"exit status {exit_code} although the JUnit XML lists no failed test"
        run = RunResult(index=index, argv=invocation.argv, exit_code=exit_code,
                        started_at=started_at, ended_at=ended_at, duration_s=duration_s,
                        cases=cases, junit_files=junit_files, proof_file=proof_path, note=note)
        proof.write(_proof_footer(run, out_dir))
    return run


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
    kept = ", ".join(str(path.relative_to(out_dir)) for path in run.junit_files) or "none"
    lines = ["----- end of output -----",
             f"started:  {run.started_at.isoformat(timespec='milliseconds')}",
             f"ended:    {run.ended_at.isoformat(timespec='milliseconds')}",
             f"duration: {run.duration_s:.3f}s",
             f"exit status: {run.exit_code}",
             f"junit:    {kept}"]
    if run.note and run.has_test_results:
        lines.append(f"note:     {run.note}")
    lines.append(run.closing_line)
    return "\n".join(lines) + "\n"
