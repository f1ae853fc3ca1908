"""The isolation is what makes the suite pass: the proof, on a stack with ONE stack worker.

COMPOSE_GEN_E2E_SHARED=1 points every Playwright worker at stack worker 0 (one backend, one
database, one media volume), i.e. the world without compose-gen. The same suite then
- passes with one Playwright worker (nothing runs at the same time: the suite itself is fine),
- fails with four, and fails on its exact-count assertions: the workers see each other's data.
So the per-worker backends, databases and media volumes are what the passing 4-worker run in
test_e2e_parallel.py relies on.

And a Playwright worker that is replaced after a failure keeps its parallel index, so it keeps
its stack worker (workerIndex would have moved it to a worker the stack does not have).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import (
    E2E_DIR,
    SUITE_TESTS,
    Report,
    Stack,
    get_json,
    http,
    read_junit,
    run,
    tail,
)

pytestmark = pytest.mark.xdist_group("e2e-single-stack")


def _pristine(stack: Stack) -> None:
    """Worker 0 back to the seed: a fresh database clone and an empty media volume."""
    stack.cli("reset", "--task-id", stack.task_id, "--worker", "0")
    base = _base_url(stack)
    for upload in get_json(f"{base}/api/uploads"):
        assert http("DELETE", f"{base}/api/uploads/{upload['name']}")[0] == 204


def _base_url(stack: Stack) -> str:
    import json

    return json.loads((stack.task_dir / "workers.json").read_text())["workers"][0]["base_url"]


def _playwright(stack: Stack, tmp_path: Path, workers: int, *args: str,
                shared: bool) -> tuple[int, str, Report]:
    results = tmp_path / f"results-{workers}"
    env = stack.env(E2E_WORKERS=str(workers), E2E_RESULTS_DIR=str(results),
                    PLAYWRIGHT_JUNIT_OUTPUT_NAME=str(results / "junit.xml"),
                    PLAYWRIGHT_HTML_OUTPUT_DIR=str(results / "html"))
    if shared:
        env["COMPOSE_GEN_E2E_SHARED"] = "1"
    proc = run(["npx", "--no-install", "playwright", "test", f"--workers={workers}", *args],
               env, cwd=E2E_DIR)
    (results / "output.txt").write_text(proc.stdout + proc.stderr)
    return proc.returncode, proc.stdout + tail(proc), read_junit(results / "junit.xml")


def test_shared_backend_with_one_playwright_worker_passes(single_worker_stack: Stack,
                                                          tmp_path: Path) -> None:
    """The control: same shared backend, no concurrency. Only the reset test is skipped (a
    reset would drop the database the other workers share)."""
    _pristine(single_worker_stack)
    rc, out, report = _playwright(single_worker_stack, tmp_path, 1, shared=True)
    assert rc == 0, out
    assert len(report.cases) == SUITE_TESTS
    skipped = report.with_outcome("skipped")
    assert [c.name for c in skipped] == [
        "compose-gen reset gives back the seeded database and leaves media alone"]
    assert len(report.with_outcome("passed")) == SUITE_TESTS - 1


def test_shared_backend_with_four_playwright_workers_fails_on_counts(
        single_worker_stack: Stack, tmp_path: Path) -> None:
    _pristine(single_worker_stack)
    rc, out, report = _playwright(single_worker_stack, tmp_path, 4, shared=True)
    assert rc == 1, f"the suite should fail when 4 workers share one backend\n{out}"
    assert f"Running {SUITE_TESTS} tests using 4 workers" in out
    assert len(report.cases) == SUITE_TESTS, "every test ran to a result: no crash"
    # All four parallel indexes took part, all of them on stack worker 0.
    assert {c.properties["compose-gen parallel index"] for c in report.cases} == {
        "0", "1", "2", "3"}
    assert {c.properties["compose-gen stack worker"].split()[0] for c in report.cases} == {"0"}

    failed = report.with_outcome("failed")
    errors = report.with_outcome("error")
    summary = [(c.name, c.message[:400]) for c in failed + errors]
    # Failures, not errors: assertions that did not hold, not crashes, timeouts or a fixture
    # that could not start.
    assert errors == [], summary
    assert len(failed) >= 6, summary
    for case in failed:
        assert "expect(" in case.message, summary
        for crash in ("Test timeout", "Worker process", "compose-gen fixture", "ECONNREFUSED",
                      "database unavailable"):
            assert crash not in case.message, summary
    # And they are the exact-count assertions: the workers saw each other's exams and uploads.
    on_counts = [c for c in failed if "count: " in c.message]
    assert len(on_counts) >= 0.75 * len(failed), summary
    # Exams are counted by most tests, so some of those always collide; whether an upload
    # test also overlaps another worker's uploads depends on timing, so it is not required.
    assert any("count: exams" in c.message for c in on_counts), summary


def test_a_replaced_worker_keeps_its_parallel_index_and_stack_worker(
        single_worker_stack: Stack, tmp_path: Path) -> None:
    """probes/worker-restart.probe.ts fails on purpose in each original worker; Playwright
    replaces it (new workerIndex); the replacement must still use stack worker 0, which it
    only does because the fixture picks by parallelIndex. By workerIndex (1 after the restart)
    the fixture would have found no stack worker at all on this one-worker stack."""
    rc, out, report = _playwright(single_worker_stack, tmp_path, 1, "-c", "probes.config.ts",
                                  shared=False)
    assert rc == 1, out  # the deliberate failure
    deliberate = report.with_outcome("failed", "error")
    assert len(deliberate) == 1 and "deliberate failure" in deliberate[0].message, out
    assert deliberate[0].properties["worker index"] == "0"
    replaced = report.with_outcome("passed")
    assert len(replaced) == 3, out
    for case in replaced:
        assert int(case.properties["worker index"]) >= 1, case.properties
        assert case.properties["compose-gen parallel index"] == "0"
        assert case.properties["compose-gen stack worker"].split()[0] == "0"


def test_more_playwright_workers_than_stack_workers_fail_loudly(single_worker_stack: Stack,
                                                                tmp_path: Path) -> None:
    """Two Playwright workers on a one-worker stack: parallel index 1 has no backend of its
    own, and the fixture says so (with the fix) instead of sharing worker 0's."""
    rc, out, report = _playwright(single_worker_stack, tmp_path, 2, "tests/isolation.spec.ts",
                                  shared=False)
    assert rc == 1, out
    broken = report.not_passed
    assert broken, out
    for case in broken:
        assert "Playwright parallel index 1 has no stack worker" in case.message, case.message
        assert "--workers=1 or fewer" in case.message, case.message
    # What parallel index 0 ran passed, on stack worker 0.
    for case in report.with_outcome("passed"):
        assert case.properties["compose-gen parallel index"] == "0"
