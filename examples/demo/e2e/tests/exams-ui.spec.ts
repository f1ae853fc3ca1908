// Exams through the browser: the page, its add form and its delete buttons.
import type { Page } from '@playwright/test';
import { SEED_COUNT, SEED_EXAMS, expect, expectCount, expectItems, test, unique } from '../fixtures/demo';

async function addThroughForm(page: Page, title: string): Promise<void> {
  await page.getByTestId('exam-title-input').fill(title);
  await page.getByTestId('exam-submit').click();
  await expect(page.getByTestId('notice')).toContainText(title);
}

test('the page lists the three seed exams with their questions and stats', async ({ page, composeGen }) => {
  await page.goto('/');
  await expect(page.getByTestId('page-title')).toHaveText('Exams');
  await expectItems(page.getByTestId('exam-item'), SEED_COUNT, 'exams on the page');
  await expect(page.getByTestId('exam-title')).toHaveText(SEED_EXAMS.map((e) => e.title));
  await expect(page.getByTestId('exam-questions')).toHaveText(SEED_EXAMS.map((e) => String(e.questions)));
  await expect(page.getByTestId('stats-exams'), 'count: exams in the page stats').toHaveText(String(SEED_COUNT));
  await expect(page.getByTestId('stats-uploads'), 'count: uploads in the page stats').toHaveText('0');
  await expect(page.getByTestId('stats-database')).toHaveText(composeGen.worker.database);
});

test('an exam added through the form is listed and counted: 3 + 1', async ({ page, api }, testInfo) => {
  const title = unique(testInfo, 'Geometry');
  await page.goto('/');
  await addThroughForm(page, title);
  await expectItems(page.getByTestId('exam-item'), SEED_COUNT + 1, 'exams on the page');
  await expect(page.getByTestId('exam-title').last()).toHaveText(title);
  await expect(page.getByTestId('stats-exams'), 'count: exams in the page stats').toHaveText(String(SEED_COUNT + 1));
  expectCount((await api.stats()).exams, SEED_COUNT + 1, 'exams in /api/stats');
});

test('three exams added through the form one after another: 3 + 3', async ({ page, api }, testInfo) => {
  const titles = ['Biology', 'Physics', 'Latin'].map((label) => unique(testInfo, label));
  await page.goto('/');
  for (const [i, title] of titles.entries()) {
    await addThroughForm(page, title);
    await expectItems(page.getByTestId('exam-item'), SEED_COUNT + i + 1, 'exams on the page');
  }
  const exams = await api.exams();
  expectCount(exams.length, SEED_COUNT + 3, 'exams in /api/exams');
  expect(exams.slice(SEED_COUNT).map((e) => e.title)).toEqual(titles);
});

test('a duplicate title is refused on the page and nothing is added', async ({ page, api }) => {
  await page.goto('/');
  await page.getByTestId('exam-title-input').fill(SEED_EXAMS[0].title);
  await page.getByTestId('exam-submit').click();
  await expect(page.getByTestId('error')).toContainText('already exists');
  await expectItems(page.getByTestId('exam-item'), SEED_COUNT, 'exams on the page');
  expectCount((await api.stats()).exams, SEED_COUNT, 'exams in /api/stats');
});

test('deleting an exam with its button: 3 + 1 - 1', async ({ page, api }, testInfo) => {
  const doomed = await api.createExam(unique(testInfo, 'Mistake'));
  await page.goto('/');
  await expectItems(page.getByTestId('exam-item'), SEED_COUNT + 1, 'exams on the page before the delete');
  await page.getByRole('button', { name: `Delete ${doomed.title}` }).click();
  await expect(page.getByTestId('notice')).toHaveText(`Deleted exam ${doomed.id}`);
  await expectItems(page.getByTestId('exam-item'), SEED_COUNT, 'exams on the page after the delete');
  await expect(page.getByTestId('exam-title')).toHaveText(SEED_EXAMS.map((e) => e.title));
  const exams = await api.exams();
  expectCount(exams.length, SEED_COUNT, 'exams in /api/exams');
  expect(exams.map((e) => e.id)).not.toContain(doomed.id);
});

test('exams created through the API show up on the page: 3 + 2', async ({ page, api }, testInfo) => {
  const created = [await api.createExam(unique(testInfo, 'Music')), await api.createExam(unique(testInfo, 'Art'))];
  await page.goto('/');
  await expectItems(page.getByTestId('exam-item'), SEED_COUNT + 2, 'exams on the page');
  for (const exam of created) {
    await expect(page.locator(`[data-testid="exam-item"][data-exam-id="${exam.id}"]`)).toContainText(exam.title);
  }
  await expect(page.getByTestId('stats-exams'), 'count: exams in the page stats').toHaveText(String(SEED_COUNT + 2));
});
