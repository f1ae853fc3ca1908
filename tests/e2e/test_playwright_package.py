"""@compose-gen/playwright (packages/playwright), as the demo installs it with npm.

The demo's suite runs through the installed package in a CommonJS project (the demo as it
is) and an ES module project (a copy with `"type": "module"`), and a project whose specs
still import '@playwright/test' gets each worker's backend from `composeGenUse()` in its
config alone. One two-worker stack for the module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.paths import REPO
from tests.e2e.helpers import (
    E2E_DIR,
    SUITE_TESTS,
    Stack,
    labelled,
    read_junit,
    remove_labelled,
    run,
    tail,
)

PACKAGE = REPO / "packages" / "playwright"
INSTALLED = E2E_DIR / "node_modules" / "@compose-gen" / "playwright"


def _code(path: Path) -> str:
    """The file without its comment lines."""
    return "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith(("*", "/*", "//")))


def test_the_package_follows_the_playwright_rules() -> None:
    code = _code(PACKAGE / "index.cjs")
    assert "parallelIndex" in code
    assert "workerIndex" not in code  # restarts change it
    assert "execFile(" in code and "exec(" not in code.replace("execFile(", "")
    assert "shell: true" not in code
    assert "waitForTimeout" not in code
    assert "__dirname" not in _code(E2E_DIR / "playwright.config.ts")  # ESM has none
    assert ".zenflow/tasks" not in code  # tasks_dir comes from compose-gen


def test_the_package_declares_esm_cjs_types_and_only_a_peer() -> None:
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert manifest["name"] == "@compose-gen/playwright"
    assert set(manifest["exports"]["."]) == {"import", "require"}
    for condition in manifest["exports"]["."].values():
        assert (PACKAGE / condition["types"]).is_file()
        assert (PACKAGE / condition["default"]).is_file()
    assert "dependencies" not in manifest
    assert list(manifest["peerDependencies"]) == ["@playwright/test"]


def test_the_demo_uses_the_installed_package_as_it_is_in_the_repository() -> None:
    """npm installed a copy (install-links): it must be today's, or the suite tests old code."""
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert json.loads((E2E_DIR / "package.json").read_text())["devDependencies"][
        "@compose-gen/playwright"] == "file:../../../packages/playwright"
    assert not INSTALLED.is_symlink()
    for name in [*manifest["files"], "package.json"]:
        assert (INSTALLED / name).read_bytes() == (PACKAGE / name).read_bytes(), (
            f"{INSTALLED / name} is stale: run `npm install` in {E2E_DIR}")
    specs = [*E2E_DIR.glob("tests/*.ts"), *E2E_DIR.glob("fixtures/*.ts")]
    assert not any("compose-gen-fixture" in spec.read_text() for spec in specs)


def test_esm_and_commonjs_get_one_and_the_same_test(tmp_path: Path) -> None:
    script = ("import { test, composeGenUse } from '@compose-gen/playwright';"
              "import { createRequire } from 'node:module';"
              "const cjs = createRequire(process.cwd() + '/')('@compose-gen/playwright');"
              "const base = createRequire(process.cwd() + '/')('@playwright/test');"
              "console.log(JSON.stringify([test === cjs.test, typeof composeGenUse,"
              " typeof cjs.devices, test !== base.test, typeof test.extend]));")
    proc = subprocess.run(["node", "--input-type=module", "-e", script], cwd=E2E_DIR,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [True, "function", "object", True, "function"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, e2e_ready: None) -> Iterator[Stack]:
    stack = Stack(f"e2e-pkg-{uuid.uuid4().hex[:8]}", 2, tmp_path_factory.mktemp("state"))
    try:
        stack.cli("up", "--task-id", stack.task_id, "--workers", "2")
        yield stack
    finally:
        stack.cli("down", "--task-id", stack.task_id, check=False)
        remove_labelled(stack.task_id)
        assert not any(labelled(stack.task_id).values())


def _project(tmp_path: Path, module_type: str | None) -> Path:
    """The demo's E2E project: as it is, or a copy of it with another package type."""
    if module_type is None:
        return E2E_DIR
    copy = tmp_path / "e2e"
    shutil.copytree(E2E_DIR, copy, ignore=shutil.ignore_patterns("node_modules", "results",
                                                                 "test-results"))
    (copy / "node_modules").symlink_to(E2E_DIR / "node_modules")
    manifest = json.loads((copy / "package.json").read_text())
    (copy / "package.json").write_text(json.dumps({**manifest, "type": module_type}))
    return copy


def _playwright(stack: Stack, project: Path, results: Path, *args: str
                ) -> subprocess.CompletedProcess[str]:
    env = stack.env(E2E_WORKERS="2", E2E_RESULTS_DIR=str(results),
                    PLAYWRIGHT_JUNIT_OUTPUT_NAME=str(results / "junit.xml"),
                    PLAYWRIGHT_HTML_OUTPUT_DIR=str(results / "html"),
                    # compose-gen finds examples/demo/compose-gen.toml from here (a copy in
                    # tmp has none above it).
                    COMPOSE_GEN_PROJECT_DIR=str(E2E_DIR))
    proc = run(["npx", "--no-install", "playwright", "test", "--workers=2", *args], env,
               cwd=project, timeout=900)
    results.mkdir(parents=True, exist_ok=True)
    (results / "output.txt").write_text(proc.stdout + proc.stderr)
    return proc


@pytest.mark.parametrize("module_type", [None, "module"], ids=["commonjs", "esm"])
def test_the_demo_suite_passes_through_the_installed_package(
        stack: Stack, tmp_path: Path, module_type: str | None) -> None:
    project = _project(tmp_path, module_type)
    proc = _playwright(stack, project, tmp_path / "results")
    assert proc.returncode == 0, tail(proc)
    report = read_junit(tmp_path / "results" / "junit.xml")
    assert len(report.with_outcome("passed")) == SUITE_TESTS, tail(proc)
    served = {case.properties["compose-gen stack worker"].split()[0] for case in report.cases}
    assert served == {"0", "1"}  # both stack workers, each by its own Playwright worker


CONFIG_ONLY = """
import { defineConfig } from '@playwright/test';
import { composeGenUse } from '@compose-gen/playwright';

export default defineConfig({
  testDir: './specs',
  fullyParallel: true,
  reporter: [['junit', {}]],
  use: { ...composeGenUse() },
});
"""

UNCHANGED_SPEC = """
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';

for (const n of [1, 2, 3, 4, 5, 6]) {
  test(`request ${n} goes to this worker's backend`, async ({ baseURL, request }, testInfo) => {
    const file = process.env.COMPOSE_GEN_WORKERS_JSON as string;
    const worker = JSON.parse(readFileSync(file, 'utf8')).workers[testInfo.parallelIndex];
    expect(baseURL).toBe(worker.base_url);
    const stats = await (await request.get('/api/stats')).json();
    expect(stats.database).toBe(worker.database);
    testInfo.annotations.push({ type: 'served by', description: worker.database });
  });
}
"""


@pytest.mark.parametrize("module_type", ["commonjs", "module"])
def test_config_only_setup_needs_no_spec_edit(stack: Stack, tmp_path: Path,
                                              module_type: str) -> None:
    project = tmp_path / "plain"
    (project / "specs").mkdir(parents=True)
    (project / "node_modules").symlink_to(E2E_DIR / "node_modules")
    (project / "package.json").write_text(json.dumps({"name": "plain", "type": module_type}))
    (project / "playwright.config.ts").write_text(CONFIG_ONLY)
    (project / "specs" / "api.spec.ts").write_text(UNCHANGED_SPEC)
    proc = _playwright(stack, project, tmp_path / "results")
    assert proc.returncode == 0, tail(proc)
    report = read_junit(tmp_path / "results" / "junit.xml")
    assert len(report.with_outcome("passed")) == 6, tail(proc)
    served = {case.properties.get("served by") for case in report.cases}
    assert len(served) == 2, served  # two databases: one per Playwright worker
