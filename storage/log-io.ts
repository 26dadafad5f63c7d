/**
 * Low-level reads of the log range used by look-ups, readers and recovery: find the segment that holds a
 * unit, binary-search units by a monotonic predicate, find the last chunk of a unit.
 */
import type { ClassicLevel } from 'classic-level';
import { corrupt } from './errors.js';
import { decodeLogKey, logKey, logRange, MAX_CHUNK, SUB_CHECKPOINT } from './keys.js';
import { decodeSegment, type LogRecord, type UuidCache } from './records.js';
import type { SegmentFiles } from './segment-files.js';

export type Db = ClassicLevel<Buffer, Buffer>;

export interface Segment {
  keySeq: number;
  keySub: number;
  records: LogRecord[];
}

/** The greatest log entry whose key is <= `key`, or undefined. */
async function entryAtOrBefore(db: Db, key: Buffer): Promise<[Buffer, Buffer] | undefined> {
  const it = db.iterator({ gte: logRange().gte, lte: key, reverse: true, limit: 1 });
  try {
    return await it.next();
  } finally {
    await it.close();
  }
}

/**
 * The segment that holds chunk `chunk` of unit `seq`. Segments never span a checkpoint (checkpoints are
 * written only between segments), so the greatest key <= [seq][chunk] is that segment's key; finding a
 * checkpoint there means the unit is not stored.
 */
export async function segmentAt(db: Db, segs: SegmentFiles, uuids: UuidCache, seq: number, chunk = 0): Promise<Segment> {
  const stored = await entryAtOrBefore(db, logKey(seq, chunk));
  const entry = stored === undefined ? undefined : await segs.resolveOne(stored);
  if (entry === undefined) throw corrupt(`unit ${seq} chunk ${chunk}: no log segment at or before it`);
  const k = decodeLogKey(entry[0]);
  if (k.sub === SUB_CHECKPOINT) throw corrupt(`unit ${seq} chunk ${chunk}: missing (the nearest key before it is checkpoint ${k.seq})`);
  const records = decodeSegment(k.seq, k.sub, entry[1], uuids);
  const found = records.some((r) => r.seq === seq && r.chunk === chunk);
  if (!found) throw corrupt(`unit ${seq} chunk ${chunk}: not in segment ${k.seq}/${k.sub}`);
  return { keySeq: k.seq, keySub: k.sub, records };
}

/** The record of chunk `chunk` of unit `seq`. */
export async function recordAt(db: Db, segs: SegmentFiles, uuids: UuidCache, seq: number, chunk = 0): Promise<LogRecord> {
  const seg = await segmentAt(db, segs, uuids, seq, chunk);
  return seg.records.find((r) => r.seq === seq && r.chunk === chunk)!;
}

/** Index of the last chunk stored for unit `seq`. */
export async function lastChunkIndex(db: Db, seq: number): Promise<number> {
  const entry = await entryAtOrBefore(db, logKey(seq, MAX_CHUNK));
  if (entry === undefined) throw corrupt(`unit ${seq}: no log segment`);
  const k = decodeLogKey(entry[0]);
  if (k.sub === SUB_CHECKPOINT || k.seq > seq) throw corrupt(`unit ${seq}: no chunk found`);
  // A multi-unit segment starting before `seq` holds it as its only piece.
  return k.seq === seq ? k.sub : 0;
}

/**
 * The first unit in [lo, hi] for which `pred` holds on its first record, or hi + 1 when none does. `pred`
 * must be monotonic over the range (false ... false true ... true). One segment read per probe; a probe
 * looks at every unit of the segment it lands in.
 */
export async function searchUnits(
  db: Db,
  segs: SegmentFiles,
  uuids: UuidCache,
  lo: number,
  hi: number,
  pred: (r: LogRecord) => boolean,
): Promise<number> {
  let end = hi + 1; // the answer is in [lo, end]
  while (lo < end) {
    const mid = lo + Math.floor((end - lo) / 2);
    const seg = await segmentAt(db, segs, uuids, mid, 0);
    const recs = seg.records.filter((r) => r.chunk === 0 && r.seq >= lo && r.seq < end);
    const t = recs.find(pred);
    if (t === undefined) {
      lo = recs[recs.length - 1]!.seq + 1;
    } else if (t !== recs[0] || t.seq === lo) {
      return t.seq;
    } else {
      end = t.seq;
    }
  }
  return lo;
}

/** The last log entry (segment or checkpoint), or undefined for an empty log. */
export async function lastLogEntry(db: Db): Promise<[Buffer, Buffer] | undefined> {
  const r = logRange();
  const it = db.iterator({ gte: r.gte, lt: r.lt, reverse: true, limit: 1 });
  try {
    return await it.next();
  } finally {
    await it.close();
  }
}

/** The first log key, or undefined. */
export async function firstLogKey(db: Db): Promise<Buffer | undefined> {
  const r = logRange();
  const it = db.keys({ gte: r.gte, lt: r.lt, limit: 1 });
  try {
    return await it.next();
  } finally {
    await it.close();
  }
}
