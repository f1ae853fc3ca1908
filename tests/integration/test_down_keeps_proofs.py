"""Proof files outlive `down` and `gc`: only what compose-gen wrote into a task dir goes.

`prove` writes into the task dir by default (.zenflow/tasks/<id>/proof_run<i>.txt and the
reports); `down` used to delete the whole dir with them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from compose_gen.leases import LeaseRegistry, LeaseState
from tests.integration.helpers import TaskTracker, cli, nothing_labelled

GENERATED = ("docker-compose.zenflow.yml", ".env.task", "workers.json")


def test_down_removes_what_compose_gen_wrote_and_keeps_the_proofs(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    task = tasks.add(minimal_project, unique_task_id)
    assert task.up("--workers", "1") == 0
    assert cli(minimal_project, "prove", "--runs", "2", "--task-id", task.task_id, "--",
               "python", "-c", "print('ok')") == 0
    proofs = sorted(p.name for p in task.dir.glob("proof_run*.txt"))
    assert proofs == ["proof_run1.txt", "proof_run2.txt"]
    reports = sorted(p.name for p in task.dir.iterdir() if p.name.startswith("report"))
    assert reports, "prove wrote no report into the task dir"
    (task.dir / "notes.txt").write_text("mine\n", encoding="utf-8")

    assert task.down() == 0

    left = {p.name for p in task.dir.iterdir()}
    assert not left & set(GENERATED)
    assert {*proofs, *reports, "notes.txt"} <= left
    assert nothing_labelled(task.task_id)


def test_gc_keeps_the_proofs_of_a_task_whose_up_died(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    task = tasks.add(minimal_project, unique_task_id)
    assert cli(minimal_project, "render", "--task-id", task.task_id, "--workers", "1") == 0
    proof = task.dir / "proof_run1.txt"
    proof.write_text("run 1: 3 passed\n", encoding="utf-8")
    # An `up` that died half-way: its lease says "starting" with a process that is gone.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    registry = LeaseRegistry()
    [name] = [n for n, lease in registry.all().items() if lease.task_id == task.task_id]
    registry.update(name, state=LeaseState.STARTING, pid=int(dead.stdout))

    assert cli(minimal_project, "gc") == 0

    assert registry.get(name) is None
    assert not any((task.dir / f).exists() for f in GENERATED)
    assert proof.read_text(encoding="utf-8") == "run 1: 3 passed\n"
