"""`compose_gen.proof.prove` end to end: flake proofs over real subprocesses (small suites in
tests/fixtures/flaky_suite). The pure parts have their own files: test_proof_invocation,
test_proof_junit, test_proof_judge, test_proof_report."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from compose_gen.errors import ExitCode, Interrupted, UsageError
from compose_gen.proof import Outcome, Verdict, flake_history, prove

FIXTURES = Path(__file__).parent.parent / "fixtures" / "flaky_suite"
# The outer test run's options must not leak into the suites run under proof; no plugin
# autoload keeps each of those pytest runs at a fraction of a second.
CLEAN_ENV = {"PYTEST_ADDOPTS": "", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
CLOSING_LINE = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) flaky(, (\d+) skipped)?$")


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """A private copy of the fixture suites: its own pytest.ini is found first, and parallel
    tests never share a counter file or a cache."""
    copy = tmp_path / "suite"
    shutil.copytree(FIXTURES, copy)
    return copy


def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", *args]


def last_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[-1]


def test_stable_suite_is_ok_with_a_proof_file_per_run(suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "proof"
    lines: list[str] = []

    result = prove(pytest_command("suite_stable.py"), runs=5, out_dir=out, cwd=suite,
                   env=CLEAN_ENV, echo=lines.append)

    assert result.ok and result.exit_code is ExitCode.OK
    assert result.summary() == "5 runs: 4 passed, 0 failed, 0 flaky"
    assert sorted(path.name for path in out.glob("proof_run*.txt")) == [
        f"proof_run{i}.txt" for i in range(1, 6)]
    for i in range(1, 6):
        text = (out / f"proof_run{i}.txt").read_text(encoding="utf-8")
        assert f"run {i} of 5" in text
        assert "4 passed in" in text  # pytest's own output, in full
        assert re.search(r"^duration: \d+\.\d{3}s$", text, re.MULTILINE)
        assert last_line(out / f"proof_run{i}.txt") == "4 passed, 0 failed, 0 flaky"
    assert "suite_stable.py::TestGroup::test_inside_class" in {
        case.test_id for case in result.verdicts}
    assert any("4 passed" in line for line in lines)  # the output was streamed to echo
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["ok"] is True and report["runs_completed"] == 5
    assert [timing["suite"] for timing in report["timings"]["suites"]] == ["suite_stable.py"]
    assert len(report["timings"]["suites"][0]["durations_s"]) == 5


def test_a_test_failing_every_second_run_is_flaky(suite: Path, tmp_path: Path) -> None:
    env = {**CLEAN_ENV, "FLAKY_COUNTER_FILE": str(tmp_path / "counter")}

    result = prove(pytest_command("suite_flaky.py"), runs=4, out_dir=tmp_path / "proof",
                   cwd=suite, env=env, keep_going=True)

    assert not result.ok and result.exit_code is ExitCode.FAILURE
    flaky = result.tests_with(Verdict.FLAKY)
    assert [case.test_id for case in flaky] == ["suite_flaky.py::test_every_second_run_fails"]
    assert flaky[0].outcomes == (Outcome.PASSED, Outcome.FAILED, Outcome.PASSED, Outcome.FAILED)
    assert result.summary().splitlines() == [
        "4 runs: 1 passed, 0 failed, 1 flaky",
        "  flaky:   suite_flaky.py::test_every_second_run_fails "
        "(passed in runs 1, 3; failed in runs 2, 4)",
    ]
    assert last_line(tmp_path / "proof" / "proof_run2.txt") == "1 passed, 1 failed, 0 flaky"
    report = json.loads((tmp_path / "proof" / "report.json").read_text(encoding="utf-8"))
    assert report["tests"][0]["id"] == "suite_flaky.py::test_every_second_run_fails"
    assert report["tests"][0]["outcomes"] == ["passed", "failed", "passed", "failed"]


def test_without_keep_going_the_proof_stops_after_the_first_failed_run(
        suite: Path, tmp_path: Path) -> None:
    env = {**CLEAN_ENV, "FLAKY_COUNTER_FILE": str(tmp_path / "counter")}

    result = prove(pytest_command("suite_flaky.py"), runs=5, out_dir=tmp_path / "proof",
                   cwd=suite, env=env)

    assert [run.index for run in result.runs] == [1, 2]
    assert not (tmp_path / "proof" / "proof_run3.txt").exists()
    assert result.summary_line == "2 of 5 runs: 1 passed, 0 failed, 1 flaky"
    assert "stopped after run 2 of 5" in result.summary()


@pytest.mark.parametrize("program", ["no-such-command-compose-gen", "./no-such-script.sh"],
                         ids=["on-path", "relative-path"])
def test_a_command_that_cannot_start_is_a_usage_error(tmp_path: Path, program: str) -> None:
    with pytest.raises(UsageError, match=f"cannot run '{re.escape(program)}': not found"):
        prove([program, "--flag"], out_dir=tmp_path / "proof", cwd=tmp_path)
    assert not (tmp_path / "proof").exists()


def test_a_file_that_is_not_executable_is_a_usage_error(tmp_path: Path) -> None:
    script = tmp_path / "run-tests.sh"
    script.write_text("echo hi\n")
    with pytest.raises(UsageError, match="not executable") as caught:
        prove([str(script)], out_dir=tmp_path / "proof")
    assert caught.value.exit_code is ExitCode.USAGE


def test_an_executable_the_kernel_cannot_run_is_a_usage_error(tmp_path: Path) -> None:
    script = tmp_path / "no-shebang"
    script.write_text("echo hi\n")  # a shell would run it; execve without a shell cannot
    script.chmod(0o755)
    with pytest.raises(UsageError, match="Exec format error"):
        prove([str(script)], out_dir=tmp_path / "proof")
    assert list((tmp_path / "proof").glob("proof_run*")) == []


def test_runs_must_be_at_least_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--runs must be at least 1"):
        prove([sys.executable, "-c", "pass"], runs=0, out_dir=tmp_path)


def test_skipped_tests_are_counted_on_the_closing_line(suite: Path, tmp_path: Path) -> None:
    result = prove(pytest_command("suite_skips.py"), runs=1, out_dir=tmp_path / "proof",
                   cwd=suite, env=CLEAN_ENV)

    assert last_line(tmp_path / "proof" / "proof_run1.txt") == (
        "1 passed, 0 failed, 0 flaky, 2 skipped")
    assert result.ok
    assert result.summary_line == "1 run: 1 passed, 0 failed, 0 flaky, 2 skipped"


def test_a_generic_command_is_judged_by_the_junit_files_it_wrote(
        suite: Path, tmp_path: Path) -> None:
    reports = suite / "reports"
    reports.mkdir()
    # Left over from some earlier run: matches the glob, but this run did not write it.
    (reports / "stale.xml").write_text(
        '<testsuite name="old"><testcase classname="old" name="gone"/></testsuite>')

    result = prove([sys.executable, "write_junit.py", "reports/fresh.xml"], runs=1,
                   out_dir=tmp_path / "proof", cwd=suite, junit_glob="reports/*.xml")

    outcomes = {case.test_id: case.verdict for case in result.verdicts}
    assert outcomes == {"checks.api::health answers": Verdict.STABLE,
                        "checks.api::renders <b>bold</b> | pipes": Verdict.FAILING}
    assert last_line(tmp_path / "proof" / "proof_run1.txt") == "1 passed, 1 failed, 0 flaky"
    assert result.runs[0].junit_files == (tmp_path / "proof" / "junit" / "run1.xml",)
    page = (tmp_path / "proof" / "report.html").read_text(encoding="utf-8")
    assert "renders &lt;b&gt;bold&lt;/b&gt; | pipes" in page and "<b>bold" not in page
    markdown = (tmp_path / "proof" / "report.md").read_text(encoding="utf-8")
    assert "`checks.api::renders <b>bold</b> \\| pipes` | failing | failed |" in markdown


def make_fake_playwright(tmp_path: Path) -> dict[str, str]:
    """A `playwright` on PATH that behaves like `playwright test` with the junit reporter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "playwright"
    fake.write_text(f"#!{sys.executable}\n" + (FIXTURES / "fake_playwright.py").read_text())
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize(
    ("sample", "closing_line"),
    [("playwright_retries.xml", "1 passed, 0 failed, 1 flaky, 1 skipped"),
     ("playwright_duplicates.xml", "1 passed, 0 failed, 1 flaky")],
    ids=["surefire-flakyFailure", "same-test-twice"],
)
def test_a_playwright_test_passing_on_retry_is_flaky(
        suite: Path, tmp_path: Path, sample: str, closing_line: str) -> None:
    env = {**make_fake_playwright(tmp_path), "FAKE_PLAYWRIGHT_SAMPLE": str(suite / sample)}

    result = prove(["playwright", "test", "--reporter=dot"], runs=1,
                   out_dir=tmp_path / "proof", cwd=suite, env=env)

    proof_text = (tmp_path / "proof" / "proof_run1.txt").read_text(encoding="utf-8")
    assert "argv: test --reporter=dot,junit" in proof_text
    assert "include retries: 1" in proof_text
    assert last_line(tmp_path / "proof" / "proof_run1.txt") == closing_line
    assert result.runs[0].exit_code == 0 and not result.ok
    assert [case.test_id for case in result.tests_with(Verdict.FLAKY)] == [
        "[chromium] › login.spec.ts › login › shows an error for a wrong password"]
    assert "[chromium] › login.spec.ts" in {case.suite for case in result.verdicts}


def test_ctrl_c_stops_the_command_and_keeps_the_completed_runs(
        suite: Path, tmp_path: Path) -> None:
    out = tmp_path / "proof"
    pid_file = tmp_path / "pid"
    state = {"armed": False, "fired": False}

    def echo(line: str) -> None:
        # Ctrl-C lands while run 2's command is busy printing.
        state["armed"] = state["armed"] or line.startswith("[prove] run 2 of 3:")
        if state["armed"] and line == "tick 2" and not state["fired"]:
            state["fired"] = True
            raise KeyboardInterrupt

    command = [sys.executable, "ticker.py", str(tmp_path / "counter"), str(pid_file)]
    with pytest.raises(Interrupted, match="interrupted during run 2 of 3") as caught:
        prove(command, runs=3, out_dir=out, cwd=suite, echo=echo)

    assert caught.value.exit_code is ExitCode.INTERRUPTED
    assert last_line(out / "proof_run1.txt").startswith("0 passed, 0 failed, 0 flaky (no per")
    interrupted = (out / "proof_run2.txt").read_text(encoding="utf-8")
    assert "cleanup after SIGINT" in interrupted  # it got SIGINT and had time to clean up
    assert last_line(out / "proof_run2.txt") == (
        "interrupted: run 2 of 3 has no result and is not counted")
    assert not (out / "proof_run3.txt").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["runs_completed"] == 1
    assert report["stop_reason"] == "interrupted during run 2 of 3"


def test_without_junit_a_run_is_judged_by_its_exit_status(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"]

    result = prove(command, runs=3, out_dir=tmp_path / "proof")

    assert not result.ok and len(result.runs) == 1
    assert last_line(tmp_path / "proof" / "proof_run1.txt") == (
        "0 passed, 0 failed, 0 flaky (no per-test results: no JUnit XML found; exit status 3)")
    assert result.summary().splitlines()[:2] == [
        "1 of 3 runs: no per-test results (no JUnit XML found); exit status 3",
        "  run 1 exited with status 3 (no JUnit XML found)",
    ]


def test_a_new_proof_removes_the_files_of_the_previous_one(tmp_path: Path) -> None:
    out = tmp_path / "proof"
    prove([sys.executable, "-c", "pass"], runs=3, out_dir=out)
    prove([sys.executable, "-c", "pass"], runs=1, out_dir=out)
    assert sorted(path.name for path in out.glob("proof_run*")) == ["proof_run1.txt"]


def test_flake_history_ranks_tests_by_the_share_of_flaky_proofs(
        suite: Path, tmp_path: Path) -> None:
    env = {**CLEAN_ENV, "FLAKY_COUNTER_FILE": str(tmp_path / "counter")}
    history = tmp_path / "state"
    command = pytest_command("suite_flaky.py")
    prove(command, runs=2, out_dir=tmp_path / "a", cwd=suite, env=env, history_dir=history)
    prove(command, runs=1, out_dir=tmp_path / "b", cwd=suite, env=env, history_dir=history)
    with (history / "history.jsonl").open("a") as file:
        file.write('{"invocation": "cut sho\n')

    records = flake_history(history)

    assert [(r.test_id, r.invocations, r.flaky_invocations) for r in records] == [
        ("suite_flaky.py::test_every_second_run_fails", 2, 1)]
    assert records[0].rate == 0.5
    assert flake_history(tmp_path / "nowhere") == []
