"""Claims: one live user per database and media dir, across the workers and runs of a task.

Every resource a worker uses is claimed with a small file in the task's dir, next to its
`.env.task`, taken under a lock (`compose-gen down` removes them with the task). A second live
claimant fails loudly; claims of dead processes (a crashed xdist worker, a killed run) are
swept by the next run's controller, which drops their databases.

A claim on a resource the plugin did not make (a project's own MEDIA_ROOT or test database)
outlives its worker's session: released, it still names its run until that run's controller
ends. Two workers of one run that used one directory one after the other (one finished before
the other started, as happens under load) share it as surely as two at once, and fail the same.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compose_gen.processes import pid_alive, start_time
from compose_gen.pytest_plugin.discovery import ActiveTask
from compose_gen.pytest_plugin.options import MEDIA_ROOT_ENV
from compose_gen.pytest_plugin.workers import WorkerIdentity, run_alive, run_controller_start

CLAIMS_DIR = "pytest-claims"
LOCK_TIMEOUT = 30.0


class ClaimKind(str, enum.Enum):
    """What a claim holds; the value is the word used in claim files and messages."""

    DATABASE = "database"
    MEDIA_DIR = "media dir"


class SharedResourceError(Exception):
    """Two live test processes would use one database or media dir."""


class Claims:
    """One file per claimed resource in a directory, read and written under a lock.

    A claim names its process, run and worker. Taking a resource that a live process of another
    worker holds raises SharedResourceError; a claim whose process is gone is taken over.
    `owned` marks resources this plugin created (and the sweep may therefore drop).
    """

    def __init__(self, directory: Path, identity: WorkerIdentity) -> None:
        self.dir = directory
        self.identity = identity

    def _path(self, kind: ClaimKind, name: str) -> Path:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return self.dir / f"{ClaimKind(kind).value}-{digest}.json"

    def lock(self, name: str = ".lock", timeout: float = LOCK_TIMEOUT) -> Any:
        """A file lock in the claims dir (the claims' own, or another one by name)."""
        from filelock import FileLock

        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return FileLock(str(self.dir / name), timeout=timeout, mode=0o600)

    def take(self, kind: ClaimKind, name: str, *, owned: bool = False,
             what: str | None = None) -> None:
        kind = ClaimKind(kind)
        path = self._path(kind, name)
        with self.lock():
            holder = _read_claim(path)
            if holder and self._conflicts(holder):
                same_run = holder.get("run") == self.identity.run
                who = (f"worker {holder.get('worker')} of this run" if same_run else
                       f"worker {holder.get('worker')} of another pytest run of this task")
                raise SharedResourceError(
                    f"compose-gen: {what or kind.value} {name} is already used by {who} (pid "
                    f"{holder['pid']}); two test workers must never share one {kind.value}. "
                    + ("Give each worker its own name (e.g. from $PYTEST_XDIST_WORKER or "
                       f"${MEDIA_ROOT_ENV})." if same_run else
                       "Wait for that run to finish, or use another task."))
            self._write(path, {"kind": kind.value, "name": name, "pid": os.getpid(),
                               "started": start_time(os.getpid()), "run": self.identity.run,
                               "run_started": run_controller_start(self.identity.run),
                               "worker": self.identity.worker_id, "owned": owned})

    def _conflicts(self, holder: Mapping[str, Any]) -> bool:
        """Another live holder. A released claim is held by its worker's run while that run
        goes on: another worker of that run, or of another run, would share the resource."""
        if holder.get("released"):
            mine = (holder.get("run"), holder.get("worker")) == (self.identity.run,
                                                                 self.identity.worker_id)
        else:
            mine = holder.get("pid") == os.getpid()
        return not mine and _alive(holder)

    def _write(self, path: Path, record: Mapping[str, Any]) -> None:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)

    def release(self, kind: ClaimKind, name: str) -> None:
        """Let go of a claim: a resource the plugin made is free; any other stays this run's
        (marked released) until `end_run`."""
        path = self._path(kind, name)
        with self.lock():
            holder = _read_claim(path)
            if not holder or holder.get("pid") != os.getpid():
                return
            if holder.get("owned"):
                path.unlink(missing_ok=True)
            else:
                self._write(path, {**holder, "released": True})

    def end_run(self) -> None:
        """The run's controller is done: its released claims free their resources."""
        if not self.dir.is_dir():
            return
        with self.lock():
            for path in self.dir.glob("*.json"):
                holder = _read_claim(path)
                if holder and holder.get("released") and holder.get("run") == self.identity.run:
                    path.unlink(missing_ok=True)

    def dead(self) -> list[dict[str, Any]]:
        """Claims whose process is gone (a crashed worker, a killed run); a released claim is
        gone with its run's controller."""
        if not self.dir.is_dir():
            return []
        found = []
        with self.lock():
            for path in sorted(self.dir.glob("*.json")):
                holder = _read_claim(path)
                if holder is None or not _alive(holder):
                    found.append({**(holder or {}), "path": str(path)})
        return found

    def forget(self, claim: Mapping[str, Any]) -> None:
        with self.lock():
            path = Path(claim["path"])
            holder = _read_claim(path)
            if holder is None or not _alive(holder):
                path.unlink(missing_ok=True)


def _alive(holder: Mapping[str, Any]) -> bool:
    if holder.get("released"):
        return run_alive(str(holder.get("run", "")), str(holder.get("run_started") or ""))
    return pid_alive(int(holder.get("pid", 0)), str(holder.get("started") or ""))


def _read_claim(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": 0}
    return data if isinstance(data, dict) and "pid" in data else {"pid": 0}


def claims_for(task: ActiveTask, identity: WorkerIdentity) -> Claims:
    """The task's claims live in its own dir: one task, one set; gone with `down`."""
    return Claims(task.dir / CLAIMS_DIR, identity)


def sweep_dead_claims(task: ActiveTask, identity: WorkerIdentity) -> list[str]:
    """Drop databases and remove media dirs whose claiming process is gone; returns names."""
    from compose_gen import media
    from compose_gen.pytest_plugin.worker_databases import admin_url

    claims = claims_for(task, identity)
    swept = []
    databases = []
    for claim in claims.dead():
        kind = claim.get("kind")
        if claim.get("owned") and kind == ClaimKind.DATABASE.value:
            databases.append(claim)
            continue
        path = Path(str(claim.get("name", "")))
        if claim.get("owned") and kind == ClaimKind.MEDIA_DIR.value \
                and media.scratch_root() in path.parents:
            media.remove_dir(path)
            swept.append(str(path))
        claims.forget(claim)
    if databases:
        from compose_gen import database

        database.drop(admin_url(task), [claim["name"] for claim in databases])
        for claim in databases:
            claims.forget(claim)
            swept.append(claim["name"])
    return swept
