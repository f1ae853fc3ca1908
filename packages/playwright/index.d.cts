// Types of @compose-gen/playwright (index.cjs); index.d.mts re-exports them for ES modules.
import type {
  PlaywrightTestArgs,
  PlaywrightTestOptions,
  PlaywrightWorkerArgs,
  PlaywrightWorkerOptions,
  TestType,
} from '@playwright/test';

export * from '@playwright/test';

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
  /** Where compose-gen runs (`--project-dir`; it finds its config upwards from there). */
  composeGenProjectDir: string;
  composeGenReset: ComposeGenResetPolicy;
  composeGen: ComposeGenWorker;
};

export type ComposeGenTestFixtures = {
  composeGenFreshDatabase: void;
};

/** Playwright's `test` with the compose-gen fixtures: import it instead of @playwright/test's. */
export declare const test: TestType<
  PlaywrightTestArgs & PlaywrightTestOptions & ComposeGenTestFixtures,
  PlaywrightWorkerArgs & PlaywrightWorkerOptions & ComposeGenWorkerFixtures
>;
export default test;

/** For playwright.config's `use` when the specs keep importing @playwright/test. */
export declare function composeGenUse(options?: { projectDir?: string }): { baseURL?: string };
/** The LD_PRELOAD shim for Chromium on Docker hosts, or undefined (see README.md). */
export declare function netlinkShim(options?: { cacheDir?: string }): string | undefined;
export declare function workersFilePath(projectDir?: string, env?: NodeJS.ProcessEnv): string;
export declare function readStack(file: string): ComposeGenStack;
export declare function pickWorker(stack: ComposeGenStack, parallelIndex: number, shared: boolean): StackWorker;
export declare function resetWorker(projectDir: string, taskId: string, worker: number): Promise<void>;
