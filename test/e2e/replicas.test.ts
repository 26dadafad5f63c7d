// Real MariaDB replicas and binlog clients through the daemon under a live, varied workload: a replica with
// MASTER_USE_GTID=current_pos and one with file/position (MASTER_USE_GTID=no), both stopped and restarted
// mid-stream; `mariadb-binlog --raw --to-last-log` from the proxy byte-identical to the same download from the
// primary; `--stop-never` follows new events.
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksumTables, replicaStatus, startMariaDB, startReplica, waitForReplicaCatchUp, type MariaDBInstance } from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { expectSameDownloads, waitProxyCaughtUp } from '../helpers/binlog-client.js';

const H = '127.0.0.1';
const REPL_PASSWORD = 'repl-pw-replicas-e2e';
const TABLES = ['app.t', 'app.m', 'app.x'];

async function workload(p: MariaDBInstance, round: number): Promise<void> {
  const c = await p.connect();
  try {
    await c.query(`INSERT INTO app.t (v, b) VALUES ('r${round}-a', REPEAT('x', 300000)), ('r${round}-b', NULL)`);
    await c.query(`UPDATE app.t SET v = CONCAT(v, '+') WHERE id % 2 = ${round % 2}`);
    await c.query(`INSERT INTO app.m (v) VALUES ('myisam ${round}')`);
    await c.query(`XA START 'x${round}'`);
    await c.query(`INSERT INTO app.x VALUES (${round}, 'xa')`);
    await c.query(`XA END 'x${round}'`);
    await c.query(`XA PREPARE 'x${round}'`);
    await c.query(`XA COMMIT 'x${round}'`);
    await c.query('SET SESSION gtid_domain_id = 2');
    await c.query(`INSERT INTO app.t (v) VALUES ('domain2 ${round}')`);
    await c.query('SET SESSION gtid_domain_id = 0');
    await c.query(`ALTER TABLE app.t COMMENT 'round ${round}'`);
    if (round % 2 === 1) await c.query('FLUSH BINARY LOGS');
  } finally {
    await c.end();
  }
}

describe('replicas and binlog clients through the daemon', () => {
  let primary: MariaDBInstance;
  let daemon: DaemonProcess;
  let port: number;
  let gtidReplica: MariaDBInstance;
  let fileReplica: MariaDBInstance;
  let out: string;

  beforeAll(async () => {
    primary = await startMariaDB();
    await primary.createReplicationUser('repl', REPL_PASSWORD);
    await primary.query('CREATE DATABASE app');
    await primary.query('CREATE TABLE app.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(100), b LONGBLOB) ENGINE=InnoDB');
    await primary.query('CREATE TABLE app.m (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(100)) ENGINE=MyISAM');
    await primary.query('CREATE TABLE app.x (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB');
    daemon = await startDaemon();
    port = await getFreePort();
    expect((await daemon.api('PUT', '/binlog/server/start', { addr: `${H}:${port}`, user: 'repl', password: REPL_PASSWORD })).status).toBe(200);
    expect(
      (await daemon.api('PUT', '/binlog/syncer/start', { mysql_addr: `${H}:${primary.port}`, mysql_user: 'repl', mysql_password: REPL_PASSWORD, syncer_id: 6201, start: 'earliest' })).status,
    ).toBe(200);
    out = await makeTempDir('binlog-proxy-replicas-');
  }, 60_000);

  afterAll(async () => {
    await gtidReplica?.destroy();
    await fileReplica?.destroy();
    await daemon?.kill();
    await primary?.destroy();
  });

  const proxyCaughtUp = (): Promise<void> => waitProxyCaughtUp(daemon, primary);

  it('current_pos and file/position replicas follow a varied live workload, across STOP/START SLAVE', async () => {
    await workload(primary, 0);
    await proxyCaughtUp();
    gtidReplica = await startReplica({ primary: { host: H, port }, user: 'repl', password: REPL_PASSWORD, useGtid: 'current_pos' });
    fileReplica = await startReplica({ primary: { host: H, port }, user: 'repl', password: REPL_PASSWORD, useGtid: 'no', logFile: 'bin.000001', logPos: 4 });
    for (let round = 1; round <= 4; round++) {
      await workload(primary, round);
      if (round === 2) {
        // Stop both replicas mid-stream, write more, start them again.
        await gtidReplica.query('STOP SLAVE');
        await fileReplica.query('STOP SLAVE');
        await workload(primary, 100 + round);
        await gtidReplica.query('START SLAVE');
        await fileReplica.query('START SLAVE');
      }
    }
    const pos = await primary.gtidBinlogPos();
    await waitForReplicaCatchUp(gtidReplica, pos, 60_000);
    await waitForReplicaCatchUp(fileReplica, pos, 60_000);
    const expected = await checksumTables(primary, TABLES);
    expect(await checksumTables(gtidReplica, TABLES)).toEqual(expected);
    expect(await checksumTables(fileReplica, TABLES)).toEqual(expected);
    for (const r of [gtidReplica, fileReplica]) {
      const st = await replicaStatus(r);
      expect(st).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Last_IO_Error: '', Last_SQL_Error: '' });
    }
    // The file/position replica's coordinates are the primary's own.
    const fst = await replicaStatus(fileReplica);
    const [ms] = await primary.query<Array<{ File: string; Position: number }>>('SHOW MASTER STATUS');
    expect(fst?.Master_Log_File).toBe(ms!.File);
    expect(Number(fst?.Read_Master_Log_Pos)).toBe(Number(ms!.Position));
  }, 180_000);

  it('mariadb-binlog --raw --to-last-log downloads from the proxy what it downloads from the primary', async () => {
    await proxyCaughtUp();
    await expectSameDownloads({ proxyPort: port, primaryPort: primary.port, user: 'repl', password: REPL_PASSWORD, dir: out, first: 'bin.000001', minFiles: 3 });
  }, 120_000);

  it('mariadb-binlog --stop-never from the proxy follows new events', async () => {
    await proxyCaughtUp();
    const [ms] = await primary.query<Array<{ File: string }>>('SHOW MASTER STATUS');
    const dir = path.join(out, 'follow');
    await mkdir(dir, { recursive: true });
    const child = spawn('mariadb-binlog', ['--no-defaults', '--read-from-remote-server', '--raw', '--stop-never', `--host=${H}`, `--port=${port}`,
      '--user=repl', `--password=${REPL_PASSWORD}`, `--result-file=${dir}/`, ms!.File], { stdio: 'ignore' });
    try {
      await primary.query("INSERT INTO app.t (v) VALUES ('followed')");
      const [after] = await primary.query<Array<{ File: string; Position: number }>>('SHOW MASTER STATUS');
      const file = path.join(dir, after!.File);
      const end = Date.now() + 20_000;
      for (;;) {
        const size = await stat(file).then((s) => s.size, () => 0);
        if (size === Number(after!.Position)) break;
        if (Date.now() > end) throw new Error(`--stop-never file has ${size} bytes, the primary's ${after!.Position}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // The primary's active file has LOG_EVENT_BINLOG_IN_USE_F set in its FDE (flags at offset 4 + 17); a
      // sender clears it (its CRC was computed with the flag clear). Everything else is identical.
      const expected = Buffer.from((await readFile(path.join(primary.datadir, after!.File))).subarray(0, Number(after!.Position)));
      expected[4 + 17] = expected[4 + 17]! & ~0x01;
      expect((await readFile(file)).equals(expected)).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);
});
