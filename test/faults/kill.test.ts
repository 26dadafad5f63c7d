// SIGKILL of the proxy at random moments under a write load, several times, with a real replica behind it.
// After the last restart the replica must hold exactly the primary's transactions: same ids (none missing,
// none doubled), same counter, same CHECKSUM TABLE, and gtid_slave_pos equal to the primary's gtid_binlog_pos.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplica, type MariaDBInstance } from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { expectReplicaEqualsPrimary, sleep, startPrimary, startProxy, waitFor, WriteLoad, type Proxy } from './helpers.js';
import { SECRETS } from './secrets.js';
import './setup-file.js';

const KILLS = Number(process.env.FAULT_KILLS ?? 6);

describe('fault: SIGKILL of the proxy under load', () => {
  let primary: MariaDBInstance;
  let replica: MariaDBInstance | null = null;
  let proxy: Proxy | null = null;
  let load: WriteLoad | null = null;

  beforeAll(async () => {
    primary = await startPrimary(31);
  });

  afterAll(async () => {
    await load?.stop();
    await proxy?.daemon.kill();
    await replica?.destroy();
    await primary?.destroy();
  });

  it(`loses, reorders and doubles nothing across ${KILLS} SIGKILLs`, async () => {
    const adminPort = await getFreePort();
    const serverPort = await getFreePort();
    proxy = await startProxy('kill', `127.0.0.1:${primary.port}`, { adminPort, serverPort });
    const dataDir = proxy.daemon.dataDir;
    replica = await startReplica({
      serverId: 32,
      primary: { host: '127.0.0.1', port: serverPort },
      user: 'repl',
      password: SECRETS.serverPassword,
      useGtid: 'slave_pos',
    });
    load = new WriteLoad(primary, 'k', 1500);
    load.start();
    const moments: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const before = load.committed;
      const wait = 300 + Math.floor(Math.random() * 1700);
      moments.push(wait);
      await sleep(wait);
      await proxy.daemon.kill();
      // The primary keeps writing while the proxy is down for a moment.
      await sleep(Math.floor(Math.random() * 400));
      proxy = await startProxy('kill', `127.0.0.1:${primary.port}`, { dataDir, adminPort, serverPort, restart: true });
      const p = proxy;
      await waitFor(
        async () => (await p.daemon.api<{ data: { status: string } }>('GET', '/binlog/syncer/status')).body.data.status === 'running',
        30_000,
        `the syncer to run again after kill ${i + 1}`,
      );
      expect(load.committed, 'the load must make progress between kills').toBeGreaterThan(before);
    }
    await load.stop();
    const n = await expectReplicaEqualsPrimary(primary, replica, 90_000);
    // Enough transactions went through the kills to make the check meaningful.
    expect(n, `kill moments ${moments.join(',')} ms`).toBeGreaterThan(100);
    const status = await proxy.daemon.api<{ data: { executed_gtid_set: string } }>('GET', '/binlog/syncer/status');
    expect(status.body.data.executed_gtid_set).toBe(await primary.gtidBinlogPos());
  });
});
