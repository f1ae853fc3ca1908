"""What the E2E tests share: the demo's paths, child environments, JUnit reading, Docker checks.

Everything is real: the demo stack (Docker, PostgreSQL, one backend per worker), Node,
Playwright and a system Chromium. Docker is checked with the docker CLI, an oracle independent
of compose-gen.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from tests._support.paths import EXAMPLES, REPO

DEMO = EXAMPLES / "demo"
E2E_DIR = DEMO / "e2e"
SCRIPT = REPO / "scripts" / "e2e_parallel.sh"
LOCAL_IMAGES_FILE = REPO / "scripts" / "ci" / "local-images.env"
TASK_LABEL = "dev.compose-gen.task"
# Variables of an outer run that must not steer the runs these tests start.
_SCRUB_PREFIXES = ("E2E_", "PLAYWRIGHT_JUNIT_", "PLAYWRIGHT_HTML_", "COMPOSE_GEN_E2E_",
                   "COMPOSE_GEN_WORKERS_JSON", "ZENFLOW_TASK_ID", "TEST_PARALLEL_INDEX",
                   "TEST_WORKER_INDEX")
SEED_EXAMS = 3
SUITE_TESTS = 18  # tests in examples/demo/e2e/tests


def compose_gen_bin() -> str:
    """The compose-gen of this interpreter's environment (the editable install in .venv)."""
    beside = Path(sys.executable).parent / "compose-gen"
    if beside.is_file():
        return str(beside)
    found = shutil.which("compose-gen")
    assert found, "compose-gen is not installed in this environment"
    return found


def chromium_path() -> str | None:
    for name in ("PLAYWRIGHT_CHROMIUM_PATH", "CHROME_PATH"):
        if os.environ.get(name):
            return os.environ[name]
    # The headless shell when installed: what Playwright runs headless, far cheaper per page.
    return shutil.which("chromium-headless-shell") or shutil.which("chromium")


def local_images() -> dict[str, str]:
    """DEMO_*_IMAGE from scripts/ci/local-images.env (no registry on our machines)."""
    values = {}
    for line in LOCAL_IMAGES_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def child_env(state_dir: str | Path, **extra: str) -> dict[str, str]:
    """The environment of a compose-gen / Playwright child: this one, minus an outer run's
    E2E settings, plus the local images (unless COMPOSE_GEN_IMAGES=public), the system
    Chromium and the compose-gen of this environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    if os.environ.get("COMPOSE_GEN_IMAGES", "local") == "local":
        for key, value in local_images().items():
            env.setdefault(key, value)
    chromium = chromium_path()
    if chromium:
        env["PLAYWRIGHT_CHROMIUM_PATH"] = chromium
    bin_path = compose_gen_bin()
    env["COMPOSE_GEN_BIN"] = bin_path
    env["PATH"] = f"{Path(bin_path).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COMPOSE_GEN_STATE_DIR"] = str(state_dir)
    env.update(extra)
    return env


def run(argv: list[str], env: dict[str, str], cwd: Path = REPO,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def tail(proc: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    text = (proc.stdout or "") + "\n--- stderr ---\n" + (proc.stderr or "")
    return "\n".join(text.splitlines()[-lines:])


# --- JUnit (Playwright's reporter) -------------------------------------------------------------

@dataclass
class Case:
    file: str
    name: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    cases: list[Case]

    def with_outcome(self, *outcomes: str) -> list[Case]:
        return [c for c in self.cases if c.outcome in outcomes]

    @property
    def not_passed(self) -> list[Case]:
        return [c for c in self.cases if c.outcome != "passed"]


def read_junit(path: Path) -> Report:
    assert path.is_file(), f"no JUnit report at {path}"
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcome = "failed" if tag == "failure" else tag
                message = (element.get("message") or "") + "\n" + (element.text or "")
                break
        cases.append(Case(case.get("classname", ""), case.get("name", ""), outcome, message,
                          props))
    return Report(cases)


# --- Docker and HTTP ---------------------------------------------------------------------------

def docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"docker {' '.join(args)}: {proc.stderr.strip()}"
    return proc.stdout


def labelled(task_id: str) -> dict[str, list[str]]:
    """Containers, volumes and networks that carry the task's label."""
    selector = f"label={TASK_LABEL}={task_id}"
    return {
        "containers": docker("ps", "-a", "--filter", selector, "--format", "{{.Names}}").split(),
        "volumes": docker("volume", "ls", "--filter", selector, "--format", "{{.Name}}").split(),
        "networks": docker("network", "ls", "--filter", selector,
                           "--format", "{{.Name}}").split(),
    }


def remove_labelled(task_id: str) -> None:
    """Last-resort sweep after a failed test, so one failure does not leak into the next."""
    found = labelled(task_id)
    for names, args in ((found["containers"], ["rm", "-f", "-v"]),
                        (found["networks"], ["network", "rm"]),
                        (found["volumes"], ["volume", "rm", "-f"])):
        if names:
            subprocess.run(["docker", *args, *names], capture_output=True, timeout=120)


def images_missing(env: dict[str, str]) -> list[str]:
    wanted = [env[k] for k in ("DEMO_POSTGRES_IMAGE", "DEMO_PYTHON_IMAGE", "DEMO_REDIS_IMAGE")
              if k in env]
    return [image for image in wanted
            if subprocess.run(["docker", "image", "inspect", image], capture_output=True,
                              timeout=60).returncode != 0]


def http(method: str, url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def get_json(url: str) -> object:
    status, body = http("GET", url)
    assert status == 200, f"GET {url}: {status} {body[:200]!r}"
    return json.loads(body)


class Stack:
    """A demo stack brought up by a fixture, with its own state dir."""

    def __init__(self, task_id: str, workers: int, state_dir: Path) -> None:
        self.task_id = task_id
        self.workers = workers
        self.state_dir = state_dir

    def env(self, **extra: str) -> dict[str, str]:
        return child_env(self.state_dir, E2E_TASK_ID=self.task_id, **extra)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = run([compose_gen_bin(), "--project-dir", str(DEMO), *args], self.env())
        if check:
            assert proc.returncode == 0, f"compose-gen {' '.join(args)}: {proc.stderr}"
        return proc

    @property
    def task_dir(self) -> Path:
        return DEMO / ".zenflow" / "tasks" / self.task_id
