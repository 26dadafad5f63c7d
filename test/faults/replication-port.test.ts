// The replication port under abuse, with a real replica behind the proxy the whole time:
// - a storm of hundreds of replicas connecting and disconnecting within seconds: no leak of memory,
//   sockets or sessions in the daemon (its anonymous RSS, its live heap after a full collection and its
//   descriptors, before and after);
// - a replica that stops reading: ingestion and the real replica go on at full speed, memory stays bounded;
// - thousands of malformed sessions (random bytes, oversized lengths, truncated and mutated handshakes, wrong
//   sequence ids, commands before auth, absurd dump requests) from another loopback address: the daemon never
//   crashes or grows without bound, that address ends up throttled, and the real replica is unaffected.
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrambleNativePassword } from '../../protocol/auth.js';
import { UTF8MB4_GENERAL_CI } from '../../protocol/constants.js';
import { encodeHandshakeResponse41, UPSTREAM_CLIENT_CAPABILITIES } from '../../protocol/handshake.js';
import { hostileSession } from '../helpers/hostile.js';
import { startReplica, waitForReplicaCatchUp, type MariaDBInstance } from '../helpers/mariadb.js';
import { prng } from '../helpers/prng.js';
import {
  expectReplicaEqualsPrimary,
  processUsage,
  readLog,
  sleep,
  startPrimary,
  startProxy,
  waitFor,
  waitForProxy,
  WriteLoad,
  type Proxy,
} from './helpers.js';
import { SECRETS } from './secrets.js';
import { WireClient } from './wire-client.js';
import './setup-file.js';

const STORM = Number(process.env.FAULT_STORM ?? 400);
const FUZZ = Number(process.env.FAULT_FUZZ ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 0xfa17);
const MiB = 1024 * 1024;

interface ServerStatusBody {
  data: { slaves: Array<{ server_id: number | null }>; connections?: number };
}

describe('fault: the replication port under abuse', () => {
  let primary: MariaDBInstance;
  let replica: MariaDBInstance;
  let proxy: Proxy;
  let load: WriteLoad;

  beforeAll(async () => {
    primary = await startPrimary(61);
    proxy = await startProxy('replport', `127.0.0.1:${primary.port}`);
    replica = await startReplica({
      serverId: 62,
      primary: { host: '127.0.0.1', port: proxy.serverPort },
      user: 'repl',
      password: SECRETS.serverPassword,
      useGtid: 'slave_pos',
    });
    load = new WriteLoad(primary, 'r', 500);
    load.start();
    await waitFor(async () => load.committed > 50, 20_000, 'the load to start');
  });

  afterAll(async () => {
    await load?.stop();
    await proxy?.daemon.kill();
    await replica?.destroy();
    await primary?.destroy();
  });

  const firstFile = async (): Promise<string> => {
    const r = await proxy.daemon.api<{ data: Array<{ name: string }> }>('GET', '/binlog/logs');
    return r.body.data[0]!.name;
  };

  const replicaKeepsUp = async (timeoutMs: number): Promise<void> => {
    await waitForReplicaCatchUp(replica, await primary.gtidBinlogPos(), timeoutMs);
  };

  it(`four rounds of ${STORM} replicas connecting and disconnecting leak no memory, sockets or sessions`, async () => {
    const pid = proxy.daemon.child.pid!;
    const file = await firstFile();
    // Without writes, every round's dumps read the same history: rounds are comparable.
    await load.stop();
    let logins = 0;
    let dumps = 0;
    const session = async (i: number): Promise<void> => {
      const c = await WireClient.connect({ port: proxy.serverPort });
      try {
        if (i % 4 === 0) return; // connect and leave at once
        const r = await c.login('repl', SECRETS.serverPassword);
        expect(r.error).toBeNull();
        logins++;
        if (i % 2 === 1 && (await c.startDump(100_000 + i, file))) {
          dumps++;
          await sleep(20 + (i % 50));
        }
      } finally {
        c.destroy();
      }
    };
    const round = async (): Promise<Round> => {
      const started = Date.now();
      for (let i = 0; i < STORM; i += 40) {
        await Promise.all(Array.from({ length: Math.min(40, STORM - i) }, (_, k) => session(i + k)));
      }
      const ms = Date.now() - started;
      // All sessions gone: only the real replica remains registered.
      await waitFor(
        async () => {
          const s = await proxy.daemon.api<ServerStatusBody>('GET', '/binlog/server/status');
          return s.body.data.slaves.length === 1 && s.body.data.slaves[0]!.server_id === 62;
        },
        15_000,
        'the storm sessions to be gone from the registry',
      );
      await sleep(1000);
      return { ...processUsage(pid), heapBytes: await heapUsed(proxy), ms };
    };
    const base = processUsage(pid);
    let rounds: Round[];
    try {
      rounds = [await round(), await round(), await round(), await round()];
    } finally {
      load.start(); // the later scenarios need the load, whatever happened here
    }
    const detail = `base ${JSON.stringify(base)}; rounds ${JSON.stringify(rounds)}`;
    expect(logins, detail).toBeGreaterThan((4 * STORM) / 2);
    expect(dumps, detail).toBeGreaterThan((4 * STORM) / 4);
    // No socket or descriptor outlives its session.
    for (const r of rounds) {
      expect(r.sockets, detail).toBeLessThanOrEqual(base.sockets + 2);
      expect(r.fds, detail).toBeLessThanOrEqual(base.fds + 4);
    }
    // The first rounds warm pools, JIT and the allocator's arenas (40 concurrent dumps with 1 MiB read
    // batches): the anonymous RSS grows then plateaus. A per-session leak keeps growing: over the last two
    // rounds (800 sessions) 30 KiB each would be 24 MiB. The live heap (after a full collection) must not grow
    // across all four: 8 MiB would be 7 KiB per session of the last three rounds.
    const [r1, r2, , r4] = rounds as [Round, Round, Round, Round];
    expect(r4.anonBytes - r2.anonBytes, detail).toBeLessThan(24 * MiB);
    expect(r4.heapBytes - r1.heapBytes, detail).toBeLessThan(8 * MiB);
    expect(r4.rssBytes - base.rssBytes, detail).toBeLessThan(256 * MiB);
    await replicaKeepsUp(30_000);
  });

  it('a replica that stops reading slows down neither ingestion nor the other replicas, and memory stays bounded', async () => {
    const pid = proxy.daemon.child.pid!;
    const stalled = await WireClient.connect({ port: proxy.serverPort });
    expect((await stalled.login('repl', SECRETS.serverPassword)).ok).toBe(true);
    expect(await stalled.startDump(777, await firstFile())).toBe(true);
    stalled.stall();
    // Anonymous RSS: what the daemon holds itself. The file-backed rest grows too while LevelDB maps the new
    // tables (page cache, bounded by LevelDB's table cache), which is no memory held for the stalled replica.
    const anonBefore = processUsage(pid).anonBytes;
    // 120 transactions of 1 MiB each on top of the small load: far more than socket buffers hold, and more
    // than the bound below, so a server buffering for the stalled replica would fail it.
    const conn = await primary.connect();
    let peakAnon = anonBefore;
    try {
      for (let i = 0; i < 120; i++) {
        if (i === 0) await conn.query('CREATE TABLE IF NOT EXISTS fault.bulk (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB');
        await conn.query('INSERT INTO fault.bulk VALUES (?, REPEAT(CHAR(65 + ? % 26), ?))', [i, i, 1 << 20]);
        peakAnon = Math.max(peakAnon, processUsage(pid).anonBytes);
      }
      const sizes = await primary.query<RowDataPacket[]>('SELECT MIN(LENGTH(b)) AS m FROM fault.bulk');
      expect(Number(sizes[0]?.['m'])).toBe(1 << 20);
    } finally {
      await conn.end();
    }
    // The proxy stored everything and the real replica applied it, with the stalled one still connected.
    await waitForProxy(proxy.daemon, primary, 30_000);
    await replicaKeepsUp(30_000);
    expect(stalled.closed).toBe(false);
    const s = await proxy.daemon.api<ServerStatusBody>('GET', '/binlog/server/status');
    expect(s.body.data.slaves.map((x) => x.server_id)).toContain(777);
    peakAnon = Math.max(peakAnon, processUsage(pid).anonBytes);
    expect(peakAnon - anonBefore, `anonymous RSS grew from ${anonBefore} to ${peakAnon}`).toBeLessThan(80 * MiB);
    // The stalled replica only got what fits in the socket buffers.
    expect(stalled.dumpBytes).toBeLessThan(40 * MiB);
    stalled.destroy();
  });

  it(`${FUZZ} malformed sessions from another address: no crash, bounded memory, throttled, the replica unaffected`, async () => {
    const pid = proxy.daemon.child.pid!;
    const rnd = prng(SEED);
    const anonBefore = processUsage(pid).anonBytes;
    const fdsBefore = processUsage(pid).fds;
    const port = proxy.serverPort;
    let done = 0;
    const gtidsBefore = await primary.gtidBinlogPos();
    for (let i = 0; i < FUZZ; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, FUZZ - i) }, () => hostileFrom2(port, rnd).then(() => done++)));
      expect(proxy.daemon.child.exitCode, 'the daemon must not crash').toBeNull();
    }
    expect(done).toBe(FUZZ);
    // Sessions that never finish their handshake are ended by the 10 s handshake deadline at the latest.
    await waitFor(async () => processUsage(pid).fds <= fdsBefore + 4, 15_000, `the descriptors to return to ${fdsBefore}`);
    const after = processUsage(pid);
    expect(after.anonBytes - anonBefore, `anonymous RSS ${anonBefore} -> ${after.anonBytes}`).toBeLessThan(64 * MiB);
    // Failed logins from 127.0.0.2 got that address throttled (ER_HOST_IS_BLOCKED), not 127.0.0.1.
    const blocked = await WireClient.connect({ port, localAddress: '127.0.0.2' });
    const b = await blocked.login('repl', SECRETS.serverPassword);
    blocked.destroy();
    expect(b.ok).toBe(false);
    expect(b.error ?? '').toMatch(/blocked/i);
    const fine = await WireClient.connect({ port });
    expect((await fine.login('repl', SECRETS.serverPassword)).ok).toBe(true);
    fine.destroy();
    // The real replica kept replicating through the storm and is exact at the end.
    expect(await primary.gtidBinlogPos()).not.toBe(gtidsBefore);
    await load.stop();
    await expectReplicaEqualsPrimary(primary, replica, 60_000);
    const rows = await replica.query<RowDataPacket[]>('SHOW SLAVE STATUS');
    expect(rows[0]?.['Last_IO_Error']).toBe('');
    expect(readLog(proxy.logFile)).not.toMatch(/"level":60/);
  });
});

interface Round {
  rssBytes: number;
  anonBytes: number;
  fds: number;
  sockets: number;
  heapBytes: number;
  ms: number;
}

/** The daemon's live heap: heap used right after a full collection (GET /debug/memory?gc=1). */
async function heapUsed(proxy: Proxy): Promise<number> {
  const r = await proxy.daemon.api<{ data: { collected: boolean; heap_used_bytes: number } }>('GET', '/debug/memory?gc=1');
  if (r.status !== 200 || !r.body.data.collected) throw new Error(`GET /debug/memory?gc=1: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data.heap_used_bytes;
}

/** One malformed session from 127.0.0.2 (its throttling spares the well-behaved clients), wrong password. */
function hostileFrom2(port: number, rnd: () => number): Promise<void> {
  return hostileSession(port, rnd, {
    localAddress: '127.0.0.2',
    handshakeResponse: (nonce) =>
      encodeHandshakeResponse41({
        capabilities: UPSTREAM_CLIENT_CAPABILITIES,
        maxPacketSize: 1 << 24,
        charset: UTF8MB4_GENERAL_CI,
        user: 'repl',
        authResponse: scrambleNativePassword(SECRETS.wrongPassword, nonce),
        authPluginName: 'mysql_native_password',
      }),
  });
}
