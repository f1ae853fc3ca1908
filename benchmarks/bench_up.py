"""How much isolation costs: `compose-gen up` against what users do without it.

Run by hand on a quiet machine (it needs Docker, Compose and the benchmark's images):

    python benchmarks/bench_up.py                  # 3 repeats; rewrites docs/PERFORMANCE.md
    python benchmarks/bench_up.py --repeat 1 --no-write

Every figure is a ratio to a baseline measured in the same run, on the project in
benchmarks/project/ (PostgreSQL + a per-worker backend; a 30-table, ~360k-row SQL seed):

- up: `compose-gen up` with 1, 2, 4, 8 workers (fresh stack: template seeded, one clone per
  worker) against bare `docker compose up --wait` of the base stack plus the same seed run
  once into its one shared database. The baseline is measured twice: as the base file has it,
  and with the PostgreSQL settings compose-gen gives a task's server (data on tmpfs, fsync,
  synchronous_commit and full_page_writes off), which isolates the cost of isolation itself.
- clone: compose-gen's per-worker clone (`database.clone`, what `up` and `reset` run) against
  the raw `CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY` on an open psycopg connection.
- the alternatives users pick, on the same server settings as compose-gen (their best case):
  one PostgreSQL container per worker, each seeded (Testcontainers style), and one server
  where each worker creates its database and re-runs the seed (pytest-django + xdist style).
  Each is timed for 4 workers provisioned at once, and for one worker alone: the marginal
  cost of one more worker.

Medians of --repeat runs. The machine (CPUs, memory, versions, load average) is recorded with
the results; a load average above the CPU count makes every figure noisy, and is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "benchmarks" / "project"
PERFORMANCE = REPO / "docs" / "PERFORMANCE.md"
SECTION = "## up, clones and the alternatives"
LOCAL_IMAGES = REPO / "scripts" / "ci" / "local-images.env"
PUBLIC_POSTGRES = "postgres:16-alpine"
TUNING = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
ALTERNATIVE_WORKERS = 4
TARGETS = {"up4": 1.3, "clone": 1.2, "marginal": 10.0}


# --- small tools ------------------------------------------------------------------------------

def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect(url: str, *, timeout: float = 120):  # noqa: ANN201
    """A psycopg connection, retried while the server starts (what Testcontainers waits for)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def seed_into(url: str) -> None:
    with connect(url) as conn:
        conn.execute(PROJECT.joinpath("seed.sql").read_text(encoding="utf-8"))


def images_env() -> dict[str, str]:
    """The locally built images when they exist (no registry here), else the public ones."""
    values = {}
    for line in LOCAL_IMAGES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    probe = subprocess.run(["docker", "image", "inspect", values["DEMO_POSTGRES_IMAGE"]],
                           capture_output=True)
    return values if probe.returncode == 0 else {}


def load_average() -> float:
    return os.getloadavg()[0]


# --- the machine ------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    info = run("docker", "info", "--format",
               "{{.ServerVersion}}|{{.Driver}}|{{.KernelVersion}}").strip().split("|")
    return {
        "cpus": f"{os.cpu_count()} ({model})",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "docker": f"Engine {info[0]}, storage driver {info[1]}, kernel {info[2]}",
        "compose": run("docker", "compose", "version", "--short").strip(),
        "python": platform.python_version(),
    }


# --- the baseline: the base stack as users run it, one shared database -----------------------

@contextlib.contextmanager
def baseline_stack(work: Path, env: dict[str, str], tuned: bool) -> Iterator[tuple[str, float]]:
    """`docker compose up --wait` of the base files; yields (admin URL, seconds it took)."""
    port = free_port()
    project = f"bench-baseline-{uuid.uuid4().hex[:6]}"
    files = ["-f", str(work / "docker-compose.yml")]
    if tuned:
        override = work / f"{project}.tuned.yml"
        override.write_text(
            "services:\n  db:\n"
            f"    command: {list(('postgres', *TUNING))!r}\n"
            "    tmpfs: ['/var/lib/postgresql/data:size=1g']\n", encoding="utf-8")
        files += ["-f", str(override)]
    compose = ["docker", "compose", "--project-directory", str(work), "-p", project, *files]
    stack_env = {**os.environ, **env, "BENCH_DB_PORT": f"127.0.0.1:{port}",
                 "BENCH_BACKEND_PORT": f"127.0.0.1:{free_port()}"}
    try:
        seconds = timed(lambda: run(*compose, "up", "--detach", "--wait", env=stack_env))
        yield f"postgresql://bench:bench@127.0.0.1:{port}/bench", seconds
    finally:
        subprocess.run([*compose, "down", "--volumes", "--timeout", "1"], env=stack_env,
                       capture_output=True)


def measure_baseline(work: Path, env: dict[str, str], tuned: bool) -> dict[str, float]:
    with baseline_stack(work, env, tuned) as (url, up_seconds):
        seed_seconds = timed(lambda: seed_into(url))
    return {"up": up_seconds, "seed": seed_seconds, "total": up_seconds + seed_seconds}


# --- compose-gen ------------------------------------------------------------------------------

@dataclass
class UpRun:
    workers: int
    total: float
    phases: dict[str, float] = field(default_factory=dict)
    clones: tuple[float, ...] = ()


PHASES = (("starting the database", "database"), ("building", "build"),
          ("seeding the template", "seed"), ("reusing", "seed"),
          ("creating", "clones"), ("starting", "services"))


def compose_gen_up(work: Path, workers: int, *, keep: bool = False) -> tuple[UpRun, object]:
    """A fresh `compose-gen up` (in-process, as the CLI runs it), timed phase by phase."""
    from compose_gen import boot, lifecycle
    from compose_gen.config import load_config
    from compose_gen.task import make_task

    config = load_config(work)
    task = make_task(f"bench-{workers}-{uuid.uuid4().hex[:6]}", config)
    marks: list[tuple[str, float]] = []

    def progress(message: str) -> None:
        name = next((label for prefix, label in PHASES if message.startswith(prefix)), message)
        marks.append((name, time.perf_counter()))

    started = time.perf_counter()
    marks.append(("render", started))
    try:
        result = boot.up(config, task, workers, timeout=600, progress=progress)
        ended = time.perf_counter()
    except BaseException:
        lifecycle.down(config, task)
        raise
    phases: dict[str, float] = {}
    points = [*marks, ("end", ended)]
    for (name, at), (_next, until) in zip(points, points[1:], strict=False):
        phases[name] = phases.get(name, 0.0) + until - at
    run_ = UpRun(workers, ended - started, phases, tuple(result.clone_seconds))
    if not keep:
        lifecycle.down(config, task)
        return run_, None
    return run_, (config, task, result)


def measure_clones(work: Path, repeat: int) -> dict[str, list[float]]:
    """compose-gen's clone vs the raw SQL, alternating on one running stack."""
    from psycopg import sql

    from compose_gen import database, lifecycle

    _run, (config, task, result) = compose_gen_up(work, 1, keep=True)
    try:
        admin = lifecycle.admin_url(result.rendered, config)
        template = result.template
        times: dict[str, list[float]] = {"compose-gen clone": [], "raw CREATE DATABASE": [],
                                         "compose-gen reset": [], "raw DROP + CREATE": [],
                                         "a new admin connection": []}
        with connect(admin) as conn:
            def raw_create(name: str) -> None:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(template)))

            def raw_reset(name: str) -> None:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))
                raw_create(name)

            def drop(name: str) -> None:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))

            for i in range(max(10, repeat * 4)):
                ours, raw = f"bench_ours_{i}", f"bench_raw_{i}"
                pairs = [("compose-gen clone", lambda n=ours: database.clone(admin, template, n)),
                         ("raw CREATE DATABASE", lambda n=raw: raw_create(n))]
                for label, action in (pairs if i % 2 else pairs[::-1]):
                    times[label].append(timed(action))
                # A reset replaces an existing database: drop + clone.
                pairs = [("compose-gen reset", lambda n=ours: database.clone(admin, template, n)),
                         ("raw DROP + CREATE", lambda n=raw: raw_reset(n))]
                for label, action in (pairs if i % 2 else pairs[::-1]):
                    times[label].append(timed(action))
                drop(ours)
                drop(raw)
                # What compose-gen's clone pays on top of the SQL: a connection of its own.
                times["a new admin connection"].append(timed(lambda: connect(admin).close()))
        return times
    finally:
        lifecycle.down(config, task)


def template_facts(work: Path) -> dict[str, str]:
    """Size of the seeded database and the server version, from a throwaway tuned server."""
    with baseline_stack(work, images_env(), tuned=True) as (url, _seconds):
        seed_into(url)
        with connect(url) as conn:
            size = conn.execute("SELECT pg_size_pretty(pg_database_size('bench'))").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                                  ).fetchone()[0]
            rows = sum(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                       for (table,) in conn.execute(
                           "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                       ).fetchall())
            version = conn.execute("SHOW server_version").fetchone()[0]
    return {"size": size, "tables": str(tables), "rows": f"{rows:,}", "postgres": version}


# --- the alternatives -------------------------------------------------------------------------

def postgres_image(env: dict[str, str]) -> str:
    return env.get("DEMO_POSTGRES_IMAGE", PUBLIC_POSTGRES)


def container_per_worker(env: dict[str, str], workers: int) -> float:
    """Testcontainers style: each worker starts its own server and seeds it; all at once."""
    names = [f"bench-tc-{uuid.uuid4().hex[:8]}" for _ in range(workers)]
    errors: list[BaseException] = []

    def one(name: str) -> None:
        try:
            port = free_port()
            run("docker", "run", "--detach", "--name", name, "--label", "bench=compose-gen",
                "--publish", f"127.0.0.1:{port}:5432", "--tmpfs",
                "/var/lib/postgresql/data:size=1g", "-e", "POSTGRES_USER=bench",
                "-e", "POSTGRES_PASSWORD=bench", "-e", "POSTGRES_DB=bench",
                postgres_image(env), "postgres", *TUNING)
            seed_into(f"postgresql://bench:bench@127.0.0.1:{port}/bench")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    try:
        seconds = timed(lambda: _all_at_once(one, names))
    finally:
        subprocess.run(["docker", "rm", "--force", "--volumes", *names], capture_output=True)
    if errors:
        raise errors[0]
    return seconds


def reseed_per_worker(env: dict[str, str], workers: int) -> float:
    """pytest-django + xdist style: one server, each worker creates its database and seeds it."""
    name = f"bench-reseed-{uuid.uuid4().hex[:8]}"
    port = free_port()
    run("docker", "run", "--detach", "--name", name, "--label", "bench=compose-gen",
        "--publish", f"127.0.0.1:{port}:5432", "--tmpfs", "/var/lib/postgresql/data:size=2g",
        "-e", "POSTGRES_USER=bench", "-e", "POSTGRES_PASSWORD=bench", "-e", "POSTGRES_DB=bench",
        postgres_image(env), "postgres", *TUNING)
    base = f"postgresql://bench:bench@127.0.0.1:{port}"
    try:
        connect(f"{base}/bench").close()  # the server is not part of the per-worker cost
        errors: list[BaseException] = []

        def one(database: str) -> None:
            try:
                with connect(f"{base}/bench") as conn:
                    conn.execute(f'CREATE DATABASE "{database}"')
                seed_into(f"{base}/{database}")
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        seconds = timed(lambda: _all_at_once(one, [f"test_gw{i}" for i in range(workers)]))
        if errors:
            raise errors[0]
        return seconds
    finally:
        subprocess.run(["docker", "rm", "--force", "--volumes", name], capture_output=True)


def _all_at_once(action: Callable[[str], None], names: list[str]) -> None:
    threads = [threading.Thread(target=action, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- the report -------------------------------------------------------------------------------

@dataclass
class Results:
    machine: dict[str, str]
    seed: dict[str, str]
    repeat: int
    load: tuple[float, ...]  # the 1-minute load average at every step
    baseline: dict[str, list[float]]
    tuned: dict[str, list[float]]
    ups: dict[int, list[UpRun]]
    clones: dict[str, list[float]]
    alternatives: dict[str, dict[int, list[float]]]
    duration: float

    def up(self, workers: int) -> float:
        return median([r.total for r in self.ups[workers]])

    def up_best(self, workers: int) -> float:
        return min(r.total for r in self.ups[workers])

    def phase(self, workers: int, name: str) -> float:
        return median([r.phases.get(name, 0.0) for r in self.ups[workers]])

    def marginal_up(self) -> float:
        counts = sorted(self.ups)
        low, high = counts[0], counts[-1]
        return max(1e-9, (self.up(high) - self.up(low)) / (high - low))

    def marginal_clone(self) -> float:
        return median(self.clones["compose-gen clone"])


def report(res: Results) -> str:
    base, tuned = median(res.baseline["total"]), median(res.tuned["total"])
    lines = []
    lines.append(
        f"Measured by `python benchmarks/bench_up.py` (medians of {res.repeat} runs, "
        f"{res.duration / 60:.0f} min in all) on the project in `benchmarks/project/`: "
        f"PostgreSQL {res.seed['postgres']} and a per-worker backend; the seed "
        f"(`seed.sql`) creates {res.seed['tables']} tables with foreign keys and indexes and "
        f"{res.seed['rows']} rows, a {res.seed['size']} database. Every figure is a ratio to a "
        "baseline measured in the same run.")
    lines += ["", "| machine | |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in res.machine.items()]
    lines.append(f"| load average (1 min) during the run | median {median(list(res.load)):.1f}, "
                 f"max {max(res.load):.1f} |")
    lines += ["", "### `up` against the shared, unisolated baseline", "",
              "The baseline is what a user does without compose-gen: `docker compose up "
              "--wait` of the base stack (one backend), then the seed once into its one "
              "database. *Plain* runs the base file as it is; *tuned* gives its server the "
              "settings compose-gen gives a task's server (data on tmpfs, fsync, "
              "synchronous_commit and full_page_writes off).", "",
              "Medians of the runs, and their best (noise from other work on the machine "
              "only ever adds time, so the best of N is the steadier estimate of the cost "
              "itself). The phases of `up` are medians: starting and readying the database "
              "service, seeding the template, the clones, starting the other services.", "",
              "| run | median s | × plain | × tuned | best s | best × plain | best × tuned "
              "| database | seed | clones | other services |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    base_min, tuned_min = min(res.baseline["total"]), min(res.tuned["total"])
    for label, data in (("baseline, plain: up + seed once", res.baseline),
                        ("baseline, tuned: up + seed once", res.tuned)):
        total, best = median(data["total"]), min(data["total"])
        lines.append(f"| {label} | {total:.2f} | {total / base:.2f} | {total / tuned:.2f} | "
                     f"{best:.2f} | {best / base_min:.2f} | {best / tuned_min:.2f} | "
                     f"{median(data['up']):.2f} (up) | {median(data['seed']):.2f} | – | – |")
    for workers in sorted(res.ups):
        total, best = res.up(workers), res.up_best(workers)
        database = res.phase(workers, "database") + res.phase(workers, "build")
        lines.append(
            f"| compose-gen up, {workers} worker{'s' if workers > 1 else ''} | {total:.2f} | "
            f"{total / base:.2f} | {total / tuned:.2f} | {best:.2f} | {best / base_min:.2f} | "
            f"{best / tuned_min:.2f} | {database:.2f} | {res.phase(workers, 'seed'):.2f} | "
            f"{res.phase(workers, 'clones'):.2f} | {res.phase(workers, 'services'):.2f} |")
    lines += ["", "### Per-worker clone against the raw SQL", "",
              "On one running task server, alternating, "
              f"{len(res.clones['compose-gen clone'])} times each. compose-gen's clone is "
              "`database.clone` (what `up` and `reset` run: a new admin connection, ending "
              "sessions left on the template, `DROP … IF EXISTS`, `CREATE DATABASE … TEMPLATE … "
              "STRATEGY FILE_COPY`); the raw SQL runs on a connection that is already open.", "",
              "| operation | median ms | min ms | × raw |", "| --- | ---: | ---: | ---: |"]
    for ours, raw in (("compose-gen clone", "raw CREATE DATABASE"),
                      ("compose-gen reset", "raw DROP + CREATE")):
        for label in (raw, ours):
            values = res.clones[label]
            ratio = median(values) / median(res.clones[raw])
            lines.append(f"| {label} | {median(values) * 1000:.1f} | {min(values) * 1000:.1f} "
                         f"| {ratio:.2f} |")
    values = res.clones["a new admin connection"]
    lines.append(f"| a new admin connection alone (psycopg, scram-sha-256) | "
                 f"{median(values) * 1000:.1f} | {min(values) * 1000:.1f} | – |")
    alt = res.alternatives
    lines += ["", "### The alternatives, and the cost of one more worker", "",
              "Same server settings as compose-gen (tmpfs, fsync off): the alternatives' best "
              f"case. *{ALTERNATIVE_WORKERS} at once* provisions {ALTERNATIVE_WORKERS} "
              "workers' databases concurrently, as xdist workers would; *one more worker* "
              "provisions one alone: what adding a worker costs.", "",
              f"| databases for the workers | {ALTERNATIVE_WORKERS} at once, s | "
              "one more worker, s | one more worker × compose-gen's |",
              "| --- | ---: | ---: | ---: |"]
    clone = res.marginal_clone()
    up4_db = res.phase(ALTERNATIVE_WORKERS, "seed") + res.phase(ALTERNATIVE_WORKERS, "clones")
    lines.append(f"| compose-gen: seed once + a clone per worker | {up4_db:.2f} | "
                 f"{clone:.3f} (a clone) | 1 |")
    for label, key in (("one PostgreSQL container per worker, each seeded", "container"),
                       ("one server, each worker re-runs the seed", "reseed")):
        many = median(alt[key][ALTERNATIVE_WORKERS])
        one = median(alt[key][1])
        lines.append(f"| {label} | {many:.2f} | {one:.2f} | {one / clone:.0f} |")
    slope = res.marginal_up()
    lines += ["", f"A whole extra worker in `compose-gen up`, its backend container included, "
                  f"costs {slope:.2f} s (the slope of `up` from {min(res.ups)} to "
                  f"{max(res.ups)} workers): "
                  f"{median(alt['container'][1]) / slope:.1f}× and "
                  f"{median(alt['reseed'][1]) / slope:.1f}× less than one more worker's "
                  "database alone in the two alternatives."]
    lines += ["", "### Targets", ""]
    up4, best4 = res.up(ALTERNATIVE_WORKERS), res.up_best(ALTERNATIVE_WORKERS)
    clone_ratio = median(res.clones["compose-gen clone"]) / median(
        res.clones["raw CREATE DATABASE"])
    clone_best = min(res.clones["compose-gen clone"]) / min(res.clones["raw CREATE DATABASE"])
    worst_alt = min(median(alt["container"][1]), median(alt["reseed"][1]))
    checks = [
        (f"`up` with 4 isolated workers ≤ {TARGETS['up4']}× the shared baseline (medians)",
         f"{up4 / base:.2f}× plain, {up4 / tuned:.2f}× tuned",
         up4 / base <= TARGETS["up4"], up4 / tuned <= TARGETS["up4"]),
        (f"the same, best of {res.repeat}",
         f"{best4 / base_min:.2f}× plain, {best4 / tuned_min:.2f}× tuned",
         best4 / base_min <= TARGETS["up4"], best4 / tuned_min <= TARGETS["up4"]),
        (f"clone ≤ {TARGETS['clone']}× the raw SQL (median / fastest)",
         f"{clone_ratio:.2f}× / {clone_best:.2f}×",
         clone_ratio <= TARGETS["clone"], clone_best <= TARGETS["clone"]),
        (f"one more worker ≥ {TARGETS['marginal']:.0f}× cheaper than either alternative",
         f"{worst_alt / clone:.0f}× (its database), {worst_alt / slope:.1f}× (a whole worker "
         "with its backend)", worst_alt / clone >= TARGETS["marginal"],
         worst_alt / slope >= TARGETS["marginal"]),
    ]
    lines += ["| target | measured | met |", "| --- | --- | --- |"]
    for text, measured, first, second in checks:
        met = "yes" if first else "**no**"
        if second is not None:
            met += " / " + ("yes" if second else "**no**")
        lines.append(f"| {text} | {measured} | {met} |")
    if median(list(res.load)) > (os.cpu_count() or 1):
        lines += ["", f"**Noisy run:** the load average (median {median(list(res.load)):.1f}) "
                      "was above the CPU count: other work shared the machine and every "
                      "figure carries its noise."]
    return "\n".join(lines) + "\n"



# --- main -------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--workers", default="1,2,4,8",
                        help="worker counts for `compose-gen up` (comma-separated)")
    parser.add_argument("--no-write", action="store_true",
                        help=f"print only; leave {PERFORMANCE.relative_to(REPO)} alone")
    args = parser.parse_args()
    counts = sorted({int(n) for n in args.workers.split(",")} | {1, ALTERNATIVE_WORKERS})

    env = images_env()
    os.environ.update(env)  # the compose files read DEMO_* for the images
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="compose-gen-bench-") as tmp:
        work = Path(tmp) / "project"
        shutil.copytree(PROJECT, work)
        os.environ["COMPOSE_GEN_STATE_DIR"] = str(Path(tmp) / "state")
        loads: list[float] = []

        def log(text: str) -> None:
            loads.append(load_average())
            print(f"[{time.perf_counter() - started:6.1f} s] load {loads[-1]:4.1f}  {text}",
                  file=sys.stderr, flush=True)

        log("warming up (images, Compose's config cache), seed facts")
        seed = template_facts(work)
        compose_gen_up(work, 1)

        baseline: dict[str, list[float]] = {"up": [], "seed": [], "total": []}
        tuned: dict[str, list[float]] = {"up": [], "seed": [], "total": []}
        ups: dict[int, list[UpRun]] = {n: [] for n in counts}
        alternatives: dict[str, dict[int, list[float]]] = {
            "container": {1: [], ALTERNATIVE_WORKERS: []},
            "reseed": {1: [], ALTERNATIVE_WORKERS: []}}
        for round_ in range(args.repeat):
            # Interleaved, so that drift in the machine's load hits every figure alike.
            log(f"round {round_ + 1}/{args.repeat}: baselines")
            for target, is_tuned in ((baseline, False), (tuned, True)):
                for key, value in measure_baseline(work, env, is_tuned).items():
                    target[key].append(value)
            for workers in counts:
                log(f"round {round_ + 1}: compose-gen up, {workers} workers")
                ups[workers].append(compose_gen_up(work, workers)[0])
            for workers in (1, ALTERNATIVE_WORKERS):
                log(f"round {round_ + 1}: alternatives, {workers} workers")
                alternatives["container"][workers].append(container_per_worker(env, workers))
                alternatives["reseed"][workers].append(reseed_per_worker(env, workers))
        log("clones against the raw SQL")
        clones = measure_clones(work, args.repeat)
    loads.append(load_average())
    results = Results(machine(), seed, args.repeat, tuple(loads), baseline,
                      tuned, ups, clones, alternatives, time.perf_counter() - started)
    text = report(results)
    print(f"{SECTION}\n\n{text}")
    if not args.no_write:
        from perf_doc import write_block  # benchmarks/ is the script dir

        write_block(SECTION, "bench_up.py", text)
        print(f"wrote the section '{SECTION[3:]}' of {PERFORMANCE.relative_to(REPO)}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
