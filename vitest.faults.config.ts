import { defineConfig } from 'vitest/config';

// The fault suite (issue 9): `npx vitest run -c vitest.faults.config.ts`. Real mariadbd processes and the
// built daemon as a child process; each scenario is bounded in time. After the run, the global teardown greps
// every daemon log the suite wrote for the secrets it used (test/faults/global-setup.ts).
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 240_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
