"""Running one command for the proof: without a shell, in a session of its own, its combined
output read on a thread and handed on line by line; on Ctrl-C (or any error) its process group
gets SIGINT, time to tear down, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from compose_gen.errors import UsageError

# After Ctrl-C the command gets SIGINT and this long to tear down (a test suite may be
# stopping its own Compose stack), then SIGKILL.
INTERRUPT_GRACE_SECONDS = 10.0
# A process the command left behind may keep its stdout open after the command exited; wait
# this long for end-of-file, then stop reading rather than hang.
OUTPUT_DRAIN_SECONDS = 5.0


def check_runnable(program: str, *, cwd: Path, env: Mapping[str, str]) -> None:
    """Refuse a command that cannot start before anything is written or deleted."""
    if os.sep in program:
        path = Path(program) if os.path.isabs(program) else cwd / program
        if not path.is_file():
            raise UsageError(f"cannot run '{program}': not found",
                             hint=f"the path is relative to {cwd}")
        if not os.access(path, os.X_OK):
            raise UsageError(f"cannot run '{program}': not executable")
        return
    if shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise UsageError(f"cannot run '{program}': not found on PATH",
                         hint="the command after '--' is run without a shell")


def run_streaming(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                  sink: Callable[[str], None], announce: Callable[[], None]) -> int:
    """Run the command, copy its combined output to `sink`, return its exit status.

    On Ctrl-C (KeyboardInterrupt, raised from anywhere in here, `sink` included) the command
    is stopped before the interrupt goes on; so it is on any other error (a broken pipe under
    `echo`), since in a session of its own nothing else would ever stop it.
    """
    # A session of its own, so that one Ctrl-C reaches the command exactly once (we forward
    # it) and a second SIGINT from the terminal cannot cut short its teardown of Compose stacks.
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
    except OSError as err:  # e.g. a script without a shebang line: "Exec format error"
        raise UsageError(f"cannot run '{argv[0]}': {err.strerror or err}") from err
    output: _OutputReader | None = None
    try:
        output = _OutputReader(proc)
        announce()
        _copy_output(proc, output, sink)
        return proc.wait()
    except BaseException:
        _stop(proc, output, sink)
        raise


class _OutputReader:
    """Reads the command's output on a thread, so the main thread can keep deadlines and
    receive Ctrl-C while the command is silent."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Iterable[bytes]) -> None:
        try:
            for raw in stream:
                self.lines.put(raw)
        except (OSError, ValueError):
            pass  # the pipe was closed under us; end of output either way
        finally:
            self.lines.put(None)


def _copy_output(proc: subprocess.Popen[bytes], output: _OutputReader,
                 sink: Callable[[str], None], *, deadline: float | None = None) -> bool:
    """Copy output lines to `sink` until end of output; False if `deadline` came first."""
    exited_at: float | None = None
    while deadline is None or time.monotonic() < deadline:
        try:
            raw = output.lines.get(timeout=0.1)
        except queue.Empty:
            if proc.poll() is not None:
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > OUTPUT_DRAIN_SECONDS:
                    return True
            continue
        if raw is None:
            return True
        sink(raw.decode("utf-8", errors="replace"))
    return False


def _stop(proc: subprocess.Popen[bytes], output: _OutputReader | None,
          sink: Callable[[str], None]) -> None:
    """SIGINT the command's process group, keep its teardown output, SIGKILL after the grace
    period or at a second Ctrl-C."""
    _signal_group(proc, signal.SIGINT)
    deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
    try:
        if output is not None:
            _copy_output(proc, output, sink, deadline=deadline)
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except (KeyboardInterrupt, subprocess.TimeoutExpired):
        pass  # a second Ctrl-C, or the grace period is over
    finally:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
