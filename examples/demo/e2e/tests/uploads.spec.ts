// Uploads: files land in this worker's own media volume and are counted exactly.
import { expect, expectCount, expectItems, test, unique } from '../fixtures/demo';

const fileName = (label: string) => label.replace(/[^A-Za-z0-9.-]+/g, '-');

test('a file uploaded through the form is stored and counted: 1', async ({ page, api }, testInfo) => {
  const name = fileName(`${unique(testInfo, 'notes')}.txt`);
  const body = Buffer.from(`notes of ${testInfo.title}\n`);
  await page.goto('/');
  await page.getByTestId('upload-input').setInputFiles({ name, mimeType: 'text/plain', buffer: body });
  await page.getByTestId('upload-submit').click();
  await expect(page.getByTestId('notice')).toContainText(`Uploaded ${name}`);
  await expectItems(page.getByTestId('upload-item'), 1, 'uploads on the page');
  await expect(page.getByTestId('upload-link')).toHaveText(name);
  await expect(page.getByTestId('upload-size')).toHaveText(String(body.length));
  await expect(page.getByTestId('stats-uploads'), 'count: uploads in the page stats').toHaveText('1');
  expect(await api.uploads()).toEqual([{ name, size: body.length }]);
  const download = await api.request.get(api.url(`/api/uploads/${name}`));
  expect(Buffer.from(await download.body())).toEqual(body);
});

test('raw and multipart API uploads are counted exactly: 1 + 2', async ({ api }, testInfo) => {
  const raw = fileName(`${unique(testInfo, 'raw')}.bin`);
  await api.upload(raw, Buffer.from([0, 1, 2, 3, 255]));
  const form = new FormData();
  const parts = [fileName(`${unique(testInfo, 'a')}.txt`), fileName(`${unique(testInfo, 'b')}.txt`)];
  for (const part of parts) form.append('file', new Blob([`content of ${part}`]), part);
  const res = await api.request.post(api.url('/api/uploads'), { multipart: form });
  expect(res.status()).toBe(201);
  expectCount((await res.json()).uploaded.length, 2, 'files stored by one multipart POST');
  const uploads = await api.uploads();
  expectCount(uploads.length, 3, 'uploads in /api/uploads');
  expect(uploads.map((u) => u.name).sort()).toEqual([raw, ...parts].sort());
  expectCount((await api.stats()).uploads, 3, 'uploads in /api/stats');
});

test('deleting one upload leaves the other: 2 - 1', async ({ api, page }, testInfo) => {
  const [keep, drop] = ['keep', 'drop'].map((label) => fileName(`${unique(testInfo, label)}.txt`));
  await api.upload(keep, Buffer.from('keep me'));
  await api.upload(drop, Buffer.from('drop me'));
  expectCount((await api.stats()).uploads, 2, 'uploads in /api/stats after two uploads');
  await api.deleteUpload(drop);
  expect((await api.request.get(api.url(`/api/uploads/${drop}`))).status()).toBe(404);
  expectCount((await api.uploads()).length, 1, 'uploads in /api/uploads after the delete');
  await page.goto('/');
  await expectItems(page.getByTestId('upload-item'), 1, 'uploads on the page');
  await expect(page.getByTestId('upload-link')).toHaveText(keep);
});

test("an upload is invisible to the other workers' backends", async ({ api, composeGen }, testInfo) => {
  const name = fileName(`${unique(testInfo, 'private')}.txt`);
  await api.upload(name, Buffer.from('mine only'));
  expectCount((await api.uploads()).length, 1, 'uploads on this worker');
  const others = composeGen.stack.workers.filter((w) => w.index !== composeGen.worker.index);
  for (const other of others) {
    const theirs = await api.on(other.base_url!).uploads();
    expect(theirs.map((u) => u.name), `uploads of stack worker ${other.index}`).not.toContain(name);
  }
  const stats = await api.stats();
  expectCount(stats.uploads, 1, 'uploads in /api/stats');
  expect(stats.media_root).toBe('/app/media');
});
