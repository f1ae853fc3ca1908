// Which backend, database and media each Playwright worker uses, and what a reset gives back.
import { SEED_COUNT, expect, expectCount, test, unique } from '../fixtures/demo';

test('this Playwright worker talks to its own backend and database', async ({ api, baseURL, composeGen }, testInfo) => {
  const { worker, stack } = composeGen;
  if (!composeGen.shared) {
    // parallelIndex (TEST_PARALLEL_INDEX), not workerIndex: stable across worker restarts.
    expect(worker.index).toBe(testInfo.parallelIndex);
    expect(process.env.TEST_PARALLEL_INDEX).toBe(String(testInfo.parallelIndex));
  }
  expect(baseURL).toBe(worker.base_url);
  expect(worker.database).toBe(`test_e2e_w${worker.index}`);
  const health = await api.request.get(api.url('/healthz'));
  expect(await health.json()).toEqual({ status: 'ok', database: worker.database });
  const stats = await api.stats();
  expect(stats.database).toBe(worker.database);
  expectCount(stats.exams, SEED_COUNT, 'exams in /api/stats');
  expect(new Set(stack.workers.map((w) => w.base_url)).size).toBe(stack.workers.length);
});

test('compose-gen reset gives back the seeded database and leaves media alone', async ({ api, composeGen }, testInfo) => {
  test.skip(composeGen.shared, 'a reset would drop the database every worker shares');
  await api.createExam(unique(testInfo, 'Temporary one'));
  await api.createExam(unique(testInfo, 'Temporary two'));
  await api.upload(`${unique(testInfo, 'kept').replace(/ /g, '-')}.txt`, Buffer.from('kept'));
  expectCount((await api.stats()).exams, SEED_COUNT + 2, 'exams in /api/stats before the reset');
  await composeGen.reset();
  const stats = await api.stats();
  expectCount(stats.exams, SEED_COUNT, 'exams in /api/stats after the reset');
  expectCount(stats.uploads, 1, 'uploads in /api/stats after the reset (media is not the database)');
});

test("exams created here never show up on the other workers' backends", async ({ api, composeGen }, testInfo) => {
  const exam = await api.createExam(unique(testInfo, 'Only here'));
  expectCount((await api.exams()).length, SEED_COUNT + 1, 'exams in /api/exams on this worker');
  for (const other of composeGen.stack.workers.filter((w) => w.index !== composeGen.worker.index)) {
    // Retried while the other worker re-clones its database (compose-gen reset between its
    // files): for those few milliseconds its backend answers 503.
    await expect(async () => {
      const theirs = await api.on(other.base_url!).exams();
      expect(theirs.map((e) => e.title), `exams of stack worker ${other.index}`).not.toContain(exam.title);
    }).toPass({ timeout: 10_000 });
  }
});
