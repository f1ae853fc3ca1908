"""`compose_gen.proof.judge`: a test's verdict from its outcome in each run (pure)."""

from __future__ import annotations

import pytest

from compose_gen.proof.judge import classify
from compose_gen.proof.model import Outcome, Verdict

P, F, K, S = Outcome.PASSED, Outcome.FAILED, Outcome.FLAKY, Outcome.SKIPPED


@pytest.mark.parametrize(
    ("outcomes", "verdict"),
    [
        ((P, P, P), Verdict.STABLE),
        ((P, F, P), Verdict.FLAKY),
        ((P, K, P), Verdict.FLAKY),
        ((F, F), Verdict.FAILING),
        ((F, None, S), Verdict.FAILING),
        ((P, None, S), Verdict.STABLE),
        ((S, S), Verdict.SKIPPED),
    ],
    ids=["all-passed", "pass-fail-pass", "retry-in-one-run", "all-failed",
         "failed-where-it-ran", "passed-where-it-ran", "never-ran"],
)
def test_classify(outcomes: tuple[Outcome | None, ...], verdict: Verdict) -> None:
    assert classify(outcomes) is verdict
