"""pytest-django's per-worker test databases: clones of a migrated template vs migrating each.

Run by hand on a quiet machine (it needs Docker, Compose and the benchmark's images):

    python benchmarks/bench_pytest_template.py            # 3 repeats; rewrites its section
    python benchmarks/bench_pytest_template.py --repeat 1 --no-write

The project is tests/_support/django_project.py's: a Django app with 65 migrations (plus
Django's own) and a 19-test pytest-django suite, on a compose-gen task whose stack is one
PostgreSQL server. Three ways to run `pytest -n 4` on the task, each timed as a whole run
(wall clock of the pytest process, start-up of the workers included), interleaved in every
repeat so that a change in the machine's load hits all three alike:

- template: `--create-db` with the plugin's default (`--compose-gen-db-template=migrated`):
  every worker's database is a clone of the template migrated once for this migration state;
- migrate: `--create-db --compose-gen-db-template=off`: pytest-django's own way, every worker
  runs every migration on its own database (the baseline);
- reuse: `--reuse-db` with databases kept from a previous run (the lower bound).

Targets (issue 11): template at least 1.5x faster than migrate, and within 1.2x of reuse.
The first run that builds the template is reported separately (once per migration state).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests._support.django_project import write_django_project  # noqa: E402

PERFORMANCE = REPO / "docs" / "PERFORMANCE.md"
SECTION = "## pytest-django test databases: a migrated template vs migrating per worker"
LOCAL_IMAGES = REPO / "scripts" / "ci" / "local-images.env"
BIN = Path(sys.executable).parent
MODES = {
    "template": ["--create-db"],
    "migrate": ["--create-db", "--compose-gen-db-template=off"],
    "reuse": ["--reuse-db"],
}
TARGETS = {"migrate / template": 1.5, "template / reuse": 1.2}


def local_images() -> dict[str, str]:
    values = {}
    for line in LOCAL_IMAGES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    probe = subprocess.run(["docker", "image", "inspect", values["DEMO_POSTGRES_IMAGE"]],
                           capture_output=True)
    return values if probe.returncode == 0 else {}


def timed_pytest(backend: Path, env: dict[str, str], workers: int, options: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run([str(BIN / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "-n", str(workers), *options], cwd=backend, env=env,
                          capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"pytest {' '.join(options)} failed:\n{proc.stdout[-3000:]}"
                         f"\n{proc.stderr[-2000:]}")
    return elapsed


def drop_test_databases(task_dir: Path) -> None:
    """Remove what --reuse-db keeps, so that the next --create-db run starts clean."""
    from compose_gen import database
    from compose_gen.envfile import read_env_file

    url = database.with_database(read_env_file(task_dir / ".env.task")["DATABASE_URL"],
                                 database.MAINTENANCE_DB)
    database.drop(url, [name for name in database.list_databases(url)
                        if re.fullmatch(r"test_\w+_gw\d+", name)])


def measure(repeat: int, workers: int, migrations: int) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="bench-pytest-template-"))
    task_id = f"bench-tpl-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items()
           if k != "ZENFLOW_TASK_ID" and not k.startswith("PYTEST_")}
    env.update(local_images())
    env["COMPOSE_GEN_STATE_DIR"] = str(work / "state")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    project = work / "shop"
    backend = write_django_project(project, migrations=migrations)
    try:
        subprocess.run([str(BIN / "compose-gen"), "up", "--task-id", task_id, "--workers", "1"],
                       cwd=project, env=env, check=True, capture_output=True, timeout=600)
        run_env = {**env, "ZENFLOW_TASK_ID": task_id}
        first = timed_pytest(backend, run_env, workers, MODES["template"])  # builds it
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        loads = []
        for _ in range(repeat):
            for mode, options in MODES.items():
                # Every run starts as pytest-django expects for its options: --create-db
                # with no test database left over (pytest-django drops its own at the end),
                # --reuse-db with the databases of a previous --reuse-db run.
                if mode == "reuse":
                    timed_pytest(backend, run_env, workers, options)
                loads.append(os.getloadavg()[0])
                times[mode].append(timed_pytest(backend, run_env, workers, options))
                if mode == "reuse":
                    drop_test_databases(project / ".zenflow" / "tasks" / task_id)
    finally:
        subprocess.run([str(BIN / "compose-gen"), "down", "--task-id", task_id], cwd=project,
                       env=env, capture_output=True, timeout=300)
        shutil.rmtree(work, ignore_errors=True)
    medians = {mode: statistics.median(values) for mode, values in times.items()}
    return {
        "medians": medians, "times": times, "first": first, "loads": loads,
        "ratios": {"migrate / template": medians["migrate"] / medians["template"],
                   "template / reuse": medians["template"] / medians["reuse"]},
    }


def report(result: dict[str, object], repeat: int, workers: int, migrations: int) -> str:
    medians = result["medians"]
    ratios = result["ratios"]
    times = result["times"]
    loads = result["loads"]
    assert isinstance(medians, dict) and isinstance(ratios, dict)
    assert isinstance(times, dict) and isinstance(loads, list)
    lines = [
        f"`python benchmarks/bench_pytest_template.py --repeat {repeat}`: `pytest -n {workers}`"
        f" of a 19-test suite on a project with {migrations} migrations (plus Django's), on one"
        " compose-gen task; wall clock of whole runs, medians of "
        f"{repeat}, the three modes interleaved. Machine: {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average {min(loads):.1f} to {max(loads):.1f} "
        "during the runs.",
        "",
        "| run | median | all runs |",
        "|---|---|---|",
    ]
    names = {"template": "`--create-db`, clones of the migrated template (default)",
             "migrate": "`--create-db --compose-gen-db-template=off` (every worker migrates)",
             "reuse": "`--reuse-db`, databases kept from the previous run"}
    for mode, name in names.items():
        runs = ", ".join(f"{value:.1f}" for value in times[mode])
        lines.append(f"| {name} | {medians[mode]:.1f} s | {runs} |")
    lines.append(f"| first run, building the template | {result['first']:.1f} s | |")
    lines += ["", "| ratio | measured | target | |", "|---|---|---|---|"]
    for name, target in TARGETS.items():
        value = ratios[name]
        met = value >= target if name.startswith("migrate") else value <= target
        bound = "at least" if name.startswith("migrate") else "at most"
        verdict = "met" if met else "MISSED"
        lines.append(f"| {name} | {value:.2f}x | {bound} {target}x | {verdict} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode")
    parser.add_argument("--workers", type=int, default=4, help="pytest-xdist workers")
    parser.add_argument("--migrations", type=int, default=65, help="migrations of the app")
    parser.add_argument("--no-write", action="store_true",
                        help=f"print only; leave {PERFORMANCE.relative_to(REPO)} alone")
    args = parser.parse_args()
    result = measure(args.repeat, args.workers, args.migrations)
    text = report(result, args.repeat, args.workers, args.migrations)
    print(f"{SECTION}\n\n{text}")
    ratios = result["ratios"]
    assert isinstance(ratios, dict)
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}x")
    if not args.no_write:
        from perf_doc import write_block  # benchmarks/ is the script dir

        write_block(SECTION, "bench_pytest_template.py", text)
        print(f"wrote the section '{SECTION[3:]}' of {PERFORMANCE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
