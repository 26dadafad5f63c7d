/**
 * Reading a binlog file (§4.1), whole in memory or piece by piece:
 *
 *   offset  size        field
 *   0       4           magic FE 62 69 6E ("\xfebin")
 *   4       event_size  FORMAT_DESCRIPTION_EVENT
 *   ...                 events back to back; each one's header log_pos is normally its end offset
 *
 * Every event after an FDE follows that FDE's checksum alg (a file holds one FDE, at offset 4). A file must
 * start with an FDE: without one we could not tell whether events carry a CRC trailer. Pre-v4 files
 * (START_EVENT_V3 first) are not supported.
 *
 * readBinlogFile walks a file held in one buffer. readBinlogPiece walks consecutive pieces of a file (what a
 * caller reads from disk, a chunk at a time) and carries what it needs from one piece to the next in a
 * BinlogFileState; the caller reads the next piece from `state.pos`, at least `state.need` bytes long.
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

/** Where a piecewise read of a file stands (see readBinlogPiece). */
export interface BinlogFileState {
  /** File offset of the next event: the next piece starts here. */
  pos: number;
  /** The FDE in force (undefined until the file's FDE is read). */
  fde: FormatDescription | undefined;
  /** Bytes from `pos` the next piece must hold for the event there to be decoded (0: any piece will do). */
  need: number;
}

/** The state of a file whose magic has been checked: its first event is at offset 4. */
export function binlogFileStart(): BinlogFileState {
  return { pos: BINLOG_MAGIC_SIZE, fde: undefined, need: 0 };
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

/**
 * The error for a file that ends `left` bytes after the start of its last event (at state.pos), when those
 * bytes are not a whole event. `piece` holds them.
 */
export function binlogTruncated(state: BinlogFileState, piece: Buffer, left: number): ProtocolError {
  if (left < LOG_EVENT_HEADER_LEN) {
    return new ProtocolError(
      'ERR_TRUNCATED',
      `binlog truncated in the middle of an event at offset ${state.pos}: ${left} of ${LOG_EVENT_HEADER_LEN} header bytes`,
    );
  }
  const size = piece.readUInt32LE(EVENT_LEN_OFFSET);
  return new ProtocolError(
    'ERR_TRUNCATED',
    `binlog truncated in the middle of an event at offset ${state.pos}: event_size ${size}, ${left} bytes left`,
  );
}

/**
 * Yields the whole events of `piece`, which holds the file's bytes from offset `state.pos` on, and moves
 * `state` past them. It stops at an event that does not end inside the piece and sets `state.need` to the
 * bytes that event takes (or its header, if the piece ends inside that); at the end of the file, such an
 * event is a truncation (binlogTruncated). Events are views into `piece` (no copies).
 */
export function* readBinlogPiece(piece: Buffer, state: BinlogFileState, opts?: ReadBinlogFileOptions): Generator<BinlogFileEvent, void, undefined> {
  const verify = opts?.verifyChecksums ?? true;
  let at = 0;
  state.need = 0;
  while (at < piece.length) {
    const pos = state.pos;
    const left = piece.length - at;
    if (left < LOG_EVENT_HEADER_LEN) {
      state.need = LOG_EVENT_HEADER_LEN;
      return;
    }
    const size = piece.readUInt32LE(at + EVENT_LEN_OFFSET);
    if (size < LOG_EVENT_HEADER_LEN) {
      throw new ProtocolError('ERR_MALFORMED', `binlog event at offset ${pos} has event_size ${size} < ${LOG_EVENT_HEADER_LEN}`);
    }
    if (size > left) {
      state.need = size;
      return;
    }
    const type = piece[at + EVENT_TYPE_OFFSET]!;
    const event = new BinlogEvent(piece.subarray(at, at + size));
    let fde = state.fde;
    if (type === FORMAT_DESCRIPTION_EVENT) {
      fde = state.fde = decodeFormatDescription(event);
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
    at += size;
    state.pos = pos + size;
    yield { pos, event, checksumAlg, fde };
  }
}

/** Yields every event of a binlog file in order. Events are views into `buf` (no copies). */
export function* readBinlogFile(buf: Buffer, opts?: ReadBinlogFileOptions): Generator<BinlogFileEvent, void, undefined> {
  checkBinlogMagic(buf);
  const state = binlogFileStart();
  const rest = buf.subarray(BINLOG_MAGIC_SIZE);
  yield* readBinlogPiece(rest, state, opts);
  if (state.need > 0) throw binlogTruncated(state, buf.subarray(state.pos), buf.length - state.pos);
}
