/**
 * The one error hierarchy of binlog-proxy. Every error thrown by our code carries a stable `code`
 * (never reworded; scripts and the admin API match on it) and, where it wraps another failure, a `cause`.
 *
 * Domains add subclasses (storage, upstream, config, ...) next to their own code; `protocol/` only
 * defines the base class and the codec errors, so that it stays free of everything else.
 */
export class BinlogProxyError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Malformed or unexpected bytes: a packet, an event or a GTID text that does not follow the protocol.
 * This is the only error a decoder may throw (fuzz tests hold it to that).
 */
export class ProtocolError extends BinlogProxyError {
  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A binlog event whose CRC32 trailer does not match its bytes. */
export class ChecksumError extends ProtocolError {
  readonly expected: number;
  readonly actual: number;

  constructor(message: string, expected: number, actual: number) {
    super('ERR_CHECKSUM', message);
    this.expected = expected;
    this.actual = actual;
  }
}

export type ProtocolErrorCode =
  | 'ERR_TRUNCATED' // fewer bytes than a field or a length prefix announces
  | 'ERR_MALFORMED' // a value that the layout does not allow
  | 'ERR_PACKET_SEQUENCE' // a packet whose sequence id is not the expected one
  | 'ERR_PACKET_TOO_LARGE' // a logical packet over the configured maximum
  | 'ERR_UNSUPPORTED' // a valid construct this codec does not handle
  | 'ERR_CHECKSUM' // CRC32 mismatch
  | 'ERR_GTID_SYNTAX'; // a GTID, GTID set or MariaDB GTID position that does not parse
