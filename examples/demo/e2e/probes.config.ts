/**
 * Probes: Playwright runs that check the fixture itself rather than the demo app, driven by
 * tests/e2e (pytest). Same settings as playwright.config.ts, other tests:
 *
 *     E2E_TASK_ID=T npx playwright test -c probes.config.ts --workers=1
 *
 * probes/worker-restart.probe.ts fails ON PURPOSE once per worker, so a run exits 1.
 */
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig(base, {
  testDir: './probes',
  testMatch: '*.probe.ts',
});
