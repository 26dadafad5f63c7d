/**
 * GET /binlog/server/wait: waits until this node's store holds a GTID set durably, the binlog server's
 * MASTER_GTID_WAIT (MariaDB) or WAIT_FOR_EXECUTED_GTID_SET (MySQL). A failover script asks it before it points
 * replicas at the proxy or promotes one ("has the proxy got everything the old primary committed?"); the bench
 * asks it instead of polling the status, which cost the daemon ~5% of an ingest's main-thread time at 200 Hz.
 *
 * Reached means: every GTID of the set is in the executed set of units already durable (a crash cannot take
 * them away, and a replica connecting now gets them). MariaDB positions compare per domain as MASTER_GTID_WAIT
 * does (the domain's sequence number reached, whatever the server id); MySQL sets by containment. The text is
 * read in the store's flavour, or by its form before the store has one.
 *
 * How: while anyone waits, a 1 ms timer compares the store's appended and durable sequences with the last ones
 * checked, and reads the executed set only when they moved. When the set covers a waiter at an appended unit
 * that is not durable yet, the waiter asks for that unit's write (waitDurable starts it at once, as a semi-sync
 * acknowledgement does, rather than after storage.groupCommitDelay). Nothing runs while nobody waits.
 */
import { MariadbGtidPosition } from '../protocol/gtid/mariadb.js';
import { MysqlGtidSet } from '../protocol/gtid/mysql.js';
import type { StoreState } from '../storage/index.js';
import { ValidationError } from './config/validate.js';

/** What the waiter needs from the store (BinlogStore satisfies it). */
export interface WaitStore {
  getState(): StoreState;
  readonly durableSeq: number;
  readonly appendedSeq: number;
  waitDurable(seq: number): Promise<void>;
}

export interface GtidWaitResult {
  reached: boolean;
  gtid_set: string;
  /** The store's executed set when the wait ended. */
  executed_gtid_set: string;
  waited_ms: number;
}

type GtidValue = MysqlGtidSet | MariadbGtidPosition;

interface Waiter {
  target: GtidValue;
  /** Set once the target is covered and its write was asked for. */
  covered: boolean;
  finish: (reached: boolean) => void;
}

const CHECK_EVERY_MS = 1;

function parseGtids(mysql: boolean, text: string): GtidValue {
  return mysql ? MysqlGtidSet.parse(text) : MariadbGtidPosition.parse(text);
}

/** Parses `text` as the flavour's GTID set; a 400 naming `field` when it is not one. */
function parseTarget(flavor: StoreState['flavor'], text: string, field: string): GtidValue {
  const mysql = flavor === 'mysql' || (flavor === null && text.includes(':'));
  try {
    return parseGtids(mysql, text);
  } catch (err) {
    const what = mysql ? 'MySQL GTID set (uuid:1-5,...)' : 'MariaDB GTID position (domain-server-seq,...)';
    throw new ValidationError(field, `${field} is not a ${what}${flavor !== null ? ` as this ${flavor} store holds` : ''}: ${(err as Error).message}`);
  }
}

function covers(executed: GtidValue, target: GtidValue): boolean {
  if (executed instanceof MysqlGtidSet) return target instanceof MysqlGtidSet && executed.containsSet(target);
  return target instanceof MariadbGtidPosition && executed.containsPosition(target);
}

export class GtidWaiter {
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | null = null;
  /** Appended and durable sequences at the last check (-1: check at the next tick). */
  private checkedAppended = -1;
  private checkedDurable = -1;
  private closed = false;

  constructor(private readonly store: WaitStore) {}

  /**
   * Resolves once `gtidSet` is durable in the store (reached), or after `timeoutMs`, on `signal` (the client
   * went away) or close() (not reached). Throws a ValidationError for a text that is not a GTID set.
   */
  async wait(gtidSet: string, timeoutMs: number, signal?: AbortSignal): Promise<GtidWaitResult> {
    const t0 = performance.now();
    const target = parseTarget(this.store.getState().flavor, gtidSet, 'gtid_set');
    const reached = await new Promise<boolean>((resolve) => {
      let timeout: NodeJS.Timeout | null = null;
      const onAbort = (): void => w.finish(false);
      const w: Waiter = {
        target,
        covered: false,
        finish: (ok) => {
          if (!this.waiters.delete(w)) return;
          if (timeout !== null) clearTimeout(timeout);
          signal?.removeEventListener('abort', onAbort);
          if (this.waiters.size === 0) this.stopTimer();
          resolve(ok);
        },
      };
      this.waiters.add(w);
      if (this.closed || signal?.aborted === true) {
        w.finish(false);
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      timeout = setTimeout(() => w.finish(false), timeoutMs);
      timeout.unref();
      this.checkedAppended = -1;
      this.check();
      if (this.waiters.size > 0 && this.timer === null) {
        this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
        this.timer.unref();
      }
    });
    return {
      reached,
      gtid_set: target.toString(),
      executed_gtid_set: this.store.getState().executedGtids,
      waited_ms: Math.round((performance.now() - t0) * 1000) / 1000,
    };
  }

  /** Waiters still waiting. */
  get size(): number {
    return this.waiters.size;
  }

  /** Ends every wait (not reached) and refuses new ones: the daemon is shutting down. */
  close(): void {
    this.closed = true;
    for (const w of [...this.waiters]) w.finish(false);
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private check(): void {
    const appended = this.store.appendedSeq;
    const durable = this.store.durableSeq;
    if (appended === this.checkedAppended && durable === this.checkedDurable) return;
    this.checkedAppended = appended;
    this.checkedDurable = durable;
    const st = this.store.getState();
    let executed: GtidValue;
    try {
      executed = parseGtids(st.flavor === 'mysql', st.executedGtids);
    } catch {
      return; // nothing stored yet in a store without a flavour
    }
    for (const w of this.waiters) {
      if (w.covered || !covers(executed, w.target)) continue;
      w.covered = true;
      if (st.lastSeq <= durable) {
        w.finish(true);
        continue;
      }
      // Covered by units appended but not yet written: ask for their write now, then report.
      this.store.waitDurable(st.lastSeq).then(
        () => w.finish(true),
        () => w.finish(false),
      );
    }
  }
}
