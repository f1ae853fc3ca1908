// Waits for the app before the specs run (ESM: no __dirname here).
export default async function globalSetup(config) {
  const baseURL = config.projects[0].use.baseURL;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${baseURL}/api/health`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${baseURL} did not answer within 60 s`);
}
