// FramePack helper functions re-implemented in TypeScript (see tests/fixtures/golden/functions).
export * from './tensor.ts';
export * from './buckets.ts';
export * from './flux.ts';
export * from './sections.ts';
export * from './ops.ts';
