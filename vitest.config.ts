import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Integration tests start real mariadbd processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    // Leak tests call global.gc() before measuring memory, so that garbage is not counted as growth.
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
