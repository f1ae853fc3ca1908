"""scripts/e2e_parallel.sh, for real: stack up, the Playwright suite at 4 workers, stack down.

Issue 4's "done when": `E2E_WORKERS=4 scripts/e2e_parallel.sh` passes with Playwright reporting
4 workers, and leaves no container, volume or network of the task behind, pass or fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import (
    DEMO,
    SCRIPT,
    SUITE_TESTS,
    child_env,
    labelled,
    read_junit,
    remove_labelled,
    run,
    tail,
)

pytestmark = pytest.mark.xdist_group("e2e-script")


def _nothing_left(task_id: str) -> None:
    left = labelled(task_id)
    remove_labelled(task_id)
    assert not any(left.values()), f"task {task_id} left Docker resources behind: {left}"
    assert not (DEMO / ".zenflow" / "tasks" / task_id).exists(), "the task dir was left behind"


def test_four_workers_each_on_its_own_stack_worker(tmp_path: Path, unique_task_id: str,
                                                  _isolated_state: Path) -> None:
    results = tmp_path / "results"
    env = child_env(_isolated_state, E2E_WORKERS="4", E2E_RESULTS_DIR=str(results))
    started = time.monotonic()
    try:
        proc = run([str(SCRIPT), unique_task_id], env)
    finally:
        left = labelled(unique_task_id)
        remove_labelled(unique_task_id)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, tail(proc)
    assert not any(left.values()), f"left behind: {left}"
    assert not (DEMO / ".zenflow" / "tasks" / unique_task_id).exists()
    assert f"Running {SUITE_TESTS} tests using 4 workers" in proc.stdout, tail(proc)

    report = read_junit(results / "junit.xml")
    assert len(report.cases) == SUITE_TESTS
    assert report.not_passed == [], [(c.name, c.message[:300]) for c in report.not_passed]
    # Every test says which parallel index ran it and which stack worker served it.
    indexes = {c.properties["compose-gen parallel index"] for c in report.cases}
    assert indexes == {"0", "1", "2", "3"}, indexes
    for case in report.cases:
        index = case.properties["compose-gen parallel index"]
        worker, base_url, database = case.properties["compose-gen stack worker"].split()
        assert worker == index, case.name
        assert database == f"test_e2e_w{index}", case.name
        assert base_url.startswith("http://127.0.0.1:"), base_url
    # One backend per stack worker: four distinct base URLs.
    urls = {c.properties["compose-gen stack worker"].split()[1] for c in report.cases}
    assert len(urls) == 4, urls
    assert (results / "html" / "index.html").is_file()
    print(f"e2e_parallel.sh at 4 workers: {elapsed:.1f} s (up + {SUITE_TESTS} tests + down)")


def test_a_bad_task_id_is_refused_before_anything_exists(tmp_path: Path,
                                                         _isolated_state: Path) -> None:
    results = tmp_path / "results"
    env = child_env(_isolated_state, E2E_WORKERS="1", E2E_RESULTS_DIR=str(results))
    for bad in ("../escape", "a;rm -rf x", "$(touch /tmp/pwned)"):
        proc = run([str(SCRIPT), bad], env, timeout=120)
        assert proc.returncode == 2, tail(proc)
        assert not results.exists()
        assert not any(labelled(bad).values())
    assert not Path("/tmp/pwned").exists()


def test_sigterm_mid_run_stops_the_tests_and_tears_the_stack_down(
        tmp_path: Path, unique_task_id: str, _isolated_state: Path) -> None:
    """What a CI job's cancel or `timeout` does: SIGTERM to the script alone, mid-suite."""
    results = tmp_path / "results"
    token = f"run-{unique_task_id}"  # in the environment of every process of this run
    env = child_env(_isolated_state, E2E_WORKERS="1", E2E_RESULTS_DIR=str(results),
                    E2E_TEST_RUN_TOKEN=token)
    log = tmp_path / "out.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(SCRIPT), unique_task_id], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            # The suite is running once a test has reported (list reporter: "  ✓   1 ...").
            while "✓" not in log.read_text(errors="replace"):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the suite never started"
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)  # the script only, not its process group
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text(errors="replace")
    try:
        assert rc == 143, text[-3000:]
        assert "interrupted (TERM)" in text
        assert f"task '{unique_task_id}' is down" in text
        assert f"{SUITE_TESTS} passed" not in text  # it stopped mid-suite
    finally:
        _nothing_left(unique_task_id)
    # No process of the run survives: npx, the Playwright runner and workers, Chromium (npx
    # alone would not pass SIGTERM on; the script stops the whole process group).
    survivors = wait_for_no_processes_with(f"E2E_TEST_RUN_TOKEN={token}".encode(), timeout=15)
    assert not survivors, f"processes of the interrupted run still alive: {survivors}"


def wait_for_no_processes_with(marker: bytes, timeout: float) -> list[str]:
    """Command lines of live processes whose environment contains `marker`, after waiting."""
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for proc_dir in Path("/proc").iterdir():
            if not proc_dir.name.isdigit():
                continue
            try:
                if marker in (proc_dir / "environ").read_bytes().split(b"\0"):
                    found.append((proc_dir / "cmdline").read_bytes().replace(b"\0", b" ")
                                 .decode(errors="replace")[:200])
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
