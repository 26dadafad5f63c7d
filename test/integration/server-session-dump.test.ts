// The session side of a binlog dump, with a scripted sender in place of src/server/dump: the dump commands,
// DumpSessionVars, DumpOutput framing on the socket (sequence ids, [0x00] / [0x00][0xEF][flag] prefixes,
// 16 MiB splits, classic EOF, ERR), semi-sync ACKs and the sequence reset, backpressure, and the end of a
// dump by close, KILL and replacement.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEvent } from '../../protocol/binlog/event_writer.js';
import { QUERY_EVENT } from '../../protocol/binlog/constants.js';
import {
  encodeComBinlogDump,
  encodeComBinlogDumpGtid,
  encodeSemiSyncAck,
} from '../../protocol/commands.js';
import { decodeErr } from '../../protocol/generic.js';
import { MysqlGtidSet } from '../../protocol/gtid/mysql.js';
import type { DumpContext, DumpSessionVars } from '../../src/server/dump/types.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { MARIADB_SOURCE, MYSQL_SOURCE, RawClient, startTestServer, type TestServer } from './server-session-helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('bp-srv-dump-');
});
afterAll(async () => {
  await removeTempDir(dir);
});

function event(n: number, bodyBytes = 8): Buffer {
  const body = Buffer.alloc(bodyBytes, n & 0xff);
  return buildEvent({ timestamp: 1_700_000_000 + n, typeCode: QUERY_EVENT, serverId: 1, logPos: 100 + n, flags: 0 }, body, true);
}

function dumpPacket(opts: { file?: string; pos?: number; flags?: number; serverId?: number } = {}): Buffer {
  return encodeComBinlogDump({ position: opts.pos ?? 4, flags: opts.flags ?? 0, serverId: opts.serverId ?? 77, fileName: opts.file ?? 'bin.000001' });
}

async function login(t: TestServer): Promise<RawClient> {
  const c = await RawClient.open(t.port);
  const r = await c.login('repl', 'secret-pw');
  expect(r.last?.payload[0]).toBe(0);
  return c;
}

function waitAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

describe('dump framing', () => {
  it('sends each event as [0x00] event with seq 1, 2, 3 …, then the classic EOF, then serves commands again', async () => {
    const events = [event(1), event(2), event(3, 300)];
    const t = await startTestServer({
      source: MARIADB_SOURCE,
      dataDir: dir,
      runDump: async (ctx) => {
        ctx.output.sendEvent(events[0]!);
        // The batch form puts the same bytes on the wire.
        const batch = Buffer.concat([events[1]!, events[2]!]);
        ctx.output.sendEvents!(batch, 0, batch.length);
        ctx.output.sendEof();
      },
    });
    try {
      const c = await login(t);
      c.write(dumpPacket({ flags: 1 }), 0);
      for (let i = 0; i < 3; i++) {
        const p = (await c.read())!;
        expect(p.seq).toBe(i + 1);
        expect(p.payload).toEqual(Buffer.concat([Buffer.from([0]), events[i]!]));
      }
      const eof = (await c.read())!;
      expect(eof.seq).toBe(4);
      // Classic EOF even though the client negotiated CLIENT_DEPRECATE_EOF.
      expect(eof.payload).toEqual(Buffer.from([0xfe, 0, 0, 2, 0]));
      expect((await c.query('SELECT 1 AS x')).rows).toEqual([['1']]);
      c.end();
    } finally {
      await t.close();
    }
  });

  it('splits an event of 16 MiB or more into 0xFFFFFF chunks, each with the next sequence id', async () => {
    const big = buildEvent({ timestamp: 1, typeCode: QUERY_EVENT, serverId: 1, logPos: 0, flags: 0 }, Buffer.alloc(0xffffff + 100, 7), true);
    const small = event(9);
    const t = await startTestServer({
      source: MARIADB_SOURCE,
      dataDir: dir,
      runDump: async (ctx) => {
        ctx.output.sendEvent(big);
        ctx.output.sendEvent(small);
        await ctx.output.drain();
        ctx.output.sendEof();
      },
    });
    try {
      const c = await login(t);
      c.write(dumpPacket(), 0);
      const p = (await c.read(10_000))!;
      expect(p.seq).toBe(2); // last physical packet of the two
      expect(p.payload.length).toBe(1 + big.length);
      expect(p.payload.subarray(1).equals(big)).toBe(true);
      const q = (await c.read())!;
      expect(q.seq).toBe(3);
      expect(q.payload.subarray(1)).toEqual(small);
      expect((await c.read())!.seq).toBe(4);
      c.end();
    } finally {
      await t.close();
    }
  });

  it('sends an ERR from the sender and stays in the command phase; a sender that throws becomes ERR 1236', async () => {
    let calls = 0;
    const t = await startTestServer({
      source: MYSQL_SOURCE,
      dataDir: dir,
      runDump: async (ctx) => {
        calls++;
        if (calls === 1) {
          ctx.output.sendError(1236, 'HY000', 'Could not find first log file name in binary log index file');
          ctx.output.sendEvent(event(1)); // ignored after the end
          return;
        }
        throw new Error('disk on fire');
      },
    });
    try {
      const c = await login(t);
      c.write(dumpPacket({ file: 'nope.000001' }), 0);
      const e = (await c.read())!;
      expect(e.seq).toBe(1);
      expect(decodeErr(e.payload)).toEqual({ code: 1236, sqlState: 'HY000', message: 'Could not find first log file name in binary log index file' });
      expect((await c.query('SELECT 2 AS y')).rows).toEqual([['2']]);
      c.write(dumpPacket(), 0);
      expect(decodeErr((await c.read())!.payload)).toEqual({ code: 1236, sqlState: 'HY000', message: 'binlog-proxy: Unknown error: disk on fire' });
      expect((await c.query('SELECT 3 AS z')).rows).toEqual([['3']]);
      c.end();
    } finally {
      await t.close();
    }
  });

  it('refuses a dump while the store is empty, a GTID dump on MariaDB, and malformed dump packets', async () => {
    const t = await startTestServer({ source: { flavor: null }, dataDir: dir, settings: { defaultFlavor: 'mysql' } });
    try {
      const c = await login(t);
      c.write(dumpPacket(), 0);
      expect(decodeErr((await c.read())!.payload)).toEqual({ code: 1236, sqlState: 'HY000', message: 'Binary log is not open' });
      c.write(Buffer.from([0x12, 4, 0]), 0);
      expect(decodeErr((await c.read())!.payload).code).toBe(1835);
      c.write(encodeComBinlogDumpGtid({ flags: 0, serverId: 2, fileName: '', position: 4n, gtidData: Buffer.from([9, 9, 9]) }), 0);
      expect(decodeErr((await c.read())!.payload).code).toBe(1835);
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([['1']]);
      c.end();
    } finally {
      await t.close();
    }
    const m = await startTestServer({ source: MARIADB_SOURCE, dataDir: dir });
    try {
      const c = await login(m);
      c.write(encodeComBinlogDumpGtid({ flags: 0, serverId: 2, fileName: '', position: 4n, gtidData: MysqlGtidSet.empty().encode() }), 0);
      expect(decodeErr((await c.read())!.payload)).toMatchObject({ code: 1047 });
      c.end();
    } finally {
      await m.close();
    }
  });
});

describe('session variables handed to the sender', () => {
  it('collects a MySQL 8.4 replica session (source_ names win, GTID request decoded)', async () => {
    let seen: DumpContext | null = null;
    const t = await startTestServer({
      source: MYSQL_SOURCE,
      dataDir: dir,
      runDump: async (ctx) => {
        seen = ctx;
        ctx.output.sendEof();
      },
    });
    try {
      const c = await login(t);
      for (const sql of [
        'SET @master_heartbeat_period = 30000001024, @source_heartbeat_period = 15000000000',
        'SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum',
        "SET @slave_uuid = 'f8c09b6f-6342-11ec-9e68-000c2943eee1', @replica_uuid = 'f8c09b6f-6342-11ec-9e68-000c2943eee1'",
        'SET @rpl_semi_sync_replica = 1, @rpl_semi_sync_slave = 1',
      ]) {
        c.write(Buffer.concat([Buffer.from([3]), Buffer.from(sql)]), 0);
        expect((await c.read())!.payload[0]).toBe(0);
      }
      const set = MysqlGtidSet.parse('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5');
      c.write(encodeComBinlogDumpGtid({ flags: 2, serverId: 2, fileName: '', position: 4n, gtidData: set.encode() }), 0);
      expect((await c.read())!.payload.subarray(0, 3)).toEqual(Buffer.from([0xfe, 0, 0]));
      const ctx = seen as unknown as DumpContext;
      expect(ctx.vars).toEqual({
        flavor: 'mysql',
        clientChecksum: 'CRC32',
        heartbeatPeriodNs: 15000000000n,
        mariadbSlaveCapability: 0,
        slaveConnectState: null,
        slaveGtidStrictMode: false,
        slaveGtidIgnoreDuplicates: false,
        slaveUntilGtid: null,
        semiSync: true,
        replicaUuid: 'f8c09b6f-6342-11ec-9e68-000c2943eee1',
        skipReplication: false,
      } satisfies DumpSessionVars);
      expect(ctx.request).toMatchObject({ command: 'COM_BINLOG_DUMP_GTID', flags: 2, serverId: 2, fileName: '', position: 4n });
      expect(ctx.request.command === 'COM_BINLOG_DUMP_GTID' && ctx.request.gtidSet.toString()).toBe('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5');
      expect(ctx.identity).toEqual({ serverId: 9001, serverUuid: expect.any(String) });
      c.end();
    } finally {
      await t.close();
    }
  });

  it('collects a MariaDB replica session (only master_ names; capability, GTID connect state, skip_replication)', async () => {
    let vars: DumpSessionVars | null = null;
    let req: DumpContext['request'] | null = null;
    const t = await startTestServer({
      source: MARIADB_SOURCE,
      dataDir: dir,
      runDump: async (ctx) => {
        vars = ctx.vars;
        req = ctx.request;
        ctx.output.sendEof();
      },
    });
    try {
      const c = await login(t);
      for (const sql of [
        'SET @master_heartbeat_period= 30000000000',
        "SET @source_heartbeat_period= 1",
        "SET @master_binlog_checksum= 'NONE'",
        'SET skip_replication=1',
        "SET @mariadb_slave_capability='4'",
        "SET @slave_connect_state='0-1-100,1-2-7'",
        'SET @slave_gtid_strict_mode=1',
        'SET @slave_gtid_ignore_duplicates=0',
        "SET @slave_until_gtid=''",
        'SET @rpl_semi_sync_replica=1',
      ]) {
        c.write(Buffer.concat([Buffer.from([3]), Buffer.from(sql)]), 0);
        expect((await c.read())!.payload[0], sql).toBe(0);
      }
      // python-mysql-replication's MariaDB GTID dump: position 4 and a NUL-padded file name.
      c.write(encodeComBinlogDump({ position: 4, flags: 2, serverId: 5, fileName: '\0\0\0\0' }), 0);
      await c.read();
      expect(vars).toEqual({
        flavor: 'mariadb',
        clientChecksum: 'NONE',
        heartbeatPeriodNs: 30000000000n,
        mariadbSlaveCapability: 4,
        slaveConnectState: '0-1-100,1-2-7',
        slaveGtidStrictMode: true,
        slaveGtidIgnoreDuplicates: false,
        slaveUntilGtid: null,
        semiSync: false, // MariaDB reads only @rpl_semi_sync_slave
        replicaUuid: null,
        skipReplication: true,
      } satisfies DumpSessionVars);
      expect(req).toEqual({ command: 'COM_BINLOG_DUMP', position: 4, flags: 2, serverId: 5, fileName: '' });
      c.end();
    } finally {
      await t.close();
    }
  });
});

describe('semi-sync', () => {
  it('prefixes every packet with 0xEF, reads ACKs with seq 0, and restarts the sequence at 1 after an ACK request', async () => {
    const acks: Array<[string, bigint]> = [];
    const e1 = event(1);
    const e2 = event(2);
    const e3 = event(3);
    const t = await startTestServer({
      source: MARIADB_SOURCE,
      dataDir: dir,
      runDump: async (ctx) => {
        expect(ctx.vars.semiSync).toBe(true);
        const got = new Promise<void>((resolve) =>
          ctx.output.onAck((file, pos) => {
            acks.push([file, pos]);
            resolve();
          }),
        );
        ctx.output.sendEvent(e1);
        ctx.output.sendEvent(e2, { needAck: true });
        await got;
        ctx.output.sendEvent(e3);
        ctx.output.sendEof();
      },
    });
    try {
      const c = await login(t);
      c.write(Buffer.concat([Buffer.from([3]), Buffer.from('SET @rpl_semi_sync_slave= 1')]), 0);
      expect((await c.read())!.payload[0]).toBe(0);
      c.write(dumpPacket(), 0);
      const p1 = (await c.read())!;
      expect([p1.seq, ...p1.payload.subarray(0, 3)]).toEqual([1, 0x00, 0xef, 0x00]);
      expect(p1.payload.subarray(3)).toEqual(e1);
      const p2 = (await c.read())!;
      expect([p2.seq, ...p2.payload.subarray(0, 3)]).toEqual([2, 0x00, 0xef, 0x01]);
      c.write(encodeSemiSyncAck({ position: 102n, fileName: 'bin.000001' }), 0);
      const p3 = (await c.read())!;
      expect([p3.seq, ...p3.payload.subarray(0, 3)]).toEqual([1, 0x00, 0xef, 0x00]);
      expect(p3.payload.subarray(3)).toEqual(e3);
      const eof = (await c.read())!;
      expect([eof.seq, eof.payload[0]]).toEqual([2, 0xfe]);
      expect(acks).toEqual([['bin.000001', 102n]]);
      c.end();
    } finally {
      await t.close();
    }
  });

  it('does not offer semi-sync when disabled: the replica asking for it still gets plain packets', async () => {
    const t = await startTestServer({
      source: MARIADB_SOURCE,
      dataDir: dir,
      settings: { semiSync: false },
      runDump: async (ctx) => {
        expect(ctx.vars.semiSync).toBe(false);
        ctx.output.sendEvent(event(1), { needAck: true });
        ctx.output.sendEof();
      },
    });
    try {
      const c = await login(t);
      expect((await c.query("SHOW VARIABLES LIKE 'rpl_semi_sync_master_enabled'")).rows).toEqual([['rpl_semi_sync_master_enabled', 'OFF']]);
      c.write(Buffer.concat([Buffer.from([3]), Buffer.from('SET @rpl_semi_sync_slave= 1')]), 0);
      await c.read();
      c.write(dumpPacket(), 0);
      const p = (await c.read())!;
      expect([p.seq, p.payload[0]]).toEqual([1, 0x00]);
      expect(p.payload.subarray(1)).toEqual(event(1));
      expect((await c.read())!.seq).toBe(2);
      c.end();
    } finally {
      await t.close();
    }
  });
});

describe('the end of a dump', () => {
  function blockingDump(started: (ctx: DumpContext) => void): (ctx: DumpContext) => Promise<void> {
    return async (ctx) => {
      ctx.output.sendEvent(event(1));
      started(ctx);
      await waitAbort(ctx.output.signal);
    };
  }

  it('a closed connection aborts the sender; status and metrics follow the dump', async () => {
    let ctxSeen: DumpContext | null = null;
    let ready!: () => void;
    const started = new Promise<void>((r) => (ready = r));
    const t = await startTestServer({
      source: MARIADB_SOURCE,
      dataDir: dir,
      runDump: blockingDump((ctx) => {
        ctxSeen = ctx;
        ctx.progress.file = 'bin.000001';
        ctx.progress.position = 4;
        ctx.progress.lastEventTimestamp = 1_700_000_000 - 30;
        ready();
      }),
    });
    try {
      const c = await login(t);
      c.write(dumpPacket({ serverId: 55 }), 0);
      await started;
      expect(t.server.status().slaves).toEqual([
        expect.objectContaining({ server_id: 55, kind: 'binlog_client', mode: 'file', file: 'bin.000001', position: 4, lag_seconds: 30, semi_sync: false }),
      ]);
      expect((await t.metrics.connectedReplicas.get()).values[0]!.value).toBe(1);
      const admin = await t.connect();
      const [pl] = await admin.query('SHOW PROCESSLIST');
      expect((pl as Array<{ Id: number; Command: string; Info: string | null }>).map((r) => [r.Id, r.Command, r.Info])).toEqual([
        [c.greeting.connectionId, 'Binlog Dump', null],
        [expect.any(Number), 'Query', 'SHOW PROCESSLIST'],
      ]);
      await admin.end();
      c.end();
      await waitAbort((ctxSeen as unknown as DumpContext).output.signal);
      await new Promise((r) => setTimeout(r, 50));
      expect(t.server.status().slaves).toEqual([]);
      expect((await t.metrics.connectedReplicas.get()).values[0]!.value).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('MySQL: a newer dump with the same replica_uuid replaces the older one, which gets ERR 1236', async () => {
    const started: DumpContext[] = [];
    const t = await startTestServer({ source: MYSQL_SOURCE, dataDir: dir, runDump: blockingDump((ctx) => started.push(ctx)) });
    try {
      const dump = async (uuid: string, serverId: number): Promise<RawClient> => {
        const c = await login(t);
        c.write(Buffer.concat([Buffer.from([3]), Buffer.from(`SET @replica_uuid = '${uuid}'`)]), 0);
        await c.read();
        c.write(dumpPacket({ serverId }), 0);
        expect((await c.read())!.seq).toBe(1);
        return c;
      };
      const a = await dump('aaaaaaaa-0000-0000-0000-000000000001', 10);
      const other = await dump('aaaaaaaa-0000-0000-0000-000000000002', 10); // same server_id, other uuid: kept
      const b = await dump('AAAAAAAA-0000-0000-0000-000000000001', 11);
      const err = (await a.read())!;
      expect(decodeErr(err.payload)).toEqual({
        code: 1236,
        sqlState: 'HY000',
        message: 'A replica with the same server_uuid/server_id as this replica has connected to the source',
      });
      expect(await a.read()).toBeNull();
      expect(started[0]!.output.signal.aborted).toBe(true);
      expect(started[1]!.output.signal.aborted).toBe(false);
      expect(started[2]!.output.signal.aborted).toBe(false);
      other.end();
      b.end();
    } finally {
      await t.close();
    }
  });

  it('MySQL without a uuid and MariaDB: the same non-zero server_id replaces; server_id 0 never does', async () => {
    for (const source of [MYSQL_SOURCE, MARIADB_SOURCE]) {
      const started: DumpContext[] = [];
      const t = await startTestServer({ source, dataDir: dir, runDump: blockingDump((ctx) => started.push(ctx)) });
      try {
        const dump = async (serverId: number): Promise<RawClient> => {
          const c = await login(t);
          c.write(dumpPacket({ serverId }), 0);
          expect((await c.read())!.seq).toBe(1);
          return c;
        };
        const z1 = await dump(0);
        const z2 = await dump(0);
        const a = await dump(7);
        const b = await dump(7);
        const next = await a.read();
        if (source.flavor === 'mysql') {
          expect(decodeErr(next!.payload).code).toBe(1236);
          expect(await a.read()).toBeNull();
        } else {
          expect(next).toBeNull(); // MariaDB closes the old connection silently
        }
        expect(started.map((c) => c.output.signal.aborted)).toEqual([false, false, true, false]);
        for (const c of [z1, z2, b]) c.end();
      } finally {
        await t.close();
      }
    }
  });

  it('KILL QUERY ends the dump with ERR 1317 and keeps the connection; KILL closes it', async () => {
    const started: DumpContext[] = [];
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: dir, runDump: blockingDump((ctx) => started.push(ctx)) });
    try {
      const admin = await t.connect();
      const c = await login(t);
      c.write(dumpPacket(), 0);
      expect((await c.read())!.seq).toBe(1);
      await admin.query(`KILL QUERY ${c.greeting.connectionId}`);
      const e = (await c.read())!;
      expect(decodeErr(e.payload)).toEqual({ code: 1317, sqlState: '70100', message: 'Query execution was interrupted' });
      expect((await c.query('SELECT 1 AS still')).rows).toEqual([['1']]);
      c.write(dumpPacket(), 0);
      expect((await c.read())!.seq).toBe(1);
      await admin.query(`KILL CONNECTION ${c.greeting.connectionId}`);
      expect(await c.read()).toBeNull();
      expect(started.every((s) => s.output.signal.aborted)).toBe(true);
      await admin.end();
    } finally {
      await t.close();
    }
  });

  it('an unexpected packet during a dump without semi-sync closes the connection', async () => {
    const started: DumpContext[] = [];
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: dir, runDump: blockingDump((ctx) => started.push(ctx)) });
    try {
      const c = await login(t);
      c.write(dumpPacket(), 0);
      await c.read();
      c.write(Buffer.from([0x03, 0x53]), 0);
      expect(await c.read()).toBeNull();
      await waitAbort(started[0]!.output.signal);
    } finally {
      await t.close();
    }
  });

  it('stopping the server aborts running dumps', async () => {
    const started: DumpContext[] = [];
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: dir, runDump: blockingDump((ctx) => started.push(ctx)) });
    const c = await login(t);
    c.write(dumpPacket(), 0);
    await c.read();
    await t.close();
    expect(started[0]!.output.signal.aborted).toBe(true);
    expect(await c.read()).toBeNull();
  });
});

describe('backpressure', () => {
  it('sendEvent reports a full socket and drain() waits until the replica reads', async () => {
    const ev = event(1, 60_000);
    let refusedAt = -1;
    let drained = false;
    const t = await startTestServer({
      source: MARIADB_SOURCE,
      dataDir: dir,
      settings: { limits: { dumpHighWaterMark: 256 * 1024 } },
      runDump: async (ctx) => {
        for (let i = 0; i < 400; i++) {
          if (!ctx.output.sendEvent(ev)) {
            refusedAt = i;
            await ctx.output.drain();
            drained = true;
            break;
          }
        }
        ctx.output.sendEof();
      },
    });
    try {
      const c = await login(t);
      c.socket.pause();
      c.write(dumpPacket(), 0);
      await new Promise((r) => setTimeout(r, 300));
      expect(refusedAt).toBeGreaterThan(0);
      expect(refusedAt).toBeLessThan(400);
      expect(drained).toBe(false);
      c.socket.resume();
      let n = 0;
      for (;;) {
        const p = (await c.read(5000))!;
        if (p.payload[0] === 0xfe) break;
        n++;
      }
      expect(n).toBe(refusedAt + 1);
      expect(drained).toBe(true);
      c.end();
    } finally {
      await t.close();
    }
  });
});
