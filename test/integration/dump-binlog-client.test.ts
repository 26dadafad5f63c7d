// A real binlog client against the proxy: `mariadb-binlog --read-from-remote-server --raw` downloads the stored
// binlog through the replica-facing server and the binlog sender; the files it writes must equal the primary's.
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicationServer } from '../../src/server/server.js';
import type { BinlogStore } from '../../storage/index.js';
import { downloadRawBinlogs } from '../helpers/binlog-client.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { fixture, sameBytes, storeOf, unitsOf } from '../unit/dump/_helpers.js';


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
    const got = await downloadRawBinlogs({ ...USER, port: maria.port, dir: out, first: 'bin.000001', timeoutMs: 30_000 });
    expect([...got.keys()]).toEqual(['bin.000001', 'bin.000002']);
    for (const [name, bytes] of got) expect(sameBytes(bytes, fixture(`mariadb-10.11-crc32/${name}`))).toBe('equal');
  });

  it('MariaDB: one file from a position (the FDE goes with log_pos 0; the events after it are exact)', async () => {
    const out = path.join(dir, 'out-p');
    const files = await downloadRawBinlogs({ ...USER, port: maria.port, dir: out, first: 'bin.000001', toLastLog: false, extra: ['--start-position=4840'], timeoutMs: 30_000 });
    const got = files.get('bin.000001')!;
    const f1 = fixture('mariadb-10.11-crc32/bin.000001');
    const fdeLen = f1.readUInt32LE(4 + 9);
    expect(sameBytes(got.subarray(4 + fdeLen), f1.subarray(4840))).toBe('equal');
  });
});
