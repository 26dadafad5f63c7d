/**
 * A binlog file on disk read as a stream of events, a piece at a time, and yielded a piece's events at a time
 * (one await per piece, not per event): memory stays at about one piece (`pieceBytes`, 1 MiB by default) or the
 * largest event, whatever the size of the file. Each piece is a fresh buffer, so events (views into it) stay
 * valid after the next piece is read: a consumer may keep them.
 *
 * The file is read up to the size it had when it was opened (a file the primary is still writing ends there). A
 * damaged event fails the read before the events of its piece are yielded.
 */
import { open } from 'node:fs/promises';
import {
  binlogFileStart,
  binlogTruncated,
  checkBinlogMagic,
  readBinlogPiece,
  type BinlogFileEvent,
  type ReadBinlogFileOptions,
} from '../protocol/binlog/file.js';
import { BINLOG_MAGIC_SIZE } from '../protocol/binlog/constants.js';
import { BinlogProxyError } from '../protocol/errors.js';

export interface StreamBinlogFileOptions extends ReadBinlogFileOptions {
  /** Bytes read at a time (a bigger event is read whole). */
  pieceBytes?: number;
  /** Read only up to this offset (an event boundary, e.g. where an earlier pass ended), even if the file grew. */
  endAt?: number;
}

/** An I/O failure (open, stat, read; code ERR_FILE_READ), as opposed to the ProtocolError of bad contents. */
export class BinlogFileReadError extends BinlogProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FILE_READ', message, options);
  }
}

/** The events of the binlog file at `path`, in order, in batches (see readBinlogFile for the checks made). */
export async function* streamBinlogFile(path: string, opts?: StreamBinlogFileOptions): AsyncGenerator<BinlogFileEvent[], void, undefined> {
  const pieceBytes = opts?.pieceBytes ?? 1 << 20;
  const fh = await open(path, 'r').catch((err: Error) => {
    throw new BinlogFileReadError(`cannot open ${path}: ${err.message}`, { cause: err });
  });
  try {
    const read = async (pos: number, len: number): Promise<Buffer> => {
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        let n: number;
        try {
          ({ bytesRead: n } = await fh.read(buf, got, len - got, pos + got));
        } catch (err) {
          throw new BinlogFileReadError(`cannot read ${path} at offset ${pos + got}: ${(err as Error).message}`, { cause: err });
        }
        if (n === 0) return buf.subarray(0, got); // the file shrank since it was opened
        got += n;
      }
      return buf;
    };
    const size = await fh.stat().then(
      (s) => Math.min(s.size, opts?.endAt ?? Infinity),
      (err: Error) => {
        throw new BinlogFileReadError(`cannot stat ${path}: ${err.message}`, { cause: err });
      },
    );
    checkBinlogMagic(await read(0, Math.min(size, BINLOG_MAGIC_SIZE)));
    const state = binlogFileStart();
    while (state.pos < size) {
      const want = Math.min(size - state.pos, Math.max(pieceBytes, state.need));
      const piece = await read(state.pos, want);
      // The last piece: it reaches the size the file had, or the file shrank since (a short read).
      const last = piece.length < want || state.pos + piece.length >= size;
      const at = state.pos;
      const events = [...readBinlogPiece(piece, state, opts)];
      if (events.length > 0) yield events;
      if (!last) continue;
      // The file ends inside its last event.
      if (state.need > 0) throw binlogTruncated(state, piece.subarray(state.pos - at), at + piece.length - state.pos);
      break;
    }
  } finally {
    await fh.close();
  }
}
