"""What is on this Docker host: every compose-gen stack (by label) with its lease; `gc`.

`status`/`ls` read it; `gc` removes stacks whose task is gone (its project dir deleted, its
`up` died) and their leases. Only resources carrying our label are ever touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compose_gen import paths, stack
from compose_gen.leases import Lease, LeaseRegistry, LeaseState
from compose_gen.processes import pid_alive
from compose_gen.task import PROJECT_DIR_LABEL, REGISTRY_LABEL, TASK_LABEL

# --- status, ls, gc ------------------------------------------------------------------------

@dataclass(frozen=True)
class StackInfo:
    project: str
    task_id: str
    project_dir: str
    state: str
    containers: tuple[stack.Resource, ...]
    volumes: tuple[str, ...]
    networks: tuple[str, ...]
    lease: Lease | None
    registry: str = ""

    def as_json(self) -> dict[str, object]:
        lease = self.lease
        return {
            "project": self.project, "task_id": self.task_id,
            "project_dir": self.project_dir, "state": self.state,
            "ports": None if lease is None else [lease.block_start,
                                                 lease.block_start + lease.block_size - 1],
            "workers": lease.workers if lease else None,
            "databases": list(lease.databases) if lease else [],
            "containers": [{"name": c.name, "state": c.state, "ports": list(c.ports),
                            "service": c.labels.get("com.docker.compose.service")}
                           for c in self.containers],
            "volumes": list(self.volumes), "networks": list(self.networks),
        }


def stacks(task_id: str | None = None) -> list[StackInfo]:
    """Every compose-gen stack on this Docker host (by label), with its lease if any."""
    resources = stack.labelled_resources(TASK_LABEL, task_id)
    leases = LeaseRegistry().all()
    projects: dict[str, list[stack.Resource]] = {}
    for res in resources:
        projects.setdefault(res.project, []).append(res)
    for name, held in leases.items():
        if task_id is None or held.task_id == task_id:
            projects.setdefault(name, [])
    result = []
    for project, items in sorted(projects.items()):
        containers = tuple(r for r in items if r.kind == "container")
        lease = leases.get(project)
        states = {c.state for c in containers}
        if not containers:
            state = (str(lease.state) if lease and lease.state == LeaseState.RENDERED
                     else "no containers")
        elif states == {"running"}:
            state = "running"
        else:
            state = ", ".join(f"{sum(c.state == s for c in containers)} {s}"
                              for s in sorted(states))
        any_labels = items[0].labels if items else {}
        result.append(StackInfo(
            project=project,
            task_id=lease.task_id if lease else any_labels.get(TASK_LABEL, ""),
            project_dir=lease.project_dir if lease else any_labels.get(PROJECT_DIR_LABEL, ""),
            state=state, containers=containers,
            volumes=tuple(r.name for r in items if r.kind == "volume"),
            networks=tuple(r.name for r in items if r.kind == "network"),
            lease=lease, registry=any_labels.get(REGISTRY_LABEL, "")))
    return result


@dataclass(frozen=True)
class GcItem:
    project: str
    task_id: str
    reason: str
    resources: tuple[stack.Resource, ...]


def gc_reason(info: StackInfo) -> str | None:
    """Why a stack is garbage, or None when its task is still alive.

    A stack made through another lease registry (another $COMPOSE_GEN_STATE_DIR or user) is
    only collected when its project dir is gone: its leases are not ours to judge.
    """
    lease = info.lease
    if lease is None:
        if info.project_dir and not Path(info.project_dir).is_dir():
            return f"its project dir {info.project_dir} is gone"
        if info.registry == paths.registry_id():
            return "no lease (released, or lost with the lease registry)"
        return None
    if lease.worktree and not Path(lease.worktree).is_dir():
        return f"its worktree {lease.worktree} is gone"
    if not Path(lease.project_dir).is_dir():
        return f"its project dir {lease.project_dir} is gone"
    if lease.state == LeaseState.STARTING and not pid_alive(lease.pid):
        return f"its `up` (pid {lease.pid}) died before finishing"
    return None


def gc(*, dry_run: bool = False) -> list[GcItem]:
    """Remove stacks (containers, volumes, networks) and leases whose task is gone."""
    registry = LeaseRegistry()
    found = []
    for info in stacks():
        reason = gc_reason(info)
        if reason is None:
            continue
        resources = tuple(r for r in stack.labelled_resources(TASK_LABEL, info.task_id or None)
                          if r.project == info.project) if info.task_id else ()
        found.append(GcItem(info.project, info.task_id, reason, resources))
        if dry_run:
            continue
        stack.remove_resources(resources)
        if info.lease is not None:
            task_dir = Path(info.lease.task_dir)
            if task_dir.is_dir() and task_dir.name == info.lease.task_id:
                paths.remove_generated(task_dir)
        registry.release(info.project)
    return found
