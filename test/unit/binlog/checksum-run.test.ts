import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ChecksumRun, CRC32_RESIDUE } from '../../../protocol/binlog/checksum_run.js';
import { FORMAT_DESCRIPTION_EVENT, readBinlogFile, withRecomputedChecksum } from '../../../protocol/binlog/index.js';
import { ChecksumError } from '../../../protocol/errors.js';
import { fixture } from '../syncer/_dump.js';

/** The CRC32 events of a real MariaDB and a real MySQL binlog (FDEs excluded: they are checked alone). */
const FILES = [fixture('mariadb-10.11-crc32', 'bin.000001'), fixture('mysql-8.0.45-gtid', 'binlog.000001')];
const EVENTS = FILES.map((f) => [...readBinlogFile(f.buf)].map((e) => e.event.raw).filter((raw) => raw[4] !== FORMAT_DESCRIPTION_EVENT));

/**
 * Lays the events out the way a dump arrives in a socket chunk: each behind its packet header and 0x00 (or the
 * semi-sync 0x00 0xEF flag); returns the chunk and the events as views into it.
 */
function chunkOf(events: Buffer[], prefix: number[]): { chunk: Buffer; views: Buffer[] } {
  const parts: Buffer[] = [];
  for (const [i, e] of events.entries()) {
    const len = e.length + prefix.length;
    parts.push(Buffer.from([len & 0xff, (len >> 8) & 0xff, len >> 16, i & 0xff, ...prefix]), e);
  }
  const chunk = Buffer.concat(parts);
  const views: Buffer[] = [];
  let at = 0;
  for (const e of events) {
    at += 4 + prefix.length;
    views.push(chunk.subarray(at, at + e.length));
    at += e.length;
  }
  return { chunk, views };
}

describe('ChecksumRun', () => {
  it('the residue is the CRC of any message followed by its own CRC', () => {
    for (const msg of [Buffer.alloc(0), Buffer.from('binlog'), EVENTS[0]![3]!.subarray(0, -4)]) {
      const crc = Buffer.alloc(4);
      crc.writeUInt32LE(crc32(msg));
      expect(crc32(Buffer.concat([msg, crc]))).toBe(CRC32_RESIDUE);
    }
  });

  for (const [label, prefix] of [
    ['plain dump packets', [0]],
    ['semi-sync packets', [0, 0xef, 0]],
    ['no gap', []],
  ] as const) {
    it(`accepts every intact event of real binlogs in one run (${label})`, () => {
      for (const evs of EVENTS) {
        const { views } = chunkOf(evs, [...prefix]);
        const run = new ChecksumRun();
        for (const v of views) run.add(v);
        expect(run.pending).toBe(views.length);
        run.verify();
        expect(run.pending).toBe(0);
      }
    });
  }

  it('a flipped bit anywhere in any event is reported as that event’s ChecksumError', () => {
    const evs = EVENTS[0]!.slice(0, 40);
    for (let victim = 0; victim < evs.length; victim++) {
      const len = evs[victim]!.length;
      for (const at of [0, 4, 13, Math.floor(len / 2), len - 5, len - 1]) {
        const { views } = chunkOf(evs, [0]);
        views[victim]![at]! ^= 0x10;
        const run = new ChecksumRun();
        for (const v of views) run.add(v);
        let caught: unknown;
        try {
          run.verify();
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(ChecksumError);
        // The message names the bad event's type and size, like verifyEventChecksum of that event alone.
        expect((caught as Error).message).toContain(`(type ${views[victim]![4]}, ${len} bytes)`);
        expect(run.pending).toBe(0);
      }
    }
  });

  it('a corrupted event is found when the run is cut at every event boundary (runs break where memory does)', () => {
    const evs = EVENTS[1]!.slice(0, 30);
    for (let cut = 0; cut <= evs.length; cut++) {
      // Two chunks: events before `cut` in one, the rest in another.
      const a = chunkOf(evs.slice(0, cut), [0]);
      const b = chunkOf(evs.slice(cut), [0]);
      const views = [...a.views, ...b.views];
      const victim = (cut * 7) % evs.length;
      views[victim]![19]! ^= 0x01;
      const run = new ChecksumRun();
      let thrownAt = -1;
      for (let i = 0; i < views.length && thrownAt < 0; i++) {
        try {
          run.add(views[i]!);
        } catch {
          thrownAt = i;
        }
      }
      if (thrownAt < 0) {
        expect(() => run.verify()).toThrow(ChecksumError);
      } else {
        // Adding the first event of the second chunk verified the first chunk's run.
        expect(thrownAt).toBe(cut);
        expect(victim).toBeLessThan(cut);
      }
    }
  });

  it('events in separate buffers (a packet split across chunks, the import) are checked one run each', () => {
    const evs = EVENTS[0]!.slice(0, 10).map((e) => Buffer.from(e));
    const run = new ChecksumRun();
    for (const e of evs) run.add(e);
    run.verify();
    const bad = Buffer.from(evs[5]!);
    bad[20]! ^= 0xff;
    const run2 = new ChecksumRun();
    for (const e of [...evs.slice(0, 5), bad]) run2.add(e);
    expect(() => run2.add(evs[6]!)).toThrow(ChecksumError);
  });

  it('an edited event with a recomputed CRC is intact; one too short for a trailer throws at once', () => {
    const e = Buffer.from(EVENTS[0]![2]!);
    e[10] ^= 0xff;
    const run = new ChecksumRun();
    run.add(withRecomputedChecksum(e));
    run.verify();
    const short = Buffer.alloc(20);
    short.writeUInt32LE(20, 9);
    expect(() => run.add(short)).toThrow(expect.objectContaining({ code: 'ERR_TRUNCATED' }));
  });

  it('counts the events added, names the index of the first bad one, and keeps failing after a failure', () => {
    const { views } = chunkOf(EVENTS[0]!.slice(0, 12), [0]);
    views[7]![25]! ^= 0x80;
    views[9]![25]! ^= 0x80;
    const run = new ChecksumRun();
    for (const v of views.slice(0, 4)) run.add(v);
    run.verify();
    for (const v of views.slice(4)) run.add(v);
    expect(run.added).toBe(12);
    expect(run.failedAt).toBe(-1);
    expect(() => run.verify()).toThrow(ChecksumError);
    expect(run.failedAt).toBe(7);
    // The stream is unusable from there: the same error again, even with nothing pending.
    expect(run.pending).toBe(0);
    expect(() => run.verify()).toThrow(ChecksumError);
    run.reset();
    expect(run.failedAt).toBe(-1);
    expect(() => run.verify()).not.toThrow();
  });

  it('reset() drops the pending events unchecked', () => {
    const { views } = chunkOf(EVENTS[0]!.slice(0, 5), [0]);
    views[2]![30]! ^= 1;
    const run = new ChecksumRun();
    for (const v of views) run.add(v);
    run.reset();
    expect(run.pending).toBe(0);
    expect(() => run.verify()).not.toThrow();
  });
});
