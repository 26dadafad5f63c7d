/**
 * Turns a dump request into a plan: which checks apply, where the stream starts, how it is filtered. Every
 * refusal is a DumpError carrying the primary's wording (start.ts, errors.ts).
 *
 *   COM_BINLOG_DUMP, MySQL, or MariaDB without @slave_connect_state   -> file/position
 *   COM_BINLOG_DUMP, MariaDB with @slave_connect_state                -> MariaDB GTID connect (file and
 *                                                                        position in the packet are ignored)
 *   COM_BINLOG_DUMP_GTID, MySQL, empty file name                      -> auto-position (start file from the set)
 *   COM_BINLOG_DUMP_GTID, MySQL, with a file name (mysqlbinlog)       -> that file/position, the set's
 *                                                                        transactions skipped, no purge or
 *                                                                        ahead checks (as MySQL's
 *                                                                        check_start_file)
 *   COM_BINLOG_DUMP_GTID, MariaDB                                     -> refused: MariaDB does not know it
 *
 * The few reads a plan needs (a file's GTID_LIST, the first transaction of the start file, the newest GTID) are
 * small bounded reads through the store's readers.
 */
import { decodeFormatDescription } from '../../../protocol/binlog/fde.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { decodeMariadbGtidList } from '../../../protocol/binlog/mariadb_gtid_list.js';
import {
  ANONYMOUS_GTID_LOG_EVENT,
  MARIADB_GTID_LIST_EVENT,
  BINLOG_CHECKSUM_ALG_UNDEF,
} from '../../../protocol/binlog/constants.js';
import { EVENT_LEN_OFFSET, EVENT_TYPE_OFFSET } from '../../../protocol/binlog/header.js';
import { parseMariadbGtid, type MariadbGtid } from '../../../protocol/gtid/mariadb.js';
import { MysqlGtidSet, type MysqlGtid } from '../../../protocol/gtid/mysql.js';
import { DumpError, messages, wordingFor, type Wording } from './errors.js';
import {
  BinlogState,
  checkStartPosition,
  containsAllSlaveGtid,
  MariadbGtidFilter,
  parseConnectState,
  trimAtStartFile,
  type BinlogLookup,
} from './mariadb_gtid.js';
import type { DumpPlan } from './sender.js';
import { BIN_LOG_HEADER_SIZE, resolveFilePosition, resolveMysqlGtidStart, type StartPoint } from './start.js';
import type { DumpStore, FileInfo, StoredUnit } from './store.js';
import type { DumpContext } from './types.js';

/** Bytes per batch for the small look-ups of a plan. */
const PROBE_BATCH_BYTES = 16 * 1024;
/** How many units a look-up reads at most before it gives up (the things it looks for come first). */
const PROBE_MAX_UNITS = 64;

export async function planDump(ctx: DumpContext, store: DumpStore): Promise<DumpPlan> {
  const { vars, request } = ctx;
  const flavor = vars.flavor;
  const files = store.listFiles();
  const state = store.getState();
  const newest = files[files.length - 1];
  const wording = wordingFor(flavor, newest === undefined ? null : serverVersionOf(newest));
  if (files.length === 0) throw new DumpError('ERR_DUMP_NO_BINLOG', messages.binlogNotOpen());
  if (state.flavor !== null && state.flavor !== flavor) {
    throw new DumpError('ERR_DUMP_NO_BINLOG', `${messages.binlogNotOpen()}: the stored binlog is ${state.flavor}, this listener serves ${flavor}`);
  }
  const base = { wording, exclude: null, clearCreated: false, mariadb: null };

  if (request.command === 'COM_BINLOG_DUMP') {
    if (flavor === 'mariadb' && vars.slaveConnectState !== null) {
      return planMariadbGtid(ctx, store, files, wording);
    }
    const start = resolveFilePosition(files, request.fileName, BigInt(request.position), wording);
    return { ...base, mode: 'file', start, requestedFile: request.fileName, requestedPos: BigInt(request.position) };
  }

  if (flavor === 'mariadb') {
    throw new DumpError('ERR_DUMP_UNKNOWN_COMMAND', 'Unknown command', { errno: 1047, sqlState: '08S01' });
  }
  const exclude = request.gtidSet;
  if (request.fileName !== '') {
    const start = resolveFilePosition(files, request.fileName, request.position, wording);
    return { ...base, mode: 'mysql-gtid', start, exclude, requestedFile: request.fileName, requestedPos: request.position };
  }
  const executed = MysqlGtidSet.parse(state.executedGtids);
  const purged = MysqlGtidSet.parse(state.purgedGtids);
  if (executed.isEmpty() && purged.isEmpty() && (await firstTransactionType(store, newest!)) === ANONYMOUS_GTID_LOG_EVENT) {
    throw new DumpError('ERR_DUMP_GTID_MODE', gtidModeOffText(wording));
  }
  const sourceUuid = await newestGtidUuid(store, executed);
  const start = resolveMysqlGtidStart({ files, replicaSet: exclude, executed, purged, sourceUuid, wording });
  const first = await firstTransactionGtid(store, start);
  const clearCreated = first !== null && exclude.contains(first);
  return { ...base, mode: 'mysql-gtid', start, exclude, clearCreated, requestedFile: '', requestedPos: request.position };
}

function serverVersionOf(f: FileInfo): string | null {
  try {
    return decodeFormatDescription(f.fde).serverVersion;
  } catch (err) {
    // A stored FDE that does not decode: the wording falls back, the dump fails on that FDE with its own error.
    if (err instanceof ProtocolError) return null;
    throw err;
  }
}

function checksumAlgOfFile(f: FileInfo): number {
  try {
    return decodeFormatDescription(f.fde).checksumAlg;
  } catch (err) {
    throw new DumpError('ERR_DUMP_EVENT', messages.bogusData(), { cause: err });
  }
}

/** MySQL 8.0 names the mode; 5.7 had a shorter text. */
function gtidModeOffText(w: Wording): string {
  if (w.version[0] >= 8) {
    return 'The replication sender thread cannot start in AUTO_POSITION mode: this server has GTID_MODE = OFF instead of ON.';
  }
  return messages.gtidModeOff();
}

// ---- small reads ---------------------------------------------------------------------------------------------

/** Calls `visit` for each unit from `from` (not following the tail) until it returns true or PROBE_MAX_UNITS. */
async function probe(store: DumpStore, file: string, pos: bigint, visit: (u: StoredUnit) => boolean): Promise<void> {
  const reader = await store.openReader({ from: { file, pos }, follow: false, batchBytes: PROBE_BATCH_BYTES });
  let seen = 0;
  try {
    for (;;) {
      const r = await reader.next();
      if (r.done === true) return;
      for (const u of r.value) {
        if (u.file !== file || visit(u) || ++seen >= PROBE_MAX_UNITS) return;
      }
    }
  } finally {
    await reader.return?.();
  }
}

/** Type code of the first transaction's first event in a file, or null when the file has none (yet). */
async function firstTransactionType(store: DumpStore, f: FileInfo): Promise<number | null> {
  let type: number | null = null;
  await probe(store, f.name, f.firstPos, (u) => {
    if (u.kind !== 'transaction') return false;
    type = u.data[EVENT_TYPE_OFFSET]!;
    return true;
  });
  return type;
}

/** The GTID of the first transaction of the dump's start file (MySQL clears the FDE's `created` if skipped). */
async function firstTransactionGtid(store: DumpStore, start: StartPoint): Promise<MysqlGtid | null> {
  let gtid: MysqlGtid | null = null;
  await probe(store, start.file.name, start.pos, (u) => {
    if (u.kind !== 'transaction') return false;
    gtid = u.gtid as MysqlGtid | null;
    return true;
  });
  return gtid;
}

/**
 * The UUID of the newest stored GTID: our source's own UUID for the replica-ahead check. Read from the last
 * units; when none of them carries a GTID, the executed set decides if it has a single UUID.
 */
async function newestGtidUuid(store: DumpStore, executed: MysqlGtidSet): Promise<string | null> {
  const s = store.getState();
  let uuid: string | null = null;
  if (s.durableSeq >= s.firstSeq && s.durableSeq > 0) {
    const from = Math.max(s.firstSeq, s.durableSeq - 15);
    const reader = await store.openReader({ from: { seq: from }, follow: false, batchBytes: PROBE_BATCH_BYTES });
    try {
      for await (const batch of reader) {
        for (const u of batch) if (u.kind === 'transaction' && u.gtid !== null) uuid = (u.gtid as MysqlGtid).uuid;
      }
    } finally {
      await reader.return?.();
    }
  }
  if (uuid !== null) return uuid;
  const uuids = new Set(executed.sids().map((s) => s.uuid));
  return uuids.size === 1 ? [...uuids][0]! : null;
}

/**
 * The GTID_LIST at the start of a file (every (domain, server) pair, as MariaDB wrote it), or null when the
 * file has none (a binlog without GTIDs). A file stored from its middle has no stored GTID_LIST: the state the
 * store knew at its first stored position stands in for it.
 */
async function gtidListOf(store: DumpStore, f: FileInfo): Promise<MariadbGtid[] | null> {
  if (f.firstPos > BIN_LOG_HEADER_SIZE) return parseList(f.startGtids ?? f.gtidsAtStart);
  const alg = checksumAlgOfFile(f);
  let list: MariadbGtid[] | null = null;
  await probe(store, f.name, f.firstPos, (u) => {
    if (u.kind === 'transaction') return true;
    for (let off = 0; off < u.data.length; off += u.data.readUInt32LE(off + EVENT_LEN_OFFSET)) {
      if (u.data[off + EVENT_TYPE_OFFSET] === MARIADB_GTID_LIST_EVENT) {
        const size = u.data.readUInt32LE(off + EVENT_LEN_OFFSET);
        list = decodeMariadbGtidList(u.data.subarray(off, off + size), alg === BINLOG_CHECKSUM_ALG_UNDEF ? 0 : alg).gtids;
        return true;
      }
    }
    return false;
  });
  return list;
}

function parseList(text: string): MariadbGtid[] {
  const out: MariadbGtid[] = [];
  for (const part of text.split(',')) if (part.trim() !== '') out.push(parseMariadbGtid(part));
  return out;
}

/** Our binlog state: the newest file's GTID_LIST, then the store's last GTID per domain. */
function binlogStateOf(newestList: readonly MariadbGtid[], executedText: string): BinlogState {
  const s = BinlogState.fromList(newestList);
  for (const g of parseList(executedText)) {
    const have = s.find(g.domainId, g.serverId);
    if (have === undefined || have <= g.seqNo) s.update(g);
  }
  return s;
}

async function planMariadbGtid(ctx: DumpContext, store: DumpStore, files: FileInfo[], wording: Wording): Promise<DumpPlan> {
  const { vars } = ctx;
  const requested = parseConnectState(vars.slaveConnectState ?? '', false);
  const until = vars.slaveUntilGtid !== null ? parseConnectState(vars.slaveUntilGtid, true) : null;
  const lists = new Map<FileInfo, MariadbGtid[] | null>();
  const listOf = async (f: FileInfo): Promise<MariadbGtid[] | null> => {
    if (!lists.has(f)) lists.set(f, await gtidListOf(store, f));
    return lists.get(f)!;
  };
  const newest = files[files.length - 1]!;
  const atConnect = binlogStateOf((await listOf(newest)) ?? [], store.getState().executedGtids);
  const entries = checkStartPosition(requested, atConnect, vars.slaveGtidIgnoreDuplicates, until);
  let start: StartPoint | null = null;
  for (let i = files.length - 1; i >= 0; i--) {
    const f = files[i]!;
    const list = await listOf(f);
    if (list === null || containsAllSlaveGtid(entries, list)) {
      if (list !== null) trimAtStartFile(entries, until, list);
      start = { file: f, pos: f.firstPos > BIN_LOG_HEADER_SIZE ? f.firstPos : BIN_LOG_HEADER_SIZE };
      break;
    }
  }
  if (start === null) throw new DumpError('ERR_DUMP_GTID_STATE', messages.mariadbNoFileForState());
  const current = (): BinlogLookup => binlogStateOf(atConnect.list(), store.getState().executedGtids);
  const filter = new MariadbGtidFilter(entries, until, vars.slaveGtidStrictMode, current);
  return {
    mode: 'mariadb-gtid',
    start,
    requestedFile: ctx.request.fileName,
    requestedPos: ctx.request.command === 'COM_BINLOG_DUMP' ? BigInt(ctx.request.position) : ctx.request.position,
    wording,
    exclude: null,
    clearCreated: false,
    mariadb: filter,
  };
}
