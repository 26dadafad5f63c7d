/**
 * Where a dump starts, and the checks a primary makes before it sends anything (§3.4 step 1, §3.5, §3.7).
 *
 * File/position (COM_BINLOG_DUMP, and COM_BINLOG_DUMP_GTID with a file name):
 *   - nothing stored                        -> "Binary log is not open"
 *   - empty file name                       -> the oldest stored file
 *   - file not stored (never, or purged)    -> "Could not find first log file name in binary log index file"
 *   - position < 4, or past the stored end  -> the primary's position wording
 *   - a file stored only from a later position (the syncer started inside it) and a position before that:
 *     the bytes are not here, as if purged -> "Could not find first log file name ..."
 *   Whether the position is an event boundary is checked by the store's reader when the stream starts.
 *
 * MySQL GTID (COM_BINLOG_DUMP_GTID without file name), in MySQL's order:
 *   - the replica has GTIDs of our source's UUID that we do not have -> replica-ahead wording
 *   - gtid_purged is not contained in the replica's set -> purged wording with both sets
 *   - start at position 4 of the newest file whose PREVIOUS_GTIDS is contained in the replica's set (none:
 *     purged wording)
 *   "Our source's UUID" is the UUID of the newest stored GTID (the primary we replicate from): a replica that
 *   replicated from that primary directly and got further than we have is "ahead" of us.
 */
import { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { DumpError, messages, type Wording } from './errors.js';
import type { FileInfo } from './store.js';

export const BIN_LOG_HEADER_SIZE = 4n;

export interface StartPoint {
  file: FileInfo;
  /** 4 (the file from its FDE on) or a position inside it. */
  pos: bigint;
}

/** File/position start (also MySQL GTID dumps that name a file). */
export function resolveFilePosition(files: readonly FileInfo[], fileName: string, position: bigint, w: Wording): StartPoint {
  if (files.length === 0) throw new DumpError('ERR_DUMP_NO_BINLOG', messages.binlogNotOpen());
  const file = fileName === '' ? files[0]! : files.find((f) => f.name === fileName);
  if (file === undefined) throw new DumpError('ERR_DUMP_FILE_NOT_FOUND', messages.fileNotFound());
  if (position < BIN_LOG_HEADER_SIZE) throw positionError(w, messages.positionBelow4(w), fileName, position);
  if (position > file.endPos) throw positionError(w, messages.positionPastEnd(w), fileName, position);
  if (file.firstPos > BIN_LOG_HEADER_SIZE && position < file.firstPos) {
    throw new DumpError('ERR_DUMP_FILE_NOT_FOUND', messages.fileNotFound());
  }
  return { file, pos: position };
}

/**
 * MariaDB checks the position once the file is open and adds the location suffix with the requested name and
 * position ("the last event read from '<file>' at 4"); MySQL checks before opening, without suffix.
 */
function positionError(w: Wording, message: string, requestedName: string, position: bigint): DumpError {
  if (w.flavor === 'mysql') return new DumpError('ERR_DUMP_POSITION', message);
  return new DumpError(
    'ERR_DUMP_POSITION',
    `${message}; the first event '${requestedName}' at ${position}, the last event read from '${requestedName}' at 4, ` +
      `the last byte read from '${requestedName}' at 4.`,
  );
}

/** The GTID state at the start of a file: its PREVIOUS_GTIDS, or what the store knew there. */
export function mysqlFileStartSet(file: FileInfo): MysqlGtidSet {
  return MysqlGtidSet.parse(file.startGtids ?? file.gtidsAtStart);
}

export interface MysqlGtidStartInput {
  files: readonly FileInfo[];
  replicaSet: MysqlGtidSet;
  executed: MysqlGtidSet;
  purged: MysqlGtidSet;
  /** UUID of our source (see the module comment); null when nothing carries a GTID yet. */
  sourceUuid: string | null;
  wording: Wording;
}

/** MySQL's choice of the start file for an auto-position replica, with its errors. */
export function resolveMysqlGtidStart(input: MysqlGtidStartInput): StartPoint {
  const { files, replicaSet, executed, purged, sourceUuid, wording } = input;
  if (files.length === 0) throw new DumpError('ERR_DUMP_NO_BINLOG', messages.binlogNotOpen());
  if (sourceUuid !== null && !subsetForUuid(replicaSet, executed, sourceUuid)) {
    throw new DumpError('ERR_DUMP_GTID_AHEAD', messages.replicaAhead(wording));
  }
  if (!replicaSet.containsSet(purged)) {
    throw purgedError(wording, replicaSet, purged);
  }
  for (let i = files.length - 1; i >= 0; i--) {
    const f = files[i]!;
    if (replicaSet.containsSet(mysqlFileStartSet(f))) {
      return { file: f, pos: f.firstPos > BIN_LOG_HEADER_SIZE ? f.firstPos : BIN_LOG_HEADER_SIZE };
    }
  }
  throw purgedError(wording, replicaSet, mysqlFileStartSet(files[0]!));
}

function purgedError(w: Wording, replicaSet: MysqlGtidSet, needed: MysqlGtidSet): DumpError {
  const missing = needed.subtract(replicaSet);
  return new DumpError('ERR_DUMP_GTID_PURGED', messages.purgedGtids(w, replicaSet.toString(), missing.toString()));
}

/** MySQL `is_subset_for_sid`: the replica's GTIDs of `uuid` (any tag) are all in `executed`. */
export function subsetForUuid(replicaSet: MysqlGtidSet, executed: MysqlGtidSet, uuid: string): boolean {
  const u = uuid.toLowerCase();
  for (const { uuid: su, tag } of replicaSet.sids()) {
    if (su !== u) continue;
    for (const [start, end] of replicaSet.intervals(su, tag)) {
      const one = MysqlGtidSet.empty().addInterval(su, tag, start, end);
      if (!executed.containsSet(one)) return false;
    }
  }
  return true;
}
