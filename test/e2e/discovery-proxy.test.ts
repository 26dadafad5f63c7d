// Discovery sees binlog-proxy as a node of the topology: primary P with a direct replica A, and the proxy D
// (the built daemon as a child process) with replica R behind it. Discovering P must find P -> A, P -> D and
// D -> R; D answers the probe on its replication port as a replica of P and a source of R.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DiscoveryService, KvInstanceStore, MemoryKvRange } from '../../src/discovery/index.js';
import type { ClusterGraph, Instance } from '../../src/discovery/types.js';
import { startMariaDB, startReplica, waitForReplicaCatchUp, type MariaDBInstance } from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { startDaemon, type DaemonProcess } from '../helpers/daemon.js';

const REPL_PASSWORD = 'repl-pw-disc-e2e';
const DISCOVERY_USER = 'orchestrator';
const DISCOVERY_PASSWORD = 'disc-pw-e2e-5511';
const H = '127.0.0.1';

describe('discovery through the proxy', () => {
  let primary: MariaDBInstance;
  let direct: MariaDBInstance;
  let behind: MariaDBInstance;
  let daemon: DaemonProcess;
  let proxyPort: number;
  let service: DiscoveryService;

  beforeAll(async () => {
    primary = await startMariaDB();
    await primary.createReplicationUser('repl', REPL_PASSWORD);
    await primary.query("CREATE USER ?@'%' IDENTIFIED BY ?", [DISCOVERY_USER, DISCOVERY_PASSWORD]);
    await primary.query("GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR, REPLICATION MASTER ADMIN ON *.* TO ?@'%'", [DISCOVERY_USER]);
    await primary.query('CREATE DATABASE app');
    await primary.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB');
    await primary.query("INSERT INTO app.t VALUES (1, 'a'), (2, 'b')");

    daemon = await startDaemon();
    proxyPort = await getFreePort();
    // The server first, so that the syncer registers on the primary with the proxy's replication port.
    expect(
      (
        await daemon.api('PUT', '/binlog/server/start', {
          addr: `${H}:${proxyPort}`,
          users: [
            { user: 'repl', password: REPL_PASSWORD },
            { user: DISCOVERY_USER, password: DISCOVERY_PASSWORD },
          ],
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await daemon.api('PUT', '/binlog/syncer/start', {
          mysql_addr: `${H}:${primary.port}`,
          mysql_user: 'repl',
          mysql_password: REPL_PASSWORD,
          syncer_id: 7001,
          start: 'earliest',
        })
      ).status,
    ).toBe(200);

    direct = await startReplica({ primary: { host: H, port: primary.port }, user: 'repl', password: REPL_PASSWORD, useGtid: 'slave_pos' });
    const pos = await primary.gtidBinlogPos();
    await waitUntil(async () => {
      const s = await daemon.api<{ data: { executed_gtid_set: string } }>('GET', '/binlog/syncer/status');
      return s.body.data.executed_gtid_set === pos;
    });
    behind = await startReplica({ primary: { host: H, port: proxyPort }, user: 'repl', password: REPL_PASSWORD, useGtid: 'slave_pos' });
    await waitForReplicaCatchUp(direct, pos);
    await waitForReplicaCatchUp(behind, pos);

    service = new DiscoveryService({
      store: await KvInstanceStore.open(new MemoryKvRange()),
      logger: pino({ level: 'silent' }),
      settings: { user: DISCOVERY_USER, password: DISCOVERY_PASSWORD, connectTimeoutMs: 2000, queryTimeoutMs: 3000, maxDepth: 5, maxInstances: 20 },
    });
  }, 120_000);

  afterAll(async () => {
    await service?.close();
    await behind?.destroy();
    await direct?.destroy();
    await daemon?.kill();
    await primary?.destroy();
  });

  it('finds primary -> {direct replica, proxy} and proxy -> replica', async () => {
    const p = await service.discover(H, primary.port);
    expect(p.role).toBe('primary');
    expect(p.replicas.map((r) => r.port).sort()).toEqual([direct.port, proxyPort].sort());
    await service.idle();

    const d = (await service.getInstance(H, proxyPort)) as Instance;
    expect(d).toBeTruthy();
    expect(d.role).toBe('intermediate');
    expect(d.master_key).toEqual({ host: H, port: primary.port });
    expect(d.replication?.io_running).toBe(true);
    expect(d.replicas.map((r) => r.port)).toEqual([behind.port]);
    expect(d.flavor).toBe('mariadb');

    const graph = (await service.cluster(`${H}:${behind.port}`)) as ClusterGraph;
    const edges = graph.edges.map((e) => `${e.source.port}->${e.replica.port}`).sort();
    expect(edges).toEqual([`${primary.port}->${direct.port}`, `${primary.port}->${proxyPort}`, `${proxyPort}->${behind.port}`].sort());
    expect(graph.cluster_name).toBe(`${H}:${primary.port}`);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
