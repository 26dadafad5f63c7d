/**
 * The replication session set-up against a primary (protocol brief §2.6, §3.1–§3.3, §5.1): the exact SQL
 * statements the proxy sends after authentication, COM_REGISTER_SLAVE, and the dump command bytes.
 *
 * `setupSession` talks to a `SessionPort` (a query/command interface that `UpstreamConnection` satisfies), so
 * that tests can replay a server's answers and check the statements and command bytes without a server. It
 * returns the plan for the dump; it does not send the dump command (the caller switches the connection into
 * streaming mode with it).
 *
 * MariaDB (greeting version contains "MariaDB"):
 *   SET @master_binlog_checksum = @@global.binlog_checksum
 *   SELECT @master_binlog_checksum, @@GLOBAL.server_id, VERSION(), UNIX_TIMESTAMP()
 *   SET @mariadb_slave_capability = 4                       (GTID events as they are; holes tolerated)
 *   SET @master_heartbeat_period = <ns>                     (when the period is not 0)
 *   SHOW BINARY LOGS / SHOW BINLOG STATUS (SHOW MASTER STATUS before 10.5.2)   (start point look-ups, when needed)
 *   SET @slave_connect_state = '<d-s-n,...>'                (GTID connect only)
 *   SET @slave_gtid_strict_mode = 1
 *   SET @slave_gtid_ignore_duplicates = 0
 *   SHOW VARIABLES LIKE 'rpl_semi_sync_master_enabled'      (semi_sync only)
 *   SET @rpl_semi_sync_slave = 1                            (semi_sync, when the primary has the variable)
 *   COM_REGISTER_SLAVE, then COM_BINLOG_DUMP(pos, flags 0x02 = send ANNOTATE_ROWS, server_id, file)
 *   (GTID connect: file '' and pos 4; the primary ignores them.)
 *
 * MySQL 5.7 / 8.x / 9.x:
 *   SET @source_binlog_checksum = @@global.binlog_checksum, @master_binlog_checksum = @@global.binlog_checksum
 *   SELECT @master_binlog_checksum, @@GLOBAL.server_id, @@GLOBAL.server_uuid, @@GLOBAL.gtid_mode, VERSION(), UNIX_TIMESTAMP()
 *   SET @master_heartbeat_period = <ns>, @source_heartbeat_period = <ns>
 *   SET @replica_uuid = '<uuid>', @slave_uuid = '<uuid>'
 *   SHOW BINARY LOGS / SHOW MASTER STATUS (SHOW BINARY LOG STATUS from 8.2 on)   (when needed)
 *   SELECT @@global.rpl_semi_sync_source_enabled, on 1193 SELECT @@global.rpl_semi_sync_master_enabled
 *   SET @rpl_semi_sync_replica = 1, @rpl_semi_sync_slave = 1                    (semi_sync only)
 *   COM_REGISTER_SLAVE, then COM_BINLOG_DUMP_GTID(flags, server_id, '', 4, executed set) when gtid_mode = ON
 *   and GTIDs are known, else COM_BINLOG_DUMP(pos, flags, server_id, file). flags = 0x02 (heartbeat v2) on
 *   8.0.26+, else 0.
 *
 * Start points (the `StartRequest`):
 *   resume    what storage holds: GTID connect from the stored GTID state (MariaDB position / MySQL executed set,
 *             when gtid_mode = ON), else file/position. Exception: when the primary still has our last file, it
 *             is longer than what we stored, and a later file exists, resume by file/position: a GTID connect
 *             may start in the later file and skip our file's tail (its ROTATE), which breaks byte identity.
 *   earliest  the first file of SHOW BINARY LOGS, position 4.
 *   current   SHOW MASTER STATUS (file, position).
 *   position  a file and position given by the user.
 *   gtid      a GTID set / position given by the user: first a "locate" dump (GTID connect) that only finds
 *             the file and position where the primary starts sending; the caller then starts over with that
 *             file and position (GTID skipping leaves holes, e.g. with interleaved domains, and storage keeps
 *             files contiguous).
 * A fresh start at (file, pos) always reads the file from position 4 and skips up to pos: that yields the file's
 * real FDE and its starting GTID state plus the GTIDs before pos, i.e. the exact GTID state at pos.
 */
import { encodeComBinlogDump, encodeComBinlogDumpGtid, encodeComRegisterSlave } from '../../protocol/commands.js';
import { BINLOG_SEND_ANNOTATE_ROWS_EVENT, USE_HEARTBEAT_EVENT_V2 } from '../../protocol/constants.js';
import { BINLOG_CHECKSUM_ALG_CRC32, BINLOG_CHECKSUM_ALG_OFF } from '../../protocol/binlog/constants.js';
import { MysqlServerError, type OkPacket } from '../../protocol/generic.js';
import { MariadbGtidPosition } from '../../protocol/gtid/mariadb.js';
import { MysqlGtidSet } from '../../protocol/gtid/mysql.js';
import { ProtocolError } from '../../protocol/errors.js';
import { UpstreamError } from './errors.js';

export type Flavor = 'mysql' | 'mariadb';

export interface QueryAnswer {
  columns: string[];
  rows: Array<Array<string | null>>;
}

/** What the session set-up needs from a connection (UpstreamConnection has it). */
export interface SessionPort {
  /** The version string of the server's greeting (flavour detection). */
  readonly serverVersion: string;
  query(sql: string): Promise<QueryAnswer>;
  command(payload: Buffer): Promise<OkPacket>;
}

export type StartRequest =
  | { kind: 'resume'; file: string; pos: bigint; gtids: string | null }
  | { kind: 'earliest' }
  | { kind: 'current' }
  | { kind: 'position'; file: string; pos: bigint }
  | { kind: 'gtid'; gtids: string };

export interface SessionOptions {
  /** Our server_id toward the primary (syncer_id). */
  serverId: number;
  /** Our replica UUID (MySQL @replica_uuid). */
  serverUuid: string;
  heartbeatPeriodMs: number;
  semiSync: boolean;
  start: StartRequest;
  /** The flavour storage already holds; a different primary flavour is refused. */
  expectFlavor?: Flavor | null;
  reportHost?: string;
  reportPort?: number;
  /** Local clock in ms (tests). */
  now?: () => number;
}

export interface BinaryLogEntry {
  name: string;
  size: bigint;
}

/** Where storing starts: the first event stored is the one that starts exactly at (file, pos). */
export interface DumpTarget {
  file: string;
  pos: bigint;
  /** True when storage has nothing of this file yet (the first unit stored must carry the file's FDE). */
  newFile: boolean;
}

export type DumpPlan =
  | {
      mode: 'stream';
      command: Buffer;
      /** What the dump command asks for. */
      request: { kind: 'file'; file: string; pos: bigint } | { kind: 'gtid'; gtids: string };
      target: DumpTarget;
    }
  | {
      mode: 'locate';
      command: Buffer;
      request: { kind: 'gtid'; gtids: string };
    };

export interface Session {
  flavor: Flavor;
  /** VERSION() of the primary. */
  version: string;
  masterServerId: number;
  masterServerUuid: string | null;
  /** MySQL @@GLOBAL.gtid_mode (null on MariaDB). */
  gtidMode: string | null;
  /** The checksum alg the fake ROTATE follows (what @master_binlog_checksum holds). */
  checksumAlg: number;
  /** Primary clock minus local clock, in ms (from UNIX_TIMESTAMP(), so ±1 s). */
  clockOffsetMs: number;
  heartbeatPeriodMs: number;
  /** True when the dump packets carry the semi-sync header (we asked for it and the primary supports it). */
  semiSync: boolean;
  /** The primary's rpl_semi_sync_master/source_enabled, when known. */
  primarySemiSyncEnabled: boolean | null;
  binaryLogs: BinaryLogEntry[] | null;
  plan: DumpPlan;
  /** Every statement sent, in order. */
  statements: string[];
  /** Non-fatal problems worth a log line. */
  warnings: string[];
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** A binlog file name we are willing to put into a statement or command (the servers' own names are like this). */
const FILE_NAME_RE = /^[A-Za-z0-9_.-]{1,255}$/;

export function flavorOfVersion(version: string): Flavor {
  return /mariadb/i.test(version) ? 'mariadb' : 'mysql';
}

/** Leading X.Y.Z of a version string (a MariaDB greeting's "5.5.5-" prefix removed). */
export function versionTriple(version: string): [number, number, number] {
  const v = version.replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

function atLeast(v: [number, number, number], a: number, b: number, c: number): boolean {
  if (v[0] !== a) return v[0] > a;
  if (v[1] !== b) return v[1] > b;
  return v[2] >= c;
}

function alg(name: string | null): number {
  const n = (name ?? '').toUpperCase();
  if (n === 'CRC32') return BINLOG_CHECKSUM_ALG_CRC32;
  if (n === 'NONE' || n === '') return BINLOG_CHECKSUM_ALG_OFF;
  throw new UpstreamError('ERR_UPSTREAM_FATAL', `the primary uses binlog_checksum '${name}', which binlog-proxy does not know`);
}

function isUnknownVariable(err: unknown): boolean {
  return err instanceof MysqlServerError && err.errno === 1193;
}

function startError(message: string): UpstreamError {
  return new UpstreamError('ERR_SYNCER_START', message);
}

/** `SET` value for a heartbeat period: nanoseconds, as the servers read it. */
export function heartbeatNanos(ms: number): bigint {
  return BigInt(Math.round(ms)) * 1_000_000n;
}

class Recorder {
  readonly statements: string[] = [];
  constructor(readonly port: SessionPort) {}

  async query(sql: string): Promise<QueryAnswer> {
    this.statements.push(sql);
    return this.port.query(sql);
  }

  /** Runs a query and returns its first row (throws when the result is empty). */
  async row(sql: string): Promise<Array<string | null>> {
    const r = await this.query(sql);
    const row = r.rows[0];
    if (!row) throw new UpstreamError('ERR_UPSTREAM_FATAL', `the primary answered '${sql}' with no row`);
    return row;
  }
}

/** Parses the SHOW BINARY LOGS answer (Log_name, File_size[, Encrypted]). */
function parseBinaryLogs(a: QueryAnswer): BinaryLogEntry[] {
  return a.rows.map((r) => ({ name: r[0] ?? '', size: BigInt(r[1] ?? '0') }));
}

/**
 * Runs the session statements and COM_REGISTER_SLAVE; returns what was learned and the dump plan.
 * Throws MysqlServerError for ERR answers (the caller classifies them) and UpstreamError for answers that make
 * replication impossible.
 */
export async function setupSession(port: SessionPort, opts: SessionOptions): Promise<Session> {
  const now = opts.now ?? Date.now;
  const flavor = flavorOfVersion(port.serverVersion);
  if (opts.expectFlavor && opts.expectFlavor !== flavor) {
    throw new UpstreamError(
      'ERR_UPSTREAM_FLAVOR',
      `the primary is ${flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} (${port.serverVersion}) but the stored binlog is ${opts.expectFlavor === 'mariadb' ? 'MariaDB' : 'MySQL'}`,
    );
  }
  if (!UUID_RE.test(opts.serverUuid)) throw startError(`syncer_uuid '${opts.serverUuid}' is not a UUID`);
  const q = new Recorder(port);
  const warnings: string[] = [];
  return flavor === 'mariadb' ? setupMariadb(q, opts, now, warnings) : setupMysql(q, opts, now, warnings);
}

async function setupMariadb(q: Recorder, opts: SessionOptions, now: () => number, warnings: string[]): Promise<Session> {
  await q.query('SET @master_binlog_checksum = @@global.binlog_checksum');
  const before = now();
  const info = await q.row('SELECT @master_binlog_checksum, @@GLOBAL.server_id, VERSION(), UNIX_TIMESTAMP()');
  const checksumAlg = alg(info[0] ?? null);
  const masterServerId = Number(info[1]);
  const version = info[2] ?? '';
  const clockOffsetMs = Number(info[3]) * 1000 - before;
  checkServerId(masterServerId, opts.serverId);
  await q.query('SET @mariadb_slave_capability = 4');
  if (opts.heartbeatPeriodMs > 0) await q.query(`SET @master_heartbeat_period = ${heartbeatNanos(opts.heartbeatPeriodMs)}`);

  const { plan, binaryLogs } = await planStart(q, opts, 'mariadb', null, version, warnings);
  if (plan.request.kind === 'gtid') {
    await q.query(`SET @slave_connect_state = '${plan.request.gtids}'`);
    await q.query('SET @slave_gtid_strict_mode = 1');
    await q.query('SET @slave_gtid_ignore_duplicates = 0');
  }

  let semiSync = false;
  let primarySemiSyncEnabled: boolean | null = null;
  if (opts.semiSync) {
    const r = await q.query("SHOW VARIABLES LIKE 'rpl_semi_sync_master_enabled'");
    if (r.rows.length > 0) {
      primarySemiSyncEnabled = (r.rows[0]![1] ?? '').toUpperCase() === 'ON';
      await q.query('SET @rpl_semi_sync_slave = 1');
      semiSync = true;
    } else {
      warnings.push('semi_sync requested but the primary has no rpl_semi_sync_master_enabled variable; replicating asynchronously');
    }
  }
  await registerSlave(q.port, opts);
  return {
    flavor: 'mariadb',
    version,
    masterServerId,
    masterServerUuid: null,
    gtidMode: null,
    checksumAlg,
    clockOffsetMs,
    heartbeatPeriodMs: opts.heartbeatPeriodMs,
    semiSync,
    primarySemiSyncEnabled,
    binaryLogs,
    plan,
    statements: q.statements,
    warnings,
  };
}

async function setupMysql(q: Recorder, opts: SessionOptions, now: () => number, warnings: string[]): Promise<Session> {
  await q.query(
    'SET @source_binlog_checksum = @@global.binlog_checksum, @master_binlog_checksum = @@global.binlog_checksum',
  );
  const before = now();
  const info = await q.row(
    'SELECT @master_binlog_checksum, @@GLOBAL.server_id, @@GLOBAL.server_uuid, @@GLOBAL.gtid_mode, VERSION(), UNIX_TIMESTAMP()',
  );
  const checksumAlg = alg(info[0] ?? null);
  const masterServerId = Number(info[1]);
  const masterServerUuid = info[2] ?? null;
  const gtidMode = (info[3] ?? 'OFF').toUpperCase();
  const version = info[4] ?? '';
  const clockOffsetMs = Number(info[5]) * 1000 - before;
  checkServerId(masterServerId, opts.serverId);
  if (masterServerUuid !== null && masterServerUuid.toLowerCase() === opts.serverUuid.toLowerCase()) {
    throw new UpstreamError('ERR_UPSTREAM_SERVER_ID_CLASH', `the primary's server_uuid equals syncer_uuid ${opts.serverUuid}`);
  }
  if (opts.heartbeatPeriodMs > 0) {
    const ns = heartbeatNanos(opts.heartbeatPeriodMs);
    await q.query(`SET @master_heartbeat_period = ${ns}, @source_heartbeat_period = ${ns}`);
  }
  await q.query(`SET @replica_uuid = '${opts.serverUuid}', @slave_uuid = '${opts.serverUuid}'`);

  const { plan, binaryLogs } = await planStart(q, opts, 'mysql', gtidMode, version, warnings);

  let semiSync = false;
  let primarySemiSyncEnabled: boolean | null = null;
  if (opts.semiSync) {
    let value: string | null | undefined;
    let known = true;
    try {
      value = (await q.row('SELECT @@global.rpl_semi_sync_source_enabled'))[0];
    } catch (err) {
      if (!isUnknownVariable(err)) throw err;
      try {
        value = (await q.row('SELECT @@global.rpl_semi_sync_master_enabled'))[0];
      } catch (err2) {
        if (!isUnknownVariable(err2)) throw err2;
        known = false;
      }
    }
    if (known) {
      primarySemiSyncEnabled = value === '1' || (value ?? '').toUpperCase() === 'ON';
      await q.query('SET @rpl_semi_sync_replica = 1, @rpl_semi_sync_slave = 1');
      semiSync = true;
    } else {
      warnings.push('semi_sync requested but the primary has no semi-sync source plugin loaded; replicating asynchronously');
    }
  }
  await registerSlave(q.port, opts);
  return {
    flavor: 'mysql',
    version,
    masterServerId,
    masterServerUuid,
    gtidMode,
    checksumAlg,
    clockOffsetMs,
    heartbeatPeriodMs: opts.heartbeatPeriodMs,
    semiSync,
    primarySemiSyncEnabled,
    binaryLogs,
    plan,
    statements: q.statements,
    warnings,
  };
}

function checkServerId(masterServerId: number, ours: number): void {
  if (masterServerId === 0) {
    throw new UpstreamError('ERR_UPSTREAM_FATAL', 'the primary has server_id 0 and cannot serve replicas (set server_id on the primary)');
  }
  if (masterServerId === ours) {
    throw new UpstreamError(
      'ERR_UPSTREAM_SERVER_ID_CLASH',
      `the primary's server_id ${masterServerId} equals syncer_id; every server in the topology needs its own server_id`,
    );
  }
}

function registration(opts: SessionOptions): Parameters<typeof encodeComRegisterSlave>[0] {
  return { serverId: opts.serverId, host: opts.reportHost ?? '', user: '', password: '', port: opts.reportPort ?? 0 };
}

/**
 * COM_REGISTER_SLAVE. The user is already authenticated here, so an "access denied" (MariaDB answers 1045, MySQL
 * 1227) means the REPLICATION SLAVE privilege is missing: say so.
 */
async function registerSlave(port: SessionPort, opts: SessionOptions): Promise<void> {
  try {
    await port.command(encodeComRegisterSlave(registration(opts)));
  } catch (err) {
    if (err instanceof MysqlServerError && (err.errno === 1045 || err.errno === 1227)) {
      throw new UpstreamError(
        'ERR_UPSTREAM_PRIVILEGES',
        `the primary refused COM_REGISTER_SLAVE (${err.message}): grant REPLICATION SLAVE to the syncer's user`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** Canonical GTID text of the flavour; throws ERR_SYNCER_START when it does not parse. */
export function canonicalGtids(flavor: Flavor, text: string): string {
  try {
    return flavor === 'mariadb' ? MariadbGtidPosition.parse(text).toString() : MysqlGtidSet.parse(text).toString();
  } catch (err) {
    if (err instanceof ProtocolError) {
      throw startError(`start GTIDs '${text}' are not a valid ${flavor === 'mariadb' ? 'MariaDB GTID position' : 'MySQL GTID set'}: ${err.message}`);
    }
    throw err;
  }
}

function checkFileName(file: string): void {
  if (!FILE_NAME_RE.test(file)) throw startError(`binlog file name '${file}' is not valid`);
}

async function showBinaryLogs(q: Recorder, required: boolean, warnings: string[]): Promise<BinaryLogEntry[] | null> {
  try {
    return parseBinaryLogs(await q.query('SHOW BINARY LOGS'));
  } catch (err) {
    if (required || !(err instanceof MysqlServerError) || (err.errno !== 1227 && err.errno !== 1381)) throw err;
    warnings.push(`SHOW BINARY LOGS failed (${err.message}); grant REPLICATION CLIENT / BINLOG MONITOR for exact resumption checks`);
    return null;
  }
}

/** The statement for the current binlog position: renamed by MySQL 8.2 (the old one is gone in 8.4) and MariaDB 10.5.2. */
function statusStatement(flavor: Flavor, version: string): string {
  const v = versionTriple(version);
  if (flavor === 'mysql') return atLeast(v, 8, 2, 0) ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS';
  return atLeast(v, 10, 5, 2) ? 'SHOW BINLOG STATUS' : 'SHOW MASTER STATUS';
}

function dumpFlags(flavor: Flavor, version: string): number {
  if (flavor === 'mariadb') return BINLOG_SEND_ANNOTATE_ROWS_EVENT;
  return atLeast(versionTriple(version), 8, 0, 26) ? USE_HEARTBEAT_EVENT_V2 : 0;
}

function fileDump(flavor: Flavor, version: string, serverId: number, file: string, pos: bigint): Buffer {
  if (pos > 0xffffffffn) {
    throw startError(`position ${pos} in ${file} does not fit COM_BINLOG_DUMP (4 bytes); use GTIDs to start past 4 GiB`);
  }
  return encodeComBinlogDump({ position: Number(pos), flags: dumpFlags(flavor, version), serverId, fileName: file });
}

function gtidDump(flavor: Flavor, version: string, serverId: number, gtids: string): Buffer {
  if (flavor === 'mariadb') {
    // The GTID state travels in @slave_connect_state; the primary ignores file and position.
    return encodeComBinlogDump({ position: 4, flags: dumpFlags(flavor, version), serverId, fileName: '' });
  }
  const set = MysqlGtidSet.parse(gtids);
  return encodeComBinlogDumpGtid({
    flags: dumpFlags(flavor, version),
    serverId,
    fileName: '',
    position: 4n,
    gtidData: set.encode(),
  });
}

async function planStart(
  q: Recorder,
  opts: SessionOptions,
  flavor: Flavor,
  gtidMode: string | null,
  version: string,
  warnings: string[],
): Promise<{ plan: DumpPlan; binaryLogs: BinaryLogEntry[] | null }> {
  const start = opts.start;
  const gtidCapable = flavor === 'mariadb' || gtidMode === 'ON';
  const streamFrom = (file: string, target: bigint, newFile: boolean): DumpPlan => {
    checkFileName(file);
    if (target < 4n) throw startError(`position ${target} is before the first event (4)`);
    // A fresh start reads the file from its beginning (see the header comment); a resume asks for its position.
    const requestPos = newFile ? 4n : target;
    return {
      mode: 'stream',
      command: fileDump(flavor, version, opts.serverId, file, requestPos),
      request: { kind: 'file', file, pos: requestPos },
      target: { file, pos: target, newFile },
    };
  };

  switch (start.kind) {
    case 'earliest': {
      const logs = (await showBinaryLogs(q, true, warnings))!;
      const first = logs[0];
      if (!first) throw new UpstreamError('ERR_UPSTREAM_NO_BINLOG', 'the primary lists no binary logs');
      return { plan: streamFrom(first.name, 4n, true), binaryLogs: logs };
    }
    case 'current': {
      const row = (await q.query(statusStatement(flavor, version))).rows[0];
      if (!row || !row[0]) throw new UpstreamError('ERR_UPSTREAM_NO_BINLOG', 'the primary reports no current binary log (is log_bin on?)');
      return { plan: streamFrom(row[0], BigInt(row[1] ?? '4'), true), binaryLogs: null };
    }
    case 'position':
      return { plan: streamFrom(start.file, start.pos, true), binaryLogs: null };
    case 'gtid': {
      if (!gtidCapable) {
        throw startError(`cannot start from GTIDs: the primary's gtid_mode is ${gtidMode ?? 'unknown'}, not ON`);
      }
      const gtids = canonicalGtids(flavor, start.gtids);
      return {
        plan: { mode: 'locate', command: gtidDump(flavor, version, opts.serverId, gtids), request: { kind: 'gtid', gtids } },
        binaryLogs: null,
      };
    }
    case 'resume': {
      checkFileName(start.file);
      const gtids = start.gtids === null ? '' : canonicalGtids(flavor, start.gtids);
      const target: DumpTarget = { file: start.file, pos: start.pos, newFile: false };
      if (!gtidCapable || gtids === '') return { plan: streamFrom(start.file, start.pos, false), binaryLogs: null };
      const logs = await showBinaryLogs(q, false, warnings);
      if (logs) {
        const i = logs.findIndex((l) => l.name === start.file);
        if (i >= 0 && i < logs.length - 1 && logs[i]!.size > start.pos) {
          return { plan: streamFrom(start.file, start.pos, false), binaryLogs: logs };
        }
      }
      return {
        plan: {
          mode: 'stream',
          command: gtidDump(flavor, version, opts.serverId, gtids),
          request: { kind: 'gtid', gtids },
          target,
        },
        binaryLogs: logs,
      };
    }
  }
}
