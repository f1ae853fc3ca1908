/**
 * compose-gen fixture for Playwright Test: every Playwright worker gets its own backend,
 * database and media volume from the task's compose-gen stack.
 *
 * Copy this file into your Playwright project (it needs only `@playwright/test` and Node's
 * standard library), then import `test` and `expect` from it instead of `@playwright/test`:
 *
 *     import { test, expect } from './compose-gen-fixture';
 *
 *     test('adds an exam', async ({ page, composeGen }) => {
 *       await page.goto('/');                  // baseURL = this worker's backend
 *       ...
 *     });
 *
 * Bring the stack up with as many workers as Playwright will run, then run Playwright:
 *
 *     compose-gen up --task-id my-task --workers 4
 *     ZENFLOW_TASK_ID=my-task npx playwright test --workers=4
 *     compose-gen down --task-id my-task
 *
 * How a Playwright worker finds its stack worker:
 *   1. `workers.json` is `$COMPOSE_GEN_WORKERS_JSON`, else
 *      `<project dir>/<tasks dir>/<task id>/workers.json` with the task id from
 *      `$E2E_TASK_ID`, else `$ZENFLOW_TASK_ID`, the tasks dir from `$COMPOSE_GEN_TASKS_DIR`
 *      (default `.zenflow/tasks`) and the project dir from the `composeGenProjectDir` option
 *      (default `$COMPOSE_GEN_PROJECT_DIR`, else the current directory).
 *   2. The worker is picked by `workerInfo.parallelIndex` (`TEST_PARALLEL_INDEX`: 0..workers-1,
 *      kept when Playwright restarts a worker after a failure). Not `workerIndex`
 *      (`TEST_WORKER_INDEX`), which grows with every restart. A parallel index without a
 *      stack worker is an error that says how to fix it, never a silent fallback.
 *   3. `baseURL` (for `page` and `request`) becomes that worker's `base_url`.
 *   4. Every test is annotated with its parallel index and stack worker (the JUnit report's
 *      <property> elements, the HTML report's annotations).
 *
 * Fresh data: `composeGen.reset()` runs `compose-gen reset --task-id T --worker I` (the worker's
 * database re-cloned from the seeded template, tens of milliseconds). The auto fixture
 * `composeGenFreshDatabase` calls it according to the `composeGenReset` option:
 *   'per-file' (default): before the first test of every spec file a worker runs, and before
 *                         the next test after a test that did not end as expected;
 *   'per-test':           before every test (simplest, costs one process start per test);
 *   'off':                never (call `composeGen.reset()` yourself).
 * compose-gen reset re-creates the database only: media files are the app's to clean.
 *
 * `COMPOSE_GEN_E2E_SHARED=1` points every Playwright worker at stack worker 0: one backend
 * and one database for all of them, i.e. the setup compose-gen exists to avoid. Use it to prove
 * that your suite depends on the isolation (it should fail); never in a real run. In that mode
 * there are no automatic resets: a reset drops the one database while the other workers are
 * using it, so the proof would show dropped connections instead of the mixed-up data that a
 * shared database really causes.
 *
 * Options (set them in playwright.config.ts under `use`, or with `test.use`):
 *   composeGenProjectDir  where the compose-gen config lives (`compose-gen --project-dir`)
 *   composeGenReset       'per-file' | 'per-test' | 'off'
 * Environment: COMPOSE_GEN_BIN (the compose-gen executable, default `compose-gen` on PATH),
 * COMPOSE_GEN_WORKERS_JSON, E2E_TASK_ID / ZENFLOW_TASK_ID, COMPOSE_GEN_TASKS_DIR,
 * COMPOSE_GEN_PROJECT_DIR, COMPOSE_GEN_E2E_SHARED, and COMPOSE_GEN_STATE_DIR as for `up`.
 */
import { test as base, expect } from '@playwright/test';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** One entry of workers.json, as `compose-gen up` / `render` writes it. */
export interface StackWorker {
  index: number;
  base_url: string | null;
  database: string;
  database_url: string;
  media_volume: string | null;
  services: Record<string, string>;
  ports: Record<string, number>;
}

/** The task's stack, from workers.json. */
export interface ComposeGenStack {
  taskId: string;
  projectName: string;
  workersFile: string;
  workers: StackWorker[];
}

/** What one Playwright worker gets: its stack worker and a way to reset its database. */
export interface ComposeGenWorker {
  stack: ComposeGenStack;
  /** The stack worker this Playwright worker uses (worker 0 for everyone when shared). */
  worker: StackWorker;
  /** `workerInfo.parallelIndex` of this Playwright worker. */
  parallelIndex: number;
  /** True under COMPOSE_GEN_E2E_SHARED=1. */
  shared: boolean;
  /** `compose-gen reset --task-id T --worker I`: a fresh clone of the seeded template. */
  reset(): Promise<void>;
  /** Ask for a reset before this worker's next test (e.g. a test changed the seed data). */
  markDirty(): void;
}

export type ComposeGenResetPolicy = 'per-file' | 'per-test' | 'off';

export type ComposeGenWorkerFixtures = {
  composeGenProjectDir: string;
  composeGenReset: ComposeGenResetPolicy;
  composeGen: ComposeGenWorker;
};

export type ComposeGenTestFixtures = {
  composeGenFreshDatabase: void;
};

const SHARED_ENV = 'COMPOSE_GEN_E2E_SHARED';

/** Where workers.json is, from the environment (see the header). */
export function workersFilePath(projectDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.COMPOSE_GEN_WORKERS_JSON) return path.resolve(env.COMPOSE_GEN_WORKERS_JSON);
  const taskId = env.E2E_TASK_ID || env.ZENFLOW_TASK_ID;
  if (!taskId) {
    throw new Error(
      'compose-gen fixture: no stack to test against. Set COMPOSE_GEN_WORKERS_JSON to the ' +
        "task's workers.json, or E2E_TASK_ID (or ZENFLOW_TASK_ID) to the task id given to " +
        '`compose-gen up --task-id`.',
    );
  }
  if (taskId.includes('/') || taskId.includes('\\') || taskId === '.' || taskId === '..') {
    throw new Error(`compose-gen fixture: task id ${JSON.stringify(taskId)} is not a plain name`);
  }
  const tasksDir = env.COMPOSE_GEN_TASKS_DIR || '.zenflow/tasks';
  return path.resolve(projectDir, tasksDir, taskId, 'workers.json');
}

/** Read and check workers.json. */
export function readStack(file: string): ComposeGenStack {
  if (!existsSync(file)) {
    throw new Error(
      `compose-gen fixture: ${file} does not exist. Is the task up? ` +
        '(`compose-gen up --task-id <id> --workers <n>` writes it)',
    );
  }
  const data = JSON.parse(readFileSync(file, 'utf8'));
  if (!data || !Array.isArray(data.workers) || data.workers.length === 0 || !data.task_id) {
    throw new Error(`compose-gen fixture: ${file} has no task_id or no workers`);
  }
  const workers = [...(data.workers as StackWorker[])].sort((a, b) => a.index - b.index);
  workers.forEach((w, i) => {
    if (w.index !== i) throw new Error(`compose-gen fixture: ${file}: worker indexes are not 0..n-1`);
  });
  return { taskId: data.task_id, projectName: data.project_name, workersFile: file, workers };
}

/** The stack worker for a Playwright parallel index; throws when there is none. */
export function pickWorker(stack: ComposeGenStack, parallelIndex: number, shared: boolean): StackWorker {
  const index = shared ? 0 : parallelIndex;
  const count = stack.workers.length;
  if (index >= count) {
    throw new Error(
      `compose-gen fixture: Playwright parallel index ${parallelIndex} has no stack worker: ` +
        `task '${stack.taskId}' was brought up with ${count} worker(s) (${stack.workersFile}). ` +
        `Run Playwright with --workers=${count} or fewer, or bring the stack up with ` +
        `\`compose-gen up --task-id ${stack.taskId} --workers ${parallelIndex + 1}\` or more.`,
    );
  }
  const worker = stack.workers[index];
  if (!worker.base_url) {
    throw new Error(
      `compose-gen fixture: stack worker ${index} of task '${stack.taskId}' has no base_url ` +
        '(its worker service publishes no port)',
    );
  }
  return worker;
}

/** `compose-gen [--project-dir D] reset --task-id T --worker I`, argv only (no shell). */
export function resetWorker(projectDir: string, taskId: string, worker: number): Promise<void> {
  const bin = process.env.COMPOSE_GEN_BIN || 'compose-gen';
  const argv = ['--project-dir', projectDir, 'reset', '--task-id', taskId, '--worker', String(worker)];
  return new Promise((resolve, reject) => {
    execFile(bin, argv, { timeout: 60_000, maxBuffer: 1 << 20 }, (error, _stdout, stderr) => {
      if (error) {
        reject(
          new Error(
            `compose-gen fixture: \`${bin} ${argv.join(' ')}\` failed (${error.code ?? error.signal}): ` +
              `${String(stderr).trim() || error.message}`,
          ),
        );
      } else {
        resolve();
      }
    });
  });
}

/** The worker fixture's value; also remembers what `composeGenFreshDatabase` needs. */
class WorkerHandle implements ComposeGenWorker {
  dirty = false;
  lastFile: string | undefined;

  constructor(
    readonly stack: ComposeGenStack,
    readonly worker: StackWorker,
    readonly parallelIndex: number,
    readonly shared: boolean,
    private readonly projectDir: string,
  ) {}

  async reset(): Promise<void> {
    await resetWorker(this.projectDir, this.stack.taskId, this.worker.index);
    this.dirty = false;
  }

  markDirty(): void {
    this.dirty = true;
  }
}

export const test = base.extend<ComposeGenTestFixtures, ComposeGenWorkerFixtures>({
  composeGenProjectDir: [process.env.COMPOSE_GEN_PROJECT_DIR || process.cwd(), { scope: 'worker', option: true }],
  composeGenReset: ['per-file', { scope: 'worker', option: true }],

  composeGen: [
    async ({ composeGenProjectDir }, use, workerInfo) => {
      const shared = process.env[SHARED_ENV] === '1';
      const stack = readStack(workersFilePath(composeGenProjectDir));
      const worker = pickWorker(stack, workerInfo.parallelIndex, shared);
      await use(new WorkerHandle(stack, worker, workerInfo.parallelIndex, shared, composeGenProjectDir));
    },
    { scope: 'worker', title: 'compose-gen stack worker' },
  ],

  baseURL: async ({ composeGen }, use) => {
    await use(composeGen.worker.base_url ?? undefined);
  },

  composeGenFreshDatabase: [
    async ({ composeGen, composeGenReset }, use, testInfo) => {
      const handle = composeGen as WorkerHandle;
      const newFile = handle.lastFile !== testInfo.file;
      const policy = handle.shared ? 'off' : composeGenReset;
      if (policy === 'per-test' || (policy === 'per-file' && (newFile || handle.dirty))) {
        await handle.reset();
      }
      handle.lastFile = testInfo.file;
      // In the reports (JUnit <property>, HTML): which stack worker served this test.
      testInfo.annotations.push(
        { type: 'compose-gen parallel index', description: String(testInfo.parallelIndex) },
        {
          type: 'compose-gen stack worker',
          description: `${handle.worker.index} ${handle.worker.base_url} ${handle.worker.database}`,
        },
      );
      await use();
      if (testInfo.status !== testInfo.expectedStatus) handle.markDirty();
    },
    { auto: true, title: 'compose-gen reset when needed' },
  ],
});

export { expect };
