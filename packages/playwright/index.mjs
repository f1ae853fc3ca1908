// The ES module face of index.cjs: the same module instance, so ESM and CommonJS specs and
// configs in one run share one `test` (and @playwright/test's own).
import cjs from './index.cjs';

export * from '@playwright/test';
export const {
  test,
  expect,
  composeGenUse,
  netlinkShim,
  workersFilePath,
  readStack,
  pickWorker,
  resetWorker,
} = cjs;
export default cjs.test;
