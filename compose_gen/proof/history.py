"""The flake history: each run's per-test outcomes appended to a JSON-lines file in the
state dir, and the tests most often flaky across past proofs (`compose-gen prove --history`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import filelock

from compose_gen.errors import ComposeGenError
from compose_gen.proof.judge import classify
from compose_gen.proof.model import FlakeRecord, Outcome, RunResult, Verdict

HISTORY_FILE_NAME = "history.jsonl"




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
