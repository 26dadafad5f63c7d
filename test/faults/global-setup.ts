// Global setup of the fault suite: a directory that every scenario writes its daemon logs into, and, after
// all scenarios ran, the check that no secret appears in any of those logs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ALL_SECRETS } from './secrets.js';

declare module 'vitest' {
  export interface ProvidedContext {
    faultLogDir: string;
  }
}

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Builds dist/ once for the whole suite (the daemon runs as `node dist/src/main.js`). Type errors in bench/
 * (not part of the daemon) do not stop it: tsc still emits, and the daemon's own files must be clean.
 */
function build(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status === 0) return;
  const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /^[^\s].*\(\d+,\d+\): error/.test(l));
  const ours = errors.filter((l) => !l.startsWith('bench/'));
  if (ours.length > 0 || errors.length === 0) throw new Error(`building dist/ failed:\n${r.stdout}\n${r.stderr}`);
}

export default function setup(project: TestProject): () => void {
  build();
  const dir = mkdtempSync(join(tmpdir(), 'binlog-proxy-fault-logs-'));
  project.provide('faultLogDir', dir);
  return () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.log'));
    const leaks: string[] = [];
    let bytes = 0;
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      bytes += text.length;
      for (const s of ALL_SECRETS) if (text.includes(s)) leaks.push(`${f} contains the secret ${s.slice(0, 8)}...`);
    }
    if (leaks.length > 0) {
      // vitest reports a teardown error without failing the run: set the exit code too. The per-file
      // check (test/faults/setup-file.ts) fails the scenario itself. Keep the logs for inspection.
      process.exitCode = 1;
      throw new Error(`secrets leaked into daemon logs (kept in ${dir}):\n${leaks.join('\n')}`);
    }
    if (files.length === 0 || bytes === 0) process.stderr.write(`note: no daemon logs were written into ${dir}; the secrets check saw nothing\n`);
    if (process.env.FAULT_KEEP_LOGS) process.stderr.write(`fault suite daemon logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  };
}
