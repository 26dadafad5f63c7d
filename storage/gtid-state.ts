/**
 * The replication state the log keeps, for either flavour, behind one small interface: MySQL keeps a GTID
 * *set* (`MysqlGtidSet`), MariaDB a GTID *position* with one GTID per domain (`MariadbGtidPosition`).
 *
 * - executed = start GTIDs of the first stored file (if known) ∪ every stored GTID ∪ later files' start GTIDs
 *   (MySQL: set union; MariaDB: per domain, the GTID with the highest seq_no of the file start, then each stored
 *   transaction's GTID in log order).
 * - purged = the GTID state at the start of the oldest stored file (MySQL's rule for gtid_purged: the
 *   PREVIOUS_GTIDS of the oldest binlog kept).
 */
import { MariadbGtidPosition, parseMariadbGtid, type MariadbGtid } from '../protocol/gtid/mariadb.js';
import { MysqlGtidSet, type MysqlGtid } from '../protocol/gtid/mysql.js';
import { StorageError, type StorageErrorCode } from './errors.js';
import { isMysqlGtid, type AnyGtid, type Flavor } from './records.js';

export type GtidValue = MysqlGtidSet | MariadbGtidPosition;

/**
 * Parses a GTID text of the flavour. MariaDB text may be a GTID_LIST (several server ids for one domain,
 * later entries win), not only a strict position. Errors become StorageError `code` with the cause attached.
 */
export function parseGtidText(flavor: Flavor, text: string, code: StorageErrorCode, what: string): GtidValue {
  try {
    if (flavor === 'mysql') return MysqlGtidSet.parse(text);
    const parts = text.split(',').filter((p) => p.trim() !== '');
    return MariadbGtidPosition.fromList(parts.map((p) => parseMariadbGtid(p)));
  } catch (err) {
    throw new StorageError(code, `${what}: not a ${flavor} GTID ${flavor === 'mysql' ? 'set' : 'position'}: '${text}'`, { cause: err });
  }
}

/** Accepts a parsed value or its text; checks that it matches the flavour. */
export function toGtidValue(flavor: Flavor, v: GtidValue | string, what: string): GtidValue {
  if (typeof v === 'string') return parseGtidText(flavor, v, 'ERR_STORAGE_ARGUMENT', what);
  if (flavor === 'mysql' ? v instanceof MysqlGtidSet : v instanceof MariadbGtidPosition) return v;
  throw new StorageError('ERR_STORAGE_FLAVOR', `${what}: a ${flavor === 'mysql' ? 'MariaDB position' : 'MySQL GTID set'} given to a ${flavor} store`);
}

export class GtidTracker {
  private constructor(
    readonly flavor: Flavor,
    private value: GtidValue,
  ) {}

  static empty(flavor: Flavor): GtidTracker {
    return new GtidTracker(flavor, flavor === 'mysql' ? MysqlGtidSet.empty() : MariadbGtidPosition.empty());
  }

  /** From text we stored ourselves: a parse failure means damage (ERR_STORAGE_CORRUPT). */
  static fromStored(flavor: Flavor, text: string, what: string): GtidTracker {
    return new GtidTracker(flavor, parseGtidText(flavor, text, 'ERR_STORAGE_CORRUPT', what));
  }

  static of(flavor: Flavor, value: GtidValue): GtidTracker {
    return new GtidTracker(flavor, value);
  }

  get current(): GtidValue {
    return this.value;
  }

  /** A stored transaction's GTID. */
  add(g: AnyGtid): void {
    if (this.value instanceof MysqlGtidSet) this.value.add(g as MysqlGtid);
    else this.value.advance(g as MariadbGtid);
  }

  /** A file's starting GTID state joins the executed state. */
  mergeStart(start: GtidValue): void {
    if (this.value instanceof MysqlGtidSet) {
      this.value = this.value.union(start as MysqlGtidSet);
      return;
    }
    for (const g of (start as MariadbGtidPosition).domains()) {
      const mine = this.value.get(g.domainId);
      if (mine === undefined || mine.seqNo < g.seqNo) this.value.advance(g);
    }
  }

  clone(): GtidTracker {
    return new GtidTracker(this.flavor, this.value.clone());
  }

  toString(): string {
    return this.value.toString();
  }
}

/** True when `requested` already holds everything of `start` (a file whose start state ⊆ the request). */
export function coversStart(requested: GtidValue, start: GtidValue): boolean {
  if (requested instanceof MysqlGtidSet) return requested.containsSet(start as MysqlGtidSet);
  return requested.containsPosition(start as MariadbGtidPosition);
}

/** True when the transaction `g` is already contained in `requested`. */
export function containsGtid(requested: GtidValue, g: AnyGtid): boolean {
  if (requested instanceof MysqlGtidSet) return isMysqlGtid(g) && requested.contains(g);
  return !isMysqlGtid(g) && requested.contains(g);
}
