"""The lease registry: which task holds which port block, under a file lock.

One JSON file in the state dir maps Compose project names to leases. Every read-modify-write
happens under a file lock, so 40 `render`s started at once for 40 tasks get 40 disjoint
blocks. The file is written 0600 and atomically; a corrupt file is moved aside with a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from compose_gen import paths
from compose_gen.config import Config
from compose_gen.errors import ComposeGenError, NoFreePortBlockError, UsageError
from compose_gen.ports import PortBlock, block_for_slot, check_range, find_free_block
from compose_gen.task import TaskSpec

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 60.0
REGISTRY_VERSION = 1


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
    # "rendered" → "starting" (an `up` in progress, pid is its process) → "up".
    state: str = "rendered"
    databases: tuple[str, ...] = field(default_factory=tuple)
    workers: int = 0
    template: str | None = None

    @property
    def block(self) -> PortBlock:
        return PortBlock(slot=self.slot, start=self.block_start, size=self.block_size)

    @classmethod
    def from_json(cls, data: dict) -> Lease:
        """A lease as read back; TypeError/ValueError (an unreadable registry) when a field is
        not what compose-gen writes, e.g. a hand-edited slot "3" would crash the port maths."""
        known = {f.name: f for f in fields(cls)}
        data = {key: value for key, value in data.items() if key in known}
        data["databases"] = tuple(data.get("databases", ()))
        lease = cls(**data)
        for name, fld in known.items():
            value = getattr(lease, name)
            values = value if name == "databases" else (value,)
            kinds = _FIELD_TYPES[str(fld.type)]
            if any(isinstance(v, bool) or not isinstance(v, kinds) for v in values):
                raise TypeError(f"lease field {name!r} has a {type(value).__name__}")
        if not _PASSWORD_RE.match(lease.password):
            raise ValueError("lease password is not the hex compose-gen writes")
        return lease


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "str": (str,), "str | None": (str, type(None)),
    "tuple[str, ...]": (str,)}
_PASSWORD_RE = re.compile(r"^[0-9a-f]{16,}\Z")


class LeaseRegistry:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.leases_file()
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Lease]]:
        """Yield the leases; whatever the caller leaves in the dict is written back."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.lock_path), timeout=LOCK_TIMEOUT, mode=0o600)
        try:
            lock.acquire()
        except Timeout as err:
            raise ComposeGenError(
                f"the lease registry {self.path} stayed locked for {LOCK_TIMEOUT:.0f} s",
                hint=f"is another compose-gen stuck? remove {self.lock_path} if none runs",
            ) from err
        try:
            leases = self._read()
            before = dict(leases)
            yield leases
            if leases != before:
                self._write(leases)
        finally:
            lock.release()

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
                recheck: bool = False) -> Lease:
        """The task's lease: kept if it exists, else a new block found by probing.

        recheck: also verify the kept block is still free (the task's stack is not running,
        so nothing of ours should hold its ports) and move to another block if not.
        """
        check_range(config.ports)
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
                    updated=now, state=existing.state if existing else "rendered",
                    databases=existing.databases if existing else (),
                    template=existing.template if existing else None)
            leases[task.project_name] = lease
            return lease

    def update(self, project_name: str, **changes: object) -> Lease | None:
        with self._locked() as leases:
            lease = leases.get(project_name)
            if lease is None:
                return None
            leases[project_name] = replace(lease, updated=time.time(), **changes)
            return leases[project_name]

    def task_lock(self, project_name: str, timeout: float) -> Any:
        """Serialises `up`/`down`/`reset` of one task; other tasks never wait on it."""
        from filelock import FileLock

        return FileLock(str(paths.locks_dir() / f"{project_name}.lock"), timeout=timeout,
                        mode=0o600)

    def release(self, project_name: str) -> Lease | None:
        with self._locked() as leases:
            return leases.pop(project_name, None)
