"""Judging a test across the runs of a proof: flaky, failing, stable or skipped (the
vocabulary is in `compose_gen.proof.model`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from compose_gen.proof.model import CaseVerdict, Outcome, RunResult, Verdict


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
