// SocketDumpOutput coalesces dump packets into one buffer per flush (bench issue 8). The bytes on the wire must
// be exactly what framing each event on its own gives: headers, sequence ids, semi-sync prefixes, big events.
import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { PacketConn } from '../../../src/server/conn.js';
import { coalesceBufferStats, framePackets, SocketDumpOutput } from '../../../src/server/dump_output.js';
import { frameEventPacket, physicalPacketCount } from '../../../protocol/packet.js';

function fakeEvent(size: number, fill: number): Buffer {
  const b = Buffer.alloc(size, fill);
  b.writeUInt32LE(size, 9);
  return b;
}

/** Just enough of a net.Socket, its writes handed to `write`. */
function fakeSocket(write: (c: Buffer, cb?: () => void) => void): Socket {
  const fake = Object.assign(new EventEmitter(), {
    writableLength: 0,
    write: (c: Buffer, cb?: () => void) => {
      write(c, cb);
      return true;
    },
    cork: () => undefined,
    uncork: () => undefined,
    isPaused: () => false,
    pause: () => undefined,
    resume: () => undefined,
  });
  return fake as unknown as Socket;
}

function harness(semiSync: boolean): { out: SocketDumpOutput; conn: PacketConn; written: () => Buffer } {
  const chunks: Buffer[] = [];
  // Writes are recorded synchronously, with a copy (the output must not reuse them), then completed.
  const sock = fakeSocket((c, cb) => {
    chunks.push(Buffer.from(c));
    cb?.(); // the output may now reuse the buffer
  });
  const conn = new PacketConn(sock, 1 << 20);
  conn.seq = 250; // wraps past 255 during the test
  const out = new SocketDumpOutput(conn, { semiSync, highWaterMark: 1 << 30 });
  return { out, conn, written: () => Buffer.concat(chunks) };
}

function expected(events: Buffer[], semiSync: boolean, firstSeq: number): Buffer {
  const parts: Buffer[] = [];
  let seq = firstSeq;
  for (const e of events) {
    parts.push(...frameEventPacket(e, seq, semiSync ? { needAck: false } : undefined));
    seq = (seq + physicalPacketCount((semiSync ? 3 : 1) + e.length)) & 0xff;
  }
  return Buffer.concat(parts);
}

describe('SocketDumpOutput coalescing', () => {
  for (const semiSync of [false, true]) {
    it(`sendEvents/sendEvent give the bytes of per-event framing (semiSync=${semiSync})`, async () => {
      const { out, conn, written } = harness(semiSync);
      const small = [19, 40, 93, 200, 31].map((s, i) => fakeEvent(s, i + 1));
      const run = Buffer.concat([Buffer.from('xx'), ...small, Buffer.from('yy')]);
      const big = fakeEvent(100_000, 9); // bypasses the buffer
      out.sendEvents(run, 2, run.length - 2);
      out.sendEvent(small[2]!);
      out.sendEvents(Buffer.concat([small[0]!, big, small[1]!]), 0, small[0]!.length + big.length + small[1]!.length);
      // > 3 coalescing buffers (256 KiB): written buffers are reused, in the same tick and in later ones.
      for (let i = 0; i < 3000; i++) out.sendEvents(small[i % 5]!, 0, small[i % 5]!.length);
      await new Promise((r) => setImmediate(r));
      for (let i = 3000; i < 6000; i++) out.sendEvents(small[i % 5]!, 0, small[i % 5]!.length);
      await new Promise((r) => setImmediate(r));
      const all = [...small, small[2]!, small[0]!, big, small[1]!, ...Array.from({ length: 6000 }, (_, i) => small[i % 5]!)];
      expect(written().equals(expected(all, semiSync, 250))).toBe(true);
      expect(conn.seq).toBe((250 + all.length) & 0xff);
      expect(out.eventsSent).toBe(all.length);
    });
  }

  for (const semiSync of [false, true]) {
    it(`sendEventRanges gives the bytes of per-event framing, gaps left out (semiSync=${semiSync})`, async () => {
      const { out, conn, written } = harness(semiSync);
      const small = [19, 40, 93, 200, 31].map((s, i) => fakeEvent(s, i + 1));
      const gap = Buffer.alloc(45, 0xee); // a record header or a dropped event between runs
      // [gap][e0 e1][gap][e2][gap][e3 e4][gap]
      const value = Buffer.concat([gap, small[0]!, small[1]!, gap, small[2]!, gap, small[3]!, small[4]!, gap]);
      const r: number[] = [];
      let at = gap.length;
      r.push(at, (at += small[0]!.length + small[1]!.length));
      r.push((at += gap.length), (at += small[2]!.length));
      r.push((at += gap.length), (at += small[3]!.length + small[4]!.length));
      const bytes = small.reduce((n, e) => n + e.length, 0);
      out.sendEventRanges(value, r, 3, 5, 200, bytes);
      // Many calls: more than one coalescing buffer, reused across ticks.
      for (let i = 0; i < 2000; i++) out.sendEventRanges(value, r, 3, 5, 200, bytes);
      await new Promise((res) => setImmediate(res));
      // A run with an event too big for the buffer goes event by event (the big one zero-copy).
      const big = fakeEvent(100_000, 9);
      const withBig = Buffer.concat([gap, small[0]!, big, small[1]!]);
      out.sendEventRanges(withBig, [gap.length, withBig.length], 1, 3, big.length, withBig.length - gap.length);
      // A span larger than one coalescing buffer (gaps included) goes run by run.
      const wide = Buffer.concat([small[2]!, Buffer.alloc(300_000), small[3]!]);
      out.sendEventRanges(wide, [0, small[2]!.length, wide.length - small[3]!.length, wide.length], 2, 2, 200, small[2]!.length + small[3]!.length);
      await new Promise((res) => setImmediate(res));
      const all = [
        ...Array.from({ length: 2001 }, () => small).flat(),
        small[0]!,
        big,
        small[1]!,
        small[2]!,
        small[3]!,
      ];
      expect(written().equals(expected(all, semiSync, 250))).toBe(true);
      expect(conn.seq).toBe((250 + all.length) & 0xff);
      expect(out.eventsSent).toBe(all.length);
      expect(out.bytesSent).toBe(all.reduce((n, e) => n + e.length, 0));
    });
  }

  it('sendFramed copies packets framed from sequence id 0 with the connection ids, also from 0', async () => {
    const small = [19, 40, 93, 200, 31].map((s, i) => fakeEvent(s, i + 1));
    const value = Buffer.concat(small);
    const ranges = [0, value.length];
    const buf = Buffer.alloc(value.length + small.length * 5 + 10, 0xaa);
    const end = framePackets(buf, 0, value, ranges, 1, small.length, 5, 0);
    const framed = buf.subarray(0, end);
    expect(framed.equals(expected(small, false, 0))).toBe(true);
    for (const first of [250, 0]) {
      const { out, conn, written } = harness(false);
      conn.seq = first;
      for (let i = 0; i < 60; i++) out.sendFramed(framed, small.length, value.length);
      await new Promise((res) => setImmediate(res));
      const all = Array.from({ length: 60 }, () => small).flat();
      expect(written().equals(expected(all, false, first))).toBe(true);
      expect(conn.seq).toBe((first + all.length) & 0xff);
      expect(out.eventsSent).toBe(all.length);
    }
    const semi = harness(true);
    expect(() => semi.out.sendFramed(framed, small.length, value.length)).toThrow(RangeError);
  });

  it('flushes what is coalesced before the EOF', () => {
    const { out, written } = harness(false);
    const e = fakeEvent(50, 3);
    out.sendEvents(e, 0, e.length);
    out.sendEof();
    const w = written();
    expect(w.subarray(0, 55).equals(expected([e], false, 250))).toBe(true);
    expect(w[55 + 3]).toBe(251); // the EOF continues the sequence
    expect(w[55 + 4]).toBe(0xfe);
  });

  it('pools as many coalescing buffers as were in flight at once, and cuts the pool back when dumps end', () => {
    // Sockets that complete their writes only when told to: each dump keeps its buffers in flight meanwhile.
    const pending: Array<() => void> = [];
    const outputs = Array.from({ length: 40 }, () => {
      const sock = fakeSocket((_c, cb) => {
        if (cb) pending.push(cb);
      });
      return new SocketDumpOutput(new PacketConn(sock, 1 << 20), { semiSync: false, highWaterMark: 1 << 30 });
    });
    const base = coalesceBufferStats();
    const ev = fakeEvent(100, 1);
    const fill = (out: SocketDumpOutput): void => {
      for (let i = 0; i < 3000; i++) out.sendEvents(ev, 0, ev.length); // 300 KB: one full buffer and a part
      out.flush();
    };
    const complete = (): void => {
      for (const cb of pending.splice(0)) cb();
    };
    for (const out of outputs) fill(out);
    expect(coalesceBufferStats().inFlight - base.inFlight).toBe(80);
    complete();
    // All 80 come back and are kept (a fixed pool of 32 dropped 48 of them, to be allocated again next round).
    expect(coalesceBufferStats()).toEqual({ spare: Math.max(base.spare, 80), inFlight: base.inFlight });
    for (const out of outputs) fill(out);
    expect(coalesceBufferStats().spare).toBe(Math.max(base.spare, 80) - 80);
    complete();
    // The dumps end: what is no longer in flight is let go, down to the minimum of 32.
    for (const out of outputs) out.sendEof();
    complete();
    expect(coalesceBufferStats()).toEqual({ spare: 32, inFlight: 0 });
  });
});
