"""Prove a test suite is not flaky: run it N times and judge every test by its JUnit XML.

`compose-gen prove` calls `prove` and `compose-gen prove --history` calls `flake_history`
(user reference: README.md, "Use", and docs/PARALLEL_TESTING_GUIDE.md, "Debugging a flaky
test"). The modules, from the bottom up (none imports one above it):

- `model`: outcomes, verdicts and the results of a run and of a proof;
- `invocation`: which test runner a command is and how it is asked for JUnit XML;
- `junit`: reading a run's JUnit XML into one result per test;
- `judge`: a test's verdict across runs;
- `history`: the flake history across proofs;
- `runner`: running one command (no shell, streamed output, Ctrl-C handling);
- `report`: report.md, report.json and report.html;
- `prover`: `prove`, which ties them together.
"""

from compose_gen.proof.history import HISTORY_FILE_NAME, flake_history, record_history
from compose_gen.proof.invocation import Invocation, detect_runner, plan_invocation
from compose_gen.proof.judge import classify
from compose_gen.proof.junit import merge_cases, pytest_node_id, read_junit
from compose_gen.proof.model import (
    JUNIT_DIR_NAME,
    PROOF_FILE_PATTERN,
    REPORT_FILE_NAMES,
    CaseResult,
    CaseVerdict,
    FlakeRecord,
    Outcome,
    ProofResult,
    RunnerKind,
    RunResult,
    Verdict,
    describe_outcomes,
)
from compose_gen.proof.prover import prove
from compose_gen.proof.runner import INTERRUPT_GRACE_SECONDS

__all__ = [
    "HISTORY_FILE_NAME", "INTERRUPT_GRACE_SECONDS", "JUNIT_DIR_NAME", "PROOF_FILE_PATTERN",
    "REPORT_FILE_NAMES", "CaseResult", "CaseVerdict", "FlakeRecord", "Invocation", "Outcome",
    "ProofResult", "RunResult", "RunnerKind", "Verdict", "classify", "describe_outcomes",
    "detect_runner", "flake_history", "merge_cases", "plan_invocation", "prove",
    "pytest_node_id", "read_junit", "record_history",
]
