/**
 * The probe: what orchestrator's ReadTopologyInstance reads, adapted to today's servers. One connection,
 * one statement at a time, all under the connect timeout, a per-query timeout and an overall deadline.
 *
 * Statements, in order (the first of each list the server accepts wins; "optional" ones may all fail, which
 * is noted in the result instead of failing the probe):
 *   1. required  SHOW GLOBAL VARIABLES WHERE Variable_name IN (...)   (PROBE_VARIABLES)
 *                SELECT @@GLOBAL.server_id AS server_id, VERSION() AS version   (when 1 fails or lacks them)
 *   2. optional  SHOW GLOBAL STATUS WHERE Variable_name IN (...)     (uptime, semi-sync status)
 *   3. optional  replica status: SHOW ALL SLAVES STATUS | SHOW REPLICA STATUS (MySQL >= 8.0.22) | SHOW SLAVE STATUS
 *   4. optional  binlog status (unless log_bin is OFF): SHOW BINLOG STATUS (MariaDB >= 10.5.2) |
 *                SHOW BINARY LOG STATUS (MySQL >= 8.2) | SHOW MASTER STATUS
 *   5. optional  replicas: SHOW REPLICAS (MySQL >= 8.0.22) | SHOW SLAVE HOSTS
 *   6. optional  binlog dump threads: information_schema.PROCESSLIST | SHOW PROCESSLIST
 * Only an answer from the server (an ERR packet) makes an optional statement "fail"; a timeout or a broken
 * connection fails the whole probe.
 */
import { DiscoveryError } from './errors.js';
import {
  STATUS_SQL,
  VARIABLES_FALLBACK_SQL,
  VARIABLES_SQL,
  buildInstance,
  detectFlavor,
  nameValueRows,
  selectRowAsVariables,
  statementPlan,
  type RawProbe,
} from './interpret.js';
import type { Row, SqlConnector, SqlSession } from './sql.js';
import type { InstanceKey, ProbedInstance } from './types.js';

export interface ProbeOptions {
  user: string;
  password: string;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  /** Hard limit for the whole probe (connect + every statement). */
  probeTimeoutMs: number;
  lagThresholdSeconds: number;
  connector: SqlConnector;
}

function isServerError(err: unknown): err is DiscoveryError {
  return err instanceof DiscoveryError && err.code === 'ERR_DISCOVERY_SERVER_ERROR';
}

function describe(err: DiscoveryError): string {
  const { server_message: text, errno } = err.details;
  return text === undefined ? err.message : `${text}${errno === undefined ? '' : ` (${errno})`}`;
}

/** Runs the first statement of `sqls` the server accepts; null (and a note) when it rejects them all. */
async function optional(session: SqlSession, sqls: readonly string[], notes: string[]): Promise<Row[] | null> {
  let last: DiscoveryError | null = null;
  for (const sql of sqls) {
    try {
      return await session.query(sql);
    } catch (err) {
      if (!isServerError(err)) throw err;
      last = err;
    }
  }
  if (last !== null) notes.push(`${sqls.join(' / ')}: ${describe(last)}`);
  return null;
}

async function readVariables(session: SqlSession): Promise<Map<string, string>> {
  let vars = new Map<string, string>();
  let first: DiscoveryError | null = null;
  try {
    vars = nameValueRows(await session.query(VARIABLES_SQL));
  } catch (err) {
    if (!isServerError(err)) throw err;
    first = err;
  }
  if (vars.has('server_id') && vars.has('version')) return vars;
  try {
    const basic = selectRowAsVariables(await session.query(VARIABLES_FALLBACK_SQL));
    for (const [k, v] of basic) if (!vars.has(k)) vars.set(k, v);
  } catch (err) {
    if (!isServerError(err)) throw err;
    throw first ?? err;
  }
  return vars;
}

/** Reads one instance. Throws DiscoveryError (refused, access denied, timeout, ...). */
export async function probeInstance(key: InstanceKey, opts: ProbeOptions): Promise<ProbedInstance> {
  const deadline = Date.now() + opts.probeTimeoutMs;
  const session = await opts.connector(key, {
    user: opts.user,
    password: opts.password,
    connectTimeoutMs: opts.connectTimeoutMs,
    queryTimeoutMs: opts.queryTimeoutMs,
    deadline,
  });
  let raw: RawProbe;
  try {
    const notes: string[] = [];
    const variables = await readVariables(session);
    const statusRows = await optional(session, [STATUS_SQL], notes);
    const version = variables.get('version') ?? '';
    const plan = statementPlan(detectFlavor(version, variables.get('version_comment') ?? null), version);
    const replicaStatusRows = await optional(session, plan.replicaStatus, notes);
    // Skipped only when the server says the binlog is off (a server that does not say is asked anyway).
    const logBin = (variables.get('log_bin') ?? '').toUpperCase();
    const binlogStatusRows = logBin === 'OFF' || logBin === '0' ? null : await optional(session, plan.binlogStatus, notes);
    const replicaHostRows = await optional(session, plan.replicaHosts, notes);
    const processlistRows = await optional(session, plan.dumpThreads, notes);
    raw = {
      key,
      variables,
      status: statusRows === null ? new Map() : nameValueRows(statusRows),
      replicaStatusRows,
      binlogStatusRows,
      replicaHostRows,
      processlistRows,
      notes,
    };
  } finally {
    await session.close();
  }
  return buildInstance(raw, { lagThresholdSeconds: opts.lagThresholdSeconds });
}
