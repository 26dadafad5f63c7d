import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite has its own config (npm run test:faults); npm test runs both.
    exclude: ['test/faults/**', 'node_modules/**', 'dist/**'],
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
