/**
 * MariaDB GTID connect (§3.7, §3.8): a replica that set `@slave_connect_state` gets the binlog from the start of
 * the newest file whose GTID_LIST is at or before its position in every domain; the sender skips event groups
 * per domain until each domain reaches the requested GTID, then tells the replica where it is with a fake
 * GTID_LIST. `@slave_until_gtid` ends the dump after the given GTIDs with a GTID_LIST flagged UNTIL_REACHED.
 *
 * The rules are MariaDB's own (`sql_repl.cc`: check_slave_start_position, gtid_find_binlog_file,
 * contains_all_slave_gtid, send_event_to_slave, is_until_reached), restated here:
 *
 * Start check, for each requested GTID d-s-n (else ERR 1236):
 *   1. our binlog state has (d, s) with seq >= n                               -> fine
 *   2. our binlog has nothing in domain d                                      -> fine for now, but re-checked
 *      when the first GTID of d turns up (START_ON_EMPTY_DOMAIN)
 *   3. @slave_gtid_ignore_duplicates and our last seq in d is < n              -> fine (another path has it)
 *   4. an UNTIL position is set and (has no entry for d, or its d entry is in our binlog) -> fine, that UNTIL
 *      domain counts as reached
 *   5. otherwise "not in the master's binlog" (with the "diverged" sentence when our last seq in d is >= n)
 * Start file, newest first: the first file without GTID_LIST, or whose GTID_LIST lists, for every domain it
 * has, a requested GTID of that domain that is not before it (same server and a lower seq_no is "before"; the
 * exact last GTID of the domain in the list is fine, and that requested entry is then dropped: the replica
 * starts with the domain's first group in this file). No file: "Could not find GTID state ...".
 * Streaming, for each GTID while the state has entries (or an UNTIL is set):
 *   - same domain, other server or seq <= n: skip the group; same server and seq >= n: the domain is reached
 *     (strict mode and seq > n: "missing the GTID ... GTID strict mode is enabled"), the entry is dropped and a
 *     fake GTID_LIST follows the end of the group (MariaDB sends it right after the GTID event when the group
 *     itself is not skipped: seq > n without strict mode);
 *   - UNTIL: a domain without UNTIL entry is skipped; reaching d's UNTIL GTID drops the entry and, when it was
 *     the last one, ends the dump after that group (the group is skipped if its seq is beyond the UNTIL seq).
 *
 * Our binlog state is approximate in one respect: MariaDB keeps the last seq_no of every (domain, server) pair;
 * the store keeps the last GTID per domain. We combine the newest file's GTID_LIST (all pairs at the file start)
 * with the store's per-domain state, so a pair that first appears inside the newest file without being its
 * domain's last GTID is not known. That only matters for multi-master writes into one domain.
 */
import { parseMariadbGtid, type MariadbGtid } from '../../../protocol/gtid/mariadb.js';
import { DumpError, messages } from './errors.js';

/** MariaDB's rpl_binlog_state: the last seq_no per (domain, server); in each domain the most recent is last. */
export class BinlogState {
  private readonly domains = new Map<number, Map<number, bigint>>();

  static fromList(list: Iterable<MariadbGtid>): BinlogState {
    const s = new BinlogState();
    for (const g of list) s.update(g);
    return s;
  }

  /** Records g as the most recent GTID of its domain. */
  update(g: MariadbGtid): void {
    let servers = this.domains.get(g.domainId);
    if (servers === undefined) {
      servers = new Map();
      this.domains.set(g.domainId, servers);
    } else {
      servers.delete(g.serverId);
    }
    servers.set(g.serverId, g.seqNo);
  }

  /** Replaces the whole state (a GTID_LIST event's list). */
  load(list: Iterable<MariadbGtid>): void {
    this.domains.clear();
    for (const g of list) this.update(g);
  }

  /** MariaDB `find_in_binlog_state`: the last seq_no logged by (domain, server). */
  find(domainId: number, serverId: number): bigint | undefined {
    return this.domains.get(domainId)?.get(serverId);
  }

  /** MariaDB `lookup_domain_in_binlog_state`: the most recent GTID of the domain. */
  lastInDomain(domainId: number): MariadbGtid | undefined {
    const servers = this.domains.get(domainId);
    if (servers === undefined) return undefined;
    let last: MariadbGtid | undefined;
    for (const [serverId, seqNo] of servers) last = { domainId, serverId, seqNo };
    return last;
  }

  hasDomain(domainId: number): boolean {
    return this.domains.has(domainId);
  }

  /** As a GTID_LIST lists it: per domain, every server, the domain's most recent GTID last. */
  list(): MariadbGtid[] {
    const out: MariadbGtid[] = [];
    for (const [domainId, servers] of this.domains) {
      for (const [serverId, seqNo] of servers) out.push({ domainId, serverId, seqNo });
    }
    return out;
  }
}

/** One domain of the replica's `@slave_connect_state`. */
export interface ConnectEntry {
  gtid: MariadbGtid;
  /** The domain was empty in our binlog at connect: re-check when its first GTID turns up. */
  startOnEmptyDomain: boolean;
}

/** Parses `@slave_connect_state` / `@slave_until_gtid` as MariaDB does: one GTID per domain. */
export function parseConnectState(text: string, until: boolean): Map<number, MariadbGtid> {
  const out = new Map<number, MariadbGtid>();
  try {
    for (const part of text.split(',')) {
      if (part.trim() === '') continue;
      const g = parseMariadbGtid(part);
      if (out.has(g.domainId)) throw new Error(`domain ${g.domainId} twice`);
      out.set(g.domainId, g);
    }
  } catch (err) {
    // MariaDB answers a malformed state with ER_UNKNOWN_ERROR (1105), not 1236.
    throw new DumpError('ERR_DUMP_GTID_STATE', until ? messages.mariadbBadUntilState() : messages.mariadbBadConnectState(), {
      cause: err,
      errno: 1105,
    });
  }
  return out;
}

/** Our binlog state as the connect-time checks see it (see the module comment for the approximation). */
export interface BinlogLookup {
  find(domainId: number, serverId: number): bigint | undefined;
  lastInDomain(domainId: number): MariadbGtid | undefined;
}

function notFound(g: MariadbGtid, binlog: BinlogLookup): DumpError {
  const last = binlog.lastInDomain(g.domainId);
  const diverged = last !== undefined && last.seqNo >= g.seqNo;
  return new DumpError('ERR_DUMP_GTID_NOT_FOUND', messages.mariadbGtidNotFound(g, diverged));
}

/**
 * MariaDB `check_slave_start_position`: validates the requested state against our binlog; returns the entries
 * to stream with (flags set) and removes reached UNTIL domains from `until`.
 */
export function checkStartPosition(
  requested: Map<number, MariadbGtid>,
  binlog: BinlogLookup,
  ignoreDuplicates: boolean,
  until: Map<number, MariadbGtid> | null,
): Map<number, ConnectEntry> {
  const out = new Map<number, ConnectEntry>();
  for (const [domainId, g] of requested) {
    const have = binlog.find(domainId, g.serverId);
    if (have !== undefined && have >= g.seqNo) {
      out.set(domainId, { gtid: g, startOnEmptyDomain: false });
      continue;
    }
    const last = binlog.lastInDomain(domainId);
    if (last === undefined) {
      out.set(domainId, { gtid: g, startOnEmptyDomain: true });
      continue;
    }
    if (ignoreDuplicates && last.seqNo < g.seqNo) {
      out.set(domainId, { gtid: g, startOnEmptyDomain: false });
      continue;
    }
    if (until !== null) {
      const u = until.get(domainId);
      if (u === undefined) {
        out.set(domainId, { gtid: g, startOnEmptyDomain: false });
        continue;
      }
      const uh = binlog.find(u.domainId, u.serverId);
      if (uh !== undefined && uh >= u.seqNo) {
        until.delete(domainId);
        out.set(domainId, { gtid: g, startOnEmptyDomain: false });
        continue;
      }
    }
    throw notFound(g, binlog);
  }
  return out;
}

/**
 * MariaDB `contains_all_slave_gtid`: can the dump start at the file whose GTID_LIST is `list`? Every domain of
 * the list must be in the requested state, not before the list's entry for the same server, except the
 * domain's very last entry itself.
 */
export function containsAllSlaveGtid(state: Map<number, ConnectEntry>, list: readonly MariadbGtid[]): boolean {
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    const want = state.get(e.domainId)?.gtid;
    if (want === undefined) return false;
    if (want.serverId === e.serverId && want.seqNo <= e.seqNo) {
      if (want.seqNo < e.seqNo) return false;
      if (i + 1 < list.length && list[i + 1]!.domainId === e.domainId) return false;
    }
  }
  return true;
}

/**
 * After choosing a start file with GTID_LIST `list`: drop requested entries equal to the list's entry (the
 * replica starts at the domain's first group in this file) and UNTIL entries already reached before it.
 */
export function trimAtStartFile(state: Map<number, ConnectEntry>, until: Map<number, MariadbGtid> | null, list: readonly MariadbGtid[]): void {
  for (const e of list) {
    const want = state.get(e.domainId)?.gtid;
    if (want !== undefined && want.serverId === e.serverId && want.seqNo === e.seqNo) state.delete(e.domainId);
    if (until !== null) {
      const u = until.get(e.domainId);
      if (u !== undefined && u.serverId === e.serverId && u.seqNo <= e.seqNo) until.delete(e.domainId);
    }
  }
}

/** What the sender does with an event group, decided at its GTID. */
export type GroupAction = 'send' | 'skip';

/**
 * When an UNTIL ends the dump: not yet; after the next event that is not part of a group (MariaDB
 * `is_part_of_group`); after the group's commit (the end of the current unit).
 */
export type UntilGroup = 'not_done' | 'stop_after_standalone' | 'stop_after_transaction';

/** The streaming half of MariaDB GTID connect: per GTID, skip or send, fake GTID_LIST, UNTIL. */
export class MariadbGtidFilter {
  /** rpl `until_binlog_state`: what the fake GTID_LISTs carry. */
  readonly untilBinlogState = new BinlogState();
  /** A fake GTID_LIST is due after the current group (or right after its GTID when it is sent). */
  sendFakeList = false;
  untilGroup: UntilGroup;

  constructor(
    private readonly state: Map<number, ConnectEntry>,
    private readonly until: Map<number, MariadbGtid> | null,
    private readonly strict: boolean,
    /** Our binlog state now (for domains that were empty at connect). */
    private readonly currentBinlog: () => BinlogLookup,
  ) {
    this.untilGroup = until !== null && until.size === 0 ? 'stop_after_standalone' : 'not_done';
  }

  /** True while GTIDs must be looked at (positions to reach, or an UNTIL). */
  get active(): boolean {
    return this.state.size > 0 || this.until !== null;
  }

  get hasUntil(): boolean {
    return this.until !== null;
  }

  /** MariaDB `is_pos_reached`: every domain reached (domains empty at connect do not count). */
  posReached(): boolean {
    for (const e of this.state.values()) if (!e.startOnEmptyDomain) return false;
    return true;
  }

  /** A GTID_LIST event from the binlog: with an UNTIL, it becomes the state the final GTID_LIST reports. */
  onGtidList(list: readonly MariadbGtid[]): void {
    if (this.until !== null) this.untilBinlogState.load(list);
  }

  /** The decision for the group this GTID starts. Throws DumpError for strict-mode holes and missing GTIDs. */
  onGtid(g: MariadbGtid, standalone: boolean): GroupAction {
    if (!this.active) return 'send';
    this.untilBinlogState.update(g);
    let action: GroupAction = 'send';
    const entry = this.state.get(g.domainId);
    if (entry !== undefined) {
      const want = entry.gtid;
      if (entry.startOnEmptyDomain) {
        const binlog = this.currentBinlog();
        const have = binlog.find(want.domainId, want.serverId);
        if (have === undefined || have < want.seqNo) throw notFound(want, binlog);
        entry.startOnEmptyDomain = false;
      }
      if (g.serverId !== want.serverId || g.seqNo <= want.seqNo) action = 'skip';
      if (g.serverId === want.serverId && g.seqNo >= want.seqNo) {
        if (this.strict && g.seqNo > want.seqNo) {
          throw new DumpError('ERR_DUMP_GTID_HOLE', messages.mariadbGtidHole(want));
        }
        this.sendFakeList = true;
        this.state.delete(g.domainId);
      }
    }
    if (this.until !== null) {
      const u = this.until.get(g.domainId);
      if (u === undefined) {
        action = 'skip';
      } else if (g.serverId === u.serverId && g.seqNo >= u.seqNo) {
        this.until.delete(g.domainId);
        if (this.until.size === 0) {
          this.untilGroup = standalone ? 'stop_after_standalone' : 'stop_after_transaction';
        }
        if (g.seqNo > u.seqNo) action = 'skip';
      }
    }
    return action;
  }
}

/** MariaDB `Log_event::is_part_of_group`: events that belong with the statement that follows them. */
export function isPartOfGroup(type: number): boolean {
  // GTID_EVENT 162, INTVAR 5, RAND 13, USER_VAR 14, TABLE_MAP 19, ANNOTATE_ROWS 160
  return type === 162 || type === 5 || type === 13 || type === 14 || type === 19 || type === 160;
}
