"""`compose_gen.proof.report`: test ids and notes come from the tested project, so whatever
they hold must stay text in report.html and stay inside its table cell in report.md."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from compose_gen.proof.judge import judge
from compose_gen.proof.model import CaseResult, Outcome, ProofResult, RunResult
from compose_gen.proof.report import render_html, render_json, render_markdown

HOSTILE_ID = "tests/test_x.py::test_a[<script>alert(1)</script>|`rm -rf`|line1\nline2]"
HOSTILE_SUITE = "tests/<b>suite</b>|`x`.py"
HOSTILE_NOTE = "exit status 1 <img src=x onerror=alert(1)> | and\na second line"
OUT = Path("/proof")
START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def run(index: int, outcome: Outcome, note: str | None = None) -> RunResult:
    cases = (CaseResult(HOSTILE_ID, HOSTILE_SUITE, outcome, 0.5),
             CaseResult("tests/test_x.py::test_plain", "tests/test_x.py", Outcome.PASSED, 0.1))
    return RunResult(index=index, argv=("pytest", "-k", "<script>"), exit_code=1,
                     started_at=START, ended_at=START + timedelta(seconds=2), duration_s=2.0,
                     cases=cases, junit_files=(OUT / "junit" / f"run{index}.xml",),
                     proof_file=OUT / f"proof_run{index}.txt", note=note)


def hostile_result() -> ProofResult:
    runs = (run(1, Outcome.PASSED), run(2, Outcome.FAILED, note=HOSTILE_NOTE))
    return ProofResult(command=("pytest", "-k", "a|b `c` <script>"), cwd=Path("/w/<dir>"),
                       out_dir=OUT, runs_requested=2, runs=runs, verdicts=judge(runs),
                       stop_reason="stopped <now> | here")


def test_html_escapes_every_value_from_the_tested_project() -> None:
    page = render_html(hostile_result())

    assert "<script>" not in page and "<img" not in page and "<b>suite" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;|`rm -rf`|line1\nline2]" in page
    assert "exit status 1 &lt;img src=x onerror=alert(1)&gt; | and" in page
    assert "tests/&lt;b&gt;suite&lt;/b&gt;|`x`.py" in page
    assert "<code>pytest -k &#x27;a|b `c` &lt;script&gt;&#x27;</code>" in page
    assert "<li>Directory: <code>/w/&lt;dir&gt;</code></li>" in page
    assert "<li>Stopped: stopped &lt;now&gt; | here</li>" in page


def test_markdown_keeps_each_hostile_value_inside_its_table_cell() -> None:
    text = render_markdown(hostile_result())

    cell = "`tests/test_x.py::test_a[<script>alert(1)</script>\\|'rm -rf'\\|line1 line2]`"
    # The id is one code span (backticks turned into quotes cannot close it early), its pipes
    # escaped and its line break flattened, so the row keeps its columns.
    assert f"| {cell} | flaky | passed | failed |" in text
    assert "| `tests/<b>suite</b>\\|'x'.py` |" in text
    assert "onerror=alert(1)> \\| and a second line |" in text  # the note's pipe and line break
    assert "- Command: `pytest -k 'a|b 'c' <script>'`" in text
    # Every row of every table has as many unescaped pipes as its header row.
    tables: list[list[str]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line)
        previous = line
    assert len(tables) == 4
    for table in tables:
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table
    assert not any(line.startswith("line2") for line in text.splitlines())


def test_json_keeps_the_values_as_they_were() -> None:
    data = json.loads(render_json(hostile_result()))

    assert data["tests"][0]["id"] == HOSTILE_ID
    assert data["runs"][1]["note"] == HOSTILE_NOTE
    assert data["command"] == ["pytest", "-k", "a|b `c` <script>"]
