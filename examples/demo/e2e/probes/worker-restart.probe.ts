// A worker that Playwright replaces after a failure keeps its parallel index, and with it its
// stack worker: the new process (new workerIndex) talks to the same backend and database.
//
// The first test each original worker runs fails on purpose (workerIndex < workers only holds
// for the original processes); Playwright then starts a replacement in the same slot.
import { SEED_COUNT, expect, expectCount, test } from '../fixtures/demo';

for (let i = 1; i <= 4; i++) {
  test(`restart probe ${i}`, async ({ api, composeGen, baseURL }, testInfo) => {
    testInfo.annotations.push({ type: 'worker index', description: String(testInfo.workerIndex) });
    if (testInfo.workerIndex < testInfo.config.workers) {
      throw new Error(`deliberate failure: make Playwright replace worker ${testInfo.workerIndex}`);
    }
    expect(composeGen.parallelIndex).toBe(testInfo.parallelIndex);
    expect(composeGen.worker.index).toBe(testInfo.parallelIndex);
    expect(baseURL).toBe(composeGen.worker.base_url);
    const stats = await api.stats();
    expect(stats.database).toBe(`test_e2e_w${testInfo.parallelIndex}`);
    expectCount(stats.exams, SEED_COUNT, 'exams in /api/stats');
  });
}
