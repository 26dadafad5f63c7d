/**
 * Little-endian integer and string codecs shared by the wire protocol and the binlog events.
 *
 * `ByteReader` is a cursor over one buffer that throws `ProtocolError('ERR_TRUNCATED')` instead of reading
 * past the end. `ByteWriter` writes into a buffer of a size computed up front by the caller (sum the field
 * sizes, allocate once, then `finish()` asserts that exactly that many bytes were written), the habit of
 * vitess' packet writers.
 *
 * 64-bit values are `bigint`. Length-encoded integers follow §1.2 of the protocol brief:
 *   < 0xfb          the value itself (1 byte)
 *   0xfb            NULL (only in text result rows)
 *   0xfc + int<2>   0xfd + int<3>   0xfe + int<8>
 *   0xff            never starts a lenenc (ERR marker)
 */
import { ProtocolError } from './errors.js';

export class ByteReader {
  readonly buf: Buffer;
  pos: number;
  /** Exclusive end: bytes at or after it are not part of what this reader decodes (e.g. a CRC trailer). */
  readonly end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) {
      throw new ProtocolError('ERR_TRUNCATED', `reader bounds ${start}..${end} outside a buffer of ${buf.length} bytes`);
    }
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number, what = 'field'): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new ProtocolError(
        'ERR_TRUNCATED',
        `truncated ${what}: need ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`,
      );
    }
  }

  skip(n: number, what = 'field'): void {
    this.need(n, what);
    this.pos += n;
  }

  u8(what = 'int<1>'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'int<2>'): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(what = 'int<3>'): number {
    this.need(3, what);
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(what = 'int<4>'): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u48(what = 'int<6>'): number {
    this.need(6, what);
    const v = this.buf.readUIntLE(this.pos, 6);
    this.pos += 6;
    return v;
  }

  u64(what = 'int<8>'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Unsigned little-endian integer of 1..6 bytes as a number. */
  uintN(n: number, what = `int<${n}>`): number {
    this.need(n, what);
    const v = this.buf.readUIntLE(this.pos, n);
    this.pos += n;
    return v;
  }

  /** Length-encoded integer. Returns `null` for the 0xfb NULL marker; throws on 0xff. */
  lenencOrNull(what = 'lenenc int'): bigint | null {
    const first = this.u8(what);
    if (first < 0xfb) return BigInt(first);
    switch (first) {
      case 0xfb:
        return null;
      case 0xfc:
        return BigInt(this.u16(what));
      case 0xfd:
        return BigInt(this.u24(what));
      case 0xfe:
        return this.u64(what);
      default:
        throw new ProtocolError('ERR_MALFORMED', `invalid length-encoded integer prefix 0xff at offset ${this.pos - 1}`);
    }
  }

  /** Length-encoded integer that must not be NULL. */
  lenenc(what = 'lenenc int'): bigint {
    const v = this.lenencOrNull(what);
    if (v === null) throw new ProtocolError('ERR_MALFORMED', `unexpected NULL marker 0xfb in ${what} at offset ${this.pos - 1}`);
    return v;
  }

  /** Length-encoded integer used as a length or count: must fit the remaining bytes' order of magnitude. */
  lenencNumber(what = 'lenenc int'): number {
    const v = this.lenenc(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ProtocolError('ERR_MALFORMED', `${what} ${v} is too large`);
    }
    return Number(v);
  }

  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** The rest up to `end` (str<EOF>). */
  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  /** NUL-terminated bytes (the NUL is consumed, not returned). */
  bytesNul(what = 'string<NUL>'): Buffer {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) {
      throw new ProtocolError('ERR_TRUNCATED', `unterminated ${what} at offset ${this.pos}`);
    }
    const v = this.buf.subarray(this.pos, nul);
    this.pos = nul + 1;
    return v;
  }

  strNul(what = 'string<NUL>', encoding: BufferEncoding = 'utf8'): string {
    return this.bytesNul(what).toString(encoding);
  }

  /** Length-encoded string; `null` for the NULL marker. */
  bytesLenencOrNull(what = 'string<lenenc>'): Buffer | null {
    const n = this.lenencOrNull(what);
    if (n === null) return null;
    if (n > BigInt(this.remaining)) {
      throw new ProtocolError('ERR_TRUNCATED', `truncated ${what}: length ${n} at offset ${this.pos}, ${this.remaining} left`);
    }
    return this.bytes(Number(n), what);
  }

  bytesLenenc(what = 'string<lenenc>'): Buffer {
    const v = this.bytesLenencOrNull(what);
    if (v === null) throw new ProtocolError('ERR_MALFORMED', `unexpected NULL in ${what}`);
    return v;
  }

  strLenenc(what = 'string<lenenc>', encoding: BufferEncoding = 'utf8'): string {
    return this.bytesLenenc(what).toString(encoding);
  }
}

/** Bytes taken by `value` as a length-encoded integer. */
export function lenencSize(value: number | bigint): number {
  const v = BigInt(value);
  if (v < 0n) throw new RangeError(`negative length-encoded integer ${v}`);
  if (v < 0xfbn) return 1;
  if (v <= 0xffffn) return 3;
  if (v <= 0xffffffn) return 4;
  if (v <= 0xffffffffffffffffn) return 9;
  throw new RangeError(`length-encoded integer ${v} exceeds 64 bits`);
}

/** Bytes taken by a length-encoded string of `byteLength` bytes. */
export function lenencStringSize(byteLength: number): number {
  return lenencSize(byteLength) + byteLength;
}

/**
 * A writer over a buffer allocated once with the exact size. Throws a RangeError (a programming error,
 * not a protocol one) if the caller's size calculation was wrong.
 */
export class ByteWriter {
  readonly buf: Buffer;
  pos = 0;

  constructor(size: number | Buffer) {
    this.buf = typeof size === 'number' ? Buffer.alloc(size) : size;
  }

  private room(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new RangeError(`ByteWriter overflow: writing ${n} bytes at ${this.pos} into ${this.buf.length}`);
    }
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16LE(v, this.pos);
    this.pos += 2;
    return this;
  }

  u24(v: number): this {
    this.room(3);
    this.buf.writeUIntLE(v, this.pos, 3);
    this.pos += 3;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  u48(v: number): this {
    this.room(6);
    this.buf.writeUIntLE(v, this.pos, 6);
    this.pos += 6;
    return this;
  }

  u64(v: bigint | number): this {
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  lenenc(value: number | bigint): this {
    const v = BigInt(value);
    const size = lenencSize(v);
    if (size === 1) return this.u8(Number(v));
    if (size === 3) return this.u8(0xfc).u16(Number(v));
    if (size === 4) return this.u8(0xfd).u24(Number(v));
    return this.u8(0xfe).u64(v);
  }

  /** The 0xfb NULL marker of text result rows. */
  nullMarker(): this {
    return this.u8(0xfb);
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  zeros(n: number): this {
    this.room(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  bytesNul(b: Uint8Array): this {
    return this.bytes(b).u8(0);
  }

  bytesLenenc(b: Uint8Array): this {
    return this.lenenc(b.length).bytes(b);
  }

  /** Asserts that the buffer was filled exactly and returns it. */
  finish(): Buffer {
    if (this.pos !== this.buf.length) {
      throw new RangeError(`ByteWriter size mismatch: wrote ${this.pos} of ${this.buf.length} bytes`);
    }
    return this.buf;
  }
}
