// The upstream connection cut again and again under a write load (KILL of the dump thread on the primary,
// TCP resets between proxy and primary), then a restart of the primary under load: the proxy must resume
// exactly where it was each time, so the replica behind it ends equal to the primary.
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplica, type MariaDBInstance } from '../helpers/mariadb.js';
import { expectReplicaEqualsPrimary, sleep, startPrimary, startProxy, waitFor, waitForProxy, WriteLoad, type Proxy } from './helpers.js';
import { Relay } from './relay.js';
import { SECRETS } from './secrets.js';
import './setup-file.js';

const CUTS = Number(process.env.FAULT_CUTS ?? 20);

describe('fault: upstream connection cuts and a primary restart', () => {
  let primary: MariaDBInstance;
  let replica: MariaDBInstance | null = null;
  let proxy: Proxy | null = null;
  let relay: Relay | null = null;
  let load: WriteLoad | null = null;

  beforeAll(async () => {
    primary = await startPrimary(41);
  });

  afterAll(async () => {
    await load?.stop();
    await proxy?.daemon.kill();
    await relay?.close();
    await replica?.destroy();
    await primary?.destroy();
  });

  const dumpThreads = async (): Promise<number[]> =>
    (await primary.query<RowDataPacket[]>("SELECT id FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'")).map((r) =>
      Number(r['id']),
    );

  const syncerStatus = async (): Promise<{ status: string; counters?: Record<string, number>; last_error: unknown }> =>
    (await proxy!.daemon.api<{ data: { status: string; last_error: unknown } }>('GET', '/binlog/syncer/status')).body.data;

  it(`resumes exactly after ${CUTS} cuts and a primary restart`, async () => {
    relay = new Relay('127.0.0.1', primary.port);
    await relay.listen();
    proxy = await startProxy('upstream', `127.0.0.1:${relay.port}`);
    replica = await startReplica({
      serverId: 42,
      primary: { host: '127.0.0.1', port: proxy.serverPort },
      user: 'repl',
      password: SECRETS.serverPassword,
      useGtid: 'slave_pos',
    });
    load = new WriteLoad(primary, 'u', 300);
    load.start();
    await waitFor(async () => (await syncerStatus()).status === 'running', 20_000, 'the syncer to run');

    let kills = 0;
    let resets = 0;
    for (let i = 0; i < CUTS; i++) {
      await sleep(100 + Math.floor(Math.random() * 300));
      // Wait for a live dump to cut (the proxy may still be reconnecting from the previous cut).
      await waitFor(async () => (await dumpThreads()).length > 0 && relay!.connections > 0, 20_000, `a dump thread before cut ${i + 1}`);
      if (i % 2 === 0) {
        for (const id of await dumpThreads()) {
          await primary.query(`KILL ${id}`);
          kills++;
        }
      } else {
        resets += relay.reset();
      }
    }
    expect(kills).toBeGreaterThanOrEqual(CUTS / 2);
    expect(resets).toBeGreaterThanOrEqual(CUTS / 2);

    // A clean restart of the primary while the load runs (the load reconnects when it is back).
    await sleep(300);
    await primary.stop();
    await sleep(500);
    await primary.start();
    await sleep(1500);
    await load.stop();
    expect(load.committed).toBeGreaterThan(100);

    await waitForProxy(proxy.daemon, primary, 60_000);
    await expectReplicaEqualsPrimary(primary, replica, 60_000);
    const st = await syncerStatus();
    expect(st.status).toBe('running');
    // The proxy reconnected at least once per cut (the relay saw each new connection).
    expect(relay.accepted).toBeGreaterThan(CUTS);
  });
});
