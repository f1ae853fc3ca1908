"""`gc_reason`: which stacks `compose-gen gc` collects, judged from plain values (no Docker).

A stack is garbage when its task is gone: its project dir was deleted, or its `up` died
before finishing. A stack of another lease registry (another state dir or user) is only
collected when its project dir is gone, since its leases are not ours to judge.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compose_gen import paths
from compose_gen.inventory import StackInfo, gc_reason
from compose_gen.leases import Lease, LeaseState


def lease(project_dir: Path, *, state: LeaseState = LeaseState.UP,
          pid: int | None = None) -> Lease:
    return Lease(task_id="t-gc", project_name="zf-t-gc", slot=3, block_start=20030,
                 block_size=10, project_dir=str(project_dir),
                 task_dir=str(project_dir / ".zenflow" / "tasks" / "t-gc"), password="ab" * 16,
                 pid=os.getpid() if pid is None else pid, created=1.0, updated=2.0, state=state)


def info(*, project_dir: Path | str = "", held: Lease | None = None,
         registry: str = "") -> StackInfo:
    return StackInfo(project="zf-t-gc", task_id="t-gc", project_dir=str(project_dir),
                     state="running", containers=(), volumes=(), networks=(), lease=held,
                     registry=registry)


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_leased_stack_whose_project_dir_is_gone_is_garbage(tmp_path: Path) -> None:
    gone = tmp_path / "deleted-worktree"
    assert gc_reason(info(project_dir=gone, held=lease(gone))) == (
        f"its project dir {gone} is gone")


def test_a_leased_stack_in_a_live_project_dir_is_kept(tmp_path: Path) -> None:
    for state in LeaseState:
        assert gc_reason(info(project_dir=tmp_path, held=lease(tmp_path, state=state))) is None


def test_a_stack_whose_up_died_while_starting_is_garbage(tmp_path: Path, dead_pid: int) -> None:
    held = lease(tmp_path, state=LeaseState.STARTING, pid=dead_pid)
    assert gc_reason(info(project_dir=tmp_path, held=held)) == (
        f"its `up` (pid {dead_pid}) died before finishing")


def test_a_dead_pid_only_matters_while_the_stack_is_starting(tmp_path: Path,
                                                              dead_pid: int) -> None:
    # The pid is the process of the last `up`; once the stack is up that process has ended.
    for state in (LeaseState.RENDERED, LeaseState.UP):
        held = lease(tmp_path, state=state, pid=dead_pid)
        assert gc_reason(info(project_dir=tmp_path, held=held)) is None


def test_the_lease_project_dir_decides_over_the_labels(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    assert gc_reason(info(project_dir=tmp_path, held=lease(gone))) == (
        f"its project dir {gone} is gone")
    assert gc_reason(info(project_dir=gone, held=lease(tmp_path))) is None


def test_an_unleased_stack_whose_project_dir_is_gone_is_garbage_whoever_made_it(
        tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    for registry in ("", "another-registry", paths.registry_id()):
        assert gc_reason(info(project_dir=gone, registry=registry)) == (
            f"its project dir {gone} is gone")


def test_an_unleased_stack_of_this_registry_is_garbage(tmp_path: Path) -> None:
    assert gc_reason(info(project_dir=tmp_path, registry=paths.registry_id())) == (
        "no lease (released, or lost with the lease registry)")
    assert gc_reason(info(registry=paths.registry_id())) == (
        "no lease (released, or lost with the lease registry)")


def test_an_unleased_stack_of_another_registry_is_not_ours_to_judge(tmp_path: Path) -> None:
    assert gc_reason(info(project_dir=tmp_path, registry="0123456789ab")) is None
    assert gc_reason(info(registry="")) is None
