/**
 * The benchmark's workload and the daemon's syncer, shared by bench/run.ts and bench/stress.ts: the history the
 * primary writes, the replication user the readers log in with, and the wait for the proxy to have stored it.
 */
import type { MariaDBInstance } from '../test/helpers/mariadb.js';
import { writeRows } from '../test/helpers/workload.js';
import type { BenchDaemon } from './daemon.js';

export const REPL_USER = 'repl';
export const REPL_PASSWORD = 'bench-repl-pw';

/** 200k single-row autocommit transactions from a procedure on 4 connections (~460 bytes of binlog each). */
export async function generate(primary: MariaDBInstance, txns: number): Promise<void> {
  await writeRows(primary, { db: 'bench', txns, conns: 4, column: 'VARCHAR(255)', value: 'REPEAT(CHAR(97 + (i MOD 26)), 130)' });
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 10): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface SyncerStatusBody {
  data: { executed_gtid_set: string; status: string; last_error: unknown; last_file_position: number | null };
}

export async function startSyncer(d: BenchDaemon, primary: MariaDBInstance): Promise<void> {
  const r = await d.api('PUT', '/binlog/syncer/start', {
    mysql_addr: `127.0.0.1:${primary.port}`,
    mysql_user: REPL_USER,
    mysql_password: REPL_PASSWORD,
    syncer_id: 9001,
    start: 'earliest',
  });
  if (r.status !== 200) throw new Error(`syncer start failed: ${JSON.stringify(r.body)}`);
}

/**
 * Until the proxy holds `target` durably: GET /binlog/server/wait, one second at a time, with the syncer's
 * status between two waits (a syncer error ends it at once). Polling the status at 200 Hz instead cost the
 * daemon ~60 ms of main-thread time per ingest of the history (~5%, --cpu-prof): load on the system measured
 * that the reference (a process exit) does not have.
 */
export async function waitSynced(d: BenchDaemon, target: string, timeoutMs = 300_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const w = await d.api<{ data: { reached: boolean } }>('GET', `/binlog/server/wait?gtid_set=${encodeURIComponent(target)}&timeout=1`);
    if (w.status !== 200) throw new Error(`wait failed: ${JSON.stringify(w.body)}`);
    if (w.body.data.reached) return;
    const s = await d.api<SyncerStatusBody>('GET', '/binlog/syncer/status');
    if (s.body.data.status === 'error') throw new Error(`syncer error: ${JSON.stringify(s.body.data.last_error)}`);
    if (performance.now() > deadline) throw new Error(`timed out waiting for the proxy to store ${target}`);
  }
}
