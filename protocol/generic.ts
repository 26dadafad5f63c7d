/**
 * Generic response packets (§1.7): OK, ERR and the classic EOF, the predicates that tell them apart, and
 * `MysqlServerError`, the error a client raises for an ERR packet from a server.
 */
import { ByteReader, ByteWriter, lenencSize, lenencStringSize } from './bytes.js';
import { BinlogProxyError, ProtocolError } from './errors.js';
import {
  CLIENT_DEPRECATE_EOF,
  CLIENT_SESSION_TRACK,
  EOF_HEADER,
  ERR_HEADER,
  MAX_PACKET_PAYLOAD,
  OK_HEADER,
  SERVER_SESSION_STATE_CHANGED,
} from './constants.js';

// ---------------------------------------------------------------------------------------------------
// OK
// ---------------------------------------------------------------------------------------------------

/*
 * OK packet layout
 *   size    field
 *   1       header 0x00 (0xfe when it replaces an EOF under CLIENT_DEPRECATE_EOF)
 *   lenenc  affected_rows
 *   lenenc  last_insert_id
 *   2       status_flags
 *   2       warnings
 *   lenenc  info length, then info bytes (absent when the info is empty)
 *   lenenc  session-state block, only with CLIENT_SESSION_TRACK and SERVER_SESSION_STATE_CHANGED
 *
 * The info is length-encoded in BOTH modes: MySQL's and MariaDB's net_send_ok write it with
 * net_store_data (lenenc) also without CLIENT_SESSION_TRACK, and libmysqlclient reads it that way. (The
 * protocol fact sheet and some drivers, e.g. mysql2, call it str<EOF> without SESSION_TRACK; the decoder
 * falls back to that reading when the lenenc one does not fit the packet exactly.)
 */
export interface OkPacket {
  affectedRows: bigint;
  lastInsertId: bigint;
  statusFlags: number;
  warnings: number;
  info: string;
  /** Raw session-state-change block (SESSION_TRACK + SERVER_SESSION_STATE_CHANGED), else null. */
  sessionState: Buffer | null;
}

export interface OkInit {
  affectedRows?: number | bigint;
  lastInsertId?: number | bigint;
  statusFlags?: number;
  warnings?: number;
  info?: string | Buffer;
  /** Sent only with CLIENT_SESSION_TRACK; also sets SERVER_SESSION_STATE_CHANGED. */
  sessionState?: Buffer | null;
}

export interface OkOptions {
  capabilities: number;
  /** Use the 0xfe header: the OK that ends a result set under CLIENT_DEPRECATE_EOF. */
  eofHeader?: boolean;
}

/** Shortest OK packet: header, two 1-byte lenencs, status, warnings. */
export const MIN_OK_LENGTH = 7;

export function encodeOk(ok: OkInit, opts: OkOptions): Buffer {
  const affected = BigInt(ok.affectedRows ?? 0);
  const insertId = BigInt(ok.lastInsertId ?? 0);
  const info = typeof ok.info === 'string' ? Buffer.from(ok.info, 'utf8') : (ok.info ?? Buffer.alloc(0));
  const tracking = (opts.capabilities & CLIENT_SESSION_TRACK) !== 0;
  const state = tracking && ok.sessionState ? ok.sessionState : null;
  let status = ok.statusFlags ?? 0;
  if (state) status |= SERVER_SESSION_STATE_CHANGED;
  else status &= ~SERVER_SESSION_STATE_CHANGED;
  const writeInfo = info.length > 0 || state !== null;
  const size =
    1 + lenencSize(affected) + lenencSize(insertId) + 4 +
    (writeInfo ? lenencStringSize(info.length) : 0) +
    (state ? lenencStringSize(state.length) : 0);
  const w = new ByteWriter(size);
  w.u8(opts.eofHeader ? EOF_HEADER : OK_HEADER).lenenc(affected).lenenc(insertId).u16(status).u16(ok.warnings ?? 0);
  if (writeInfo) w.bytesLenenc(info);
  if (state) w.bytesLenenc(state);
  return w.finish();
}

export function decodeOk(payload: Buffer, opts: { capabilities: number }): OkPacket {
  const r = new ByteReader(payload);
  const h = r.u8('OK header');
  if (h !== OK_HEADER && h !== EOF_HEADER) throw new ProtocolError('ERR_MALFORMED', `not an OK packet: header 0x${h.toString(16)}`);
  const affectedRows = r.lenenc('affected_rows');
  const lastInsertId = r.lenenc('last_insert_id');
  const statusFlags = r.u16('status_flags');
  const warnings = r.u16('warnings');
  let info = '';
  let sessionState: Buffer | null = null;
  if (r.remaining > 0) {
    if (opts.capabilities & CLIENT_SESSION_TRACK) {
      info = r.strLenenc('info');
      if (statusFlags & SERVER_SESSION_STATE_CHANGED && r.remaining > 0) sessionState = r.bytesLenenc('session state');
    } else {
      info = readInfoWithoutSessionTrack(r);
    }
  }
  return { affectedRows, lastInsertId, statusFlags, warnings, info, sessionState };
}

/** lenenc info when its length fills the packet exactly, else the rest as str<EOF>. */
function readInfoWithoutSessionTrack(r: ByteReader): string {
  const start = r.pos;
  const first = r.buf[start]!;
  const prefix = first < 0xfb ? 1 : first === 0xfc ? 3 : first === 0xfd ? 4 : first === 0xfe ? 9 : 0;
  if (prefix > 0 && prefix <= r.remaining) {
    const len = prefix === 1 ? first : prefix === 9 ? Number(r.buf.readBigUInt64LE(start + 1)) : r.buf.readUIntLE(start + 1, prefix - 1);
    if (prefix + len === r.remaining) {
      r.skip(prefix);
      return r.rest().toString('utf8');
    }
  }
  return r.rest().toString('utf8');
}

// ---------------------------------------------------------------------------------------------------
// ERR
// ---------------------------------------------------------------------------------------------------

/*
 * ERR packet layout (CLIENT_PROTOCOL_41)
 *   1         0xff
 *   2         error code
 *   1         '#' SQLSTATE marker (absent in pre-4.1 and some handshake-time errors)
 *   5         SQLSTATE
 *   str<EOF>  message
 */
export interface ErrPacket {
  code: number;
  sqlState: string;
  message: string;
}

/** SQLSTATE used when a packet carries none. */
export const UNKNOWN_SQLSTATE = 'HY000';

export function encodeErr(err: { code: number; sqlState?: string; message: string }): Buffer {
  const state = Buffer.from(err.sqlState ?? UNKNOWN_SQLSTATE, 'latin1');
  if (state.length !== 5) throw new RangeError(`SQLSTATE must be 5 characters, got '${err.sqlState}'`);
  const msg = Buffer.from(err.message, 'utf8');
  return new ByteWriter(1 + 2 + 1 + 5 + msg.length).u8(ERR_HEADER).u16(err.code).u8(0x23).bytes(state).bytes(msg).finish();
}

export function decodeErr(payload: Buffer): ErrPacket {
  const r = new ByteReader(payload);
  const h = r.u8('ERR header');
  if (h !== ERR_HEADER) throw new ProtocolError('ERR_MALFORMED', `not an ERR packet: header 0x${h.toString(16)}`);
  const code = r.u16('error code');
  let sqlState = UNKNOWN_SQLSTATE;
  if (r.remaining >= 6 && r.buf[r.pos] === 0x23) {
    r.skip(1);
    sqlState = r.bytes(5, 'SQLSTATE').toString('latin1');
  }
  return { code, sqlState, message: r.rest().toString('utf8') };
}

/** An ERR packet received from a MySQL/MariaDB server, as an exception. */
export class MysqlServerError extends BinlogProxyError {
  readonly errno: number;
  readonly sqlState: string;

  constructor(errno: number, sqlState: string, message: string, options?: { cause?: unknown }) {
    super('ERR_SERVER', message, options);
    this.errno = errno;
    this.sqlState = sqlState;
  }

  static fromPacket(err: ErrPacket): MysqlServerError {
    return new MysqlServerError(err.code, err.sqlState, `server error ${err.code} (${err.sqlState}): ${err.message}`);
  }

  /** The ERR packet this error stands for (its `message` is the server's original text). */
  toPacket(): ErrPacket {
    const prefix = `server error ${this.errno} (${this.sqlState}): `;
    const message = this.message.startsWith(prefix) ? this.message.slice(prefix.length) : this.message;
    return { code: this.errno, sqlState: this.sqlState, message };
  }
}

// ---------------------------------------------------------------------------------------------------
// EOF
// ---------------------------------------------------------------------------------------------------

/*
 * EOF packet layout (classic, CLIENT_PROTOCOL_41)
 *   1  0xfe
 *   2  warnings
 *   2  status_flags
 * Always this 5-byte form at the end of a binlog dump, even with CLIENT_DEPRECATE_EOF.
 */
export interface EofPacket {
  warnings: number;
  statusFlags: number;
}

export function encodeEof(eof: Partial<EofPacket> = {}): Buffer {
  return new ByteWriter(5).u8(EOF_HEADER).u16(eof.warnings ?? 0).u16(eof.statusFlags ?? 0).finish();
}

export function decodeEof(payload: Buffer): EofPacket {
  if (payload.length === 0 || payload[0] !== EOF_HEADER || payload.length >= 9) {
    throw new ProtocolError('ERR_MALFORMED', 'not an EOF packet');
  }
  if (payload.length === 1) return { warnings: 0, statusFlags: 0 }; // pre-4.1 EOF
  const r = new ByteReader(payload, 1);
  return { warnings: r.u16('warnings'), statusFlags: r.u16('status_flags') };
}

// ---------------------------------------------------------------------------------------------------
// Predicates
// ---------------------------------------------------------------------------------------------------

/**
 * An OK packet: header 0x00 and at least 7 bytes; with CLIENT_DEPRECATE_EOF also any 0xfe packet shorter
 * than 0xFFFFFF (the OK that ends a result set; a row starting with a 0xfe lenenc is longer than that).
 */
export function isOkPacket(payload: Buffer, capabilities: number): boolean {
  if (payload.length === 0) return false;
  if (payload[0] === OK_HEADER) return payload.length >= MIN_OK_LENGTH;
  return (capabilities & CLIENT_DEPRECATE_EOF) !== 0 && payload[0] === EOF_HEADER && payload.length < MAX_PACKET_PAYLOAD;
}

/** An ERR packet: header 0xff (a lenenc never starts with 0xff, so no row or count is mistaken for it). */
export function isErrPacket(payload: Buffer, _capabilities?: number): boolean {
  return payload.length > 0 && payload[0] === ERR_HEADER;
}

/**
 * A classic EOF: header 0xfe and fewer than 9 bytes. Under CLIENT_DEPRECATE_EOF such a packet can also be
 * a short 0xfe OK; both end a result set, and `isOkPacket` says whether the OK reading applies.
 */
export function isEofPacket(payload: Buffer, _capabilities?: number): boolean {
  return payload.length > 0 && payload.length < 9 && payload[0] === EOF_HEADER;
}
