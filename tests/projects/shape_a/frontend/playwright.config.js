import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "./e2e",
  globalSetup: "./e2e/global-setup.js",
  use: { baseURL: process.env.E2E_BASE_URL ?? "http://localhost:8088" },
});
