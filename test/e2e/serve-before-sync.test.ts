// storage.serveBeforeSync end to end: with the opt-in mode a real replica still gets every transaction, in order,
// across binlog rotations and a live workload, and ends equal to the primary; a SIGKILL of the proxy in the middle
// (the case the option trades durability for) still ends with the replica equal to the primary, because the proxy
// fetches the lost tail again from the primary.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksumTables, replicaStatus, startMariaDB, startReplica, waitForReplicaCatchUp, type MariaDBInstance } from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startDaemon, writeProxyConfig, type DaemonProcess } from '../helpers/daemon.js';

const H = '127.0.0.1';
const PW = 'repl-pw-sbs-e2e';

describe('serveBeforeSync through a real replica', () => {
  let primary: MariaDBInstance;
  let replica: MariaDBInstance;
  let daemon: DaemonProcess;
  let configFile: string;
  let dataDir: string;
  let port: number;

  beforeAll(async () => {
    primary = await startMariaDB();
    await primary.createReplicationUser('repl', PW);
    await primary.query('CREATE DATABASE app');
    await primary.query('CREATE TABLE app.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64), b BLOB) ENGINE=InnoDB');
    const dir = await makeTempDir('binlog-proxy-sbs-');
    dataDir = path.join(dir, 'data');
    port = await getFreePort();
    configFile = await writeProxyConfig(dir, { storage: { serveBeforeSync: true }, listen: `${H}:${port}`, password: PW, primaryPort: primary.port, syncerId: 6301 });
    daemon = await startDaemon({ dataDir, args: ['--config', configFile] });
  }, 60_000);

  afterAll(async () => {
    await replica?.destroy();
    await daemon?.kill();
    await primary?.destroy();
  });

  it('a replica follows a live workload across rotations and a proxy SIGKILL, and ends equal to the primary', async () => {
    replica = await startReplica({ primary: { host: H, port }, user: 'repl', password: PW, useGtid: 'slave_pos' });
    const writer = await primary.connect();
    let n = 0;
    const write = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++, n++) {
        await writer.query('INSERT INTO app.t (v, b) VALUES (?, REPEAT(?, 2000))', [`row ${n}`, 'z']);
        if (n % 150 === 149) await writer.query('FLUSH BINARY LOGS');
      }
    };
    await write(400);
    // Kill the proxy while the primary keeps writing, then start it again on the same data dir.
    const adminPort = daemon.adminPort;
    const during = write(300);
    await new Promise((r) => setTimeout(r, 150));
    await daemon.kill();
    await during;
    daemon = await startDaemon({ dataDir, adminPort, args: ['--config', configFile] });
    await write(200);
    await writer.end();

    await waitForReplicaCatchUp(replica, await primary.gtidBinlogPos(), 60_000);
    expect(await checksumTables(replica, ['app.t'])).toEqual(await checksumTables(primary, ['app.t']));
    const [{ c }] = await replica.query<Array<{ c: number }>>('SELECT COUNT(*) AS c FROM app.t');
    expect(Number(c)).toBe(900);
    const st = await replicaStatus(replica);
    expect(st).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Last_SQL_Error: '' });
  }, 180_000);
});
