"""Whether a process that holds something (a lease's `up`, a test worker's claim) still lives.

A PID alone can name a new process: the kernel reuses PIDs, within minutes on a busy machine
(a test suite that starts containers and browsers wraps the default 32768 in about two). So a
holder records its start time too where the system tells it (Linux's /proc), and a live PID
with another start time is another process.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def start_time(pid: int) -> str:
    """When `pid` started (clock ticks since boot, /proc/<pid>/stat field 22), or "" where
    there is no /proc or no such process."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    # Field 2 is the command in parentheses, which may hold spaces and ')': split after it.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def pid_alive(pid: int, started: str = "") -> bool:
    """True while `pid` runs (also when it belongs to another user and cannot be signalled);
    with `started` (its start_time when recorded), only while it is that same process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    if started and (_PROC / "self" / "stat").exists():
        return start_time(pid) == started
    return True
