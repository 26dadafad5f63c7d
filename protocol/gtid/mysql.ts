/**
 * MySQL GTIDs and GTID sets: text form (`@@gtid_executed`, `SHOW BINARY LOG STATUS`) and the binary form of
 * PREVIOUS_GTIDS bodies and COM_BINLOG_DUMP_GTID requests (protocol brief §3.3).
 *
 * A GTID is `uuid:gno` or, on MySQL 8.3+, `uuid:tag:gno`. GNOs are signed 64-bit on the server
 * (`rpl_gno`); `GNO_END` (INT64_MAX) is one past the largest valid GNO, and 0 is never a valid GNO.
 *
 * Binary GTID set, untagged format (MySQL 5.6 .. 9.x):
 *
 * | size | field                                                               |
 * |------|---------------------------------------------------------------------|
 * | 8    | n_sids                                                              |
 * |      | per sid:                                                            |
 * | 16   |   UUID bytes, in printed order                                      |
 * | 8    |   n_intervals                                                       |
 * | 16×n |   start int<8> (inclusive), end int<8> (exclusive): `1-5` = [1, 6)  |
 *
 * Tagged format (MySQL 8.3+): the first int<8> is `(1 << 56) | (n_sids << 8) | 1` (byte 0 and byte 7
 * both hold the format code 1, bytes 1..6 the count); each sid is
 *
 * | size | field                                                               |
 * |------|---------------------------------------------------------------------|
 * | 16   | UUID bytes                                                          |
 * | 1    | tag length as a one-byte varlen: `len << 1` (empty tag = 0x00)      |
 * | len  | tag bytes, lowercase                                                |
 * | 8    | n_intervals, then the intervals as above                            |
 *
 * Sids are sorted by (UUID bytes, tag); intervals are sorted, disjoint and not adjacent.
 *
 * Internally each (uuid, tag) keeps two parallel arrays of interval starts and exclusive ends, sorted and
 * merged, so that `contains` is a binary search and adding the next consecutive GNO extends the last
 * interval in O(1).
 */
import { ByteReader, ByteWriter } from '../bytes.js';
import { ProtocolError } from '../errors.js';

/** One past the largest valid GNO (MySQL `GNO_END` = INT64_MAX). */
export const GNO_END = 0x7fffffffffffffffn;
/** The largest valid GNO. */
export const MAX_GNO = GNO_END - 1n;
/** Longest tag MySQL accepts (`Tag::tag_max_length`). */
export const TAG_MAX_LENGTH = 32;
/** Format code of the tagged GTID set encoding (`Gtid_format::tagged`). */
export const GTID_FORMAT_TAGGED = 1;

const UUID_BYTES = 16;
const UUID_TEXT_LENGTH = 36;
/** Decimal digits of INT64_MAX; anything longer cannot be a GNO. */
const MAX_GNO_TEXT_LENGTH = 19;

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const TAG_RE = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

export interface MysqlGtid {
  /** Lowercase canonical 8-4-4-4-12 form. */
  uuid: string;
  /** '' when untagged; otherwise lowercase. */
  tag: string;
  gno: bigint;
}

export interface MysqlGtidEncodeOptions {
  /**
   * `true`: tagged format even without tags. `false`: untagged format (throws ERR_UNSUPPORTED when the set
   * has tags). Omitted: tagged only when the set has tags.
   */
  tagged?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Validation helpers

function quote(text: string): string {
  return text.length > 64 ? `'${text.slice(0, 61)}...'` : `'${text}'`;
}

function syntaxError(message: string): ProtocolError {
  return new ProtocolError('ERR_GTID_SYNTAX', message);
}

/** Lowercase canonical UUID, or a syntax error. */
function normaliseUuid(uuid: string): string {
  if (typeof uuid !== 'string' || uuid.length !== UUID_TEXT_LENGTH || !UUID_RE.test(uuid)) {
    throw syntaxError(`invalid GTID UUID ${quote(String(uuid))}: expected the dashed form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`);
  }
  return uuid.toLowerCase();
}

/** Lowercase tag ('' for untagged), or a syntax error. */
function normaliseTag(tag: string): string {
  if (tag === '') return '';
  if (typeof tag !== 'string' || !TAG_RE.test(tag)) {
    throw syntaxError(
      `invalid GTID tag ${quote(String(tag))}: expected a letter or '_' followed by up to 31 letters, digits or '_'`,
    );
  }
  return tag.toLowerCase();
}

function checkGno(gno: bigint, what: string): void {
  if (typeof gno !== 'bigint' || gno < 1n || gno > MAX_GNO) {
    throw syntaxError(`invalid ${what} ${String(gno)}: a GNO must be between 1 and ${MAX_GNO}`);
  }
}

function sidKey(uuid: string, tag: string): string {
  return `${uuid}:${tag}`;
}

function uuidFromBytes(buf: Buffer, pos: number): string {
  const h = buf.toString('hex', pos, pos + UUID_BYTES);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

// ---------------------------------------------------------------------------------------------------------
// Single GTIDs

/** Parses `uuid:gno` or `uuid:tag:gno` (surrounding whitespace allowed). Throws ERR_GTID_SYNTAX. */
export function parseMysqlGtid(text: string): MysqlGtid {
  const parts = String(text).trim().split(':');
  if (parts.length !== 2 && parts.length !== 3) {
    throw syntaxError(`invalid GTID ${quote(String(text))}: expected 'uuid:gno' or 'uuid:tag:gno'`);
  }
  const uuid = normaliseUuid(parts[0]!.trim());
  const tag = parts.length === 3 ? normaliseTag(parts[1]!.trim()) : '';
  if (parts.length === 3 && tag === '') {
    throw syntaxError(`invalid GTID ${quote(String(text))}: empty tag`);
  }
  const gnoText = parts[parts.length - 1]!.trim();
  if (!/^[0-9]{1,19}$/.test(gnoText)) {
    throw syntaxError(`invalid GTID ${quote(String(text))}: bad GNO ${quote(gnoText)}`);
  }
  const gno = BigInt(gnoText);
  if (gno < 1n || gno > MAX_GNO) {
    throw syntaxError(`invalid GTID ${quote(String(text))}: GNO ${gnoText} outside 1..${MAX_GNO}`);
  }
  return { uuid, tag, gno };
}

export function formatMysqlGtid(g: MysqlGtid): string {
  return g.tag === '' ? `${g.uuid}:${g.gno}` : `${g.uuid}:${g.tag}:${g.gno}`;
}

// ---------------------------------------------------------------------------------------------------------
// Interval lists: parallel arrays of starts and exclusive ends, sorted, disjoint and not adjacent.

class Intervals {
  constructor(
    readonly starts: bigint[] = [],
    readonly ends: bigint[] = [],
  ) {}

  get length(): number {
    return this.starts.length;
  }

  clone(): Intervals {
    return new Intervals(this.starts.slice(), this.ends.slice());
  }

  /** First index whose exclusive end is >= v (intervals ending at v are adjacent to v). */
  private firstEndAtLeast(v: bigint): number {
    const ends = this.ends;
    let lo = 0;
    let hi = ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose start is > v. */
  private firstStartAbove(v: bigint): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(v: bigint): boolean {
    const i = this.firstStartAbove(v) - 1;
    return i >= 0 && v < this.ends[i]!;
  }

  /** True when [start, end) lies inside one interval. */
  covers(start: bigint, end: bigint): boolean {
    const i = this.firstStartAbove(start) - 1;
    return i >= 0 && end <= this.ends[i]!;
  }

  /** Adds [start, end), merging with overlapping or adjacent intervals. Caller guarantees start < end. */
  insert(start: bigint, end: bigint): void {
    const starts = this.starts;
    const ends = this.ends;
    const n = starts.length;
    if (n === 0 || start > ends[n - 1]!) {
      starts.push(start);
      ends.push(end);
      return;
    }
    if (start >= starts[n - 1]!) {
      // Overlaps or touches the last interval.
      if (end > ends[n - 1]!) ends[n - 1] = end;
      return;
    }
    const i = this.firstEndAtLeast(start);
    const j = this.firstStartAbove(end);
    if (i === j) {
      starts.splice(i, 0, start);
      ends.splice(i, 0, end);
      return;
    }
    if (start < starts[i]!) starts[i] = start;
    ends[i] = end > ends[j - 1]! ? end : ends[j - 1]!;
    if (j - i > 1) {
      starts.splice(i + 1, j - i - 1);
      ends.splice(i + 1, j - i - 1);
    }
  }

  /** Appends [start, end) known to start at or after the last interval's start (merging if needed). */
  private append(start: bigint, end: bigint): void {
    const n = this.starts.length;
    if (n > 0 && start <= this.ends[n - 1]!) {
      if (end > this.ends[n - 1]!) this.ends[n - 1] = end;
      return;
    }
    this.starts.push(start);
    this.ends.push(end);
  }

  static union(a: Intervals, b: Intervals): Intervals {
    const out = new Intervals();
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && a.starts[i]! <= b.starts[j]!)) {
        out.append(a.starts[i]!, a.ends[i]!);
        i++;
      } else {
        out.append(b.starts[j]!, b.ends[j]!);
        j++;
      }
    }
    return out;
  }

  static subtract(a: Intervals, b: Intervals): Intervals {
    const out = new Intervals();
    let j = 0;
    for (let i = 0; i < a.length; i++) {
      let s = a.starts[i]!;
      const e = a.ends[i]!;
      // Skip b intervals that end before this one starts.
      while (j < b.length && b.ends[j]! <= s) j++;
      let k = j;
      while (s < e && k < b.length && b.starts[k]! < e) {
        if (b.starts[k]! > s) {
          out.starts.push(s);
          out.ends.push(b.starts[k]!);
        }
        s = b.ends[k]!; // > s: b is sorted and disjoint, and every b interval from j on ends after s
        k++;
      }
      if (s < e) {
        out.starts.push(s);
        out.ends.push(e);
      }
    }
    return out;
  }

  static intersect(a: Intervals, b: Intervals): Intervals {
    const out = new Intervals();
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) {
      const s = a.starts[i]! > b.starts[j]! ? a.starts[i]! : b.starts[j]!;
      const e = a.ends[i]! < b.ends[j]! ? a.ends[i]! : b.ends[j]!;
      if (s < e) {
        out.starts.push(s);
        out.ends.push(e);
      }
      if (a.ends[i]! < b.ends[j]!) i++;
      else j++;
    }
    return out;
  }

  /** b ⊆ a */
  static containsAll(a: Intervals, b: Intervals): boolean {
    let i = 0;
    for (let j = 0; j < b.length; j++) {
      const s = b.starts[j]!;
      const e = b.ends[j]!;
      while (i < a.length && a.ends[i]! <= s) i++;
      if (i >= a.length || a.starts[i]! > s || a.ends[i]! < e) return false;
    }
    return true;
  }

  equals(o: Intervals): boolean {
    const n = this.starts.length;
    if (n !== o.starts.length) return false;
    for (let i = 0; i < n; i++) {
      if (this.starts[i] !== o.starts[i] || this.ends[i] !== o.ends[i]) return false;
    }
    return true;
  }

  count(): bigint {
    let c = 0n;
    for (let i = 0; i < this.starts.length; i++) c += this.ends[i]! - this.starts[i]!;
    return c;
  }
}

interface Sid {
  readonly uuid: string;
  readonly tag: string;
  iv: Intervals;
}

// ---------------------------------------------------------------------------------------------------------
// Text parser

const CH_0 = 0x30;
const CH_9 = 0x39;

function isSpace(c: number): boolean {
  // space, \t, \n, \v, \f, \r (MySQL's my_isspace on ASCII)
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isTagChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= CH_0 && c <= CH_9) || c === 0x5f /* _ */
  );
}

function isTokenChar(c: number): boolean {
  return isTagChar(c) || c === 0x2d /* - */;
}

class TextCursor {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  ws(): void {
    while (this.pos < this.text.length && isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  /**
   * The token starting at `from`, for error messages: a run of letters, digits, '-' and '_', or the single
   * character at `from` when it is none of those.
   */
  token(from = this.pos): string {
    let end = from;
    while (end < this.text.length && isTokenChar(this.text.charCodeAt(end))) end++;
    return end === from ? String.fromCodePoint(this.text.codePointAt(from)!) : this.text.slice(from, end);
  }

  fail(what: string, from = this.pos): ProtocolError {
    const tok = from >= this.text.length ? 'end of text' : quote(this.token(from));
    return syntaxError(`invalid GTID set ${quote(this.text)}: ${what} at offset ${from} (${tok})`);
  }

  gno(what: string): bigint {
    const from = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c < CH_0 || c > CH_9) break;
      this.pos++;
    }
    if (this.pos === from) throw this.fail(`expected ${what}`, from);
    if (this.pos - from > MAX_GNO_TEXT_LENGTH) throw this.fail(`${what} out of range`, from);
    const v = BigInt(this.text.slice(from, this.pos));
    if (v < 1n) throw this.fail(`${what} must be at least 1`, from);
    if (v > MAX_GNO) throw this.fail(`${what} larger than ${MAX_GNO}`, from);
    return v;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The set

export class MysqlGtidSet {
  /** (uuid:tag) → intervals. Never holds a sid with no interval. */
  private readonly sidMap: Map<string, Sid>;

  private constructor(sidMap: Map<string, Sid> = new Map()) {
    this.sidMap = sidMap;
  }

  static empty(): MysqlGtidSet {
    return new MysqlGtidSet();
  }

  /**
   * Parses MySQL's text form, e.g. `uuid:1-5:7,uuid2:tag:1-3:tag2:4`. '' (or only whitespace) is the empty
   * set. Whitespace is allowed around every separator (MySQL prints `,\n` between UUIDs); empty elements
   * between commas are skipped, as MySQL does. Tags apply to the intervals that follow them until the next
   * tag or UUID. Throws ProtocolError('ERR_GTID_SYNTAX') quoting the offending part.
   */
  static parse(text: string): MysqlGtidSet {
    if (typeof text !== 'string') throw syntaxError(`invalid GTID set: expected a string, got ${typeof text}`);
    const set = new MysqlGtidSet();
    const c = new TextCursor(text);
    c.ws();
    while (!c.done) {
      if (c.peek() === 0x2c /* , */) {
        c.pos++;
        c.ws();
        continue;
      }
      const uuidFrom = c.pos;
      const uuidText = text.slice(uuidFrom, uuidFrom + UUID_TEXT_LENGTH);
      if (uuidText.length !== UUID_TEXT_LENGTH || !UUID_RE.test(uuidText)) {
        throw c.fail('expected a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)', uuidFrom);
      }
      c.pos += UUID_TEXT_LENGTH;
      const uuid = uuidText.toLowerCase();
      let tag = '';
      c.ws();
      while (c.peek() === 0x3a /* : */) {
        c.pos++;
        c.ws();
        const ch = c.peek();
        if (ch >= CH_0 && ch <= CH_9) {
          const startFrom = c.pos;
          const start = c.gno('interval start');
          let end = start;
          c.ws();
          if (c.peek() === 0x2d /* - */) {
            c.pos++;
            c.ws();
            end = c.gno('interval end');
            if (end < start) throw c.fail(`interval end ${end} is below its start ${start}`, startFrom);
            c.ws();
          }
          set.insertRaw(uuid, tag, start, end + 1n);
        } else if (ch !== -1 && isTagChar(ch)) {
          const tagFrom = c.pos;
          while (!c.done && isTagChar(c.peek())) c.pos++;
          const t = text.slice(tagFrom, c.pos);
          if (!TAG_RE.test(t)) {
            throw c.fail(
              `invalid tag (a letter or '_' followed by up to ${TAG_MAX_LENGTH - 1} letters, digits or '_')`,
              tagFrom,
            );
          }
          tag = t.toLowerCase();
          c.ws();
        } else {
          throw c.fail('expected an interval or a tag after \':\'');
        }
      }
      if (c.done) break;
      if (c.peek() !== 0x2c /* , */) throw c.fail("expected ',' or ':'");
    }
    return set;
  }

  /** Decodes one binary GTID set (untagged or tagged format) that fills `buf` exactly. */
  static decode(buf: Buffer): MysqlGtidSet {
    const r = new ByteReader(buf);
    const set = MysqlGtidSet.read(r);
    if (r.remaining !== 0) {
      throw new ProtocolError('ERR_MALFORMED', `${r.remaining} trailing bytes after the GTID set at offset ${r.pos}`);
    }
    return set;
  }

  /** Reads one binary GTID set at the reader's position and leaves the reader after it. */
  static read(r: ByteReader): MysqlGtidSet {
    const head = r.u64('GTID set n_sids');
    const lowCode = Number(head & 0xffn);
    const highCode = Number(head >> 56n);
    const tagged = lowCode === GTID_FORMAT_TAGGED && highCode === GTID_FORMAT_TAGGED;
    const nSids = tagged ? (head >> 8n) & 0xffffffffffffn : head;
    // Smallest possible sid entry: uuid + (tag length byte) + n_intervals.
    const minSidSize = UUID_BYTES + (tagged ? 1 : 0) + 8;
    if (nSids > BigInt(Math.floor(r.remaining / minSidSize))) {
      throw new ProtocolError(
        'ERR_TRUNCATED',
        `GTID set announces ${nSids} sids but only ${r.remaining} bytes remain at offset ${r.pos}`,
      );
    }
    const set = new MysqlGtidSet();
    const n = Number(nSids);
    for (let s = 0; s < n; s++) {
      r.need(UUID_BYTES, 'GTID set uuid');
      const uuid = uuidFromBytes(r.buf, r.pos);
      r.pos += UUID_BYTES;
      let tag = '';
      if (tagged) {
        const lenByte = r.u8('GTID set tag length');
        if ((lenByte & 1) !== 0) {
          throw new ProtocolError(
            'ERR_MALFORMED',
            `GTID set tag length 0x${lenByte.toString(16)} at offset ${r.pos - 1} is not a one-byte varlen`,
          );
        }
        const len = lenByte >> 1;
        if (len > TAG_MAX_LENGTH) {
          throw new ProtocolError('ERR_MALFORMED', `GTID set tag length ${len} at offset ${r.pos - 1} exceeds ${TAG_MAX_LENGTH}`);
        }
        if (len > 0) {
          const tagText = r.bytes(len, 'GTID set tag').toString('latin1');
          if (!TAG_RE.test(tagText)) {
            throw new ProtocolError('ERR_MALFORMED', `invalid GTID tag ${quote(tagText)} at offset ${r.pos - len}`);
          }
          tag = tagText.toLowerCase();
        }
      }
      const nIntervals = r.u64('GTID set n_intervals');
      if (nIntervals > BigInt(Math.floor(r.remaining / 16))) {
        throw new ProtocolError(
          'ERR_TRUNCATED',
          `GTID set announces ${nIntervals} intervals for ${uuid} but only ${r.remaining} bytes remain at offset ${r.pos}`,
        );
      }
      const ni = Number(nIntervals);
      for (let k = 0; k < ni; k++) {
        const at = r.pos;
        const start = r.buf.readBigUInt64LE(r.pos);
        const end = r.buf.readBigUInt64LE(r.pos + 8);
        r.pos += 16;
        if (start < 1n || end <= start || end > GNO_END) {
          throw new ProtocolError(
            'ERR_MALFORMED',
            `invalid GTID interval [${start}, ${end}) for ${uuid} at offset ${at}: need 1 <= start < end <= ${GNO_END}`,
          );
        }
        set.insertRaw(uuid, tag, start, end);
      }
    }
    return set;
  }

  /** True when some sid has a non-empty tag. */
  hasTags(): boolean {
    for (const sid of this.sidMap.values()) if (sid.tag !== '') return true;
    return false;
  }

  private useTagged(opts?: MysqlGtidEncodeOptions): boolean {
    const hasTags = this.hasTags();
    if (opts?.tagged === false && hasTags) {
      throw new ProtocolError('ERR_UNSUPPORTED', 'a GTID set with tags cannot be encoded in the untagged format');
    }
    return opts?.tagged ?? hasTags;
  }

  private sortedSids(): Sid[] {
    // Keys are `uuid:tag` with fixed-length lowercase uuids, so key order = (uuid, tag) order, untagged first.
    const keys = [...this.sidMap.keys()].sort();
    return keys.map((k) => this.sidMap.get(k)!);
  }

  encodedLength(opts?: MysqlGtidEncodeOptions): number {
    const tagged = this.useTagged(opts);
    let size = 8;
    for (const sid of this.sidMap.values()) {
      size += UUID_BYTES + 8 + 16 * sid.iv.length;
      if (tagged) size += 1 + sid.tag.length;
    }
    return size;
  }

  /** Binary form (§3.3). Untagged unless the set has tags or `tagged: true`. */
  encode(opts?: MysqlGtidEncodeOptions): Buffer {
    const tagged = this.useTagged(opts);
    const w = new ByteWriter(this.encodedLength({ tagged }));
    const sids = this.sortedSids();
    const n = BigInt(sids.length);
    const format = BigInt(GTID_FORMAT_TAGGED);
    w.u64(tagged ? (format << 56n) | (n << 8n) | format : n);
    for (const sid of sids) {
      w.bytes(uuidToBytes(sid.uuid));
      if (tagged) {
        w.u8(sid.tag.length << 1);
        if (sid.tag.length > 0) w.bytes(Buffer.from(sid.tag, 'latin1'));
      }
      const { starts, ends } = sid.iv;
      w.u64(BigInt(starts.length));
      for (let i = 0; i < starts.length; i++) w.u64(starts[i]!).u64(ends[i]!);
    }
    return w.finish();
  }

  /** Canonical text: uuids sorted, per uuid the untagged intervals first, then each tag in order; ','-joined. */
  toString(): string {
    const parts: string[] = [];
    let current = '';
    let lastUuid = '';
    for (const sid of this.sortedSids()) {
      if (sid.uuid !== lastUuid) {
        if (current !== '') parts.push(current);
        current = sid.uuid;
        lastUuid = sid.uuid;
      }
      if (sid.tag !== '') current += `:${sid.tag}`;
      const { starts, ends } = sid.iv;
      for (let i = 0; i < starts.length; i++) {
        const s = starts[i]!;
        const last = ends[i]! - 1n;
        current += s === last ? `:${s}` : `:${s}-${last}`;
      }
    }
    if (current !== '') parts.push(current);
    return parts.join(',');
  }

  isEmpty(): boolean {
    return this.sidMap.size === 0;
  }

  clone(): MysqlGtidSet {
    const m = new Map<string, Sid>();
    for (const [k, sid] of this.sidMap) m.set(k, { uuid: sid.uuid, tag: sid.tag, iv: sid.iv.clone() });
    return new MysqlGtidSet(m);
  }

  /** Finds the sid for a caller-supplied (uuid, tag), normalising case; undefined when absent. */
  private lookup(uuid: string, tag: string): Sid | undefined {
    const sid = this.sidMap.get(sidKey(uuid, tag));
    if (sid !== undefined) return sid;
    const nu = normaliseUuid(uuid);
    const nt = normaliseTag(tag);
    if (nu === uuid && nt === tag) return undefined;
    return this.sidMap.get(sidKey(nu, nt));
  }

  /** Sid for already-normalised (uuid, tag), created when absent. */
  private sidFor(uuid: string, tag: string, key = sidKey(uuid, tag)): Sid {
    let sid = this.sidMap.get(key);
    if (sid === undefined) {
      sid = { uuid, tag, iv: new Intervals() };
      this.sidMap.set(key, sid);
    }
    return sid;
  }

  /** Adds [start, end) for an already-normalised sid; caller has validated the bounds. */
  private insertRaw(uuid: string, tag: string, start: bigint, end: bigint): void {
    this.sidFor(uuid, tag).iv.insert(start, end);
  }

  /** Adds one GTID. Adding the GNO right after the last interval is O(1); other positions O(log n) + splice. */
  add(g: MysqlGtid): this {
    const gno = g.gno;
    checkGno(gno, 'GNO');
    let sid = this.sidMap.get(sidKey(g.uuid, g.tag));
    if (sid === undefined) {
      const uuid = normaliseUuid(g.uuid);
      const tag = normaliseTag(g.tag);
      sid = this.sidFor(uuid, tag);
    }
    const ends = sid.iv.ends;
    const n = ends.length;
    if (n > 0 && ends[n - 1] === gno) {
      ends[n - 1] = gno + 1n; // the next consecutive GNO: extend the last interval
    } else {
      sid.iv.insert(gno, gno + 1n);
    }
    return this;
  }

  /** Adds the GNOs start..endInclusive of (uuid, tag). Throws ERR_GTID_SYNTAX on invalid bounds or ids. */
  addInterval(uuid: string, tag: string, start: bigint, endInclusive: bigint): this {
    checkGno(start, 'interval start');
    checkGno(endInclusive, 'interval end');
    if (endInclusive < start) {
      throw syntaxError(`invalid GTID interval ${start}-${endInclusive}: end below start`);
    }
    const nu = normaliseUuid(uuid);
    const nt = normaliseTag(tag);
    this.insertRaw(nu, nt, start, endInclusive + 1n);
    return this;
  }

  /** O(log n). Uuid and tag case are folded; an invalid uuid or tag throws ERR_GTID_SYNTAX. */
  contains(g: MysqlGtid): boolean {
    const sid = this.lookup(g.uuid, g.tag);
    return sid !== undefined && sid.iv.has(g.gno);
  }

  /** other ⊆ this */
  containsSet(other: MysqlGtidSet): boolean {
    for (const [key, o] of other.sidMap) {
      const mine = this.sidMap.get(key);
      if (mine === undefined || !Intervals.containsAll(mine.iv, o.iv)) return false;
    }
    return true;
  }

  union(other: MysqlGtidSet): MysqlGtidSet {
    const out = this.clone();
    for (const [key, o] of other.sidMap) {
      const mine = out.sidMap.get(key);
      if (mine === undefined) out.sidMap.set(key, { uuid: o.uuid, tag: o.tag, iv: o.iv.clone() });
      else mine.iv = Intervals.union(mine.iv, o.iv);
    }
    return out;
  }

  subtract(other: MysqlGtidSet): MysqlGtidSet {
    const m = new Map<string, Sid>();
    for (const [key, mine] of this.sidMap) {
      const o = other.sidMap.get(key);
      const iv = o === undefined ? mine.iv.clone() : Intervals.subtract(mine.iv, o.iv);
      if (iv.length > 0) m.set(key, { uuid: mine.uuid, tag: mine.tag, iv });
    }
    return new MysqlGtidSet(m);
  }

  intersect(other: MysqlGtidSet): MysqlGtidSet {
    const m = new Map<string, Sid>();
    for (const [key, mine] of this.sidMap) {
      const o = other.sidMap.get(key);
      if (o === undefined) continue;
      const iv = Intervals.intersect(mine.iv, o.iv);
      if (iv.length > 0) m.set(key, { uuid: mine.uuid, tag: mine.tag, iv });
    }
    return new MysqlGtidSet(m);
  }

  equals(other: MysqlGtidSet): boolean {
    if (this.sidMap.size !== other.sidMap.size) return false;
    for (const [key, mine] of this.sidMap) {
      const o = other.sidMap.get(key);
      if (o === undefined || !mine.iv.equals(o.iv)) return false;
    }
    return true;
  }

  /** Intervals for one (uuid, tag): [start, endInclusive] sorted and merged. */
  intervals(uuid: string, tag = ''): Array<[bigint, bigint]> {
    const sid = this.lookup(uuid, tag);
    if (sid === undefined) return [];
    const { starts, ends } = sid.iv;
    const out: Array<[bigint, bigint]> = new Array(starts.length);
    for (let i = 0; i < starts.length; i++) out[i] = [starts[i]!, ends[i]! - 1n];
    return out;
  }

  /** Every (uuid, tag) present, sorted by uuid then tag (untagged first). */
  sids(): Array<{ uuid: string; tag: string }> {
    return this.sortedSids().map((s) => ({ uuid: s.uuid, tag: s.tag }));
  }

  /** Number of GTIDs in the set. */
  count(): bigint {
    let c = 0n;
    for (const sid of this.sidMap.values()) c += sid.iv.count();
    return c;
  }
}
