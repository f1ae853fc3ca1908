// Types for `import ... from '@compose-gen/playwright'` in an ES module: those of index.cjs.
export * from './index.cjs';
export { default } from './index.cjs';
