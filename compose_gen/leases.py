"""The lease registry: which task holds which port block and subnets, under a file lock.

One JSON file in the state dir maps Compose project names to leases. Every read-modify-write
happens under a file lock, so 40 `render`s started at once for 40 tasks get 40 disjoint
blocks and disjoint subnets. The file is written 0600 and atomically; a corrupt file is moved
aside with a warning. Every file lock of compose-gen's task lifecycle is taken through
`file_lock`, so a lock that stays taken is always the same timeout error with a hint.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from compose_gen import paths
from compose_gen import subnets as subnet_pool
from compose_gen.coerce import CoercionError, TextEnum, coerce, field_types
from compose_gen.config import Config
from compose_gen.errors import (
    DockerUnavailableError,
    NoFreePortBlockError,
    NoFreeSubnetError,
    UsageError,
    WaitTimeoutError,
)
from compose_gen.ports import PortBlock, block_for_slot, check_range, find_free_block
from compose_gen.task import TaskSpec

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 60.0
REGISTRY_VERSION = 1


class LeaseState(TextEnum):
    """Where a task's `up` is: text in the registry's JSON, as before it was an enum."""

    RENDERED = "rendered"
    STARTING = "starting"  # an `up` in progress; the lease's pid is its process
    UP = "up"


@dataclass(frozen=True)
class Lease:
    task_id: str
    project_name: str
    slot: int
    block_start: int
    block_size: int
    project_dir: str
    task_dir: str
    password: str
    pid: int
    created: float
    updated: float
    state: LeaseState = LeaseState.RENDERED
    databases: tuple[str, ...] = field(default_factory=tuple)
    workers: int = 0
    template: str | None = None
    # The seed hash of the media template copied into the workers' media volumes.
    media_seed: str | None = None
    # The task's networks' subnets, in the order the override assigns them (CIDR strings).
    subnets: tuple[str, ...] = field(default_factory=tuple)
    # The worktree a worktree tool's hook made the task for ("" otherwise): `gc` reaps the
    # task once that directory is gone, whether or not the config lives inside it.
    worktree: str = ""

    @property
    def block(self) -> PortBlock:
        return PortBlock(slot=self.slot, start=self.block_start, size=self.block_size)

    @classmethod
    def from_json(cls, data: dict) -> Lease:
        """A lease as read back; TypeError/ValueError (an unreadable registry) when a field is
        not what compose-gen writes, e.g. a hand-edited slot "3" would crash the port maths."""
        types = field_types(cls)  # type: ignore[arg-type]  # a class is hashable
        known = {f.name for f in fields(cls)}
        values = {}
        for name, value in data.items():
            if name not in known:
                continue  # written by a newer compose-gen
            try:
                values[name] = coerce(value, types[name])
            except CoercionError as err:
                raise TypeError(f"lease field {name!r} {err}, got {value!r}") from None
        lease = cls(**values)
        if not _PASSWORD_RE.match(lease.password):
            raise ValueError("lease password is not the hex compose-gen writes")
        return lease


_PASSWORD_RE = re.compile(r"^[0-9a-f]{16,}\Z")


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, *, what: str, hint: str) -> Iterator[None]:
    """Hold the file lock at `path`; after `timeout` s, WaitTimeoutError (exit 5) reading
    "{what} for more than {timeout} s (hint)"."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(path), timeout=timeout, mode=0o600)
    try:
        lock.acquire()
    except Timeout as err:
        raise WaitTimeoutError(f"{what} for more than {timeout:.0f} s",
                               hint=hint) from err
    try:
        yield
    finally:
        lock.release()


class LeaseRegistry:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.leases_file()
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Lease]]:
        """Yield the leases; whatever the caller leaves in the dict is written back."""
        with file_lock(self.lock_path, LOCK_TIMEOUT,
                       what=f"the lease registry {self.path} stayed locked",
                       hint=f"is another compose-gen stuck? remove {self.lock_path} if none "
                       "runs"):
            leases = self._read()
            before = dict(leases)
            yield leases
            if leases != before:
                self._write(leases)

    @contextlib.contextmanager
    def locked_task(self, task: TaskSpec, timeout: float, *, doing: str) -> Iterator[None]:
        """Serialise `up`/`down`/`reset` of one task; other tasks never wait on it.

        doing: what this call is about to do ("start", "tear down" …), for the error.
        """
        path = paths.locks_dir() / f"{task.project_name}.lock"
        with file_lock(path, timeout, what=f"cannot {doing} task '{task.id}': another "
                       "compose-gen has held it", hint="it is starting, stopping or resetting "
                       f"the task; wait for it, or remove {path} if none runs"):
            yield

    def _read(self) -> dict[str, Lease]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            # Bytes, so that undecodable garbage is a ValueError here and not a crash above.
            data = json.loads(raw)
            return {name: Lease.from_json(item) for name, item in data["leases"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            log.warning("the lease registry %s was unreadable (%s); moved it to %s and started "
                        "a new one (run `compose-gen gc` to reclaim stacks it listed)",
                        self.path, err.__class__.__name__, aside)
            return {}

    def _write(self, leases: dict[str, Lease]) -> None:
        payload = {"version": REGISTRY_VERSION,
                   "leases": {name: asdict(lease) for name, lease in sorted(leases.items())}}
        paths.write_private(self.path, json.dumps(payload, indent=2) + "\n")

    def all(self) -> dict[str, Lease]:
        with self._locked() as leases:
            return dict(leases)

    def get(self, project_name: str) -> Lease | None:
        with self._locked() as leases:
            return leases.get(project_name)

    def acquire(self, task: TaskSpec, config: Config, *,
                block_is_free: Callable[[PortBlock], bool],
                recheck: bool = False, subnets: int | None = None,
                blocked_subnets: Callable[[], Iterable[subnet_pool.Subnet]] | None = None,
                ) -> Lease:
        """The task's lease: kept if it exists, else a new block found by probing.

        recheck: also verify the kept block is still free (the task's stack is not running,
        so nothing of ours should hold its ports) and move to another block if not.
        subnets: how many subnets the task's networks need (None: keep what the lease has).
        More than it has keeps those and adds; fewer keeps the first ones. A kept subnet that
        now overlaps a blocked one or lies outside the configured pool is replaced.
        blocked_subnets: subnets in use outside the registry, called before the registry is
        locked and only if subnets is set (default: the host's routes and the Docker networks
        of other projects, `blocked_subnets_for`).
        """
        check_range(config.ports)
        if blocked_subnets is None:
            blocked = blocked_subnets_for(task.project_name) if subnets else []
        else:
            blocked = list(blocked_subnets()) if subnets else []
        now = time.time()
        with self._locked() as leases:
            existing = leases.get(task.project_name)
            if existing and existing.project_dir != str(config.project_dir) \
                    and Path(existing.project_dir).exists():
                raise UsageError(
                    f"task '{task.id}' is already leased by the project in "
                    f"{existing.project_dir}",
                    hint="use another task ID, or another project_prefix for this project")
            # Kept only if it still fits the configured range (slots may have shrunk since).
            if existing and existing.block_size == config.ports.block_size \
                    and 0 <= existing.slot < config.ports.slots \
                    and existing.block_start == block_for_slot(existing.slot, config.ports).start \
                    and (not recheck or block_is_free(existing.block)):
                lease = replace(existing, pid=os.getpid(), updated=now,
                                task_dir=str(task.dir), project_dir=str(config.project_dir))
            else:
                taken = {lease.slot for name, lease in leases.items()
                         if name != task.project_name}
                block = find_free_block(task.id, config.ports, taken, block_is_free)
                if block is None:
                    raise NoFreePortBlockError(
                        f"no free block of {config.ports.block_size} ports in "
                        f"{config.ports.range_start}-{config.ports.range_end} for task "
                        f"'{task.id}' ({len(taken)} of {config.ports.slots} slots leased, the "
                        "rest have ports in use)",
                        hint="run `compose-gen gc`, or widen the range with ports.slots / "
                        "ports.range_start")
                lease = Lease(
                    task_id=task.id, project_name=task.project_name, slot=block.slot,
                    block_start=block.start, block_size=block.size,
                    project_dir=str(config.project_dir), task_dir=str(task.dir),
                    password=existing.password if existing else secrets.token_hex(16),
                    pid=os.getpid(), created=existing.created if existing else now,
                    updated=now, state=existing.state if existing else LeaseState.RENDERED,
                    databases=existing.databases if existing else (),
                    template=existing.template if existing else None,
                    media_seed=existing.media_seed if existing else None,
                    subnets=existing.subnets if existing else (),
                    worktree=existing.worktree if existing else "")
            if subnets is not None:
                lease = replace(lease, subnets=_lease_subnets(
                    task, config, subnets, lease.subnets, leases, blocked))
            leases[task.project_name] = lease
            return lease

    def update(self, project_name: str, **changes: object) -> Lease | None:
        with self._locked() as leases:
            lease = leases.get(project_name)
            if lease is None:
                return None
            leases[project_name] = replace(lease, updated=time.time(),
                                           **changes)  # type: ignore[arg-type]
            return leases[project_name]

    def release(self, project_name: str) -> Lease | None:
        with self._locked() as leases:
            return leases.pop(project_name, None)


def _lease_subnets(task: TaskSpec, config: Config, count: int, keep: tuple[str, ...],
                   leases: dict[str, Lease], blocked: list[subnet_pool.Subnet]) -> tuple[str, ...]:
    networks = config.networks
    taken = [s for name, other in leases.items() if name != task.project_name
             for s in other.subnets]
    found = subnet_pool.allocate(task.id, networks.pool, networks.prefix, count, keep=keep,
                             taken=taken, blocked=blocked)
    if found is None:
        pool, total = subnet_pool.parse_pool(networks.pool, networks.prefix)
        raise NoFreeSubnetError(
            f"no {count} free /{networks.prefix} subnet(s) in {pool} for task '{task.id}' "
            f"({len(taken)} of {total} leased to other tasks, the rest overlap host routes or "
            "Docker networks)",
            hint="run `compose-gen gc`, or set networks.pool to a wider or another private "
            "range (see `compose-gen doctor`)")
    return found


def blocked_subnets_for(project_name: str,
                             networks: Callable[[], Iterable[Any]] | None = None,
                             ) -> list[subnet_pool.Subnet]:
    """Subnets a task's new networks must avoid: host routes (but Docker's bridges) and every
    Docker network not of the task's own Compose project (its own keep their subnets).

    networks: lists Docker's networks (default: stack.list_networks, the Docker door).
    """
    found = subnet_pool.blocking_routes(subnet_pool.host_routes())
    if networks is None:
        from compose_gen import stack

        networks = stack.list_networks
    try:
        listed = list(networks())
    except DockerUnavailableError as err:
        # `render` works without a daemon; `up` cannot, and will say so itself.
        log.debug("subnets checked against host routes only: %s", err)
        listed = []
    for net in listed:
        if net.project != project_name:
            found += [ipaddress.IPv4Network(s) for s in net.subnets]
    return found
