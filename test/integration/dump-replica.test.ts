// Real MariaDB replicas replicating from the proxy: the stored binlog (MariaDB 10.11 fixture) is served by the
// replica-facing server and the binlog sender, and applied by replicas in GTID mode and in file/position mode.
import path from 'node:path';
import { pino } from 'pino';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicationServer } from '../../src/server/server.js';
import { runDump } from '../../src/server/dump/index.js';
import type { DumpContext } from '../../src/server/dump/types.js';
import type { BinlogStore } from '../../storage/index.js';
import { checksumTables, replicaStatus, startReplica, waitForReplicaCatchUp, type MariaDBInstance } from '../helpers/mariadb.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { storeOf, unitsOf } from '../unit/dump/_helpers.js';

const USER = { user: 'repl', password: 'secret-pw' };
const END = '0-7-19,2-7-1';

describe('MariaDB replicas of the proxy', () => {
  let dir: string;
  let store: BinlogStore;
  let server: ReplicationServer;
  const replicas: MariaDBInstance[] = [];

  beforeAll(async () => {
    dir = await makeTempDir('dump-rep-');
    store = await storeOf(path.join(dir, 'store'), 'mariadb', unitsOf([
      ['mariadb-10.11-crc32/bin.000001', 'bin.000001'],
      ['mariadb-10.11-crc32/bin.000002', 'bin.000002'],
    ]).units);
    server = new ReplicationServer({
      store,
      dataDir: dir,
      identity: { serverId: 4242, serverUuid: '5d4c3b2a-1f0e-4d3c-8b7a-0123456789ab' },
      settings: { tls: false },
      log: pino({ level: 'silent' }),
    });
    await server.start({ addr: '127.0.0.1:0', users: [USER] });
  });

  afterAll(async () => {
    for (const r of replicas) await r.destroy();
    await server?.stop();
    await store?.close();
    await removeTempDir(dir);
  });

  async function replica(useGtid: 'slave_pos' | 'no'): Promise<MariaDBInstance> {
    const r = await startReplica({
      primary: { host: '127.0.0.1', port: server.port! },
      ...USER,
      useGtid,
      ...(useGtid === 'no' ? { logFile: 'bin.000001', logPos: 4 } : {}),
    });
    replicas.push(r);
    return r;
  }

  it('a GTID replica (slave_pos) and a file/position replica apply the whole binlog, identically', async () => {
    const [g, f] = await Promise.all([replica('slave_pos'), replica('no')]);
    await Promise.all([waitForReplicaCatchUp(g, END), waitForReplicaCatchUp(f, END)]);
    for (const r of [g, f]) {
      const s = (await replicaStatus(r))!;
      expect(s['Slave_IO_Running']).toBe('Yes');
      expect(s['Slave_SQL_Running']).toBe('Yes');
      expect(Number(s['Last_IO_Errno'])).toBe(0);
      expect(s['Master_Log_File']).toBe('bin.000002');
      // 649: the replica does not count the STOP event at 649..672, as with the real primary.
      expect(Number(s['Read_Master_Log_Pos'])).toBe(649);
      expect(s['Relay_Master_Log_File']).toBe('bin.000002');
    }
    const tables = ['shop.items', 'shop.legacy'];
    const [cg, cf] = await Promise.all([checksumTables(g, tables), checksumTables(f, tables)]);
    expect(cg).toEqual(cf);
    expect(cg['shop.items']).not.toBeNull();
    const rows = await g.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shop.items');
    expect(Number(rows[0]!['n'])).toBeGreaterThan(0);
    expect((await g.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_slave_pos AS p'))[0]!['p']).toBe(END);
  });

  it('a replica that reconnects with its GTID position resumes without errors', async () => {
    const g = replicas[0]!;
    await g.query('STOP SLAVE');
    await g.query('START SLAVE');
    await waitForReplicaCatchUp(g, END);
    let s = (await replicaStatus(g))!;
    for (let i = 0; i < 100 && s['Slave_IO_Running'] !== 'Yes'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      s = (await replicaStatus(g))!;
    }
    expect(s['Slave_IO_Running']).toBe('Yes');
    expect(Number(s['Last_IO_Errno'])).toBe(0);
    expect(Number(s['Read_Master_Log_Pos'])).toBe(649);
  });

  it('a replica connected to a store that is still being filled follows the live tail, across the rotation', async () => {
    const units = unitsOf([
      ['mariadb-10.11-crc32/bin.000001', 'bin.000001'],
      ['mariadb-10.11-crc32/bin.000002', 'bin.000002'],
    ]).units;
    const liveStore = await storeOf(path.join(dir, 'live'), 'mariadb', units.slice(0, 8));
    const liveServer = new ReplicationServer({
      store: liveStore,
      dataDir: path.join(dir, 'live-srv'),
      identity: { serverId: 4343, serverUuid: '6d4c3b2a-1f0e-4d3c-8b7a-0123456789ab' },
      settings: { tls: false },
      log: pino({ level: 'silent' }),
    });
    await liveServer.start({ addr: '127.0.0.1:0', users: [USER] });
    try {
      const r = await startReplica({
        primary: { host: '127.0.0.1', port: liveServer.port! },
        ...USER,
        useGtid: 'slave_pos',
        heartbeatPeriodSeconds: 0.2,
      });
      replicas.push(r);
      await waitForReplicaCatchUp(r, '0-7-5');
      // Idle for a few heartbeat periods: the replica must stay connected and happy.
      await new Promise((res) => setTimeout(res, 700));
      let s = (await replicaStatus(r))!;
      expect(s['Slave_IO_Running']).toBe('Yes');
      const before = Number((await r.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Slave_received_heartbeats'"))[0]?.['Value'] ?? 0);
      expect(before).toBeGreaterThan(0);
      for (const u of units.slice(8)) {
        await liveStore.append(u);
        await new Promise((res) => setTimeout(res, 5));
      }
      await waitForReplicaCatchUp(r, END);
      s = (await replicaStatus(r))!;
      expect(Number(s['Last_IO_Errno'])).toBe(0);
      expect(s['Master_Log_File']).toBe('bin.000002');
    } finally {
      await liveServer.stop();
      await liveStore.close();
    }
  });

  it('a semi-sync replica gets the 0xEF framing, ACKs live commits, and keeps replicating', async () => {
    const units = unitsOf([['mariadb-10.11-crc32/bin.000001', 'bin.000001']]).units;
    const semiStore = await storeOf(path.join(dir, 'semi'), 'mariadb', units.slice(0, 8));
    const dumps: DumpContext[] = [];
    const semiServer = new ReplicationServer({
      store: semiStore,
      runDump: (ctx) => {
        dumps.push(ctx);
        return runDump(ctx, semiStore);
      },
      dataDir: path.join(dir, 'semi-srv'),
      identity: { serverId: 4444, serverUuid: '7d4c3b2a-1f0e-4d3c-8b7a-0123456789ab' },
      settings: { tls: false, semiSync: true },
      log: pino({ level: 'silent' }),
    });
    await semiServer.start({ addr: '127.0.0.1:0', users: [USER] });
    try {
      const r = await startReplica({
        primary: { host: '127.0.0.1', port: semiServer.port! },
        ...USER,
        useGtid: 'slave_pos',
        extraArgs: ['--rpl-semi-sync-slave-enabled=ON'],
      });
      replicas.push(r);
      await waitForReplicaCatchUp(r, '0-7-5');
      for (const u of units.slice(8)) {
        await semiStore.append(u);
        await new Promise((res) => setTimeout(res, 5));
      }
      await waitForReplicaCatchUp(r, '0-7-18,2-7-1');
      const st = await r.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_slave_status'");
      expect(st[0]?.['Value']).toBe('ON');
      const s = (await replicaStatus(r))!;
      expect(Number(s['Last_IO_Errno'])).toBe(0);
      expect(s['Slave_IO_Running']).toBe('Yes');
      const dumping = semiServer.status().slaves.filter((x) => x.semi_sync);
      expect(dumping).toHaveLength(1);
      // The live commits asked for ACKs, and the replica's ACKs came back with positions in bin.000001.
      const live = dumps.find((d) => d.vars.semiSync)!;
      expect(live.progress.acks).toBeGreaterThan(0);
      expect(live.progress.ackFile).toBe('bin.000001');
      expect(live.progress.ackPosition).toBeGreaterThan(1168);
    } finally {
      await semiServer.stop();
      await semiStore.close();
    }
  });
});
