// The daemon as users run it: the built CLI as a child process between a real MariaDB primary and a real
// MariaDB replica. Start syncer and server over HTTP, attach the replica, SIGTERM the daemon, write more,
// start it again, and see the replica catch up with equal checksums without any further API call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  checksumTables,
  replicaStatus,
  startMariaDB,
  startReplica,
  waitForReplicaCatchUp,
  type MariaDBInstance,
} from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { startDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { waitFor } from '../helpers/wait.js';

const REPL_PASSWORD = 'repl-secret-9f3a';
const SERVER_PASSWORD = 'downstream-secret-77c1';

describe('daemon end to end: primary -> binlog-proxy (child process) -> replica', () => {
  let primary: MariaDBInstance;
  let replica: MariaDBInstance | null = null;
  let daemon: DaemonProcess | null = null;
  let serverPort: number;

  beforeAll(async () => {
    primary = await startMariaDB({ serverId: 11 });
    await primary.createReplicationUser('repl', REPL_PASSWORD);
    await primary.query('CREATE DATABASE app');
    await primary.query('CREATE TABLE app.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200), b LONGBLOB) ENGINE=InnoDB');
    for (let i = 0; i < 50; i++) await primary.query('INSERT INTO app.t (v) VALUES (?)', [`row ${i}`]);
    serverPort = await getFreePort();
  });

  afterAll(async () => {
    await daemon?.kill();
    await replica?.destroy();
    await primary?.destroy();
  });

  it('serves a real replica, survives SIGTERM and resumes by itself', async () => {
    daemon = await startDaemon();

    const started = await daemon.api<{ message: string; data: { status: string } }>('PUT', '/binlog/syncer/start', {
      mysql_addr: `127.0.0.1:${primary.port}`,
      mysql_user: 'repl',
      mysql_password: REPL_PASSWORD,
      syncer_id: 9001,
      start: 'earliest',
    });
    expect(started.status).toBe(200);
    expect(started.body.message).toBe('success');
    expect(JSON.stringify(started.body)).not.toContain(REPL_PASSWORD);

    const conflict = await daemon.api<{ code: string }>('PUT', '/binlog/syncer/start', {
      mysql_addr: `127.0.0.1:${primary.port}`,
      mysql_user: 'repl',
      mysql_password: REPL_PASSWORD,
      syncer_id: 9001,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('ERR_ALREADY_RUNNING');

    const server = await daemon.api<{ message: string }>('PUT', '/binlog/server/start', {
      addr: `127.0.0.1:${serverPort}`,
      user: 'repl',
      password: SERVER_PASSWORD,
    });
    expect(server.status).toBe(200);

    // Wait until the proxy has everything the primary wrote so far.
    const target = await primary.gtidBinlogPos();
    await waitFor(async () => {
      const s = await daemon!.api<{ data: { executed_gtid_set: string; status: string } }>('GET', '/binlog/syncer/status');
      return s.body.data.executed_gtid_set === target;
    }, 20_000, 'the syncer to store the primary binlog');

    replica = await startReplica({
      serverId: 12,
      primary: { host: '127.0.0.1', port: serverPort },
      user: 'repl',
      password: SERVER_PASSWORD,
      useGtid: 'slave_pos',
    });
    await waitForReplicaCatchUp(replica, target, 30_000);
    expect(await checksumTables(replica, ['app.t'])).toEqual(await checksumTables(primary, ['app.t']));

    const status = await daemon.api<{ data: { slaves: Array<{ server_id: number | null }> } }>('GET', '/binlog/server/status');
    expect(status.body.data.slaves.some((s) => s.server_id === 12)).toBe(true);

    // Metrics reflect the traffic.
    const metricsText = (await daemon.api<string>('GET', '/metrics')).body;
    const metric = (name: string): number => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(metricsText);
      if (!m) throw new Error(`metric ${name} missing`);
      return Number(m[1]);
    };
    expect(metric('binlog_proxy_events_received_total')).toBeGreaterThan(50);
    expect(metric('binlog_proxy_transactions_stored_total')).toBeGreaterThanOrEqual(50);
    expect(metric('binlog_proxy_events_sent_total')).toBeGreaterThan(50);
    expect(metric('binlog_proxy_bytes_sent_total')).toBeGreaterThan(1000);
    expect(metric('binlog_proxy_connected_replicas')).toBe(1);
    expect(metric('binlog_proxy_storage_size_bytes')).toBeGreaterThan(1000);
    // Every stored transaction waited for a synced group write; each write is counted once in the histogram.
    const groupWrites = metric('binlog_proxy_storage_group_write_seconds_count');
    expect(groupWrites).toBeGreaterThan(0);
    expect(metric('binlog_proxy_storage_group_write_seconds_bucket\\{le="\\+Inf"\\}')).toBe(groupWrites);
    expect(metric('binlog_proxy_storage_group_write_seconds_sum')).toBeGreaterThan(0);
    expect(metricsText).not.toContain(REPL_PASSWORD);

    // State files hold the secrets: owner-only.
    expect(statSync(join(daemon.dataDir, 'state', 'syncer.json')).mode & 0o777).toBe(0o600);

    // Graceful stop.
    const code = await daemon.stop();
    expect(code).toBe(0);
    const dataDir = daemon.dataDir;
    const adminPort = daemon.adminPort;
    const logs = daemon.logs.join('');
    expect(logs).not.toContain(REPL_PASSWORD);
    expect(logs).not.toContain(SERVER_PASSWORD);

    // The primary moves on while the proxy is down.
    await primary.query("INSERT INTO app.t (v, b) VALUES ('while down', REPEAT('x', 200000))");
    await primary.query("UPDATE app.t SET v = CONCAT(v, '!') WHERE id % 3 = 0");
    await primary.query('FLUSH BINARY LOGS');
    await primary.query("INSERT INTO app.t (v) VALUES ('after flush')");

    // Restart with the same data dir and no API call: the syncer and the server resume by themselves.
    daemon = await startDaemon({ dataDir, adminPort });
    const target2 = await primary.gtidBinlogPos();
    await waitForReplicaCatchUp(replica, target2, 60_000);
    expect(await checksumTables(replica, ['app.t'])).toEqual(await checksumTables(primary, ['app.t']));
    const rs = await replicaStatus(replica);
    expect(rs?.Slave_IO_Running).toBe('Yes');
    expect(rs?.Slave_SQL_Running).toBe('Yes');
    expect(rs?.Last_IO_Error).toBe('');

    // A stopped syncer stays stopped across a restart.
    const stopped = await daemon.api<{ data: { status: string } }>('PUT', '/binlog/syncer/stop');
    expect(stopped.body.data.status).toBe('stopped');
    expect(await daemon.stop()).toBe(0);
    daemon = await startDaemon({ dataDir, adminPort });
    const after = await daemon.api<{ data: { status: string } }>('GET', '/binlog/syncer/status');
    expect(after.body.data.status).toBe('stopped');
    const logs2 = daemon.logs.join('');
    expect(logs2).not.toContain(REPL_PASSWORD);
  }, 180_000);
});

