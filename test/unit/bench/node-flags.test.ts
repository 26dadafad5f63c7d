// The daemon's V8 flags live in three places that V8 reads at process start (see src/main.ts): the shebang of
// the built CLI, `npm start`, and src/node-flags.ts, which the benchmark and the test harness spawn it with.
// They must say the same, and the built file must keep the shebang (tsc copies it), or `binlog-proxy` would run
// without them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAEMON_NODE_FLAGS } from '../../../src/node-flags.js';

const ROOT = join(import.meta.dirname, '../../..');

describe('daemon V8 flags', () => {
  it('the shebang, npm start and src/node-flags.ts agree', () => {
    const shebang = readFileSync(join(ROOT, 'src/main.ts'), 'utf8').split('\n')[0]!;
    expect(shebang).toBe(`#!/usr/bin/env -S node ${DAEMON_NODE_FLAGS.join(' ')}`);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${DAEMON_NODE_FLAGS.join(' ')} dist/src/main.js`);
  });

  it('node accepts them', () => {
    const out = execFileSync(process.execPath, [...DAEMON_NODE_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8' });
    expect((JSON.parse(out) as string[]).slice(0, DAEMON_NODE_FLAGS.length)).toEqual(DAEMON_NODE_FLAGS);
  });
});
