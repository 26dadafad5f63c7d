// @ts-check
import tseslint from 'typescript-eslint';

/** Modules that do I/O, keep time or touch the process: forbidden inside protocol/. */
const ioModules = [
  'net', 'node:net', 'tls', 'node:tls', 'fs', 'node:fs', 'fs/promises', 'node:fs/promises',
  'dgram', 'node:dgram', 'http', 'node:http', 'https', 'node:https', 'child_process', 'node:child_process',
  'timers', 'node:timers', 'timers/promises', 'node:timers/promises', 'process', 'node:process',
  'worker_threads', 'node:worker_threads', 'pino', 'mysql2', 'mysql2/promise', 'classic-level', 'fastify',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ioModules.map((name) => ({ name, message: 'protocol/ is pure: no I/O, timers, process or loggers.' })),
        patterns: [{ group: ['**/src/**', '**/storage/**', '../src/*', '../storage/*'], message: 'protocol/ must not depend on src/ or storage/.' }],
      }],
      'no-restricted-globals': ['error',
        { name: 'process', message: 'protocol/ is pure: no process.' },
        { name: 'setTimeout', message: 'protocol/ is pure: no timers.' },
        { name: 'setInterval', message: 'protocol/ is pure: no timers.' },
        { name: 'setImmediate', message: 'protocol/ is pure: no timers.' },
        { name: 'console', message: 'protocol/ is pure: no logging.' },
      ],
    },
  },
  {
    files: ['storage/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/src/**', '../src/*'], message: 'storage/ must not depend on src/.' }],
      }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
