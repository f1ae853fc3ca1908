"""E2E wall time by workers: the demo's Playwright suite at 1, 2 and 4 workers, in one run.

Each worker count gets its own compose-gen stack (`up --workers N`: N backends, N databases, N
media volumes), runs the same suite (`npx playwright test --workers=N`, examples/demo/e2e) and
is torn down again. The figure is the suite's wall time (the Playwright command, start to exit;
the stack's `up` and `down` are reported beside it, not in it) and its ratio to 1 worker.
Targets on our 2-core machines (issue 13): 2 workers at least 1.6x faster than 1, 4 workers
not slower than 2, and compose-gen's own CPU at most 5% of the run's.

compose-gen's own CPU is the sum of:
- its processes during the suite (`compose-gen env` from the Playwright config, `compose-gen
  reset` where a fixture still starts one), each timed by /usr/bin/time through a wrapper
  given to the fixture as COMPOSE_GEN_BIN;
- its resets at the database: the resets the fixture logged (COMPOSE_GEN_RESET_LOG) times the
  PostgreSQL CPU of one reset, measured on the same stack right after the suite (a few warm
  resets of worker 0, its database container's cgroup);
- the health checks of the worker copies it starts: the CPU the idle worker copies burn (their
  cgroups and their containerd shims, which run the checks' execs; dockerd's part is not
  seen) over a few seconds after the suite, times the suite's duration. The whole idle
  stack's rate (database, Redis, frontend: the project's own services) is reported beside it.
The run's CPU is the suite's processes, the stack's containers and their shims.

    python benchmarks/bench_e2e.py                     # 3 rounds; rewrites our section of
                                                       # docs/PERFORMANCE.md
    python benchmarks/bench_e2e.py --repeat 1 --no-write

Rounds alternate the order (1,2,4 then 4,2,1 ...) so a drift in the machine's load does not
favour one count; the figure per count is the median over rounds. Needs what the E2E tests
need: Docker + Compose, the demo images (scripts/ci/build_images.sh, or COMPOSE_GEN_IMAGES=
public), Node with examples/demo/e2e/node_modules, and a Chromium (PLAYWRIGHT_CHROMIUM_PATH,
CHROME_PATH or `chromium` on PATH). The machine and its load average are recorded: a load
above the CPU count means other work shared the machine, and the run says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from perf_doc import container_cpu_s as cgroup_cpu_s  # benchmarks/ is the script dir

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo"
E2E_DIR = DEMO / "e2e"
PERFORMANCE = REPO / "docs" / "PERFORMANCE.md"
SECTION = "## E2E wall time by workers"
LOCAL_IMAGES = REPO / "scripts" / "ci" / "local-images.env"
TARGET = 1.6  # 2 workers vs 1
SHARE_TARGET = 0.05  # compose-gen's CPU over the run's
IDLE_SECONDS = 8.0
RESETS_MEASURED = 4


def run(*argv: str, env: dict[str, str] | None = None, cwd: Path = REPO,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise SystemExit(f"bench_e2e: {' '.join(argv[:4])} ... failed ({proc.returncode}):\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def compose_gen_bin() -> str:
    beside = Path(sys.executable).parent / "compose-gen"
    return str(beside) if beside.is_file() else (shutil.which("compose-gen") or "compose-gen")


def bench_env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("E2E_", "PLAYWRIGHT_JUNIT_", "PLAYWRIGHT_HTML_",
                                "COMPOSE_GEN_E2E_", "ZENFLOW_TASK_ID"))}
    if os.environ.get("COMPOSE_GEN_IMAGES", "local") == "local":
        for line in LOCAL_IMAGES.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                env.setdefault(key.strip(), value.strip())
    chromium = (env.get("PLAYWRIGHT_CHROMIUM_PATH") or env.get("CHROME_PATH")
                or shutil.which("chromium-headless-shell") or shutil.which("chromium"))
    if chromium:
        env["PLAYWRIGHT_CHROMIUM_PATH"] = chromium
    env["COMPOSE_GEN_BIN"] = compose_gen_bin()
    env["COMPOSE_GEN_STATE_DIR"] = str(state_dir)
    return env


def machine() -> dict[str, str]:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    docker = run("docker", "info", "--format", "{{.ServerVersion}}|{{.Driver}}").stdout.strip()
    chromium = bench_env(Path("/nonexistent")).get("PLAYWRIGHT_CHROMIUM_PATH", "")
    version = run(chromium, "--version", check=False).stdout.strip() if chromium else ""
    browser = f"{Path(chromium).name}: {version}" if chromium else "Playwright's bundled Chromium"
    playwright = json.loads((E2E_DIR / "node_modules" / "@playwright" / "test" / "package.json")
                            .read_text())["version"]
    return {
        "cpus": f"{os.cpu_count()} ({model})",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "docker": f"Engine {docker.replace('|', ', storage driver ')}",
        "compose": run("docker", "compose", "version", "--short").stdout.strip(),
        "node": run("node", "--version").stdout.strip(),
        "playwright": playwright,
        "browser": browser,
    }


@dataclass
class Sample:
    workers: int
    suite_s: float      # the Playwright command, wall clock
    reported_s: float   # Playwright's own total (JUnit <testsuites time>)
    up_s: float
    down_s: float
    tests: int
    load: tuple[float, float]  # 1-minute load average before and after the suite
    suite_cpu_s: float = 0.0   # CPU time of the Playwright command and all it started
    stack_cpu_s: float | None = None  # CPU time of the stack's containers meanwhile
    shim_cpu_s: float = 0.0    # ... and of their containerd shims (health checks' execs)
    cg_proc_cpu_s: float | None = None  # compose-gen processes during the suite
    resets: int = 0            # resets the fixture logged
    warm_resets: int = 0
    reset_cpu_s: float | None = None  # PostgreSQL CPU of one reset (measured after the suite)
    idle_cpu_rate: float | None = None  # CPU-s per second of the idle worker copies
    idle_stack_rate: float | None = None  # ... of the whole idle stack

    @property
    def compose_gen_cpu_s(self) -> float | None:
        if self.cg_proc_cpu_s is None or self.idle_cpu_rate is None:
            return None
        return (self.cg_proc_cpu_s + self.resets * (self.reset_cpu_s or 0.0)
                + self.idle_cpu_rate * self.suite_s)

    @property
    def run_cpu_s(self) -> float:
        return self.suite_cpu_s + (self.stack_cpu_s or 0.0) + self.shim_cpu_s


@dataclass
class Results:
    samples: list[Sample] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)

    def median(self, workers: int, attr: str = "suite_s") -> float:
        return statistics.median(getattr(s, attr) for s in self.samples if s.workers == workers)


def container_cpu_s(task_id: str, *filters: str) -> float | None:
    """CPU seconds used so far by the task's containers (cgroup v1 or v2), None if unreadable.

    Health checks run inside the containers, so they are counted; the Docker daemon's own
    share of running them is not."""
    ids = run("docker", "ps", "-q", "--no-trunc", "--filter",
              f"label=dev.compose-gen.task={task_id}", *filters).stdout.split()
    total = 0.0
    for cid in ids:
        v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
        v2 = [Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"),
              Path(f"/sys/fs/cgroup/docker/{cid}/cpu.stat")]
        if v1.is_file():
            total += int(v1.read_text()) / 1e9
            continue
        stat = next((p for p in v2 if p.is_file()), None)
        if stat is None:
            return None
        usage = next(line for line in stat.read_text().splitlines()
                     if line.startswith("usage_usec"))
        total += int(usage.split()[1]) / 1e6
    return total


def _proc_cpu_s(pid: int) -> float:
    """utime+stime+cutime+cstime of a process (its reaped children included), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def shim_cpu_s(task_id: str, *filters: str) -> float:
    """CPU of the containerd shims of the task's containers: they fork the runc that execs
    every health check, so Docker's cost of a check shows there (dockerd's own does not)."""
    ids = run("docker", "ps", "-q", "--filter", f"label=dev.compose-gen.task={task_id}",
              *filters).stdout
    total = 0.0
    for cid in ids.split():
        pid = run("docker", "inspect", "--format", "{{.State.Pid}}", cid, check=False).stdout
        if not pid.strip().isdigit():
            continue
        stat = Path(f"/proc/{pid.strip()}/stat").read_text().rsplit(")", 1)[1].split()
        total += _proc_cpu_s(int(stat[1]))  # the parent of the container's init: its shim
    return total


WORKER_COPIES = ("--filter", "label=dev.compose-gen.worker")


def idle_rates(task_id: str) -> tuple[float | None, float | None]:
    """CPU-s per second the idle stack uses (containers + shims) over IDLE_SECONDS: all of
    it, and its worker copies' (the copies compose-gen makes; idle, a copy of the demo backend
    runs nothing but its health check)."""
    c0, s0 = container_cpu_s(task_id), shim_cpu_s(task_id)
    w0, v0 = container_cpu_s(task_id, *WORKER_COPIES), shim_cpu_s(task_id, *WORKER_COPIES)
    t0 = time.monotonic()
    time.sleep(IDLE_SECONDS)  # a measurement window, not a wait for a condition
    c1, s1 = container_cpu_s(task_id), shim_cpu_s(task_id)
    w1, v1 = container_cpu_s(task_id, *WORKER_COPIES), shim_cpu_s(task_id, *WORKER_COPIES)
    took = time.monotonic() - t0
    whole = None if c0 is None or c1 is None else (c1 - c0 + s1 - s0) / took
    copies = None if w0 is None or w1 is None else (w1 - w0 + v1 - v0) / took
    return whole, copies


def db_container(task_id: str) -> str | None:
    ids = run("docker", "ps", "-q", "--no-trunc", "--filter",
              f"label=dev.compose-gen.task={task_id}", "--filter",
              "label=com.docker.compose.service=db").stdout.split()
    return ids[0] if ids else None


def reset_cpu(task_id: str, env: dict[str, str]) -> float | None:
    """PostgreSQL CPU of one warm reset + its next spare, on the task's server (worker 0)."""
    sys.path.insert(0, str(REPO))
    from compose_gen import database

    where = json.loads(run(env["COMPOSE_GEN_BIN"], "env", "--task-id", task_id, "--format",
                           "json", env=env, cwd=DEMO).stdout)["COMPOSE_GEN_WORKERS_JSON"]
    workers = json.loads(Path(where).read_text())["workers"]
    url = database.with_database(workers[0]["database_url"], database.MAINTENANCE_DB)
    cid = db_container(task_id)
    if cid is None:
        return None
    template = _template(url)
    if template is None:
        return None
    database.prepare_spare(url, template, workers[0]["database"])
    before = cgroup_cpu_s(cid)
    for _ in range(RESETS_MEASURED):
        database.warm_reset(url, template, workers[0]["database"])
        database.prepare_spare(url, template, workers[0]["database"])
    after = cgroup_cpu_s(cid)
    return None if before is None or after is None else (after - before) / RESETS_MEASURED


def _template(url: str) -> str | None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datistemplate "
                            "AND datname LIKE '%\\_tpl\\_%'").fetchall()
    return rows[0][0] if len(rows) == 1 else None


def timing_wrapper(work: Path, real: str) -> tuple[str, Path] | None:
    """A COMPOSE_GEN_BIN that appends each compose-gen process's user+system CPU to a log."""
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").is_file() else None)
    if timer is None:
        return None
    log = work / "compose-gen-cpu.log"
    wrapper = work / "compose-gen-timed"
    wrapper.write_text(f'#!/bin/sh\nexec {timer} -a -o "{log}" -f "%U %S" "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper), log


def logged_cpu_s(log: Path) -> float:
    total = 0.0
    for line in log.read_text().splitlines() if log.is_file() else []:
        parts = line.split()
        if len(parts) == 2 and all(re.fullmatch(r"[\d.]+", p) for p in parts):
            total += float(parts[0]) + float(parts[1])
    return total


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_sample(workers: int, work: Path, reset: str | None = None) -> Sample:
    """Stack up, the suite once, stack down; every resource gone afterwards."""
    task_id = f"bench-e2e-{workers}w-{uuid.uuid4().hex[:6]}"
    env = bench_env(work / "state")
    cg = [env["COMPOSE_GEN_BIN"], "--project-dir", str(DEMO)]
    results = work / task_id
    started = time.monotonic()
    try:
        run(*cg, "up", "--task-id", task_id, "--workers", str(workers), env=env)
        up_s = time.monotonic() - started
        suite_env = {**env, "E2E_TASK_ID": task_id, "E2E_WORKERS": str(workers),
                     "E2E_RESULTS_DIR": str(results),
                     "PLAYWRIGHT_JUNIT_OUTPUT_NAME": str(results / "junit.xml"),
                     "PLAYWRIGHT_HTML_OUTPUT_DIR": str(results / "html")}
        if reset:
            suite_env["E2E_RESET"] = reset
        timed = timing_wrapper(work, env["COMPOSE_GEN_BIN"])
        cg_log = work / "none.log"
        if timed is not None:
            suite_env["COMPOSE_GEN_BIN"], cg_log = timed
            cg_log.unlink(missing_ok=True)
        reset_log = work / f"{task_id}-resets.log"
        suite_env["COMPOSE_GEN_RESET_LOG"] = str(reset_log)
        load_before = os.getloadavg()[0]
        stack0, shim0, cpu0 = container_cpu_s(task_id), shim_cpu_s(task_id), children_cpu_s()
        t0 = time.monotonic()
        proc = run("npx", "--no-install", "playwright", "test", f"--workers={workers}",
                   env=suite_env, cwd=E2E_DIR, check=False)
        suite_s = time.monotonic() - t0
        suite_cpu_s = children_cpu_s() - cpu0
        stack1, shim1 = container_cpu_s(task_id), shim_cpu_s(task_id)
        stack_cpu_s = None if stack0 is None or stack1 is None else stack1 - stack0
        load_after = os.getloadavg()[0]
        resets = reset_log.read_text().splitlines() if reset_log.is_file() else []
        idle_stack, idle_copies = idle_rates(task_id)
        own = {"shim_cpu_s": max(0.0, shim1 - shim0),
               "cg_proc_cpu_s": logged_cpu_s(cg_log) if timed is not None else None,
               "resets": len(resets),
               "warm_resets": sum('"warm":true' in line for line in resets),
               "idle_stack_rate": idle_stack, "idle_cpu_rate": idle_copies,
               "reset_cpu_s": reset_cpu(task_id, env)}
        if proc.returncode != 0:
            raise SystemExit(f"bench_e2e: the suite failed at {workers} workers:\n"
                             f"{proc.stdout[-4000:]}")
        root = ET.parse(results / "junit.xml").getroot()
        tests = int(root.get("tests", "0"))
        reported_s = float(root.get("time", "0"))
    finally:
        t1 = time.monotonic()
        run(*cg, "down", "--task-id", task_id, env=env, check=False)
        down_s = time.monotonic() - t1
    left = run("docker", "ps", "-aq", "--filter", f"label=dev.compose-gen.task={task_id}").stdout
    assert not left.strip(), f"{task_id} left containers behind"
    sample = Sample(workers, suite_s, reported_s, up_s, down_s, tests,
                    (load_before, load_after), suite_cpu_s, stack_cpu_s)
    sample.__dict__.update(own)
    return sample


def render(res: Results, counts: list[int], rounds: int, reset: str | None) -> str:
    m = res.machine
    base = res.median(1) if 1 in counts else None
    policy = reset or "per-file (the suite's default)"
    lines = [
        f"The demo's Playwright suite ({res.samples[0].tests} tests in 4 files, "
        "examples/demo/e2e) at each worker count on its own compose-gen stack, median of "
        f"{rounds} round(s) in alternating order; compose-gen reset policy: {policy}. "
        "*Suite*: the `npx playwright test` command's wall time (the stack's `up`/`down` are "
        "not in it). *CPU*: what the command and everything it started used (Node, Chromium, "
        "compose-gen reset), the stack's containers meanwhile (backends, PostgreSQL, "
        "Redis, their health checks) and their containerd shims (which exec the health "
        "checks); *busy* is their sum over the suite's wall time, in cores. *compose-gen "
        "CPU*: its processes + its resets at the database + the idle worker copies' rate "
        "over the suite's duration (their health checks), see the script's docstring.",
        "",
        f"Machine: {m['cpus']}, {m['memory']}; {m['docker']}; Compose {m['compose']}; "
        f"Node {m['node']}; Playwright {m['playwright']}; {m['browser']}.",
        "",
        "| workers | suite (s) | speed-up vs 1 | Playwright's total (s) | CPU: suite + stack "
        "+ shims (CPU-s) | busy (cores) | compose-gen CPU (CPU-s) | compose-gen share | "
        "resets (warm) | up (s) | load avg (before → after) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    shares: dict[int, float] = {}
    for n in counts:
        samples = [s for s in res.samples if s.workers == n]
        speedup = f"{base / res.median(n):.2f}×" if base else "-"
        loads = ", ".join(f"{s.load[0]:.1f} → {s.load[1]:.1f}" for s in samples)
        suite_cpu = res.median(n, "suite_cpu_s")
        stack = [s.stack_cpu_s for s in samples if s.stack_cpu_s is not None]
        stack_cpu = statistics.median(stack) if stack else None
        shim_cpu = res.median(n, "shim_cpu_s")
        cpu = (f"{suite_cpu:.1f} + {stack_cpu:.1f} + {shim_cpu:.1f}" if stack_cpu is not None
               else f"{suite_cpu:.1f} + ? + {shim_cpu:.1f}")
        busy = statistics.median(s.run_cpu_s for s in samples) / res.median(n)
        own = [s.compose_gen_cpu_s for s in samples if s.compose_gen_cpu_s is not None]
        if own:
            shares[n] = statistics.median(o / s.run_cpu_s for o, s in zip(own, samples,
                                                                           strict=False))
        detail = "; ".join(
            f"processes {s.cg_proc_cpu_s:.2f} + resets {s.resets}×"
            f"{(s.reset_cpu_s or 0) * 1000:.0f} ms + idle worker copies "
            f"{s.idle_cpu_rate or 0:.3f}/s×{s.suite_s:.0f} s; whole idle stack "
            f"{s.idle_stack_rate or 0:.3f}/s"
            for s in samples if s.compose_gen_cpu_s is not None)
        own_cell = f"{statistics.median(own):.2f} ({detail})" if own else "?"
        share_cell = f"{shares[n] * 100:.1f}%" if n in shares else "?"
        resets = f"{res.median(n, 'resets'):.0f} ({res.median(n, 'warm_resets'):.0f})"
        lines.append(f"| {n} | {res.median(n):.1f} | {speedup} | "
                     f"{res.median(n, 'reported_s'):.1f} | {cpu} | {busy:.2f} | {own_cell} "
                     f"| {share_cell} | {resets} | {res.median(n, 'up_s'):.1f} | {loads} |")
    lines.append("")
    if base and 2 in counts:
        ratio = base / res.median(2)
        verdict = "met" if ratio >= TARGET else f"**missed** by {TARGET - ratio:.2f}"
        lines.append(f"- Target: 2 workers ≥ {TARGET}× faster than 1 — {ratio:.2f}×, {verdict}.")
    if 2 in counts and 4 in counts:
        ratio = res.median(2) / res.median(4)
        verdict = "met" if ratio >= 1.0 else f"**missed**: 4 workers take {1 / ratio:.2f}× as long"
        lines.append(f"- Target: 4 workers not slower than 2 — {ratio:.2f}× of 2's speed, "
                     f"{verdict}.")
    if shares:
        worst = max(shares.values())
        verdict = "met" if worst <= SHARE_TARGET else \
            f"**missed** by {(worst - SHARE_TARGET) * 100:.1f} points"
        lines.append(f"- Target: compose-gen's CPU ≤ {SHARE_TARGET:.0%} of the run's — at most "
                     f"{worst * 100:.1f}%, {verdict}.")
    cpus = os.cpu_count() or 1
    all_loads = [x for s in res.samples for x in s.load]
    if max(all_loads) > cpus:
        lines += ["", f"**Noisy run:** the load average reached {max(all_loads):.1f} on {cpus} "
                      "CPUs; other work shared the machine and every figure carries its noise."]
    return "\n".join(lines) + "\n"


def markers(reset: str | None) -> tuple[str, str]:
    variant = f"bench_e2e.py --reset {reset}" if reset else "bench_e2e.py"
    return (f"<!-- generated by benchmarks/{variant}: begin -->",
            f"<!-- generated by benchmarks/{variant}: end -->")


def write_section(text: str, reset: str | None) -> None:
    """Our figures into docs/PERFORMANCE.md between this variant's markers, inside our section.

    The rest of the file (other sections, and the prose around our markers) is kept. A variant
    not there yet is added at the end of our section; our section, at the end of the file.
    """
    begin, end = markers(reset)
    block = f"{begin}\n{text.rstrip()}\n{end}"
    current = PERFORMANCE.read_text(encoding="utf-8") if PERFORMANCE.exists() else "# Performance\n"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        updated = head + block + rest.split(end, 1)[1]
    elif SECTION in current:
        head, rest = current.split(SECTION, 1)
        nxt = re.search(r"^## ", rest, re.M)
        body, tail = (rest[:nxt.start()], rest[nxt.start():]) if nxt else (rest, "")
        updated = head + SECTION + body.rstrip("\n") + "\n\n" + block + "\n\n" + tail
    else:
        updated = current.rstrip("\n") + "\n\n" + SECTION + "\n\n" + block + "\n"
    PERFORMANCE.parent.mkdir(parents=True, exist_ok=True)
    PERFORMANCE.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    parser.add_argument("--reset", choices=["per-file", "per-test", "off"],
                        help="the fixture's compose-gen reset policy (E2E_RESET; default: the "
                             "suite's own, per-file)")
    parser.add_argument("--no-write", action="store_true",
                        help=f"print only; leave {PERFORMANCE.relative_to(REPO)} alone")
    args = parser.parse_args()
    counts = sorted({int(n) for n in args.workers.split(",")})
    res = Results(machine=machine())
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        for r in range(args.repeat):
            order = counts if r % 2 == 0 else list(reversed(counts))
            for n in order:
                sample = one_sample(n, Path(tmp), args.reset)
                res.samples.append(sample)
                print(f"round {r + 1}: {n} worker(s): suite {sample.suite_s:.1f} s "
                      f"(Playwright {sample.reported_s:.1f} s), up {sample.up_s:.1f} s, "
                      f"load {sample.load[0]:.1f} → {sample.load[1]:.1f}", file=sys.stderr)
    text = render(res, counts, args.repeat, args.reset)
    print(f"{SECTION}\n\n{text}")
    if args.json:
        args.json.write_text(json.dumps({"machine": res.machine, "samples": [
            s.__dict__ for s in res.samples]}, indent=2, default=list))
    if not args.no_write:
        write_section(text, args.reset)
        print(f"wrote '{SECTION[3:]}' in {PERFORMANCE.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
