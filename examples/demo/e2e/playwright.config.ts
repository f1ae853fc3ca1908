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
 * by the fixture in fixtures/compose-gen-fixture.ts.
 *
 * Environment:
 *   E2E_WORKERS                 Playwright workers (default 2); the stack needs as many
 *   E2E_TASK_ID / ZENFLOW_TASK_ID, COMPOSE_GEN_WORKERS_JSON   which stack (see the fixture)
 *   E2E_RESULTS_DIR             reports and artifacts (default ./results/local)
 *   PLAYWRIGHT_JUNIT_OUTPUT_NAME / _FILE   JUnit file (default <results>/junit.xml)
 *   PLAYWRIGHT_HTML_OUTPUT_DIR  HTML report (default <results>/html)
 *   PLAYWRIGHT_CHROMIUM_PATH / CHROME_PATH  a system Chromium instead of `npx playwright install`
 *   E2E_RETRIES                 retries (default 0: a flaky test must show, not hide)
 *   E2E_NETLINK_SHIM=0          no LD_PRELOAD shim in Chromium (see support/netlink-shim.ts)
 *   E2E_RESET                   when the fixture runs compose-gen reset: per-file (default),
 *                               per-test, off (the demo's API clean-up still runs every test)
 */
import { defineConfig, devices } from '@playwright/test';
import * as path from 'node:path';
import type { ComposeGenResetPolicy, ComposeGenWorkerFixtures } from './fixtures/compose-gen-fixture';
import { netlinkShim } from './support/netlink-shim';

const workers = Number(process.env.E2E_WORKERS || 2);
if (!Number.isInteger(workers) || workers < 1) {
  throw new Error(`E2E_WORKERS must be a positive integer, got ${JSON.stringify(process.env.E2E_WORKERS)}`);
}
const resultsDir = path.resolve(process.env.E2E_RESULTS_DIR || path.join(__dirname, 'results', 'local'));
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

export default defineConfig<object, Pick<ComposeGenWorkerFixtures, 'composeGenProjectDir' | 'composeGenReset'>>({
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
    // Where compose-gen.toml lives: `compose-gen --project-dir` for resets, and the base of
    // .zenflow/tasks/<task id>/workers.json.
    composeGenProjectDir: path.resolve(__dirname, '..'),
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
          // Chromium aborts navigations with net::ERR_NETWORK_CHANGED (support/no-netlink.c).
          ...(netlink ? { env: { ...process.env, LD_PRELOAD: preload(netlink) } } : {}),
        },
      },
    },
  ],
});
