"""Every command of docs/PARALLEL_TESTING_GUIDE.md, run in order, as a reader would.

The ```bash blocks are extracted and run one after the other in one bash (so `cd` and
`export` carry over, as in a terminal), with `set -euo pipefail`, from the root of a sandbox
copy of the checkout, against real Docker. A block preceded by `<!-- no-run -->` is skipped;
use that sparingly. Task IDs of the guide get a unique suffix, and whatever the guide started
is removed afterwards even when a command failed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "PARALLEL_TESTING_GUIDE.md"
BIN = Path(sys.executable).parent
NO_RUN = "<!-- no-run -->"
TASK_IDS = ("guide-demo", "guide-wt")
TASK_LABEL = "dev.compose-gen.task"


@dataclass(frozen=True)
class Block:
    line: int
    code: str


def extract_blocks(text: str) -> list[Block]:
    """The ```bash blocks (also indented ones in list items), minus those marked no-run."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^(\s*)```bash\s*$", lines[i])
        if not opening:
            i += 1
            continue
        indent = len(opening.group(1))
        start = i + 1
        j = start
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        previous = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
        if previous != NO_RUN:
            code = "\n".join(line[indent:] if line[:indent].isspace() else line.lstrip()
                             for line in lines[start:j])
            blocks.append(Block(line=start + 1, code=code))
        i = j + 1
    return blocks


def test_the_guide_runs_the_suites_it_documents() -> None:
    commands = "\n".join(block.code for block in extract_blocks(GUIDE.read_text()))
    for command in ("pytest -n 8 -m unit", "pytest -n 4 -m api", "pytest -n 2 -m processing",
                    "pytest -n 1 -m postgres", "compose-gen prove", "compose-gen zenflow init",
                    "test_parallel_zenflow.sh"):
        assert command in commands


def _sandbox(target: Path) -> Path:
    ignore = shutil.ignore_patterns(".zenflow", "node_modules", "e2e", "test-results",
                                    "playwright-report", "__pycache__", ".pytest_cache")
    shutil.copytree(REPO / "examples" / "demo", target / "examples" / "demo", ignore=ignore)
    shutil.copytree(REPO / "scripts", target / "scripts", ignore=ignore)
    return target


def _remove_by_label(task_id: str) -> None:
    """The safety net: whatever carries the task's label goes, whatever the guide got to."""
    label = f"label={TASK_LABEL}={task_id}"
    for kind, rm in (("container", ["rm", "-f"]), ("volume", ["rm", "-f"]),
                     ("network", ["rm"])):
        listing = subprocess.run(["docker", kind, "ls", "-q", *(["-a"] if kind == "container"
                                                                else []), "--filter", label],
                                 capture_output=True, text=True, timeout=60)
        names = listing.stdout.split()
        if names:
            subprocess.run(["docker", kind, *rm, *names], capture_output=True, timeout=120)


def test_every_command_in_the_guide_runs(tmp_path: Path) -> None:
    blocks = extract_blocks(GUIDE.read_text())
    suffix = uuid.uuid4().hex[:6]
    ids = {name: f"{name}-{suffix}" for name in TASK_IDS}
    parts = ["set -euo pipefail"]
    for block in blocks:
        code = block.code
        for name, unique in ids.items():
            code = code.replace(name, unique)
        parts.append(f"echo '### guide line {block.line}' >&2\n{code}")
    script = tmp_path / "guide.sh"
    script.write_text("\n".join(parts) + "\n")

    checkout = _sandbox(tmp_path / "checkout")
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ZENFLOW_TASK_ID"}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "TMPDIR": str(private_tmp),
                "GIT_AUTHOR_NAME": "guide", "GIT_AUTHOR_EMAIL": "guide@example.com",
                "GIT_COMMITTER_NAME": "guide", "GIT_COMMITTER_EMAIL": "guide@example.com"})
    try:
        result = subprocess.run(["bash", str(script)], cwd=checkout, env=env,
                                capture_output=True, text=True, timeout=1800)
    finally:
        subprocess.run([str(BIN / "compose-gen"), "down", "--task-id", ids["guide-demo"]],
                       cwd=checkout / "examples" / "demo", env=env, capture_output=True,
                       timeout=300)
        for unique in ids.values():
            _remove_by_label(unique)
    if result.returncode != 0:
        started = re.findall(r"### guide line (\d+)", result.stderr)
        where = f"the block at line {started[-1]}" if started else "before the first block"
        pytest.fail(f"the guide's commands failed in {where} of {GUIDE.name} (exit "
                    f"{result.returncode}):\n--- stdout\n{result.stdout[-6000:]}\n"
                    f"--- stderr\n{result.stderr[-4000:]}")
    # The suites ran for real: each printed its own summary.
    for summary in (r"\d+ passed", ):
        assert re.search(summary, result.stdout)
    assert "compose-gen: task 'guide-wt-" in result.stdout  # the plugin inside the worktree
