import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores on CI: keep workers bounded so heavy ONNX tests do not starve each other.
    maxWorkers: 2,
    pool: 'forks',
  },
});
