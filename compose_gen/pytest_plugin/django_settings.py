"""pytest-django's settings under a task: databases on its server, a MEDIA_ROOT per worker.

- Every PostgreSQL test database must live on the task's own server, and no two workers (of
  this run or of another run of the same task) may use one test database.
- Each worker gets its own MEDIA_ROOT (the plugin's `compose_gen_media_root`) through
  Django's `override_settings`, so `default_storage` follows it. Projects that already give
  each test its own MEDIA_ROOT (an autouse fixture setting `settings.MEDIA_ROOT` to a tmpdir)
  keep doing so. Only a directory that tests really write into from two workers is an error:
  `MediaGuard` looks after each test at the MEDIA_ROOT the test ran with.

Django is imported by the functions that need it, never at module import.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from compose_gen.pytest_plugin.claims import ClaimKind, claims_for
from compose_gen.pytest_plugin.discovery import ActiveTask
from compose_gen.pytest_plugin.workers import WorkerIdentity

LOCAL_HOSTS = ("localhost", "127.0.0.1")


def on_task_server(task: ActiveTask, settings_dict: Mapping[str, Any]) -> bool:
    host, port = task.server
    got_host = str(settings_dict.get("HOST") or "")
    got_port = str(settings_dict.get("PORT") or "5432")
    return got_port == str(port) and got_host in (host, *LOCAL_HOSTS)


def is_postgresql(settings_dict: Mapping[str, Any]) -> bool:
    return "postgresql" in str(settings_dict.get("ENGINE", ""))


def check_django_settings(task: ActiveTask, identity: WorkerIdentity,
                          databases: Mapping[str, Mapping[str, Any]]
                          ) -> list[tuple[ClaimKind, str]]:
    """Fail loudly unless every PostgreSQL test database is on the task's server and this
    worker's alone; returns the claims taken."""
    from compose_gen.pytest_plugin.claims import SharedResourceError

    host, port = task.server
    claims = claims_for(task, identity)
    taken: list[tuple[ClaimKind, str]] = []
    for alias, settings_dict in databases.items():
        if not is_postgresql(settings_dict):
            continue
        if not on_task_server(task, settings_dict):
            got_host = str(settings_dict.get("HOST") or "")
            raise SharedResourceError(
                f"compose-gen: DATABASES['{alias}'] points at {got_host or 'a local socket'}:"
                f"{settings_dict.get('PORT') or '5432'}, not at the server of task "
                f"'{task.task_id}' ({host}:{port}); build it from ${task.url_env} (or "
                "$POSTGRES_PORT) so that every task tests on its own server")
        test_name = str((settings_dict.get("TEST") or {}).get("NAME")
                        or f"test_{settings_dict.get('NAME')}")
        claims.take(ClaimKind.DATABASE, test_name, what="test database")
        taken.append((ClaimKind.DATABASE, test_name))
    return taken


class MediaGuard:
    """Claims a MEDIA_ROOT that tests of this worker wrote into, unless it is this worker's own.

    A worker's own places are its compose-gen media dir and its pytest basetemp (every
    `tmp_path` lives there); any other directory written during this run is claimed, and a
    claim held by another live worker raises SharedResourceError.
    """

    def __init__(self, task: ActiveTask, identity: WorkerIdentity, own: Iterable[Path],
                 started: float | None = None) -> None:
        self.claims = claims_for(task, identity)
        self.own = [Path(os.path.realpath(path)) for path in own]
        self.started = time.time() if started is None else started
        self.claimed: set[str] = set()

    def is_own(self, path: Path) -> bool:
        return any(path == root or root in path.parents for root in self.own)

    def check(self, media_root: str) -> None:
        if not media_root:
            return
        path = Path(os.path.realpath(media_root))
        if str(path) in self.claimed or self.is_own(path) \
                or not written_since(path, self.started):
            return
        self.claims.take(ClaimKind.MEDIA_DIR, str(path), what="MEDIA_ROOT")
        self.claimed.add(str(path))

    def release(self) -> None:
        for name in self.claimed:
            self.claims.release(ClaimKind.MEDIA_DIR, name)
        self.claimed.clear()


def written_since(path: Path, since: float) -> bool:
    """Whether anything under `path` was created or changed at or after `since`."""
    for directory, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                if os.lstat(os.path.join(directory, name)).st_mtime >= since:
                    return True
            except OSError:
                continue
    return False


def override_media_root(path: Path) -> Any:
    """Point Django's MEDIA_ROOT at `path` until `.disable()` (storages follow the signal)."""
    from django.test.utils import override_settings

    override = override_settings(MEDIA_ROOT=str(path))
    override.enable()
    return override


def current_media_root() -> str:
    from django.conf import settings

    return str(getattr(settings, "MEDIA_ROOT", "") or "")
