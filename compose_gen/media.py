"""Media directories of host-run test workers: one fresh directory per task and pytest worker.

Containers get a named volume per worker (`media_w{i}`, rendered by `render`). Tests that run on
the host (pytest-xdist workers) need a directory instead. A fixed `/tmp/<app>_test_{worker}`
collides between two tasks' `gw0`, so these paths carry the task's Compose project name (its
prefix and slug), the xdist worker id and the pytest run:

    $TMPDIR/compose-gen-<uid>/<project>/media-<worker>-<run>/

Only the standard library: the pytest plugin imports this in every test process.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path


def scratch_root() -> Path:
    """This user's compose-gen scratch dir under the temp dir (0700, checked to be ours)."""
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    root = Path(tempfile.gettempdir()) / f"compose-gen-{user}"
    root.mkdir(mode=0o700, exist_ok=True)
    # A shared /tmp: refuse a symlink or someone else's dir planted under our name.
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        raise PermissionError(f"{root} is not a directory owned by this user; remove it")
    return root


def task_scratch_dir(project_name: str) -> Path:
    """Where one task's host-side media dirs live (emptied and removed by the test runs)."""
    return scratch_root() / project_name


def worker_media_dir(project_name: str, worker_id: str, run: str) -> Path:
    """The media dir of one pytest worker of one run of one task (not created here)."""
    return task_scratch_dir(project_name) / f"media-{worker_id}-{run}"


def fresh_dir(path: Path) -> Path:
    """An empty directory at `path`: whatever a previous run left there is removed first."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)
    return path


def remove_dir(path: Path) -> None:
    """Remove a media dir and everything in it; fine when it is already gone."""
    if path.is_symlink():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def copy_files(source: Path, target: Path) -> list[Path]:
    """Copy a tree of fixture files into a worker's media dir; returns the copies.

    Tests then change their own copies only: the originals stay read-only for every worker,
    and no two workers ever write the same file.
    """
    if not source.is_dir():
        raise FileNotFoundError(f"no fixture dir {source}")
    copies = []
    for item in sorted(source.rglob("*")):
        if not item.is_file():
            continue
        destination = target / item.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item, destination)
        copies.append(destination)
    return copies
