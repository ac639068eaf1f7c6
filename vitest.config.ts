import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2-core machines: servers, dumps and compressors already use both cores.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
