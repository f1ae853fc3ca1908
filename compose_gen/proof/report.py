"""Render a proof: `report.md` for people, `report.json` for tools, `report.html` to share.

Each report names flaky and failing tests first, shows every test's outcome in every run, and
has the timing dashboard: each suite's duration per run with min/median/max. Rendering only
reads a `ProofResult` from `compose_gen.proof.model`; nothing here runs anything. Test ids
and notes come from the tested project, so every value is escaped for the format it lands in.
"""

from __future__ import annotations

import dataclasses
import html
import json
import shlex
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compose_gen.proof.model import (
    REPORT_FILE_NAMES,
    CaseVerdict,
    Outcome,
    ProofResult,
    RunResult,
    Verdict,
)

JSON_SCHEMA_VERSION = 1
WHOLE_RUN = "(whole run)"


@dataclasses.dataclass(frozen=True)
class SuiteTiming:
    """One suite's duration in each run (None: the suite did not run), for the dashboard."""

    suite: str
    durations_s: tuple[float | None, ...]

    @property
    def measured(self) -> list[float]:
        return [d for d in self.durations_s if d is not None]

    @property
    def min_s(self) -> float | None:
        return min(self.measured, default=None)

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.measured) if self.measured else None

    @property
    def max_s(self) -> float | None:
        return max(self.measured, default=None)


def write_reports(result: ProofResult) -> tuple[Path, ...]:
    """Write the three reports into the proof's out_dir and return their paths."""
    result.out_dir.mkdir(parents=True, exist_ok=True)
    markdown, as_json, as_html = (result.out_dir / name for name in REPORT_FILE_NAMES)
    markdown.write_text(render_markdown(result), encoding="utf-8")
    as_json.write_text(render_json(result), encoding="utf-8")
    as_html.write_text(render_html(result), encoding="utf-8")
    return markdown, as_json, as_html


def run_timing(result: ProofResult) -> SuiteTiming:
    """The wall-clock duration of each whole run."""
    return SuiteTiming(WHOLE_RUN, tuple(run.duration_s for run in result.runs))


def suite_timings(result: ProofResult) -> list[SuiteTiming]:
    """Per suite (pytest: test file; Playwright: project and spec file) the sum of its tests'
    durations in each run, slowest median first."""
    totals: dict[str, list[float | None]] = {}
    for index, run in enumerate(result.runs):
        for case in run.cases:
            durations = totals.setdefault(case.suite, [None] * len(result.runs))
            durations[index] = (durations[index] or 0.0) + case.duration_s
    timings = [SuiteTiming(suite, tuple(durations)) for suite, durations in totals.items()]
    return sorted(timings, key=lambda timing: (-(timing.median_s or 0.0), timing.suite))


# --------------------------------------------------------------------------- JSON


def report_data(result: ProofResult) -> dict[str, Any]:
    """The report as plain data; keys are stable across versions of one schema_version."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "ok": result.ok,
        "summary": result.summary_line,
        "command": list(result.command),
        "cwd": str(result.cwd),
        "runs_requested": result.runs_requested,
        "runs_completed": len(result.runs),
        "stop_reason": result.stop_reason,
        "counts": {verdict.value: result.count(verdict) for verdict in Verdict},
        "runs": [
            {
                "run": run.index,
                "argv": list(run.argv),
                "exit_code": run.exit_code,
                "ok": run.ok,
                "started_at": run.started_at.isoformat(timespec="milliseconds"),
                "ended_at": run.ended_at.isoformat(timespec="milliseconds"),
                "duration_s": _round(run.duration_s),
                "passed": run.count(Outcome.PASSED),
                "failed": run.count(Outcome.FAILED),
                "flaky": run.count(Outcome.FLAKY),
                "skipped": run.count(Outcome.SKIPPED),
                "has_test_results": run.has_test_results,
                "closing_line": run.closing_line,
                "proof_file": _relative(run.proof_file, result.out_dir),
                "junit_files": [_relative(path, result.out_dir) for path in run.junit_files],
                "note": run.note,
            }
            for run in result.runs
        ],
        "tests": [
            {
                "id": case.test_id,
                "suite": case.suite,
                "verdict": case.verdict.value,
                "outcomes": [outcome.value if outcome else None for outcome in case.outcomes],
                "durations_s": [_round(d) for d in case.durations_s],
            }
            for case in result.verdicts
        ],
        "timings": {
            "runs": _timing_data(run_timing(result)),
            "suites": [_timing_data(timing) for timing in suite_timings(result)],
        },
    }


def render_json(result: ProofResult) -> str:
    return json.dumps(report_data(result), indent=2, ensure_ascii=False) + "\n"


def _timing_data(timing: SuiteTiming) -> dict[str, Any]:
    return {"suite": timing.suite, "durations_s": [_round(d) for d in timing.durations_s],
            "min_s": _round(timing.min_s), "median_s": _round(timing.median_s),
            "max_s": _round(timing.max_s)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}s"


# --------------------------------------------------------------------------- Markdown


def render_markdown(result: ProofResult) -> str:
    n = len(result.runs)
    run_headers = [f"Run {i}" for i in range(1, n + 1)]
    lines = [f"# Flake proof: {result.summary_line}", "",
             f"**Result: {'OK' if result.ok else 'NOT OK'}**", "",
             f"- Command: `{_md_code(shlex.join(result.command))}`",
             f"- Directory: `{_md_code(str(result.cwd))}`",
             f"- Runs: {n} of {result.runs_requested}"]
    if result.stop_reason:
        lines.append(f"- Stopped: {result.stop_reason}")

    lines += ["", "## Flaky and failing tests", ""]
    suspects = [*result.tests_with(Verdict.FLAKY), *result.tests_with(Verdict.FAILING)]
    if suspects:
        lines += _md_table(["Test", "Verdict", *run_headers],
                           [_md_test_row(case) for case in suspects])
    else:
        lines.append("None.")

    lines += ["", "## Runs", ""]
    lines += _md_table(
        ["Run", "Exit status", "Passed", "Failed", "Flaky", "Skipped", "Duration", "Proof file",
         "Note"],
        [[str(run.index), str(run.exit_code), *(str(c) for c in _run_counts(run)),
          _seconds(run.duration_s), _md(_relative(run.proof_file, result.out_dir)),
          _md(run.note or "")]
         for run in result.runs])

    lines += ["", "## Timing", ""]
    lines += _md_table(["Suite", *run_headers, "Min", "Median", "Max"],
                       [_timing_row(t) for t in [run_timing(result), *suite_timings(result)]])

    lines += ["", "## All tests", ""]
    if result.verdicts:
        lines += _md_table(["Test", "Verdict", *run_headers],
                           [_md_test_row(case) for case in result.verdicts])
    else:
        lines.append("No per-test results: no run produced JUnit XML.")
    return "\n".join(lines) + "\n"


def _md_test_row(case: CaseVerdict) -> list[str]:
    return [_md_code_cell(case.test_id), case.verdict.value,
            *(outcome.value if outcome else "—" for outcome in case.outcomes)]


def _timing_row(timing: SuiteTiming) -> list[str]:
    suite = _md(timing.suite) if timing.suite == WHOLE_RUN else _md_code_cell(timing.suite)
    return [suite, *(_seconds(d) for d in timing.durations_s),
            _seconds(timing.min_s), _seconds(timing.median_s), _seconds(timing.max_s)]


def _run_counts(run: RunResult) -> list[int]:
    return [run.count(outcome)
            for outcome in (Outcome.PASSED, Outcome.FAILED, Outcome.FLAKY, Outcome.SKIPPED)]


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A table of cells already escaped with `_md` or `_md_code_cell`."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _md(text: str) -> str:
    """Plain text in a table cell: pipes escaped and line breaks flattened, so a note with
    `|` cannot break the table."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_code_cell(text: str) -> str:
    """A test id or suite as code in a table cell. Inside code spans GitHub only honours the
    `\\|` escape (needed for ids like `test_x[a|b]`); backticks would end the span."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _md_code(text: str) -> str:
    return text.replace("`", "'")


# --------------------------------------------------------------------------- HTML

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; } .bad { color: #cf222e; }
.passed, .stable { background: #e6f4ea; } .failed, .failing { background: #fde7e9; }
.flaky { background: #fff4ce; } .skipped, .missing { background: #f0f0f0; }
code { font-size: 90%; }
"""


def render_html(result: ProofResult) -> str:
    """A self-contained page; every value goes through html.escape."""
    e = html.escape
    n = len(result.runs)
    run_headers = [f"Run {i}" for i in range(1, n + 1)]
    status = ('<p class="ok"><strong>Result: OK</strong></p>' if result.ok
              else '<p class="bad"><strong>Result: NOT OK</strong></p>')
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Flake proof: {e(result.summary_line)}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Flake proof: {e(result.summary_line)}</h1>", status, "<ul>",
             f"<li>Command: <code>{e(shlex.join(result.command))}</code></li>",
             f"<li>Directory: <code>{e(str(result.cwd))}</code></li>",
             f"<li>Runs: {n} of {result.runs_requested}</li>"]
    if result.stop_reason:
        parts.append(f"<li>Stopped: {e(result.stop_reason)}</li>")
    parts.append("</ul>")

    parts.append("<h2>Flaky and failing tests</h2>")
    suspects = [*result.tests_with(Verdict.FLAKY), *result.tests_with(Verdict.FAILING)]
    parts.append(_html_tests(suspects, run_headers) if suspects else "<p>None.</p>")

    parts.append("<h2>Runs</h2>")
    rows = []
    for run in result.runs:
        cells = [f"<td>{run.index}</td>", f'<td class="num">{run.exit_code}</td>']
        cells += [f'<td class="num">{count}</td>' for count in _run_counts(run)]
        cells += [f'<td class="num">{e(_seconds(run.duration_s))}</td>',
                  f"<td>{e(_relative(run.proof_file, result.out_dir))}</td>",
                  f"<td>{e(run.note or '')}</td>"]
        rows.append(f'<tr class="{"passed" if run.ok else "failed"}">{"".join(cells)}</tr>')
    parts.append(_html_table(["Run", "Exit status", "Passed", "Failed", "Flaky", "Skipped",
                              "Duration", "Proof file", "Note"], rows))

    parts.append("<h2>Timing</h2>")
    rows = []
    for timing in [run_timing(result), *suite_timings(result)]:
        values = [*timing.durations_s, timing.min_s, timing.median_s, timing.max_s]
        rows.append(f"<tr><td>{e(timing.suite)}</td>"
                    + "".join(f'<td class="num">{e(_seconds(v))}</td>' for v in values)
                    + "</tr>")
    parts.append(_html_table(["Suite", *run_headers, "Min", "Median", "Max"], rows))

    parts.append("<h2>All tests</h2>")
    parts.append(_html_tests(list(result.verdicts), run_headers) if result.verdicts
                 else "<p>No per-test results: no run produced JUnit XML.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_tests(cases: Sequence[CaseVerdict], run_headers: Sequence[str]) -> str:
    e = html.escape
    rows = []
    for case in cases:
        cells = [f"<td><code>{e(case.test_id)}</code></td>",
                 f'<td class="{e(case.verdict.value)}">{e(case.verdict.value)}</td>']
        for outcome in case.outcomes:
            value = outcome.value if outcome else "missing"
            cells.append(f'<td class="{e(value)}">{e(outcome.value if outcome else "—")}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _html_table(["Test", "Verdict", *run_headers], rows)


def _html_table(headers: Sequence[str], rows: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
