/**
 * The V8 flags the daemon runs with, read by V8 at process start, so they cannot be set from inside: the
 * shebang of src/main.ts (and so of dist/src/main.js) and `npm start` give them, and whatever spawns the daemon
 * (the benchmark, the test harness) passes these. Why each one: src/main.ts. test/unit/bench/node-flags.test.ts
 * keeps the three places equal.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64', '--max-semi-space-size=8', '--expose-gc'];
