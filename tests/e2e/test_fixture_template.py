"""The demo uses the fixture users copy: its copy must not drift from the template."""

from __future__ import annotations

from tests.e2e.helpers import E2E_DIR, REPO

TEMPLATE = REPO / "templates" / "playwright" / "compose-gen-fixture.ts"
DEMO_COPY = E2E_DIR / "fixtures" / "compose-gen-fixture.ts"


def test_the_demo_runs_the_template_fixture_verbatim() -> None:
    assert DEMO_COPY.read_bytes() == TEMPLATE.read_bytes(), (
        f"{DEMO_COPY} differs from {TEMPLATE}: edit the template, then copy it over")


def _code(path) -> str:  # noqa: ANN001
    """The file without its comment lines."""
    return "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith(("*", "/*", "//")))


def test_the_template_follows_the_playwright_rules() -> None:
    code = _code(TEMPLATE)
    assert "parallelIndex" in code
    assert "workerIndex" not in code  # restarts change it
    assert "execFile(" in code and "exec(" not in code.replace("execFile(", "")
    assert "shell: true" not in code
    assert "waitForTimeout" not in code


def test_the_demo_suite_follows_the_playwright_rules() -> None:
    config = _code(E2E_DIR / "playwright.config.ts")
    assert "fullyParallel: true" in config
    assert "webServer" not in config and "reuseExistingServer" not in config
    assert "E2E_WORKERS" in config and "PLAYWRIGHT_CHROMIUM_PATH" in config
    specs = sorted((E2E_DIR / "tests").glob("*.spec.ts"))
    counts = {}
    for spec in specs:
        text = spec.read_text(encoding="utf-8")
        assert "waitForTimeout" not in text and "setTimeout" not in text, spec
        counts[spec.name] = text.count("\ntest(")
    assert len(specs) >= 3 and all(n >= 3 for n in counts.values()), counts
    assert sum(counts.values()) >= 12, counts
