/**
 * Opening checks and recovery. Bounded work: the tail after the last checkpoint, the first and last units,
 * one checkpoint per file; never a full scan.
 *
 * 1. Format key: absent on an empty database → initialise; absent with other keys → foreign (ERR_STORAGE_FORMAT);
 *    newer → ERR_STORAGE_FORMAT; older → migrations.
 * 2. Orphan chunks: a streamed transaction that never committed leaves chunks under the next sequence whose
 *    last record lacks the LAST flag; they are deleted.
 * 3. State: the newest checkpoint, then the units after it are replayed (sequence, file and position
 *    continuity checked on the way). Checkpoints are forced at every file switch, file start GTIDs and chunked
 *    commit, so a replay stays within one file.
 * 4. An interrupted purge (data left below the first stored unit, in LevelDB or in segment files) is finished.
 * 5. Consistency: the base checkpoint before the first unit exists; the first and last units match the file
 *    records and the state; no file record points past the last unit; every closed file has its end checkpoint.
 *    Anything else is ERR_STORAGE_CORRUPT with the details.
 */
import { corrupt, StorageError } from './errors.js';
import { GtidTracker } from './gtid-state.js';
import {
  checkpointKey,
  decodeFileKey,
  decodeLogKey,
  fileRange,
  formatKey,
  logKey,
  logRange,
  SUB_CHECKPOINT,
} from './keys.js';
import { firstLogKey, lastChunkIndex, lastLogEntry, recordAt, type Db } from './log-io.js';
import { FORMAT_VERSION, migrate } from './migrations.js';
import type { SegmentFiles } from './segment-files.js';
import {
  decodeCheckpoint,
  decodeFileRecord,
  decodeFormat,
  decodeSegment,
  encodeCheckpoint,
  encodeFormat,
  type CheckpointState,
  type FileRecord,
  type Flavor,
  type UuidCache,
} from './records.js';

export interface FileEnd {
  lastSeq: number;
  endPos: bigint;
  lastTimestamp: number;
  /** Executed GTIDs after the file's last unit. */
  gtids: string;
}

export interface FileEntry {
  rec: FileRecord;
  /** Set once the next file has started. */
  end: FileEnd | null;
}

export interface Recovered {
  state: CheckpointState;
  executed: GtidTracker | null;
  files: FileEntry[];
  report: RecoveryReport;
}

/** What opening found and did (for logs and tests). */
export interface RecoveryReport {
  created: boolean;
  migratedFrom: number | null;
  orphanChunksRemoved: number;
  purgeFinished: boolean;
  unitsReplayed: number;
}

export function initialState(flavor: Flavor | null): CheckpointState {
  return {
    flavor,
    lastSeq: 0,
    firstSeq: 1,
    lastFileNo: 0,
    nextFileNo: 1,
    lastPos: 0n,
    lastTimestamp: 0,
    maxTimestamp: 0,
    executed: '',
    purged: '',
  };
}

async function isEmpty(db: Db): Promise<boolean> {
  const it = db.keys({ limit: 1 });
  try {
    return (await it.next()) === undefined;
  } finally {
    await it.close();
  }
}

export async function recover(db: Db, segs: SegmentFiles, flavor: Flavor | undefined, uuids: UuidCache): Promise<Recovered> {
  const report: RecoveryReport = { created: false, migratedFrom: null, orphanChunksRemoved: 0, purgeFinished: false, unitsReplayed: 0 };

  // 1. format
  const fmt = await db.get(formatKey());
  if (fmt === undefined) {
    if (!(await isEmpty(db))) {
      throw new StorageError('ERR_STORAGE_FORMAT', 'not a binlog-proxy store: the LevelDB database has data but no format key');
    }
    await db.batch(
      [
        { type: 'put', key: formatKey(), value: encodeFormat(FORMAT_VERSION) },
        { type: 'put', key: checkpointKey(0), value: encodeCheckpoint(initialState(flavor ?? null)) },
      ],
      { sync: true },
    );
    report.created = true;
  } else {
    const version = decodeFormat(fmt);
    if (version === null) {
      throw new StorageError('ERR_STORAGE_FORMAT', `not a binlog-proxy store: unknown format key value ${fmt.subarray(0, 16).toString('hex')}`);
    }
    if (version !== FORMAT_VERSION) {
      await migrate(db, version);
      report.migratedFrom = version;
    }
  }

  // 2. orphan chunks of a streamed transaction that was never committed
  let last: [Buffer, Buffer] | undefined;
  for (;;) {
    last = await lastLogEntry(db);
    if (last === undefined) throw corrupt('the log has no checkpoint at all');
    const k = decodeLogKey(last[0]);
    if (k.sub === SUB_CHECKPOINT) break;
    last = await segs.resolveOne(last);
    const recs = decodeSegment(k.seq, k.sub, last[1], uuids);
    if (recs[recs.length - 1]!.last) break;
    // Chunks 0..k.sub of that sequence, deleted in one synced batch (the next append reuses the sequence).
    const ops: Array<{ type: 'del'; key: Buffer }> = [];
    for (let c = 0; c <= k.sub; c++) ops.push({ type: 'del', key: logKey(k.seq, c) });
    await db.batch(ops, { sync: true });
    report.orphanChunksRemoved += k.sub + 1;
  }

  // 3. newest checkpoint, then replay
  const ck = await newestCheckpoint(db);
  const state = decodeCheckpoint(ck.value, `after unit ${ck.seq}`);
  if (state.lastSeq !== ck.seq) throw corrupt(`checkpoint under unit ${ck.seq} says lastSeq ${state.lastSeq}`);
  if (flavor !== undefined && state.flavor !== null && state.flavor !== flavor) {
    throw new StorageError('ERR_STORAGE_FLAVOR', `the store holds ${state.flavor} binlogs; opened as ${flavor}`);
  }
  if (state.flavor === null && flavor !== undefined) {
    state.flavor = flavor;
    await db.put(checkpointKey(state.lastSeq), encodeCheckpoint(state), { sync: true });
  }
  const executed = state.flavor === null ? null : GtidTracker.fromStored(state.flavor, state.executed, 'checkpoint executed GTIDs');
  report.unitsReplayed = await replay(db, segs, uuids, state, executed);
  if (executed !== null) state.executed = executed.toString();

  // 4. finish an interrupted purge
  const base = checkpointKey(state.firstSeq - 1);
  let first = await firstLogKey(db);
  if (first !== undefined && Buffer.compare(first, base) < 0) {
    await db.clear({ gte: logRange().gte, lt: base });
    report.purgeFinished = true;
    first = await firstLogKey(db);
  }
  if ((await segs.removeBefore(state.firstSeq)) > 0) report.purgeFinished = true;
  if (first === undefined || !first.equals(base)) {
    throw corrupt(`the checkpoint before the first stored unit ${state.firstSeq} is missing`);
  }

  // 5. files and consistency
  const files = await loadFiles(db);
  await checkConsistency(db, segs, uuids, state, files);
  return { state, executed, files, report };
}

async function newestCheckpoint(db: Db): Promise<{ seq: number; value: Buffer }> {
  const r = logRange();
  const it = db.keys({ gte: r.gte, lt: r.lt, reverse: true });
  let seq = -1;
  try {
    for (;;) {
      const batch = await it.nextv(256);
      if (batch.length === 0) break;
      const hit = batch.find((key) => decodeLogKey(key).sub === SUB_CHECKPOINT);
      if (hit !== undefined) {
        seq = decodeLogKey(hit).seq;
        break;
      }
    }
  } finally {
    await it.close();
  }
  if (seq < 0) throw corrupt('the log has no checkpoint');
  const value = await db.get(checkpointKey(seq));
  if (value === undefined) throw corrupt(`checkpoint ${seq} vanished while opening`);
  return { seq, value };
}

/** Applies the units after the checkpoint to `state`; returns how many. */
async function replay(db: Db, segs: SegmentFiles, uuids: UuidCache, state: CheckpointState, executed: GtidTracker | null): Promise<number> {
  const it = db.iterator({ gte: logKey(state.lastSeq + 1, 0), lt: logRange().lt, highWaterMarkBytes: 1 << 20 });
  let units = 0;
  let nextChunk = 0;
  let nextPos = state.lastPos;
  try {
    for (;;) {
      const entries = await segs.resolve(await it.nextv(256));
      if (entries.length === 0) break;
      for (const [key, value] of entries) {
        const k = decodeLogKey(key);
        if (k.sub === SUB_CHECKPOINT) throw corrupt(`checkpoint ${k.seq} found after the newest checkpoint`);
        for (const r of decodeSegment(k.seq, k.sub, value, uuids)) {
          const where = `unit ${r.seq} chunk ${r.chunk}`;
          if (r.seq !== state.lastSeq + 1) throw corrupt(`${where}: expected unit ${state.lastSeq + 1} (a hole in the log)`);
          if (r.chunk !== nextChunk) throw corrupt(`${where}: expected chunk ${nextChunk}`);
          if (r.fileNo !== state.lastFileNo) throw corrupt(`${where}: file ${r.fileNo} differs from the checkpoint's file ${state.lastFileNo}`);
          if (r.pos !== nextPos || (r.chunk === 0 && r.unitPos !== r.pos)) {
            throw corrupt(`${where}: at position ${r.pos} (unit ${r.unitPos}), expected ${nextPos}`);
          }
          nextPos = r.pos + BigInt(r.data.length);
          if (!r.last) {
            nextChunk++;
            continue;
          }
          nextChunk = 0;
          state.lastSeq = r.seq;
          state.lastPos = nextPos;
          state.lastTimestamp = r.timestamp;
          state.maxTimestamp = r.maxTimestamp;
          if (r.gtid !== null) {
            if (executed === null) throw corrupt(`${where}: a GTID in a store without a flavour`);
            executed.add(r.gtid);
          }
          units++;
        }
      }
    }
  } finally {
    await it.close();
  }
  if (nextChunk !== 0) throw corrupt(`unit ${state.lastSeq + 1} ends after chunk ${nextChunk - 1} without its last chunk`);
  return units;
}

async function loadFiles(db: Db): Promise<FileEntry[]> {
  const r = fileRange();
  const out: FileEntry[] = [];
  for await (const [key, value] of db.iterator({ gte: r.gte, lt: r.lt })) {
    const rec = decodeFileRecord(value);
    if (decodeFileKey(key) !== rec.fileNo) throw corrupt(`file record under key ${decodeFileKey(key)} says file ${rec.fileNo}`);
    out.push({ rec, end: null });
  }
  return out;
}

async function checkConsistency(db: Db, segs: SegmentFiles, uuids: UuidCache, state: CheckpointState, files: FileEntry[]): Promise<void> {
  const stored = state.lastSeq >= state.firstSeq;
  if (files.length === 0) {
    if (stored) throw corrupt(`units ${state.firstSeq}..${state.lastSeq} are stored but no file record exists`);
    return;
  }
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!.rec;
    if (f.fileNo >= state.nextFileNo) throw corrupt(`file record ${f.fileNo} (${f.name}) is beyond the next file number ${state.nextFileNo}`);
    if (f.firstSeq > state.lastSeq) throw corrupt(`file record ${f.fileNo} (${f.name}) starts at unit ${f.firstSeq}, past the last unit ${state.lastSeq}`);
    if (i > 0 && f.firstSeq <= files[i - 1]!.rec.firstSeq) throw corrupt(`file records ${files[i - 1]!.rec.name} and ${f.name} are out of order`);
  }
  const firstFile = files[0]!.rec;
  const lastFile = files[files.length - 1]!.rec;
  if (firstFile.firstSeq !== state.firstSeq) throw corrupt(`the first file ${firstFile.name} starts at unit ${firstFile.firstSeq}, the state at ${state.firstSeq}`);
  if (lastFile.fileNo !== state.lastFileNo) throw corrupt(`the last file record is ${lastFile.fileNo} (${lastFile.name}), the state says ${state.lastFileNo}`);

  const head = await recordAt(db, segs, uuids, state.firstSeq, 0);
  if (head.fileNo !== firstFile.fileNo || head.unitPos !== firstFile.firstPos) {
    throw corrupt(`the first unit ${state.firstSeq} is at file ${head.fileNo} pos ${head.unitPos}, its file record says ${firstFile.fileNo} pos ${firstFile.firstPos}`);
  }
  const tail = await recordAt(db, segs, uuids, state.lastSeq, await lastChunkIndex(db, state.lastSeq));
  const tailEnd = tail.pos + BigInt(tail.data.length);
  if (!tail.last || tail.fileNo !== state.lastFileNo || tailEnd !== state.lastPos) {
    throw corrupt(`the last unit ${state.lastSeq} ends at file ${tail.fileNo} pos ${tailEnd}, the state says file ${state.lastFileNo} pos ${state.lastPos}`);
  }

  for (let i = 0; i + 1 < files.length; i++) {
    const endSeq = files[i + 1]!.rec.firstSeq - 1;
    const value = await db.get(checkpointKey(endSeq));
    if (value === undefined) throw corrupt(`the end checkpoint of file ${files[i]!.rec.name} (after unit ${endSeq}) is missing`);
    const ck = decodeCheckpoint(value, `after unit ${endSeq}`);
    if (ck.lastFileNo !== files[i]!.rec.fileNo || ck.lastSeq !== endSeq) {
      throw corrupt(`the end checkpoint of file ${files[i]!.rec.name} names file ${ck.lastFileNo} unit ${ck.lastSeq}`);
    }
    files[i]!.end = { lastSeq: endSeq, endPos: ck.lastPos, lastTimestamp: ck.lastTimestamp, gtids: ck.executed };
  }
}
