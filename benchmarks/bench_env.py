"""How much slower `compose-gen env --task-id X` starts than a bare `python -c pass`.

`env` runs in Zenflow hooks and at the start of every test run, so issue 13 sets a target:
at most 3x a bare interpreter start (the fastest peer tool measured here sits at 6.5x).

    python benchmarks/bench_env.py [--runs 30] [--no-write]

It renders a task of examples/minimal in a scratch copy (private state dir, so nothing of
yours is touched), calls `env` once (the call that fills its settings cache, as the first hook
of a task does), then times both commands alternately: wall time and CPU time (user + system of
the child, less sensitive to a loaded machine). It prints the medians and the ratios, writes
them into docs/PERFORMANCE.md, and when the ratio is over the target lists the modules that
cost the most at import (`python -X importtime`). Exit 0 within the target, 1 over it.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "minimal"
TARGET = 3.0
TASK = "bench-env"


def compose_gen_command() -> list[str]:
    """What a hook runs: the console script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("compose-gen")
    if script.is_file():
        return [str(script)]
    found = shutil.which("compose-gen")
    return [found] if found else [sys.executable, "-m", "compose_gen.cli"]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _import_times(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, tuple]:
    """{module: (cumulative µs, self µs, depth)} from one `python -X importtime` run."""
    if command[0] != sys.executable:  # a console script: run its file with -X importtime
        command = [sys.executable, *command]
    result = subprocess.run([command[0], "-X", "importtime", *command[1:]], cwd=cwd, env=env,
                            capture_output=True, text=True, check=True)
    times = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            times[name] = (int(cumulative_us), int(self_us), len(indent) // 2)
    return times


def import_offenders(command: list[str], cwd: Path, env: dict[str, str], top: int,
                     runs: int = 5) -> list[tuple[int, int, int, str]]:
    """(cumulative µs, self µs, depth, module) of the costliest imports `env` adds to a bare
    interpreter start; the fastest of `runs` runs per module, to see through machine load."""
    bare = _import_times([sys.executable, "-c", "pass"], cwd, env)
    samples = [_import_times(command, cwd, env) for _ in range(runs)]
    rows = []
    for name in samples[0]:
        if name in bare or not all(name in sample for sample in samples):
            continue
        cumulative = min(sample[name][0] for sample in samples)
        own = min(sample[name][1] for sample in samples)
        rows.append((cumulative, own, samples[0][name][2], name))
    return sorted(rows, reverse=True)[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of each command")
    parser.add_argument("--no-write", action="store_true", help="leave docs/PERFORMANCE.md alone")
    parser.add_argument("--top", type=int, default=25, help="import offenders to list")
    args = parser.parse_args()

    command = compose_gen_command()
    with tempfile.TemporaryDirectory(prefix="bench-env-") as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".zenflow"))
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("COMPOSE_GEN_") and key != "ZENFLOW_TASK_ID"}
        env["COMPOSE_GEN_STATE_DIR"] = str(Path(tmp) / "state")
        subprocess.run([*command, "render", "--task-id", TASK], cwd=project, env=env,
                       check=True, stdout=subprocess.DEVNULL)

        env_command = [*command, "env", "--task-id", TASK]
        bare = [sys.executable, "-c", "pass"]
        for warm_up in (bare, env_command):  # the first `env` also fills its settings cache
            timed(warm_up, project, env)
        bare_times, env_times, bare_cpu, env_cpu = [], [], [], []
        load_before = os.getloadavg()[0]
        for _ in range(args.runs):  # alternate, so machine load hits both alike
            wall, cpu = timed(bare, project, env)
            bare_times.append(wall)
            bare_cpu.append(cpu)
            wall, cpu = timed(env_command, project, env)
            env_times.append(wall)
            env_cpu.append(cpu)
        load_after = os.getloadavg()[0]

        bare_median = statistics.median(bare_times)
        env_median = statistics.median(env_times)
        ratio = env_median / bare_median
        cpu_ratio = statistics.median(env_cpu) / max(statistics.median(bare_cpu), 1e-6)
        print(f"command:            {' '.join(env_command)}")
        print(f"python -c pass:     median {bare_median * 1000:7.1f} ms "
              f"(min {min(bare_times) * 1000:.1f}) over {args.runs} runs")
        print(f"compose-gen env:    median {env_median * 1000:7.1f} ms "
              f"(min {min(env_times) * 1000:.1f}) over {args.runs} runs")
        print(f"ratio:              {ratio:.2f}x (target <= {TARGET:.0f}x; "
              f"min/min {min(env_times) / min(bare_times):.2f}x; CPU time {cpu_ratio:.2f}x)")
        if not args.no_write:
            sys.path.insert(0, str(REPO / "benchmarks"))
            from perf_doc import machine_line, write_block

            verdict = "met" if ratio <= TARGET else f"**missed** by {ratio - TARGET:.2f}×"
            write_block("## The hook path: `compose-gen env`", "bench_env.py", "\n".join([
                f"`compose-gen env --task-id T` (the console script, a repeated call: its "
                f"settings cache filled) against `python -c pass`, {args.runs} alternating runs "
                "each, medians.",
                "",
                machine_line(load_before, load_after),
                "",
                "| | `python -c pass` | `compose-gen env` | ratio |",
                "| --- | ---: | ---: | ---: |",
                f"| wall time (median) | {bare_median * 1000:.1f} ms | {env_median * 1000:.1f} ms "
                f"| {ratio:.2f}× |",
                f"| wall time (min) | {min(bare_times) * 1000:.1f} ms | "
                f"{min(env_times) * 1000:.1f} ms | {min(env_times) / min(bare_times):.2f}× |",
                f"| CPU time (median) | {statistics.median(bare_cpu) * 1000:.1f} ms | "
                f"{statistics.median(env_cpu) * 1000:.1f} ms | {cpu_ratio:.2f}× |",
                "",
                f"Target: ≤ {TARGET:.0f}× — {ratio:.2f}× (median wall time), {verdict}."]))
        if ratio <= TARGET:
            return 0

        print(f"\nover the target: the {args.top} costliest imports `env` adds to a bare start"
              "\n  cumulative     self  module (indent = import depth; best of 5 runs)")
        for cumulative_us, self_us, depth, name in import_offenders(env_command, project, env,
                                                                    args.top):
            print(f"  {cumulative_us / 1000:7.1f} ms {self_us / 1000:6.1f} ms  "
                  f"{'  ' * depth}{name}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
