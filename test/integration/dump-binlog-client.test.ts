// A real binlog client against the proxy: `mariadb-binlog --read-from-remote-server --raw` downloads the stored
// binlog through the replica-facing server and the binlog sender; the files it writes must equal the primary's.
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicationServer } from '../../src/server/server.js';
import type { BinlogStore } from '../../storage/index.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { fixture, sameBytes, storeOf, unitsOf } from '../unit/dump/_helpers.js';

const run = promisify(execFile);

const USER = { user: 'repl', password: 'secret-pw' };

interface Served {
  store: BinlogStore;
  server: ReplicationServer;
  port: number;
}

async function serve(dir: string, flavor: 'mysql' | 'mariadb', files: Array<[string, string]>): Promise<Served> {
  const store = await storeOf(path.join(dir, 'store'), flavor, unitsOf(files).units);
  const server = new ReplicationServer({
    store,
    dataDir: dir,
    identity: { serverId: 4242, serverUuid: '5d4c3b2a-1f0e-4d3c-8b7a-0123456789ab' },
    settings: { tls: false },
    log: pino({ level: 'silent' }),
  });
  await server.start({ addr: '127.0.0.1:0', users: [USER] });
  return { store, server, port: server.port! };
}

async function download(port: number, outDir: string, first: string, extra: string[] = []): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await run(
    'mariadb-binlog',
    [
      '--no-defaults',
      '--read-from-remote-server',
      '--raw',
      '--host=127.0.0.1',
      `--port=${port}`,
      `--user=${USER.user}`,
      `--password=${USER.password}`,
      `--result-file=${outDir}/`,
      ...extra,
      first,
    ],
    { timeout: 30_000 },
  );
}

describe('mariadb-binlog --read-from-remote-server --raw through the proxy', () => {
  let dir: string;
  let maria: Served;

  beforeAll(async () => {
    dir = await makeTempDir('dump-cli-');
    maria = await serve(path.join(dir, 'm'), 'mariadb', [
      ['mariadb-10.11-crc32/bin.000001', 'bin.000001'],
      ['mariadb-10.11-crc32/bin.000002', 'bin.000002'],
    ]);
  });

  afterAll(async () => {
    if (maria !== undefined) {
      await maria.server.stop();
      await maria.store.close();
    }
    await removeTempDir(dir);
  });

  it('MariaDB: every file, byte for byte (--to-last-log)', async () => {
    const out = path.join(dir, 'out-m');
    await download(maria.port, out, 'bin.000001', ['--to-last-log']);
    for (const name of ['bin.000001', 'bin.000002']) {
      const got = await readFile(path.join(out, name));
      expect(sameBytes(got, fixture(`mariadb-10.11-crc32/${name}`))).toBe('equal');
    }
  });

  it('MariaDB: one file from a position (the FDE goes with log_pos 0; the events after it are exact)', async () => {
    const out = path.join(dir, 'out-p');
    await download(maria.port, out, 'bin.000001', ['--start-position=4840']);
    const got = await readFile(path.join(out, 'bin.000001'));
    const f1 = fixture('mariadb-10.11-crc32/bin.000001');
    const fdeLen = f1.readUInt32LE(4 + 9);
    expect(sameBytes(got.subarray(4 + fdeLen), f1.subarray(4840))).toBe('equal');
  });
});
