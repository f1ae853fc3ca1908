/**
 * Playwright config of the demo's E2E suite. Run it against a compose-gen stack:
 *
 *     compose-gen up --task-id T --workers 4          # from examples/demo
 *     E2E_TASK_ID=T npx playwright test --workers=4   # from examples/demo/e2e
 *     compose-gen down --task-id T
 *
 * or all three at once with scripts/e2e_parallel.sh (which also tears down on every exit).
 *
 * No `webServer` (one static server for all workers) and no `reuseExistingServer` (it can
 * silently test another task's server): every worker's backend comes from the stack, picked
 * by the `test` of @compose-gen/playwright (packages/playwright, installed by npm).
 *
 * No `__dirname` either: this file also runs as an ES module (`"type": "module"`, see
 * tests/e2e/test_playwright_package.py). Relative paths below are relative to this file's
 * dir (Playwright resolves them), and compose-gen finds examples/demo/compose-gen.toml upwards
 * from the current directory.
 *
 * Environment:
 *   E2E_WORKERS                 Playwright workers (default 2); the stack needs as many
 *   E2E_TASK_ID / ZENFLOW_TASK_ID, COMPOSE_GEN_WORKERS_JSON   which stack (the package's README)
 *   E2E_RESULTS_DIR             reports and artifacts (default ./results/local)
 *   PLAYWRIGHT_JUNIT_OUTPUT_NAME / _FILE   JUnit file (default <results>/junit.xml)
 *   PLAYWRIGHT_HTML_OUTPUT_DIR  HTML report (default <results>/html)
 *   PLAYWRIGHT_CHROMIUM_PATH / CHROME_PATH  a system Chromium instead of `npx playwright install`
 *   E2E_RETRIES                 retries (default 0: a flaky test must show, not hide)
 *   E2E_NETLINK_SHIM=0          no LD_PRELOAD shim in Chromium (netlinkShim of @compose-gen/playwright)
 *   E2E_RESET                   when the fixture runs compose-gen reset: per-file (default),
 *                               per-test, off (the demo's API clean-up still runs every test)
 */
import { defineConfig, devices } from '@playwright/test';
import { netlinkShim } from '@compose-gen/playwright';
import type { ComposeGenResetPolicy, ComposeGenWorkerFixtures } from '@compose-gen/playwright';
import * as path from 'node:path';

const workers = Number(process.env.E2E_WORKERS || 2);
if (!Number.isInteger(workers) || workers < 1) {
  throw new Error(`E2E_WORKERS must be a positive integer, got ${JSON.stringify(process.env.E2E_WORKERS)}`);
}
const resultsDir = process.env.E2E_RESULTS_DIR || path.join('results', 'local');
const chromium = process.env.PLAYWRIGHT_CHROMIUM_PATH || process.env.CHROME_PATH;
function resetPolicy(value: string | undefined): ComposeGenResetPolicy {
  const policies: ComposeGenResetPolicy[] = ['per-file', 'per-test', 'off'];
  if (!value) return 'per-file';
  if (!policies.includes(value as ComposeGenResetPolicy)) {
    throw new Error(`E2E_RESET must be one of ${policies.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as ComposeGenResetPolicy;
}
const netlink = netlinkShim();
function preload(shim: string): string {
  return [shim, process.env.LD_PRELOAD].filter(Boolean).join(':');
}
const junitFromEnv = process.env.PLAYWRIGHT_JUNIT_OUTPUT_NAME || process.env.PLAYWRIGHT_JUNIT_OUTPUT_FILE;

export default defineConfig<object, Pick<ComposeGenWorkerFixtures, 'composeGenReset'>>({
  testDir: './tests',
  outputDir: path.join(resultsDir, 'artifacts'),
  fullyParallel: true,
  workers,
  forbidOnly: !!process.env.CI,
  retries: Number(process.env.E2E_RETRIES || 0),
  timeout: 30_000,
  expect: { timeout: 5_000 },
  reporter: [
    ['list'],
    // The env var wins when set (scripts/e2e_parallel.sh, compose-gen prove); an outputFile
    // in the config would override PLAYWRIGHT_JUNIT_OUTPUT_NAME, so give one only without it.
    ['junit', junitFromEnv ? {} : { outputFile: path.join(resultsDir, 'junit.xml') }],
    ['html', { open: 'never', outputFolder: path.join(resultsDir, 'html') }],
  ],
  use: {
    // composeGenProjectDir: the default, the current directory, is fine: compose-gen finds
    // ../compose-gen.toml upwards from it (and from it the task's workers.json).
    // compose-gen reset between spec files (the default); E2E_RESET=per-test|off to compare.
    composeGenReset: resetPolicy(process.env.E2E_RESET),
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    screenshot: 'only-on-failure',
    // Tracing every test costs time on 2 cores; E2E_TRACE=1 keeps traces of failed tests.
    trace: process.env.E2E_TRACE === '1' ? 'retain-on-failure' : 'off',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          ...(chromium
            ? {
                executablePath: chromium,
                args: [
                  '--no-sandbox',
                  '--disable-gpu',
                  '--disable-background-networking',
                  '--disable-component-update',
                  '--disable-sync',
                ],
              }
            : {}),
          // Docker hosts change their interfaces with every stack up/down: without this,
          // Chromium aborts navigations with net::ERR_NETWORK_CHANGED (no-netlink.c in packages/playwright).
          ...(netlink ? { env: { ...process.env, LD_PRELOAD: preload(netlink) } } : {}),
        },
      },
    },
  ],
});
