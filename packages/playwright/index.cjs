'use strict';
/**
 * @compose-gen/playwright: Playwright Test fixtures for compose-gen stacks. Every Playwright
 * worker gets its own backend, database and media volume from the task's stack.
 *
 * Written once, as CommonJS; index.mjs re-exports it for ES modules, so an ESM and a CommonJS
 * project share this one module instance (and Playwright's own `test`). The reference is
 * README.md next to this file.
 *
 * How a Playwright worker finds its stack worker:
 *   1. workers.json (written by `compose-gen up`/`render`) is $COMPOSE_GEN_WORKERS_JSON, else
 *      what `compose-gen env --format json` says it is (its COMPOSE_GEN_WORKERS_JSON), run in
 *      the project dir: compose-gen finds the task ($E2E_TASK_ID passed as --task-id, else its
 *      own discovery: $ZENFLOW_TASK_ID, else the .zenflow/worktrees/<id>/ around the dir) and
 *      its config's tasks_dir. The Playwright runner resolves it once, before any worker starts,
 *      and hands it on to the workers through the environment.
 *   2. The worker is picked by `workerInfo.parallelIndex` (TEST_PARALLEL_INDEX: 0..workers-1,
 *      kept when Playwright restarts a worker after a failure), not `workerIndex`, which grows
 *      with every restart. A parallel index without a stack worker is an error that says how to
 *      fix it, never a silent fallback.
 *   3. `baseURL` (for `page` and `request`) becomes that worker's `base_url`.
 */
const { test: base, expect } = require('@playwright/test');
const { execFile, execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync } = require('node:fs');
const path = require('node:path');
const { DirectReset, loadPg } = require('./reset.cjs');

const WORKERS_JSON_ENV = 'COMPOSE_GEN_WORKERS_JSON';
const SHARED_ENV = 'COMPOSE_GEN_E2E_SHARED';
const RESET_POLICIES = ['per-file', 'per-test', 'off'];

function composeGenBin(env = process.env) {
  return env.COMPOSE_GEN_BIN || 'compose-gen';
}

function defaultProjectDir(env = process.env) {
  return path.resolve(env.COMPOSE_GEN_PROJECT_DIR || process.cwd());
}

/**
 * The path of the task's workers.json: $COMPOSE_GEN_WORKERS_JSON, else compose-gen's answer.
 * Synchronous: playwright.config runs it while it is being loaded.
 */
function workersFilePath(projectDir = defaultProjectDir(), env = process.env) {
  if (env[WORKERS_JSON_ENV]) return path.resolve(env[WORKERS_JSON_ENV]);
  const bin = composeGenBin(env);
  const argv = ['env', '--format', 'json'];
  if (env.E2E_TASK_ID) argv.push('--task-id', env.E2E_TASK_ID);
  let output;
  try {
    output = execFileSync(bin, argv, {
      cwd: projectDir,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  } catch (error) {
    const why = String(error.stderr || '').trim().split('\n').pop() || error.message;
    throw new Error(
      `compose-gen fixture: no stack to test against: \`${bin} ${argv.join(' ')}\` in ` +
        `${projectDir} failed: ${why}. Set E2E_TASK_ID (or ZENFLOW_TASK_ID) to the task given to ` +
        '`compose-gen up --task-id`, run inside its worktree, or set COMPOSE_GEN_WORKERS_JSON ' +
        "to the task's workers.json.",
    );
  }
  const file = JSON.parse(output)[WORKERS_JSON_ENV];
  if (!file) {
    throw new Error(`compose-gen fixture: \`${bin} env\` printed no ${WORKERS_JSON_ENV}: upgrade compose-gen`);
  }
  return file;
}

/** Read and check workers.json. */
function readStack(file) {
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
  const workers = [...data.workers].sort((a, b) => a.index - b.index);
  workers.forEach((w, i) => {
    if (w.index !== i) throw new Error(`compose-gen fixture: ${file}: worker indexes are not 0..n-1`);
  });
  return { taskId: data.task_id, projectName: data.project_name, workersFile: file, workers };
}

/** The stack worker for a Playwright parallel index; throws when there is none. */
function pickWorker(stack, parallelIndex, shared) {
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

/**
 * `compose-gen --project-dir D reset --task-id T --worker I --database-only`, argv only (no
 * shell): the same database-only reset as the direct path (media stays as the test left it).
 */
function resetWorker(projectDir, taskId, worker) {
  const bin = composeGenBin();
  const argv = ['--project-dir', projectDir, 'reset', '--task-id', taskId, '--worker', String(worker),
    '--database-only'];
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

/**
 * Resolve workers.json once, in the process that loads playwright.config (the runner), and
 * put it in the environment its workers inherit: one compose-gen call per run, not per worker.
 */
function rememberWorkersFile(projectDir, env = process.env) {
  const file = workersFilePath(projectDir, env);
  env[WORKERS_JSON_ENV] = file;
  return file;
}

/**
 * For playwright.config's `use`, with specs left as they are (importing '@playwright/test'):
 * `baseURL` of this worker's stack worker. Playwright loads the config in the runner (no
 * TEST_PARALLEL_INDEX: it only resolves workers.json) and again in every worker process.
 */
function composeGenUse(options = {}) {
  const projectDir = path.resolve(options.projectDir || defaultProjectDir());
  const file = rememberWorkersFile(projectDir);
  const raw = process.env.TEST_PARALLEL_INDEX;
  if (raw === undefined) return {};
  const stack = readStack(file);
  const worker = pickWorker(stack, Number(raw), process.env[SHARED_ENV] === '1');
  return { baseURL: worker.base_url };
}

/** The worker fixture's value; also remembers what `composeGenFreshDatabase` needs. */
class WorkerHandle {
  constructor(stack, worker, parallelIndex, shared, projectDir) {
    this.stack = stack;
    this.worker = worker;
    this.parallelIndex = parallelIndex;
    this.shared = shared;
    this.projectDir = projectDir;
    this.dirty = false;
    this.lastFile = undefined;
  }

  /**
   * A pristine database: through the task's PostgreSQL directly (reset.cjs: the worker's warm
   * spare swapped in, no process started), else `compose-gen reset` (no `pg` installed,
   * COMPOSE_GEN_RESET_VIA=cli, or the direct way failed: then for the rest of the run).
   */
  async reset() {
    if (this.direct === undefined) {
      const pg = process.env.COMPOSE_GEN_RESET_VIA === 'cli' ? undefined : loadPg();
      this.direct = pg ? new DirectReset(this.worker, pg) : null;
    }
    let done;
    if (this.direct) {
      try {
        done = { ...(await this.direct.reset()), via: 'pg' };
      } catch (error) {
        console.warn(
          `compose-gen fixture: resetting ${this.worker.database} through PostgreSQL failed ` +
            `(${error.message}); using \`compose-gen reset\` from now on`,
        );
        const direct = this.direct;
        this.direct = null;
        await direct.close().catch(() => {});
      }
    }
    if (!done) {
      const started = performance.now();
      await resetWorker(this.projectDir, this.stack.taskId, this.worker.index);
      done = { warm: false, ms: performance.now() - started, via: 'cli' };
    }
    if (process.env.COMPOSE_GEN_RESET_LOG) {
      appendFileSync(process.env.COMPOSE_GEN_RESET_LOG, `${JSON.stringify(done)}\n`);
    }
    this.dirty = false;
  }

  /** The direct reset's connection closes when the worker ends (its spare finished first). */
  async close() {
    if (this.direct) await this.direct.close().catch(() => {});
  }

  markDirty() {
    this.dirty = true;
  }
}

const test = base.extend({
  composeGenProjectDir: [defaultProjectDir(), { scope: 'worker', option: true }],
  composeGenReset: ['per-file', { scope: 'worker', option: true }],

  composeGen: [
    async ({ composeGenProjectDir, composeGenReset }, use, workerInfo) => {
      if (!RESET_POLICIES.includes(composeGenReset)) {
        throw new Error(
          `compose-gen fixture: composeGenReset must be one of ${RESET_POLICIES.join(', ')}, ` +
            `got ${JSON.stringify(composeGenReset)}`,
        );
      }
      const projectDir = path.resolve(composeGenProjectDir);
      const shared = process.env[SHARED_ENV] === '1';
      const stack = readStack(workersFilePath(projectDir));
      const worker = pickWorker(stack, workerInfo.parallelIndex, shared);
      const handle = new WorkerHandle(stack, worker, workerInfo.parallelIndex, shared, projectDir);
      await use(handle);
      await handle.close();
    },
    { scope: 'worker', title: 'compose-gen stack worker' },
  ],

  baseURL: async ({ composeGen }, use) => {
    await use(composeGen.worker.base_url ?? undefined);
  },

  composeGenFreshDatabase: [
    async ({ composeGen, composeGenReset }, use, testInfo) => {
      const handle = composeGen;
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

/**
 * The LD_PRELOAD shim that keeps Chromium from aborting navigations with
 * net::ERR_NETWORK_CHANGED while Docker adds and removes the host's interfaces (every `up` and
 * `down` of any task does): no-netlink.c says how. Built with $CC (default cc) the first time,
 * by the runner (which loads the config before any worker starts), into
 * <cacheDir, default ./node_modules/.cache/compose-gen-playwright>. undefined without a
 * compiler, off Linux, or with E2E_NETLINK_SHIM=0: Chromium then runs as it is.
 */
function netlinkShim(options = {}) {
  if (process.platform !== 'linux' || process.env.E2E_NETLINK_SHIM === '0') return undefined;
  const source = path.join(__dirname, 'no-netlink.c');
  const cache = path.resolve(options.cacheDir || path.join('node_modules', '.cache', 'compose-gen-playwright'));
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const built = path.join(cache, `no-netlink-${hash}-${process.arch}.so`);
  if (existsSync(built)) return built;
  if (process.env.TEST_WORKER_INDEX !== undefined) return undefined; // the runner builds it
  mkdirSync(cache, { recursive: true });
  const tmp = `${built}.${process.pid}.tmp`;
  try {
    execFileSync(process.env.CC || 'cc', ['-shared', '-fPIC', '-O2', '-o', tmp, source, '-ldl'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 60_000,
    });
    renameSync(tmp, built);
    return built;
  } catch (error) {
    console.warn(
      `compose-gen: no netlink shim (${String(error.message).split('\n')[0]}); Chromium may ` +
        'abort navigations with net::ERR_NETWORK_CHANGED while Docker networks change. Install ' +
        'a C compiler (gcc), or set E2E_NETLINK_SHIM=0 to silence this.',
    );
    return undefined;
  }
}

// Everything of @playwright/test too, so that `sed s/@playwright\/test/@compose-gen\/playwright/`
// over the specs is all a project needs (see README.md), with `test` replaced by ours.
module.exports = {
  ...require('@playwright/test'),
  default: test,
  test,
  expect,
  composeGenUse,
  netlinkShim,
  workersFilePath,
  readStack,
  pickWorker,
  resetWorker,
};
