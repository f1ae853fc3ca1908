// Exams through the JSON API (and once through the form, read back through the API).
import { SEED_COUNT, SEED_EXAMS, expect, expectCount, test, unique } from '../fixtures/demo';

test('POST /api/exams creates an exam: 201, then 3 + 1 in the list and the stats', async ({ api }, testInfo) => {
  const title = unique(testInfo, 'Chemistry lab');
  const exam = await api.createExam(title);
  expect(exam).toMatchObject({ title, questions: 0 });
  const exams = await api.exams();
  expectCount(exams.length, SEED_COUNT + 1, 'exams in /api/exams');
  expect(exams.at(-1)).toEqual(exam);
  expectCount((await api.stats()).exams, SEED_COUNT + 1, 'exams in /api/stats');
});

test('an exam can be read back and deleted; the count returns to 3', async ({ api, request }, testInfo) => {
  const exam = await api.createExam(unique(testInfo, 'Economics'));
  expectCount((await api.stats()).exams, SEED_COUNT + 1, 'exams in /api/stats after the create');
  const read = await request.get(`/api/exams/${exam.id}`);
  expect(read.status()).toBe(200);
  expect(await read.json()).toEqual(exam);
  await api.deleteExam(exam.id);
  expect((await request.get(`/api/exams/${exam.id}`)).status()).toBe(404);
  expectCount((await api.stats()).exams, SEED_COUNT, 'exams in /api/stats after the delete');
});

test('an empty or duplicate title is refused (400, 409) and nothing is counted', async ({ api, request }) => {
  const empty = await request.post('/api/exams', { data: { title: '   ' } });
  expect(empty.status()).toBe(400);
  const duplicate = await request.post('/api/exams', { data: { title: SEED_EXAMS[1].title } });
  expect(duplicate.status()).toBe(409);
  expect((await duplicate.json()).error).toContain('already exists');
  expectCount((await api.exams()).length, SEED_COUNT, 'exams in /api/exams');
  expectCount((await api.stats()).exams, SEED_COUNT, 'exams in /api/stats');
});

test('five exams created by concurrent requests are all counted: 3 + 5', async ({ api }, testInfo) => {
  const titles = Array.from({ length: 5 }, (_, i) => unique(testInfo, `Batch ${i}`));
  const created = await Promise.all(titles.map((title) => api.createExam(title)));
  expect(new Set(created.map((e) => e.id)).size).toBe(5);
  const exams = await api.exams();
  expectCount(exams.length, SEED_COUNT + 5, 'exams in /api/exams');
  expect(exams.map((e) => e.title)).toEqual(expect.arrayContaining(titles));
  expectCount((await api.stats()).exams, SEED_COUNT + 5, 'exams in /api/stats');
});

test('an exam added through the form is visible through the API: 3 + 1', async ({ page, api }, testInfo) => {
  const title = unique(testInfo, 'Philosophy');
  await page.goto('/');
  await page.getByTestId('exam-title-input').fill(title);
  await page.getByTestId('exam-submit').click();
  await expect(page.getByTestId('notice')).toContainText(title);
  const exams = await api.exams();
  expectCount(exams.length, SEED_COUNT + 1, 'exams in /api/exams');
  expect(exams.at(-1)?.title).toBe(title);
});
