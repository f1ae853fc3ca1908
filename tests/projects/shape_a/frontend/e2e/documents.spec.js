import { expect, test } from "@playwright/test";

test("seeded documents are listed and served", async ({ request }) => {
  const body = await (await request.get("/api/documents")).json();
  expect(body.documents.map((d) => d.title)).toEqual(["page-001", "exam"]);
  for (const doc of body.documents) {
    expect((await request.get(doc.url)).status()).toBe(200);
  }
});
