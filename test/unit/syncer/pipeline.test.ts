import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  BINLOG_CHECKSUM_ALG_OFF,
  FORMAT_DESCRIPTION_EVENT,
  LOG_EVENT_ARTIFICIAL_F,
  MARIADB_GTID_LIST_EVENT,
  PREVIOUS_GTIDS_LOG_EVENT,
  ROTATE_EVENT,
  buildHeartbeat,
  buildHeartbeatV2,
  buildMariadbGtidList,
  decodeMariadbGtidList,
  decodePreviousGtids,
  restampFde,
} from '../../../protocol/binlog/index.js';
import { ChecksumError } from '../../../protocol/errors.js';
import { MariadbGtidPosition, MysqlGtidSet } from '../../../protocol/gtid/index.js';
import { StreamPipeline, compareFiles, type PipelineOptions } from '../../../src/syncer/pipeline.js';
import type { DumpTarget } from '../../../src/upstream/session.js';
import { RecordingSink, dumpStream, events, fixture, groupStarts, packet, type DumpFile } from './_dump.js';

const MARIA1 = fixture('mariadb-10.11-crc32', 'bin.000001');
const MARIA2 = fixture('mariadb-10.11-crc32', 'bin.000002');
const MYSQL1 = fixture('mysql-8.0.45-gtid', 'binlog.000001');
const MYSQL2 = fixture('mysql-8.0.45-gtid', 'binlog.000002');
const NOCRC1 = fixture('mariadb-10.11-nochecksum-compressed', 'bin.000001');
const NOCRC2 = fixture('mariadb-10.11-nochecksum-compressed', 'bin.000002');

function pipeline(target: DumpTarget | null, over: Partial<PipelineOptions> = {}): { p: StreamPipeline; sink: RecordingSink } {
  const sink = new RecordingSink();
  const p = new StreamPipeline({
    flavor: 'mariadb',
    semiSync: false,
    fakeRotateChecksumAlg: BINLOG_CHECKSUM_ALG_CRC32,
    target,
    sink,
    ...over,
  });
  return { p, sink };
}

function feed(p: StreamPipeline, packets: Buffer[]): void {
  for (const pk of packets) p.push(pk);
}

/** The file's bytes from `from`, with the FDE's in-use flag cleared (a dump always clears it). */
function fileBytes(f: DumpFile, from: number): Buffer {
  const b = Buffer.from(f.buf);
  const fde = events(f)[0]!;
  b.set(restampFde(fde.event.raw, { clearInUse: true, zeroLogPosAndCreated: false }), 4);
  return b.subarray(from);
}

describe('compareFiles', () => {
  it('orders binlog names by their numeric extension', () => {
    expect(compareFiles('bin.000009', 'bin.000010')).toBeLessThan(0);
    expect(compareFiles('bin.000010', 'bin.000009')).toBeGreaterThan(0);
    expect(compareFiles('bin.999999', 'bin.1000000')).toBeLessThan(0);
    expect(compareFiles('bin.000003', 'bin.000003')).toBe(0);
  });
});

describe('StreamPipeline: a dump from position 4 of the first file', () => {
  for (const [label, flavor, files, alg] of [
    ['MariaDB 10.11 CRC32', 'mariadb', [MARIA1, MARIA2], BINLOG_CHECKSUM_ALG_CRC32],
    ['MariaDB 10.11 no checksum, compressed events', 'mariadb', [NOCRC1, NOCRC2], BINLOG_CHECKSUM_ALG_OFF],
    ['MySQL 8.0.45 GTID', 'mysql', [MYSQL1, MYSQL2], BINLOG_CHECKSUM_ALG_CRC32],
  ] as const) {
    it(`${label}: stores every file byte for byte, in whole transactions`, () => {
      const { p, sink } = pipeline({ file: files[0].name, pos: 4n, newFile: true }, { flavor, fakeRotateChecksumAlg: alg });
      feed(p, dumpStream([...files], 4, { rotateChecksum: alg === BINLOG_CHECKSUM_ALG_CRC32 }));
      const stored = sink.storedBytes();
      for (const f of files) {
        expect(stored.get(f.name)?.start).toBe(4n);
        expect(stored.get(f.name)?.bytes.equals(fileBytes(f, 4))).toBe(true);
      }
      // Units are contiguous and every transaction unit is one whole group of the file.
      for (const f of files) {
        const units = sink.units.filter((u) => u.file === f.name);
        for (let i = 1; i < units.length; i++) expect(units[i]!.pos).toBe(units[i - 1]!.endPos);
        const groups = groupStarts(f);
        const trx = units.filter((u) => u.kind === 'transaction');
        expect(trx.map((u) => [Number(u.pos), Number(u.endPos)])).toEqual(groups.map((g) => [g.pos, g.end]));
        expect(trx.map((u) => u.gtid)).toEqual(groups.map((g) => g.gtid ?? null));
        // The FDE unit opens the file; the GTID list unit carries the file's start state.
        expect(units[0]!.eventType).toBe(FORMAT_DESCRIPTION_EVENT);
        expect(units[0]!.newFile?.fde.equals(units[0]!.events[0]!)).toBe(true);
        expect(units.filter((u) => u.newFile).length).toBe(1);
        const listUnit = units.find((u) => u.eventType === (flavor === 'mysql' ? PREVIOUS_GTIDS_LOG_EVENT : MARIADB_GTID_LIST_EVENT))!;
        const raw = listUnit.events[0]!;
        const expected =
          flavor === 'mysql'
            ? decodePreviousGtids(raw, alg).gtidSet.toString()
            : MariadbGtidPosition.fromList(decodeMariadbGtidList(raw, alg).gtids).toString();
        expect(listUnit.fileStartGtids).toBe(expected);
      }
      expect(p.isCatchingUp).toBe(false);
      expect(p.inTransaction).toBe(false);
    });
  }

  it('ends the first file with its real ROTATE, stored as a control unit', () => {
    const { p, sink } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true });
    feed(p, dumpStream([MARIA1, MARIA2], 4));
    const first = sink.units.filter((u) => u.file === 'bin.000001');
    expect(first.at(-1)!.eventType).toBe(ROTATE_EVENT);
    expect(first.at(-1)!.endPos).toBe(BigInt(MARIA1.buf.length));
    expect(p.position).toEqual({ file: 'bin.000002', pos: BigInt(MARIA2.buf.length) });
  });
});

describe('StreamPipeline: fresh start inside a file', () => {
  it('reads from 4, skips to the target and gives the first unit the FDE and the exact GTID state there', () => {
    const groups = groupStarts(MARIA1);
    const k = 4;
    const target = groups[k]!;
    const { p, sink } = pipeline({ file: 'bin.000001', pos: BigInt(target.pos), newFile: true });
    feed(p, dumpStream([MARIA1], 4));
    const units = sink.units;
    expect(units[0]!.pos).toBe(BigInt(target.pos));
    expect(units[0]!.newFile?.fde.equals(restampFde(events(MARIA1)[0]!.event.raw, { clearInUse: true, zeroLogPosAndCreated: false }))).toBe(true);
    const state = MariadbGtidPosition.fromList(decodeMariadbGtidList(events(MARIA1)[1]!.event.raw, BINLOG_CHECKSUM_ALG_CRC32).gtids);
    for (const g of groups.slice(0, k)) state.advance(g.gtid as never);
    expect(units[0]!.newFile?.startGtids).toBe(state.toString());
    expect(units.filter((u) => u.newFile).length).toBe(1);
    expect(sink.storedBytes().get('bin.000001')!.bytes.equals(fileBytes(MARIA1, target.pos))).toBe(true);
  });

  it('MySQL: the start state is PREVIOUS_GTIDS plus the GTIDs before the target', () => {
    const groups = groupStarts(MYSQL1);
    const target = groups[2]!;
    const { p, sink } = pipeline({ file: 'binlog.000001', pos: BigInt(target.pos), newFile: true }, { flavor: 'mysql' });
    feed(p, dumpStream([MYSQL1], 4));
    const expected = decodePreviousGtids(events(MYSQL1)[1]!.event.raw, BINLOG_CHECKSUM_ALG_CRC32).gtidSet.clone();
    for (const g of groups.slice(0, 2)) expected.add(g.gtid as never);
    expect(sink.units[0]!.newFile?.startGtids).toBe(expected.toString());
    expect(MysqlGtidSet.parse(sink.units[0]!.newFile!.startGtids!).count()).toBe(2n);
  });

  it('refuses a target inside an event, and one inside a transaction', () => {
    const g = groupStarts(MARIA1).find((x) => x.end - x.pos > 100)!;
    const inEvent = pipeline({ file: 'bin.000001', pos: BigInt(g.pos + 3), newFile: true });
    expect(() => feed(inEvent.p, dumpStream([MARIA1], 4))).toThrow(expect.objectContaining({ code: 'ERR_SYNCER_START' }));
    const second = events(MARIA1).find((e) => e.pos > g.pos)!; // the event after the group's GTID
    const inTrx = pipeline({ file: 'bin.000001', pos: BigInt(second.pos), newFile: true });
    expect(() => feed(inTrx.p, dumpStream([MARIA1], 4))).toThrow(/inside a transaction/);
    expect(inTrx.sink.units).toEqual([]);
  });

  it('a target at the very end of a file that ends without ROTATE (primary crash) starts with the next file', () => {
    const cut = { name: 'bin.000001', buf: MARIA1.buf.subarray(0, MARIA1.buf.length - 41) };
    const { p, sink } = pipeline({ file: 'bin.000001', pos: BigInt(cut.buf.length), newFile: true });
    feed(p, dumpStream([cut, MARIA2], 4));
    expect(sink.units[0]!.file).toBe('bin.000002');
    expect(sink.units[0]!.pos).toBe(4n);
    expect(sink.units[0]!.newFile?.fde).toBeDefined();
    expect(sink.storedBytes().get('bin.000002')!.bytes.equals(fileBytes(MARIA2, 4))).toBe(true);
  });

  it('refuses a target past the end of its file', () => {
    const { p } = pipeline({ file: 'bin.000001', pos: BigInt(MARIA1.buf.length + 100), newFile: true });
    expect(() => feed(p, dumpStream([MARIA1, MARIA2], 4))).toThrow(expect.objectContaining({ code: 'ERR_SYNCER_START' }));
  });
});

describe('StreamPipeline: resume', () => {
  it('file/position: the FDE with log_pos 0 is metadata and storing goes on exactly at the stored end', () => {
    const g = groupStarts(MARIA1)[3]!;
    const { p, sink } = pipeline({ file: 'bin.000001', pos: BigInt(g.pos), newFile: false });
    feed(p, dumpStream([MARIA1, MARIA2], g.pos));
    const units = sink.units;
    expect(units[0]!.pos).toBe(BigInt(g.pos));
    expect(units.filter((u) => u.newFile).map((u) => u.file)).toEqual(['bin.000002']);
    expect(sink.storedBytes().get('bin.000001')!.bytes.equals(fileBytes(MARIA1, g.pos))).toBe(true);
  });

  it('GTID connect: duplicates before the stored end are dropped, holes and the fake GTID_LIST are not stored', () => {
    const all = events(MARIA1);
    const groups = groupStarts(MARIA1);
    const resumeAt = groups[5]!.pos;
    // What a MariaDB primary sends: fake ROTATE (pos 4), FDE, GTID_LIST, BINLOG_CHECKPOINT, then it skips the
    // groups we have, sends a fake GTID_LIST (artificial, log_pos = where it goes on) and streams from there.
    const head = all.filter((e) => e.pos < groups[0]!.pos);
    const stream = [
      ...dumpStream([MARIA1], 4).slice(0, 1 + head.length),
      packet(buildMariadbGtidList({ serverId: 7, logPos: resumeAt, gtids: [], flags: 0, checksum: true })),
      ...all.filter((e) => e.pos >= resumeAt).map((e) => packet(e.event.raw)),
    ];
    const { p, sink } = pipeline({ file: 'bin.000001', pos: BigInt(resumeAt), newFile: false });
    feed(p, stream);
    expect(sink.units[0]!.pos).toBe(BigInt(resumeAt));
    expect(sink.units.some((u) => u.newFile)).toBe(false);
    expect(sink.storedBytes().get('bin.000001')!.bytes.equals(fileBytes(MARIA1, resumeAt))).toBe(true);
  });

  it('goes on in a later file when the primary starts there (our last file was complete)', () => {
    const { p, sink } = pipeline({ file: 'bin.000001', pos: BigInt(MARIA1.buf.length), newFile: false });
    feed(p, dumpStream([MARIA2], 4));
    expect(sink.units[0]!.file).toBe('bin.000002');
    expect(sink.units[0]!.newFile?.fde).toBeDefined();
    expect(sink.calls.some((c) => c.t === 'notice')).toBe(true);
  });

  it('reports a diverged history when no event starts at the stored end', () => {
    const g = groupStarts(MARIA1)[3]!;
    const { p, sink } = pipeline({ file: 'bin.000001', pos: BigInt(g.pos + 1), newFile: false });
    expect(() => feed(p, dumpStream([MARIA1], 4))).toThrow(expect.objectContaining({ code: 'ERR_UPSTREAM_DIVERGED' }));
    expect(sink.units).toEqual([]);
  });
});

/** The packets as views into one buffer, each behind a 4-byte packet header: how a socket chunk carries them. */
function inOneChunk(packets: Buffer[]): Buffer[] {
  const chunk = Buffer.concat(packets.flatMap((pk) => [Buffer.from([pk.length & 0xff, (pk.length >> 8) & 0xff, pk.length >> 16, 0]), pk]));
  const views: Buffer[] = [];
  let at = 0;
  for (const pk of packets) {
    views.push(chunk.subarray(at + 4, at + 4 + pk.length));
    at += 4 + pk.length;
  }
  return views;
}

describe('StreamPipeline: integrity', () => {
  it('events received in one chunk: stores the same bytes, and a corrupted byte in any event of a group is refused with that group', () => {
    const clean = pipeline({ file: 'bin.000001', pos: 4n, newFile: true });
    feed(clean.p, inOneChunk(dumpStream([MARIA1], 4)));
    expect(clean.sink.storedBytes().get('bin.000001')?.bytes.equals(fileBytes(MARIA1, 4))).toBe(true);

    const all = events(MARIA1);
    const groups = groupStarts(MARIA1);
    for (const victimGroup of [groups[2]!, groups[5]!, groups.at(-1)!]) {
      const members = all.map((e, i) => ({ e, i })).filter(({ e }) => e.pos >= victimGroup.pos && e.pos < victimGroup.end);
      for (const { e, i } of members) {
        for (const at of [5, 19, e.event.raw.length - 1]) {
          const stream = inOneChunk(dumpStream([MARIA1], 4));
          stream[1 + i]![1 + at]! ^= 0x04; // +1: the fake ROTATE; 1 + at: behind the 0x00
          const { p, sink } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true });
          expect(() => feed(p, stream)).toThrow(ChecksumError);
          // Everything before the group is stored, nothing of it (or after it).
          expect(sink.units.at(-1)?.endPos ?? 4n).toBe(BigInt(victimGroup.pos));
                  }
      }
    }
  });

  it('holdUnits: units reach the sink at flush(), the same bytes for any cut of the reads', () => {
    const packets = inOneChunk(dumpStream([MARIA1], 4));
    for (const readLen of [1, 2, 7, 50, packets.length]) {
      const { p, sink } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true }, { holdUnits: true });
      for (let i = 0; i < packets.length; i += readLen) {
        const before = sink.units.length;
        feed(p, packets.slice(i, i + readLen));
        // Nothing before the end of the read, unless the read held a control event's ACK or the like.
        expect(sink.units.length).toBe(before);
        p.flush();
      }
      expect(sink.storedBytes().get('bin.000001')?.bytes.equals(fileBytes(MARIA1, 4))).toBe(true);
    }
  });

  it('holdUnits: a corrupted byte in a group stores exactly the units before it, whatever the reads', () => {
    const all = events(MARIA1);
    const groups = groupStarts(MARIA1);
    for (const victimGroup of [groups[1]!, groups[4]!, groups.at(-1)!]) {
      const members = all.map((e, i) => ({ e, i })).filter(({ e }) => e.pos >= victimGroup.pos && e.pos < victimGroup.end);
      for (const { e, i } of members) {
        for (const readLen of [3, 1000]) {
          const stream = inOneChunk(dumpStream([MARIA1], 4));
          stream[1 + i]![1 + Math.floor(e.event.raw.length / 2)]! ^= 0x20;
          const { p, sink } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true }, { holdUnits: true });
          expect(() => {
            for (let k = 0; k < stream.length; k += readLen) {
              feed(p, stream.slice(k, k + readLen));
              p.flush();
            }
          }).toThrow(ChecksumError);
          expect(sink.units.at(-1)?.endPos ?? 4n).toBe(BigInt(victimGroup.pos));
          // Once failed, the pipeline refuses to hand anything more over.
          expect(() => p.flush()).toThrow(ChecksumError);
        }
      }
    }
  });

  it('a corrupted event whose group never completes is reported when the stream ends (flush)', () => {
    const stream = inOneChunk(dumpStream([MARIA1], 4));
    const all = events(MARIA1);
    // A group of at least three events: its second is corrupted, and the stream ends before its last.
    const g = groupStarts(MARIA1).find((x) => all.filter((e) => e.pos >= x.pos && e.pos < x.end).length >= 3)!;
    const first = all.findIndex((e) => e.pos === g.pos);
    stream[1 + first + 1]![30]! ^= 0x01;
    const { p } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true });
    feed(p, stream.slice(0, 1 + first + 2)); // the stream ends inside the group
    expect(() => p.flush()).toThrow(ChecksumError);
  });

  it('a corrupted event throws ChecksumError and nothing of its transaction is stored', () => {
    const stream = dumpStream([MARIA1], 4);
    const groups = groupStarts(MARIA1);
    const victim = groups[3]!;
    // Corrupt the last event of the 4th group (its body, not its header).
    const all = events(MARIA1);
    const lastIdx = all.findIndex((e) => e.pos + e.event.raw.length === victim.end);
    const pk = stream[1 + lastIdx]!; // +1: the fake ROTATE
    const bad = Buffer.from(pk);
    bad[bad.length - 6] ^= 0xff;
    stream[1 + lastIdx] = bad;
    const { p, sink } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true });
    expect(() => feed(p, stream)).toThrow(ChecksumError);
    expect(sink.units.at(-1)!.endPos).toBe(BigInt(victim.pos));
    expect(p.inTransaction).toBe(true);
  });

  it('a corrupted fake ROTATE or FDE is refused too', () => {
    // The fake ROTATE's file name, the FDE's server version.
    for (const [i, at] of [[0, -5], [1, 1 + 19 + 3]] as const) {
      const stream = dumpStream([MARIA1], 4);
      const bad = Buffer.from(stream[i]!);
      bad[at < 0 ? bad.length + at : at] ^= 0x01;
      stream[i] = bad;
      const { p } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true });
      expect(() => feed(p, stream)).toThrow(ChecksumError);
    }
  });

  it('a hole after storing began is an error, not a silent gap', () => {
    const stream = dumpStream([MARIA1], 4);
    const all = events(MARIA1);
    const g = groupStarts(MARIA1)[2]!;
    const idx = all.findIndex((e) => e.pos === g.pos);
    stream.splice(1 + idx, 1); // drop one GTID event
    const { p } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true });
    expect(() => feed(p, stream)).toThrow(expect.objectContaining({ code: 'ERR_UPSTREAM_GAP' }));
  });

  it('accepts log_pos 0 inside groups (MariaDB 11.4) by counting sizes', () => {
    const stream = dumpStream([MARIA1], 4).map((pk, i) => {
      if (i < 5) return pk;
      const ev = Buffer.from(pk.subarray(1));
      if (ev[4] === 16 /* XID */ || ev[4] === 162 || ev[4] === ROTATE_EVENT) return pk;
      ev.writeUInt32LE(0, 13);
      // Recompute the CRC after the edit.
      return packet(restampCrc(ev));
    });
    const { p, sink } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true });
    feed(p, stream);
    expect(sink.units.at(-1)!.endPos).toBe(BigInt(MARIA1.buf.length));
  });

  it('does not store artificial events other than the fake ROTATE (which it reads)', () => {
    const stream = dumpStream([MARIA1], 4);
    const fakeList = buildMariadbGtidList({ serverId: 7, logPos: 0, gtids: [], flags: 0, checksum: true });
    stream.splice(5, 0, packet(fakeList));
    const { p, sink } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true });
    feed(p, stream);
    expect(sink.units.every((u) => u.events.every((e) => (e.readUInt16LE(17) & LOG_EVENT_ARTIFICIAL_F) === 0))).toBe(true);
    expect(sink.storedBytes().get('bin.000001')!.bytes.equals(fileBytes(MARIA1, 4))).toBe(true);
  });
});

describe('StreamPipeline: heartbeats, large transactions, semi-sync, locate', () => {
  it('heartbeats (v1 and v2) report the primary position and are never stored', () => {
    const stream = dumpStream([MYSQL1], 4);
    stream.push(packet(buildHeartbeat({ serverId: 1, fileName: 'binlog.000001', position: 999n, checksum: true })));
    stream.push(packet(buildHeartbeatV2({ serverId: 1, fileName: 'binlog.000001', position: 5_000_000_000n, checksum: true })));
    const { p, sink } = pipeline({ file: 'binlog.000001', pos: 4n, newFile: true }, { flavor: 'mysql' });
    feed(p, stream);
    expect(sink.calls.filter((c) => c.t === 'heartbeat')).toEqual([
      { t: 'heartbeat', file: 'binlog.000001', pos: 999n },
      { t: 'heartbeat', file: 'binlog.000001', pos: 5_000_000_000n },
    ]);
    expect(sink.storedBytes().get('binlog.000001')!.bytes.equals(fileBytes(MYSQL1, 4))).toBe(true);
  });

  it('streams transactions above the threshold instead of buffering them', () => {
    const { p, sink } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true }, { largeTransactionBytes: 100 });
    feed(p, dumpStream([MARIA1], 4));
    const begins = sink.calls.filter((c) => c.t === 'largeBegin');
    const ends = sink.calls.filter((c) => c.t === 'largeEnd');
    expect(begins.length).toBeGreaterThan(0);
    expect(begins.length).toBe(ends.length);
    // The GTID given when streaming starts (decoded from the first event) is the group's GTID.
    begins.forEach((b, i) => {
      const e = ends[i]!;
      if (b.t === 'largeBegin' && e.t === 'largeEnd') expect(b.meta.gtid).toEqual(e.end.gtid);
    });
    expect(sink.storedBytes().get('bin.000001')!.bytes.equals(fileBytes(MARIA1, 4))).toBe(true);
    // Each streamed transaction matches a group of the file.
    const groups = groupStarts(MARIA1);
    for (const c of ends) {
      if (c.t === 'largeEnd') expect(groups.some((g) => BigInt(g.end) === c.end.endPos)).toBe(true);
    }
  });

  it('semi-sync: strips the header and asks for the ACK after the unit holding the flagged event', () => {
    const plain = dumpStream([MARIA1], 4);
    const groups = groupStarts(MARIA1);
    const ackEnd = groups[4]!.end;
    const all = events(MARIA1);
    const semi = plain.map((pk, i) => {
      const ev = pk.subarray(1);
      const e = i === 0 ? null : all.find((x) => x.event.raw.equals(ev) || (x.pos === 4 && i === 1));
      const needAck = e !== null && e !== undefined && e.pos + e.event.raw.length === ackEnd;
      return packet(ev, { needAck });
    });
    const { p, sink } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true }, { semiSync: true });
    const flagged: number[] = [];
    semi.forEach((pk, i) => {
      if (p.push(pk)) flagged.push(i);
    });
    expect(flagged.length).toBe(1);
    const ackIdx = sink.calls.findIndex((c) => c.t === 'ack');
    expect(sink.calls[ackIdx]).toEqual({ t: 'ack', file: 'bin.000001', pos: BigInt(ackEnd) });
    const before = sink.calls[ackIdx - 1]!;
    expect(before.t === 'unit' && before.unit.endPos === BigInt(ackEnd)).toBe(true);
    expect(sink.storedBytes().get('bin.000001')!.bytes.equals(fileBytes(MARIA1, 4))).toBe(true);
  });

  it('semi-sync: a packet without the magic byte is refused', () => {
    const { p } = pipeline({ file: 'bin.000001', pos: 4n, newFile: true }, { semiSync: true });
    expect(() => p.push(dumpStream([MARIA1], 4)[0]!)).toThrow(/magic/);
  });

  it('locate: MariaDB fake GTID_LIST gives the position', () => {
    const all = events(MARIA1);
    const head = all.filter((e) => e.pos < groupStarts(MARIA1)[0]!.pos);
    const stream = [
      ...dumpStream([MARIA1], 4).slice(0, 1 + head.length),
      packet(buildMariadbGtidList({ serverId: 7, logPos: 1234, gtids: [], flags: 0, checksum: true })),
    ];
    const { p, sink } = pipeline(null);
    feed(p, stream);
    expect(sink.calls.filter((c) => c.t === 'located')).toEqual([{ t: 'located', file: 'bin.000001', pos: 1234n }]);
    expect(sink.units).toEqual([]);
  });

  it('locate: the first group sent, or a heartbeat, gives the position (MySQL)', () => {
    const groups = groupStarts(MYSQL1);
    const all = events(MYSQL1);
    const head = all.filter((e) => e.pos < groups[0]!.pos);
    const rest = all.filter((e) => e.pos >= groups[2]!.pos);
    const { p, sink } = pipeline(null, { flavor: 'mysql' });
    feed(p, [...dumpStream([MYSQL1], 4).slice(0, 1 + head.length), ...rest.map((e) => packet(e.event.raw))]);
    expect(sink.calls.filter((c) => c.t === 'located')).toEqual([{ t: 'located', file: 'binlog.000001', pos: BigInt(groups[2]!.pos) }]);

    const hb = pipeline(null, { flavor: 'mysql' });
    feed(hb.p, [
      ...dumpStream([MYSQL1], 4).slice(0, 1 + head.length),
      packet(buildHeartbeatV2({ serverId: 1, fileName: 'binlog.000001', position: 777n, checksum: true })),
    ]);
    expect(hb.sink.calls.filter((c) => c.t === 'located')).toEqual([{ t: 'located', file: 'binlog.000001', pos: 777n }]);
  });
});

function restampCrc(ev: Buffer): Buffer {
  const out = Buffer.from(ev);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}
