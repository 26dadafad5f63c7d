/**
 * The artificial events a source sends that are not in any binlog file (§3.4, §3.6, §3.8), and the FDE
 * restamp a sender applies before sending a file's FDE.
 *
 * Fake ROTATE (first event of a dump and of every file the sender opens):
 *   header   timestamp 0, type 4, server_id = the source's, log_pos 0, flags LOG_EVENT_ARTIFICIAL_F (0x20)
 *   body     position int<8> (requested start, or 4) ‖ file name (no NUL)
 *   CRC      only if the client's @master_binlog_checksum / @source_binlog_checksum says CRC32
 *
 * Fake GTID_LIST (MariaDB, once a GTID dump reached the requested position; also with FLAG_UNTIL_REACHED):
 *   header   timestamp 0, type 163, server_id = the source's, log_pos = current position, flags ARTIFICIAL
 *   body     as in a file (mariadb_gtid_list.ts)
 *
 * FDE restamp: clear LOG_EVENT_BINLOG_IN_USE_F; when the dump starts past offset 4 also zero log_pos and
 * create_timestamp (so the replica neither advances its position nor treats it as a source restart). The
 * CRC is recomputed when the FDE's alg is CRC32. With alg OFF the CRC field is left as stored, as the
 * servers' senders do (it then no longer matches, which nobody checks with alg OFF).
 */
import type { MariadbGtid } from '../gtid/mariadb.js';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  BINLOG_CHECKSUM_LEN,
  LOG_EVENT_ARTIFICIAL_F,
  LOG_EVENT_BINLOG_IN_USE_F,
} from './constants.js';
import { computeEventChecksum } from './checksum.js';
import { decodeFormatDescription, FDE_CREATED_EVENT_OFFSET } from './fde.js';
import { BinlogEvent, FLAGS_OFFSET, LOG_POS_OFFSET } from './header.js';
import { encodeMariadbGtidList } from './mariadb_gtid_list.js';
import { encodeRotate } from './rotate.js';

export { buildHeartbeat, buildHeartbeatV2, type HeartbeatInit } from './heartbeat.js';

export interface FakeRotateInit {
  serverId: number;
  position: bigint;
  fileName: string;
  /** True when the client negotiated CRC32. */
  checksum: boolean;
}

export function buildFakeRotate(init: FakeRotateInit): Buffer {
  return encodeRotate(
    { position: init.position, nextFile: init.fileName },
    { timestamp: 0, serverId: init.serverId, logPos: 0, flags: LOG_EVENT_ARTIFICIAL_F },
    init.checksum,
  );
}

export interface RestampFdeOptions {
  /** Clear LOG_EVENT_BINLOG_IN_USE_F (senders always do). */
  clearInUse: boolean;
  /** Zero log_pos and create_timestamp (dump starting past offset 4, or skipped first transaction). */
  zeroLogPosAndCreated: boolean;
}

/** A restamped copy of a file's FDE; the input is not modified. */
export function restampFde(raw: Buffer, opts: RestampFdeOptions): Buffer {
  const fde = decodeFormatDescription(new BinlogEvent(raw));
  const out = Buffer.from(raw);
  if (opts.clearInUse) out.writeUInt16LE(out.readUInt16LE(FLAGS_OFFSET) & ~LOG_EVENT_BINLOG_IN_USE_F, FLAGS_OFFSET);
  if (opts.zeroLogPosAndCreated) {
    out.writeUInt32LE(0, LOG_POS_OFFSET);
    out.writeUInt32LE(0, FDE_CREATED_EVENT_OFFSET);
  }
  if (fde.checksumAlg === BINLOG_CHECKSUM_ALG_CRC32) {
    out.writeUInt32LE(computeEventChecksum(out), out.length - BINLOG_CHECKSUM_LEN);
  }
  return out;
}

export interface FakeGtidListInit {
  serverId: number;
  /** Current position in the current file. */
  logPos: number;
  gtids: MariadbGtid[];
  /** GTID_LIST_FLAG_UNTIL_REACHED / GTID_LIST_FLAG_IGN_GTIDS, or 0. */
  flags: number;
  checksum: boolean;
}

export function buildMariadbGtidList(init: FakeGtidListInit): Buffer {
  return encodeMariadbGtidList(
    { flags: init.flags, gtids: init.gtids },
    { timestamp: 0, serverId: init.serverId, logPos: init.logPos, flags: LOG_EVENT_ARTIFICIAL_F },
    init.checksum,
  );
}
