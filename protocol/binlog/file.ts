/**
 * Reading a whole binlog file held in memory (§4.1):
 *
 *   offset  size        field
 *   0       4           magic FE 62 69 6E ("\xfebin")
 *   4       event_size  FORMAT_DESCRIPTION_EVENT
 *   ...                 events back to back; each one's header log_pos is normally its end offset
 *
 * Every event after an FDE follows that FDE's checksum alg (a file holds one FDE, at offset 4). A file must
 * start with an FDE: without one we could not tell whether events carry a CRC trailer. Pre-v4 files
 * (START_EVENT_V3 first) are not supported.
 */
import { ProtocolError } from '../errors.js';
import {
  BINLOG_MAGIC,
  BINLOG_MAGIC_SIZE,
  FORMAT_DESCRIPTION_EVENT,
  LOG_EVENT_HEADER_LEN,
  START_EVENT_V3,
} from './constants.js';
import { verifyEventChecksum } from './checksum.js';
import { decodeFormatDescription, type FormatDescription } from './fde.js';
import { BinlogEvent, EVENT_LEN_OFFSET, EVENT_TYPE_OFFSET } from './header.js';

export interface ReadBinlogFileOptions {
  /** Verify every CRC32 trailer (default true). */
  verifyChecksums?: boolean;
}

export interface BinlogFileEvent {
  /** Start offset of the event in the file. */
  pos: number;
  event: BinlogEvent;
  /** The alg that applies to this event (for an FDE, its own). */
  checksumAlg: number;
  /** The FDE in force for this event (for an FDE, itself). */
  fde: FormatDescription;
}

/** Throws ProtocolError unless `buf` starts with the binlog magic. */
export function checkBinlogMagic(buf: Buffer): void {
  if (buf.length < BINLOG_MAGIC_SIZE || !buf.subarray(0, BINLOG_MAGIC_SIZE).equals(BINLOG_MAGIC)) {
    throw new ProtocolError(
      buf.length < BINLOG_MAGIC_SIZE ? 'ERR_TRUNCATED' : 'ERR_MALFORMED',
      `not a binlog file: the first 4 bytes are not fe 62 69 6e`,
    );
  }
}

/** Yields every event of a binlog file in order. Events are views into `buf` (no copies). */
export function* readBinlogFile(buf: Buffer, opts?: ReadBinlogFileOptions): Generator<BinlogFileEvent, void, undefined> {
  const verify = opts?.verifyChecksums ?? true;
  checkBinlogMagic(buf);
  let pos = BINLOG_MAGIC_SIZE;
  let fde: FormatDescription | undefined;
  while (pos < buf.length) {
    const left = buf.length - pos;
    if (left < LOG_EVENT_HEADER_LEN) {
      throw new ProtocolError(
        'ERR_TRUNCATED',
        `binlog truncated in the middle of an event at offset ${pos}: ${left} of ${LOG_EVENT_HEADER_LEN} header bytes`,
      );
    }
    const size = buf.readUInt32LE(pos + EVENT_LEN_OFFSET);
    if (size < LOG_EVENT_HEADER_LEN) {
      throw new ProtocolError('ERR_MALFORMED', `binlog event at offset ${pos} has event_size ${size} < ${LOG_EVENT_HEADER_LEN}`);
    }
    if (size > left) {
      throw new ProtocolError(
        'ERR_TRUNCATED',
        `binlog truncated in the middle of an event at offset ${pos}: event_size ${size}, ${left} bytes left`,
      );
    }
    const type = buf[pos + EVENT_TYPE_OFFSET]!;
    const event = new BinlogEvent(buf.subarray(pos, pos + size));
    if (type === FORMAT_DESCRIPTION_EVENT) {
      fde = decodeFormatDescription(event);
    } else if (fde === undefined) {
      throw new ProtocolError(
        type === START_EVENT_V3 ? 'ERR_UNSUPPORTED' : 'ERR_MALFORMED',
        type === START_EVENT_V3
          ? 'binlog files older than v4 (START_EVENT_V3 at offset 4) are not supported'
          : `binlog file does not start with a FORMAT_DESCRIPTION_EVENT (type ${type} at offset ${pos})`,
      );
    }
    const checksumAlg = fde.checksumAlg;
    if (verify) {
      try {
        verifyEventChecksum(event.raw, checksumAlg);
      } catch (err) {
        if (err instanceof ProtocolError) err.message += ` (event at offset ${pos})`;
        throw err;
      }
    }
    yield { pos, event, checksumAlg, fde };
    pos += size;
  }
}
