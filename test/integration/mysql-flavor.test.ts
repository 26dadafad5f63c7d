// MySQL flavour without a MySQL server (none can be installed here): the proxy serves the real MySQL 8.0.45 and
// 9.6 fixture binlogs; (1) a client speaking the exact statement sequence of a MySQL 8.0.26+/8.4 replica IO
// thread (protocol brief §2.1) then COM_REGISTER_SLAVE and COM_BINLOG_DUMP_GTID gets the files' bytes, with
// GTID skipping and tagged sets; (2) our own syncer, in its MySQL code path, replicates from that proxy into a
// second store, which ends up byte-identical to the files (the proxy -> proxy chain of issue 4).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../src/import.js';
import { openStore, splitEvents, type BinlogStore } from '../../storage/index.js';
import { ReplicationServer } from '../../src/server/server.js';
import { Syncer } from '../../src/syncer/syncer.js';
import { Metrics } from '../../src/metrics.js';
import { UpstreamConnection } from '../../src/upstream/connection.js';
import { encodeComBinlogDumpGtid, encodeComRegisterSlave } from '../../protocol/commands.js';
import { BINLOG_DUMP_NON_BLOCK, USE_HEARTBEAT_EVENT_V2 } from '../../protocol/constants.js';
import {
  FORMAT_DESCRIPTION_EVENT,
  GTID_LOG_EVENT,
  GTID_TAGGED_LOG_EVENT,
  HEARTBEAT_LOG_EVENT_V2,
  LOG_EVENT_ARTIFICIAL_F,
  ROTATE_EVENT,
} from '../../protocol/binlog/constants.js';
import { readEventHeader } from '../../protocol/binlog/header.js';
import { decodeFormatDescription } from '../../protocol/binlog/fde.js';
import { decodeRotate } from '../../protocol/binlog/rotate.js';
import { decodeMysqlGtid } from '../../protocol/binlog/gtid.js';
import { readBinlogFile } from '../../protocol/binlog/file.js';
import { MysqlGtidSet, formatMysqlGtid } from '../../protocol/gtid/mysql.js';
import { makeTempDir } from '../helpers/tmp.js';

const FIX = path.resolve(import.meta.dirname, '../../../shared/fixtures/binlog');
const log = pino({ level: 'silent' });
const USER = { user: 'repl', password: 'mysql-flavor-pw' };
const REPLICA_UUID = 'f8c09b6f-6342-11ec-9e68-000c2943eee1';

interface Served {
  store: BinlogStore;
  server: ReplicationServer;
  port: number;
}

async function serveImported(files: string[], serverId: number): Promise<Served> {
  const dataDir = await makeTempDir('binlog-proxy-mysql-');
  await runImport({ dataDir, files, log });
  const store = await openStore(path.join(dataDir, 'binlog'));
  const server = new ReplicationServer({
    store,
    dataDir,
    identity: { serverId, serverUuid: '6a3f1f3e-9d55-4f0e-8b1e-2d2d2d2d2d2d' },
    settings: { tls: false },
    log,
  });
  await server.start({ addr: '127.0.0.1:0', users: [USER] });
  return { store, server, port: server.port! };
}

/** The §2.1 sequence of a MySQL 8.0.26+/8.4 replica, answered the way the replica needs. */
async function replicaHandshake(port: number): Promise<UpstreamConnection> {
  const c = await UpstreamConnection.connect({ host: '127.0.0.1', port, user: USER.user, password: USER.password, tls: { mode: 'disabled' } });
  expect(Number(c.serverVersion.split('.')[0])).toBeGreaterThanOrEqual(5);
  const now = Math.floor(Date.now() / 1000);
  const ts = await c.query('SELECT UNIX_TIMESTAMP()');
  expect(ts.columns).toEqual(['UNIX_TIMESTAMP()']);
  expect(Math.abs(Number(ts.rows[0]![0]) - now)).toBeLessThan(5);
  const id = await c.query('SELECT @@GLOBAL.SERVER_ID');
  expect(id.columns).toEqual(['@@GLOBAL.SERVER_ID']);
  expect(Number(id.rows[0]![0])).toBeGreaterThan(0);
  expect((await c.query('SET @master_heartbeat_period = 30000001024, @source_heartbeat_period = 30000001024')).ok).not.toBeNull();
  expect((await c.query('SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum')).ok).not.toBeNull();
  const crc = await c.query('SELECT @source_binlog_checksum');
  expect(crc.rows[0]![0]).toBe('CRC32');
  const mode = await c.query('SELECT @@GLOBAL.GTID_MODE');
  expect(mode.rows[0]![0]).toBe('ON');
  const uuid = await c.query('SELECT @@GLOBAL.SERVER_UUID');
  expect(uuid.rows[0]![0]).toMatch(/^[0-9a-f-]{36}$/);
  expect((await c.query(`SET @slave_uuid = '${REPLICA_UUID}', @replica_uuid = '${REPLICA_UUID}'`)).ok).not.toBeNull();
  await c.command(encodeComRegisterSlave({ serverId: 2, host: 'replica-1', port: 3306 }));
  return c;
}

/** COM_BINLOG_DUMP_GTID (non-blocking, heartbeat v2) → every event received, in order. */
async function dumpGtid(c: UpstreamConnection, set: MysqlGtidSet): Promise<Buffer[]> {
  const events: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    c.startStream(
      encodeComBinlogDumpGtid({ flags: BINLOG_DUMP_NON_BLOCK | USE_HEARTBEAT_EVENT_V2, serverId: 2, fileName: '', position: 4n, gtidData: set.encode() }),
      (payload) => events.push(Buffer.from(payload.subarray(1))),
      (err) => (err ? reject(err) : resolve()),
    );
  });
  await c.close();
  return events;
}

/** Real (non-artificial, non-heartbeat) events grouped by the file the fake ROTATEs announced. */
function byFile(events: Buffer[]): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  let current = '';
  let alg = 1; // the replica negotiated CRC32
  for (const e of events) {
    const h = readEventHeader(e);
    if (h.typeCode === ROTATE_EVENT && (h.flags & LOG_EVENT_ARTIFICIAL_F) !== 0) {
      current = decodeRotate(e, alg).nextFile;
      if (!out.has(current)) out.set(current, []);
      continue;
    }
    if (h.typeCode === HEARTBEAT_LOG_EVENT_V2) continue;
    if (h.typeCode === FORMAT_DESCRIPTION_EVENT) alg = decodeFormatDescription(e).checksumAlg;
    out.get(current)!.push(e);
  }
  return out;
}

function gtidsIn(events: Buffer[]): string[] {
  return events
    .filter((e) => e[4] === GTID_LOG_EVENT || e[4] === GTID_TAGGED_LOG_EVENT)
    .map((e) => {
      const g = decodeMysqlGtid(e, 1);
      return formatMysqlGtid({ uuid: g.uuid, tag: g.tag ?? '', gno: g.gno });
    });
}

function fileGtids(buf: Buffer): string[] {
  return gtidsIn([...readBinlogFile(buf)].map((e) => e.event.raw));
}

describe('MySQL flavour: 8.0.45 GTID fixtures', () => {
  const files = ['binlog.000001', 'binlog.000002'].map((f) => path.join(FIX, 'mysql-8.0.45-gtid', f));
  let a: Served;
  const extra: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    a = await serveImported(files, 4501);
  });
  afterAll(async () => {
    for (const f of extra) await f();
    await a?.server.stop();
    await a?.store.close();
  });

  it('a MySQL 8.4 replica sequence + COM_BINLOG_DUMP_GTID with an empty set receives the files byte for byte', async () => {
    const c = await replicaHandshake(a.port);
    const events = await dumpGtid(c, MysqlGtidSet.empty());
    const got = byFile(events);
    expect([...got.keys()]).toEqual(['binlog.000001', 'binlog.000002']);
    for (const f of files) {
      const bytes = await readFile(f);
      expect(Buffer.concat([bytes.subarray(0, 4), ...got.get(path.basename(f))!]).equals(bytes), path.basename(f)).toBe(true);
    }
  });

  it('skips the transactions in the replica set and says where it is with a heartbeat', async () => {
    const all = [...fileGtids(await readFile(files[0]!)), ...fileGtids(await readFile(files[1]!))];
    expect(all.length).toBeGreaterThanOrEqual(4);
    const have = MysqlGtidSet.parse(all.slice(0, 2).join(','));
    const c = await replicaHandshake(a.port);
    const events = await dumpGtid(c, have);
    expect(gtidsIn(events)).toEqual(all.slice(2));
    expect(events.some((e) => e[4] === HEARTBEAT_LOG_EVENT_V2)).toBe(true);
  });

  it('refuses a replica with GTIDs of our source that the source does not have (1236)', async () => {
    const all = [...fileGtids(await readFile(files[0]!)), ...fileGtids(await readFile(files[1]!))];
    const uuid = all[0]!.split(':')[0]!;
    const c = await replicaHandshake(a.port);
    await expect(dumpGtid(c, MysqlGtidSet.parse(`${uuid}:1-1000`))).rejects.toMatchObject({ errno: 1236 });
  });

  it("our syncer's MySQL path replicates from the proxy into a second store, byte for byte (proxy -> proxy)", async () => {
    const dir = await makeTempDir('binlog-proxy-mysql-chain-');
    const store = await openStore(dir);
    const syncer = new Syncer({ store, log, metrics: new Metrics({ defaultMetrics: false }) });
    extra.push(async () => {
      await syncer.stop();
      await store.close();
    });
    await syncer.start({ mysql_addr: `127.0.0.1:${a.port}`, mysql_user: USER.user, mysql_password: USER.password, syncer_id: 77, start: 'earliest' });
    const target = a.store.getState().executedGtids;
    const deadline = Date.now() + 20_000;
    while (store.getState().executedGtids !== target || store.getState().durableSeq < store.getState().lastSeq) {
      if (Date.now() > deadline) throw new Error(`chain did not catch up: ${JSON.stringify(syncer.status())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(syncer.status()).toMatchObject({ flavor: 'mysql', status: 'running' });
    // Every stored byte equals the fixture files.
    const perFile = new Map<string, Buffer[]>();
    const reader = await store.openReader({ from: 'oldest', follow: false });
    for await (const batch of reader) for (const u of batch) (perFile.get(u.file) ?? perFile.set(u.file, []).get(u.file)!).push(u.data);
    for (const f of files) {
      const bytes = await readFile(f);
      const stored = Buffer.concat(perFile.get(path.basename(f)) ?? []);
      expect(splitEvents(stored).length).toBeGreaterThan(0);
      expect(Buffer.concat([bytes.subarray(0, 4), stored]).equals(bytes), path.basename(f)).toBe(true);
    }
  });
});

describe('MySQL flavour: 9.6 tagged GTIDs', () => {
  const file = path.join(FIX, 'mysql-8-9-misc', 'binlog_transaction_with_GTID_TAG.000001');
  let a: Served;
  beforeAll(async () => {
    a = await serveImported([file], 4502);
  });
  afterAll(async () => {
    await a?.server.stop();
    await a?.store.close();
  });

  it('a tagged set in COM_BINLOG_DUMP_GTID skips exactly the tagged and untagged GTIDs it contains', async () => {
    const bytes = await readFile(file);
    const all = fileGtids(bytes);
    expect(all.some((g) => g.split(':').length === 3)).toBe(true); // the file has tagged GTIDs
    // The replica must hold what the file's PREVIOUS_GTIDS says was before it (that is purged on this source).
    const purged = MysqlGtidSet.parse(a.store.getState().purgedGtids);
    const have = purged.union(MysqlGtidSet.parse(all[0]!));
    const c = await replicaHandshake(a.port);
    const events = await dumpGtid(c, have);
    expect(gtidsIn(events)).toEqual(all.slice(1));

    const c2 = await replicaHandshake(a.port);
    const full = byFile(await dumpGtid(c2, purged));
    expect(Buffer.concat([bytes.subarray(0, 4), ...full.get(path.basename(file))!]).equals(bytes)).toBe(true);
  });
});
