/**
 * MariaDB GTIDs and GTID positions.
 *
 * A MariaDB GTID is `domain_id-server_id-seq_no` (u32, u32, u64), e.g. `0-1-100`. A GTID *position*
 * (`@@gtid_binlog_pos`, `@@gtid_current_pos`, `@@gtid_slave_pos`, the `@slave_connect_state` a replica sends)
 * holds at most one GTID per replication domain: the last transaction applied in that domain.
 *
 * Text form of a position: GTIDs joined by ',' in any order; '' is the empty position. Whitespace around the
 * numbers and commas is tolerated. A domain may appear only once (MariaDB rejects duplicates in
 * `@slave_connect_state` with ER_DUPLICATE_GTID_DOMAIN).
 *
 * Binary forms (decoded by the binlog event codecs, not here):
 *
 * | event        | layout                                                                          |
 * |--------------|---------------------------------------------------------------------------------|
 * | GTID (162)   | seq_no int<8>, domain_id int<4>, flags2 int<1>, ... (server_id = header's)      |
 * | GTID_LIST    | count int<4> (low 28 bits), then count × (domain_id 4, server_id 4, seq_no 8)   |
 *
 * A GTID_LIST is the binlog *state*, which may list several server_ids per domain; within a domain MariaDB
 * writes the most recent GTID last, so `fromList` lets later entries replace earlier ones.
 */
import { ProtocolError } from '../errors.js';

export interface MariadbGtid {
  /** u32 */
  domainId: number;
  /** u32 */
  serverId: number;
  /** u64 */
  seqNo: bigint;
}

const U32_MAX = 0xffffffff;
const U64_MAX = 0xffffffffffffffffn;

function quote(text: string): string {
  return text.length > 64 ? `'${text.slice(0, 61)}...'` : `'${text}'`;
}

function syntaxError(message: string): ProtocolError {
  return new ProtocolError('ERR_GTID_SYNTAX', message);
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32_MAX;
}

function checkGtid(g: MariadbGtid): void {
  if (!isU32(g.domainId)) throw syntaxError(`invalid MariaDB GTID domain_id ${String(g.domainId)}: not a u32`);
  if (!isU32(g.serverId)) throw syntaxError(`invalid MariaDB GTID server_id ${String(g.serverId)}: not a u32`);
  if (typeof g.seqNo !== 'bigint' || g.seqNo < 0n || g.seqNo > U64_MAX) {
    throw syntaxError(`invalid MariaDB GTID seq_no ${String(g.seqNo)}: not a u64`);
  }
}

const GTID_RE = /^\s*([0-9]+)\s*-\s*([0-9]+)\s*-\s*([0-9]+)\s*$/;

/** Parses one `domain-server-seq` GTID (whitespace around the numbers allowed). Throws ERR_GTID_SYNTAX. */
export function parseMariadbGtid(text: string): MariadbGtid {
  const m = typeof text === 'string' ? GTID_RE.exec(text) : null;
  if (m === null) {
    throw syntaxError(`invalid MariaDB GTID ${quote(String(text))}: expected 'domain-server-seq'`);
  }
  const [, d, s, n] = m as unknown as [string, string, string, string];
  // Bound the digit count before converting, so a huge run of digits cannot cost anything.
  const domain = d.length <= 10 ? Number(d) : Infinity;
  const server = s.length <= 10 ? Number(s) : Infinity;
  if (domain > U32_MAX) throw syntaxError(`invalid MariaDB GTID ${quote(text)}: domain_id ${quote(d)} exceeds ${U32_MAX}`);
  if (server > U32_MAX) throw syntaxError(`invalid MariaDB GTID ${quote(text)}: server_id ${quote(s)} exceeds ${U32_MAX}`);
  const seq = n.replace(/^0+(?=.)/, '');
  if (seq.length > 20 || BigInt(seq) > U64_MAX) {
    throw syntaxError(`invalid MariaDB GTID ${quote(text)}: seq_no ${quote(n)} exceeds ${U64_MAX}`);
  }
  return { domainId: domain, serverId: server, seqNo: BigInt(seq) };
}

export function formatMariadbGtid(g: MariadbGtid): string {
  return `${g.domainId}-${g.serverId}-${g.seqNo}`;
}

export class MariadbGtidPosition {
  private readonly byDomain: Map<number, MariadbGtid>;

  private constructor(byDomain: Map<number, MariadbGtid> = new Map()) {
    this.byDomain = byDomain;
  }

  static empty(): MariadbGtidPosition {
    return new MariadbGtidPosition();
  }

  /** Parses `0-1-100,2-7-5`; '' (or only whitespace) is empty. A domain listed twice is ERR_GTID_SYNTAX. */
  static parse(text: string): MariadbGtidPosition {
    if (typeof text !== 'string') throw syntaxError(`invalid MariaDB GTID position: expected a string, got ${typeof text}`);
    const pos = new MariadbGtidPosition();
    if (text.trim() === '') return pos;
    for (const part of text.split(',')) {
      if (part.trim() === '') {
        throw syntaxError(`invalid MariaDB GTID position ${quote(text)}: empty element between commas`);
      }
      const g = parseMariadbGtid(part);
      if (pos.byDomain.has(g.domainId)) {
        throw syntaxError(
          `invalid MariaDB GTID position ${quote(text)}: domain ${g.domainId} appears more than once (${quote(part.trim())})`,
        );
      }
      pos.byDomain.set(g.domainId, g);
    }
    return pos;
  }

  /** One GTID per domain; for a domain listed several times the later entry wins (GTID_LIST order). */
  static fromList(gtids: Iterable<MariadbGtid>): MariadbGtidPosition {
    const pos = new MariadbGtidPosition();
    for (const g of gtids) pos.advance(g);
    return pos;
  }

  get(domainId: number): MariadbGtid | undefined {
    const g = this.byDomain.get(domainId);
    return g === undefined ? undefined : { ...g };
  }

  /** Every GTID, sorted by domainId. */
  domains(): MariadbGtid[] {
    return [...this.byDomain.values()].sort((a, b) => a.domainId - b.domainId).map((g) => ({ ...g }));
  }

  /** The domain's GTID becomes `g` (even if its seq_no is lower: MariaDB records the last GTID applied). */
  advance(g: MariadbGtid): this {
    checkGtid(g);
    this.byDomain.set(g.domainId, { domainId: g.domainId, serverId: g.serverId, seqNo: g.seqNo });
    return this;
  }

  /** True when the position has already passed g: same domain present and g.seqNo <= that domain's seqNo. */
  contains(g: MariadbGtid): boolean {
    const mine = this.byDomain.get(g.domainId);
    return mine !== undefined && g.seqNo <= mine.seqNo;
  }

  /** True when every domain of `other` is present here with seqNo >= other's. */
  containsPosition(other: MariadbGtidPosition): boolean {
    for (const g of other.byDomain.values()) if (!this.contains(g)) return false;
    return true;
  }

  clone(): MariadbGtidPosition {
    const m = new Map<number, MariadbGtid>();
    for (const [d, g] of this.byDomain) m.set(d, { ...g });
    return new MariadbGtidPosition(m);
  }

  equals(other: MariadbGtidPosition): boolean {
    if (this.byDomain.size !== other.byDomain.size) return false;
    for (const [d, g] of this.byDomain) {
      const o = other.byDomain.get(d);
      if (o === undefined || o.serverId !== g.serverId || o.seqNo !== g.seqNo) return false;
    }
    return true;
  }

  isEmpty(): boolean {
    return this.byDomain.size === 0;
  }

  /** Number of domains. */
  get size(): number {
    return this.byDomain.size;
  }

  /** Canonical text: sorted by domain, `d-s-n` joined by ','. */
  toString(): string {
    return this.domains().map(formatMariadbGtid).join(',');
  }
}
