/**
 * The on-disk format version and the migration hook.
 *
 * The version lives under the format key (keys.ts, 0x01). Opening a store whose version is newer than
 * FORMAT_VERSION fails with ERR_STORAGE_FORMAT (an older build must not touch a newer layout). An older
 * version is brought forward one step at a time by the migrations below; each step records its new version
 * (synced) when it is done, so an interrupted migration resumes from the last finished step. A version with no
 * migration path fails with ERR_STORAGE_FORMAT.
 *
 * Version history:
 *   1  segments of units under [0x10][seq][sub], checkpoints under [0x10][seq][0xffffffff], file records.
 *   2  metadata and sections below the log (0x05, 0x06) instead of above it (0x20, 0x21): see keys.ts.
 *   3  a segment's log value may be a pointer into the segment files (segment-files.ts) instead of the segment.
 *      Nothing to convert: a version 2 store holds inline segments only, which version 3 reads as they are;
 *      the new version keeps older builds, which cannot follow pointers, away.
 */
import { StorageError } from './errors.js';
import { formatKey, prefixRange, PREFIX_META, PREFIX_SECTION, V1_PREFIX_META, V1_PREFIX_SECTION } from './keys.js';
import type { Db } from './log-io.js';
import { encodeFormat } from './records.js';
import type { BatchOp } from './write-path.js';

export const FORMAT_VERSION = 3;

export interface Migration {
  from: number;
  to: number;
  description: string;
  run(db: Db): Promise<void>;
}

/** Moves every key with prefix `from` to the same key with prefix `to`, in one synced batch (all or nothing). */
async function movePrefix(db: Db, from: number, to: number): Promise<void> {
  const entries = await db.iterator(prefixRange(from)).all();
  if (entries.length === 0) return;
  const ops: BatchOp[] = [];
  for (const [key, value] of entries) {
    const moved = Buffer.from(key);
    moved[0] = to;
    ops.push({ type: 'put', key: moved, value }, { type: 'del', key });
  }
  await db.batch(ops, { sync: true });
}

export const MIGRATIONS: readonly Migration[] = [
  {
    from: 1,
    to: 2,
    description: 'metadata and sections move below the log (0x20 -> 0x05, 0x21 -> 0x06)',
    async run(db) {
      await movePrefix(db, V1_PREFIX_META, PREFIX_META);
      await movePrefix(db, V1_PREFIX_SECTION, PREFIX_SECTION);
    },
  },
  {
    from: 2,
    to: 3,
    description: 'segments of bulk groups may live in segment files (no data to convert)',
    async run() {},
  },
];

/** Runs the migrations from `version` to `target`; returns the final version. */
export async function migrate(
  db: Db,
  version: number,
  migrations: readonly Migration[] = MIGRATIONS,
  target = FORMAT_VERSION,
): Promise<number> {
  if (version > target) {
    throw new StorageError(
      'ERR_STORAGE_FORMAT',
      `storage format version ${version} is newer than this build supports (${target}); upgrade binlog-proxy`,
    );
  }
  let v = version;
  while (v < target) {
    const step = migrations.find((m) => m.from === v);
    if (step === undefined) {
      throw new StorageError('ERR_STORAGE_FORMAT', `no migration from storage format version ${v} (this build writes ${target})`);
    }
    await step.run(db);
    v = step.to;
    await db.put(formatKey(), encodeFormat(v), { sync: true });
  }
  return v;
}
