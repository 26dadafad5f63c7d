// `mariadb-binlog --read-from-remote-server --raw` as the tests run it against a primary or the proxy, and the
// wait for the proxy's syncer to have stored everything the primary wrote.
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { DaemonProcess } from './daemon.js';
import { requireMariaDBBinaries, type MariaDBInstance } from './mariadb.js';

const run = promisify(execFile);

export interface RawDownload {
  port: number;
  host?: string;
  user: string;
  password: string;
  /** Directory the files are written to (created). */
  dir: string;
  /** The first file to fetch. */
  first: string;
  /** Fetch every file from `first` to the last one (default true). */
  toLastLog?: boolean;
  /** More flags (e.g. --start-position=N). */
  extra?: string[];
  timeoutMs?: number;
}

/** Runs `mariadb-binlog --raw` and returns the files it wrote, by name (sorted). */
export async function downloadRawBinlogs(o: RawDownload): Promise<Map<string, Buffer>> {
  await mkdir(o.dir, { recursive: true });
  await run(
    requireMariaDBBinaries().binlog,
    [
      '--no-defaults',
      '--read-from-remote-server',
      '--raw',
      ...(o.toLastLog === false ? [] : ['--to-last-log']),
      `--host=${o.host ?? '127.0.0.1'}`,
      `--port=${o.port}`,
      `--user=${o.user}`,
      `--password=${o.password}`,
      `--result-file=${o.dir}/`,
      ...(o.extra ?? []),
      o.first,
    ],
    { timeout: o.timeoutMs ?? 60_000 },
  );
  const out = new Map<string, Buffer>();
  for (const f of (await readdir(o.dir)).sort()) out.set(f, await readFile(path.join(o.dir, f)));
  return out;
}

/**
 * Downloads everything from `first` on from the proxy and from the primary (into dir/proxy, dir/primary) and
 * expects the same files, byte for byte, and at least `minFiles` of them. Returns the proxy's files.
 */
export async function expectSameDownloads(o: {
  proxyPort: number;
  primaryPort: number;
  user: string;
  password: string;
  dir: string;
  first: string;
  minFiles: number;
}): Promise<Map<string, Buffer>> {
  const creds = { user: o.user, password: o.password, first: o.first };
  const fromProxy = await downloadRawBinlogs({ ...creds, port: o.proxyPort, dir: path.join(o.dir, 'proxy') });
  const fromPrimary = await downloadRawBinlogs({ ...creds, port: o.primaryPort, dir: path.join(o.dir, 'primary') });
  expect(fromPrimary.size).toBeGreaterThanOrEqual(o.minFiles);
  expect([...fromProxy.keys()]).toEqual([...fromPrimary.keys()]);
  for (const [n, bytes] of fromPrimary) expect(fromProxy.get(n)!.equals(bytes), n).toBe(true);
  return fromProxy;
}

/** Waits until the daemon's syncer reports the primary's @@gtid_binlog_pos as executed. */
export async function waitProxyCaughtUp(daemon: DaemonProcess, primary: MariaDBInstance, timeoutMs = 30_000): Promise<void> {
  const pos = await primary.gtidBinlogPos();
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await daemon.api<{ data: { executed_gtid_set: string } }>('GET', '/binlog/syncer/status');
    if (s.body.data.executed_gtid_set === pos) return;
    if (Date.now() > end) throw new Error(`proxy not caught up: ${JSON.stringify(s.body.data)} vs ${pos}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
