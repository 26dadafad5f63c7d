// The live side of a dump: following the tail without polling, rotation into a new file, heartbeats when idle,
// flow control (a replica that stops reading), semi-sync ACK requests, progress, abort.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  HEARTBEAT_LOG_EVENT,
  HEARTBEAT_LOG_EVENT_V2,
  ROTATE_EVENT,
  XID_EVENT,
  decodeHeartbeat,
  verifyEventChecksum,
} from '../../../protocol/binlog/index.js';
import type { AppendUnit, BinlogStore } from '../../../storage/index.js';
import { runDump } from '../../../src/server/dump/index.js';
import { frameRingOf } from '../../../src/server/dump/sender.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { CaptureOutput, ctxOf, fileDump, fixture, sameBytes, storeOf, unitsOf, vars } from './_helpers.js';

const MYSQL = unitsOf([
  ['mysql-8.0.45-gtid/binlog.000001', 'binlog.000001'],
  ['mysql-8.0.45-gtid/binlog.000002', 'binlog.000002'],
]).units;
const MARIA = unitsOf([['mariadb-10.11-crc32/bin.000001', 'bin.000001']]).units;
const G1 = fixture('mysql-8.0.45-gtid/binlog.000001');
const G2 = fixture('mysql-8.0.45-gtid/binlog.000002');

let dir: string;
const stores: BinlogStore[] = [];

beforeEach(async () => {
  dir = await makeTempDir('dump-st-');
});

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await removeTempDir(dir);
});

async function open(units: AppendUnit[], name = 'db'): Promise<BinlogStore> {
  const s = await storeOf(`${dir}/${name}`, units === MARIA ? 'mariadb' : 'mysql', units);
  stores.push(s);
  return s;
}

function isFakeRotate(e: Buffer): boolean {
  return e[4] === ROTATE_EVENT && e.readUInt32LE(0) === 0;
}

describe('live tail', () => {
  it('follows appends as they become durable, rotates into the next file, and stops on abort', async () => {
    const store = await open(MYSQL.slice(0, 4));
    const out = new CaptureOutput();
    const ctx = ctxOf(vars('mysql'), fileDump('binlog.000001', 4, 0), out);
    const done = runDump(ctx, store);
    // fake ROTATE + the 4 stored units (FDE, PREVIOUS_GTIDS, two transactions of 2 and 5 events)
    await out.waitFor((o) => o.events.length === 1 + 1 + 1 + 2 + 5);
    const delays: number[] = [];
    for (const u of MYSQL.slice(4)) {
      const before = out.events.length;
      const { seq } = await store.append(u);
      await store.waitDurable(seq);
      const t0 = performance.now();
      await out.waitFor((o) => o.events.length >= before + u.events.length);
      delays.push(performance.now() - t0);
    }
    const ev = out.events;
    const second = ev.findIndex((e, i) => i > 0 && isFakeRotate(e));
    expect(sameBytes(Buffer.concat(ev.slice(1, second)), G1.subarray(4))).toBe('equal');
    expect(sameBytes(Buffer.concat(ev.slice(second + 1)), G2.subarray(4))).toBe('equal');
    // No polling: each appended unit reaches the replica as soon as the store makes it durable.
    delays.sort((a, b) => a - b);
    expect(delays[Math.floor(delays.length / 2)]!).toBeLessThan(5);
    expect(out.packets.some((p) => p.kind === 'eof')).toBe(false);
    out.controller.abort();
    await done;
    expect(out.packets.some((p) => p.kind === 'eof' || p.kind === 'error')).toBe(false);
    expect(ctx.progress).toMatchObject({ file: 'binlog.000002', position: 847, eventsSent: ev.length });
  });

  it('the store closing under a blocking dump gives ER_SERVER_SHUTDOWN, which replicas retry', async () => {
    const store = await open(MYSQL.slice(0, 6));
    stores.splice(stores.indexOf(store), 1);
    const out = new CaptureOutput();
    const done = runDump(ctxOf(vars('mysql'), fileDump('binlog.000001', 4, 0), out), store);
    await out.waitFor((o) => o.events.length > 10);
    await store.close();
    await done;
    expect(out.packets.at(-1)).toEqual({ kind: 'error', errno: 1053, sqlState: '08S01', message: 'Server shutdown in progress' });
  });

  it('server_id 0 means non-blocking even without the flag (mysqlbinlog)', async () => {
    const store = await open(MYSQL.slice(0, 6));
    const out = new CaptureOutput();
    await runDump(ctxOf(vars('mysql'), fileDump('binlog.000001', 4, 0, 0), out), store);
    expect(out.packets.at(-1)).toEqual({ kind: 'eof' });
  });
});

describe('heartbeats', () => {
  it('v1 every period while idle at the end, with the current file and end position', async () => {
    const store = await open(MYSQL.slice(0, 6));
    const out = new CaptureOutput();
    const ctx = ctxOf(vars('mysql', { heartbeatPeriodNs: 30_000_000n }), fileDump('binlog.000001', 4, 0), out);
    const done = runDump(ctx, store);
    const t0 = Date.now();
    await out.waitFor((o) => o.events.filter((e) => e[4] === HEARTBEAT_LOG_EVENT).length >= 3);
    const elapsed = Date.now() - t0;
    out.controller.abort();
    await done;
    expect(elapsed).toBeGreaterThanOrEqual(60);
    const hb = out.events.filter((e) => e[4] === HEARTBEAT_LOG_EVENT);
    for (const e of hb) {
      verifyEventChecksum(e, BINLOG_CHECKSUM_ALG_CRC32);
      expect(decodeHeartbeat(e, BINLOG_CHECKSUM_ALG_CRC32)).toEqual({ version: 1, fileName: 'binlog.000001', position: 1472n });
      expect(e.readUInt32LE(0)).toBe(0);
      expect(e.readUInt32LE(5)).toBe(999);
    }
  });

  it('v2 when the MySQL replica set the flag; none when the period is 0', async () => {
    const store = await open(MYSQL.slice(0, 6));
    const out = new CaptureOutput();
    const done = runDump(ctxOf(vars('mysql', { heartbeatPeriodNs: 20_000_000n }), fileDump('binlog.000001', 4, 0x02), out), store);
    await out.waitFor((o) => o.events.some((e) => e[4] === HEARTBEAT_LOG_EVENT_V2));
    out.controller.abort();
    await done;
    const quiet = new CaptureOutput();
    const d2 = runDump(ctxOf(vars('mysql'), fileDump('binlog.000001', 4, 0), quiet), store);
    await new Promise((r) => setTimeout(r, 80));
    quiet.controller.abort();
    await d2;
    expect(quiet.events.some((e) => e[4] === HEARTBEAT_LOG_EVENT || e[4] === HEARTBEAT_LOG_EVENT_V2)).toBe(false);
  });
});

describe('flow control', () => {
  it('a replica that stops reading holds the sender at one unit past the high-water mark; it resumes on drain', async () => {
    const store = await open(MARIA);
    const out = new CaptureOutput({ highWaterMark: 4096, autoDrain: false });
    const done = runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', 4, 0x03), out), store);
    await out.waitFor((o) => o.drains > 0);
    await new Promise((r) => setTimeout(r, 30));
    const largestUnit = Math.max(...MARIA.map((u) => u.events.reduce((n, e) => n + e.length, 0)));
    expect(out.peakBuffered).toBeLessThanOrEqual(4096 + largestUnit + 200);
    const stalled = out.events.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(out.events.length).toBe(stalled);
    while (!out.packets.some((p) => p.kind === 'eof')) {
      out.release();
      await new Promise((r) => setImmediate(r));
    }
    await done;
    expect(sameBytes(Buffer.concat(out.events.slice(1)), fixture('mariadb-10.11-crc32/bin.000001').subarray(4))).toBe('equal');
  });

  it('a stalled replica slows neither the writer nor another replica', async () => {
    const store = await open(MYSQL.slice(0, 5));
    const stalled = new CaptureOutput({ highWaterMark: 200, autoDrain: false });
    const a = runDump(ctxOf(vars('mysql'), fileDump('binlog.000001', 4, 0), stalled), store);
    await stalled.waitFor((o) => o.drains > 0);
    const other = new CaptureOutput();
    const b = runDump(ctxOf(vars('mysql'), fileDump('binlog.000001', 4, 0), other), store);
    for (const u of MYSQL.slice(5)) {
      const { seq } = await store.append(u);
      await store.waitDurable(seq);
    }
    // Everything, both files (two fake ROTATEs), reached the other replica.
    const total = MYSQL.reduce((n, u) => n + u.events.length, 0) + 2;
    await other.waitFor((o) => o.events.length === total);
    const stalledCount = stalled.events.length;
    expect(stalledCount).toBeLessThan(other.events.length);
    stalled.controller.abort();
    other.controller.abort();
    stalled.release();
    await Promise.all([a, b]);
  });

  for (const flags of [0x01, 0x03]) {
    it(`the packed path (runs of transactions), the batch call and one call per event give the same packets (flags ${flags})`, async () => {
      const store = await open(MARIA);
      const a = new CaptureOutput();
      const b = new CaptureOutput({ ranges: false });
      const c = new CaptureOutput({ batch: false });
      for (const out of [a, b, c]) await runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', 4, flags), out), store);
      expect(a.rangeCalls).toBeGreaterThan(0);
      expect(b.rangeCalls + b.framedCalls).toBe(0);
      expect(b.batchCalls).toBeGreaterThan(0);
      expect(c.batchCalls + c.rangeCalls).toBe(0);
      expect(a.packets).toEqual(c.packets);
      expect(b.packets).toEqual(c.packets);
    });

    it(`the packed path and the per-unit path send the same packets, semi-sync or not (flags ${flags})`, async () => {
      const store = await open(MARIA);
      for (const semiSync of [false, true]) {
        const packed = new CaptureOutput();
        const perUnit = new CaptureOutput();
        await runDump(ctxOf(vars('mariadb', { semiSync }), fileDump('bin.000001', 4, flags), packed), store);
        await runDump({ ...ctxOf(vars('mariadb', { semiSync }), fileDump('bin.000001', 4, flags), perUnit), packed: false }, store);
        expect(packed.rangeCalls + packed.framedCalls).toBeGreaterThan(0);
        expect(perUnit.rangeCalls + perUnit.framedCalls).toBe(0);
        expect(packed.packets).toEqual(perUnit.packets);
      }
    });

    it(`dumps that send the same segments share their framed packets, with the same result (flags ${flags})`, async () => {
      const store = await open(MARIA);
      const outs = [new CaptureOutput(), new CaptureOutput(), new CaptureOutput(), new CaptureOutput({ batch: false })];
      // Concurrently: the dumps get the segments from the store's shared read cache (the same buffers).
      await Promise.all(outs.slice(0, 3).map((out) => runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', 4, flags), out), store)));
      await runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', 4, flags), outs[3]!), store);
      expect(outs[0]!.framedCalls + outs[1]!.framedCalls + outs[2]!.framedCalls).toBeGreaterThan(0);
      for (const out of outs.slice(0, 3)) expect(out.packets).toEqual(outs[3]!.packets);
      // The framed packets live in a ring that later frames overwrite: once they are gone, the dumps frame the
      // segments again instead of sending what is there now.
      const ring = frameRingOf(store);
      for (let i = 0; i < 4; i++) ring.write(ring.size >> 2, (buf, start) => buf.fill(0xee, start, start + (ring.size >> 2)) && start + (ring.size >> 2));
      const again = [new CaptureOutput(), new CaptureOutput(), new CaptureOutput()];
      await Promise.all(again.map((out) => runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', 4, flags), out), store)));
      expect(again[0]!.framedCalls + again[1]!.framedCalls + again[2]!.framedCalls).toBeGreaterThan(0);
      for (const out of again) expect(out.packets).toEqual(outs[3]!.packets);
    });

    it(`frames under a later write's scratch space are framed again, not sent (flags ${flags})`, async () => {
      const store = await open(MARIA);
      const reference = new CaptureOutput({ batch: false });
      await runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', 4, flags), reference), store);
      const first = [new CaptureOutput(), new CaptureOutput(), new CaptureOutput()];
      await Promise.all(first.map((out) => runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', 4, flags), out), store)));
      expect(first[0]!.framedCalls + first[1]!.framedCalls + first[2]!.framedCalls).toBeGreaterThan(0);
      // The next lap starts with a write that uses the whole ring as scratch and keeps nothing (framePackets
      // keeps less than its room when it leaves ANNOTATE_ROWS out): every frame of the first lap is garbage now.
      const ring = frameRingOf(store);
      ring.write(ring.size, (buf, start) => {
        buf.fill(0xee, start, start + ring.size);
        return start;
      });
      const again = [new CaptureOutput(), new CaptureOutput(), new CaptureOutput()];
      await Promise.all(again.map((out) => runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', 4, flags), out), store)));
      for (const out of again) expect(out.packets).toEqual(reference.packets);
    });
  }
});

describe('semi-sync', () => {
  it('asks for an ACK on the commit of a live transaction, and records the ACKs', async () => {
    const store = await open(MYSQL.slice(0, 5));
    const out = new CaptureOutput();
    const ctx = ctxOf(vars('mysql', { semiSync: true }), fileDump('binlog.000001', 4, 0), out);
    const done = runDump(ctx, store);
    await out.waitFor((o) => o.events.length >= 15);
    // History is not waited on by any commit: no ACK requested there.
    expect(out.packets.some((p) => p.kind === 'event' && p.needAck)).toBe(false);
    const before = out.packets.length;
    const { seq } = await store.append(MYSQL[5]!);
    await store.waitDurable(seq);
    await out.waitFor((o) => o.packets.length >= before + MYSQL[5]!.events.length);
    const live = out.packets.slice(before);
    const acks = live.filter((p) => p.kind === 'event' && p.needAck);
    expect(acks).toHaveLength(1);
    const last = live.at(-1)!;
    expect(last.kind === 'event' && last.needAck && last.event[4] === XID_EVENT).toBe(true);
    out.ack('binlog.000001', 1472n);
    expect(ctx.progress).toMatchObject({ ackFile: 'binlog.000001', ackPosition: 1472, acks: 1 });
    out.controller.abort();
    await done;
  });
});

describe('progress', () => {
  it('tracks file, position, counts, last GTID and timestamp', async () => {
    const store = await open(MYSQL);
    const out = new CaptureOutput();
    const ctx = ctxOf(vars('mysql'), fileDump('binlog.000001', 4, 0x01), out);
    await runDump(ctx, store);
    expect(ctx.progress).toMatchObject({
      file: 'binlog.000002',
      position: 847,
      gtid: '396e294c-1ca4-11f1-9ae7-00155da79c6b:6',
      eventsSent: out.events.length,
      bytesSent: out.events.reduce((n, e) => n + e.length, 0),
    });
    expect(ctx.progress.lastEventTimestamp).toBe(G2.readUInt32LE(824));
  });
});
