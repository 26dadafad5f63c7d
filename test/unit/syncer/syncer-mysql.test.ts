/**
 * The whole syncer in MySQL flavour against a scripted MySQL 8.0.45 primary serving the MySQL 8.0.45 GTID
 * fixture files: session statements, COM_BINLOG_DUMP from the first file, byte identity in storage, the status,
 * and a resume by COM_BINLOG_DUMP_GTID with the stored executed set (the primary skips what we have).
 */
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { Metrics } from '../../../src/metrics.js';
import { Syncer } from '../../../src/syncer/syncer.js';
import { openStore, type BinlogStore } from '../../../storage/index.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { events, fixture } from './_dump.js';
import { FakeMysqlPrimary } from './_fake-primary.js';
import { restampFde } from '../../../protocol/binlog/index.js';

const UUID = '396e294c-1ca4-11f1-9ae7-00155da79c6b';
const FILES = [fixture('mysql-8.0.45-gtid', 'binlog.000001'), fixture('mysql-8.0.45-gtid', 'binlog.000002')];

let primary: FakeMysqlPrimary;
let dir: string;
let store: BinlogStore;

async function stored(file: string): Promise<Buffer> {
  const info = store.getFile(file)!;
  const reader = await store.openReader({ from: { file, pos: info.firstPos }, follow: false });
  const parts: Buffer[] = [];
  for await (const batch of reader) for (const u of batch) if (u.file === file) parts.push(u.data);
  return Buffer.concat(parts);
}

function fileAsSent(i: number): Buffer {
  const f = FILES[i]!;
  const b = Buffer.from(f.buf);
  b.set(restampFde(events(f)[0]!.event.raw, { clearInUse: true, zeroLogPosAndCreated: false }), 4);
  return b.subarray(4);
}

async function waitFor(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  primary = new FakeMysqlPrimary(FILES, { user: 'repl', password: 'pw', serverId: 1, serverUuid: UUID, version: '8.0.45' });
  await primary.listen();
  dir = await makeTempDir('bp-mysql-');
  store = await openStore(path.join(dir, 'store'), { flavor: 'mysql' });
});

afterAll(async () => {
  await primary.close();
  await store.close();
  await removeTempDir(dir);
});

describe('syncer, MySQL flavour, against a scripted MySQL 8.0.45 primary', () => {
  it('syncs from the earliest file, then resumes with COM_BINLOG_DUMP_GTID and the stored executed set', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const syncer = new Syncer({ store, log: pino({ level: 'silent' }), metrics, identity: { serverUuid: '11111111-2222-4333-8444-555555555555' } });
    await syncer.start({ mysql_addr: `127.0.0.1:${primary.port}`, mysql_user: 'repl', mysql_password: 'pw', syncer_id: 4242, heartbeat_period_ms: 200 });
    await waitFor('everything stored', () => store.getState().lastFile === 'binlog.000002' && store.getState().lastPos === BigInt(FILES[1]!.buf.length));
    expect(primary.statements).toEqual([
      'SET @source_binlog_checksum = @@global.binlog_checksum, @master_binlog_checksum = @@global.binlog_checksum',
      'SELECT @master_binlog_checksum, @@GLOBAL.server_id, @@GLOBAL.server_uuid, @@GLOBAL.gtid_mode, VERSION(), UNIX_TIMESTAMP()',
      'SET @master_heartbeat_period = 200000000, @source_heartbeat_period = 200000000',
      "SET @replica_uuid = '11111111-2222-4333-8444-555555555555', @slave_uuid = '11111111-2222-4333-8444-555555555555'",
      'SHOW BINARY LOGS',
    ]);
    expect(primary.dumps[0]).toEqual({ kind: 'file', file: 'binlog.000001', pos: 4, gtids: null, flags: 2, serverId: 4242 });
    await store.flush();
    expect((await stored('binlog.000001')).equals(fileAsSent(0))).toBe(true);
    expect((await stored('binlog.000002')).equals(fileAsSent(1))).toBe(true);
    const s = syncer.status();
    expect(s).toMatchObject({ status: 'running', flavor: 'mysql', master_server_id: 1, master_server_uuid: UUID, master_version: '8.0.45' });
    expect(MysqlGtidSet.parse(s.executed_gtid_set).count()).toBe(6n);
    expect(s.current_gtid).toBe(`${UUID}:6`);
    await waitFor('a heartbeat', () => syncer.status().counters.heartbeats_received > 0);
    expect(syncer.status().seconds_behind_master).toBe(0);
    // The Prometheus counters, read as a scrape reads them, hold what the syncer counted per event.
    const scrape = async (name: string): Promise<number> => Number(/ (\d+)$/m.exec(await metrics.registry.getSingleMetricAsString(name))?.[1]);
    const c = syncer.status().counters;
    expect(await scrape('binlog_proxy_transactions_stored_total')).toBe(c.transactions_stored);
    expect(c.transactions_stored).toBeGreaterThan(0);
    // Heartbeats may arrive meanwhile: the scraped value lies between the counts before and after.
    for (const [metric, counter] of [
      ['binlog_proxy_events_received_total', 'events_received'],
      ['binlog_proxy_bytes_received_total', 'bytes_received'],
    ] as const) {
      const before = syncer.status().counters[counter];
      const value = await scrape(metric);
      expect(value).toBeGreaterThanOrEqual(before);
      expect(value).toBeLessThanOrEqual(syncer.status().counters[counter]);
    }
    expect(await scrape('binlog_proxy_upstream_lag_seconds')).toBe(0);

    // The dump connection drops: the syncer resumes by GTID (our last file is the primary's last one).
    primary.cut();
    await waitFor('a resumed dump', () => primary.dumps.length === 2 && syncer.status().status === 'running');
    expect(primary.dumps[1]).toMatchObject({ kind: 'gtid', file: '', pos: 4, gtids: s.executed_gtid_set, flags: 2, serverId: 4242 });
    await waitFor('a heartbeat after the resume', () => syncer.status().counters.heartbeats_received > 0);
    // Nothing stored twice: the log still equals the files.
    expect((await stored('binlog.000002')).equals(fileAsSent(1))).toBe(true);
    expect(store.getState().lastPos).toBe(BigInt(FILES[1]!.buf.length));
    await syncer.stop();
  });
});
