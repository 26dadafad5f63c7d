// Proves the real-MariaDB harness (test/helpers/mariadb.ts) that the integration and e2e tests stand on.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checksumTables,
  replicaStatus,
  requireMariaDBBinaries,
  startMariaDB,
  startReplica,
  templateBuildMs,
  waitForReplicaCatchUp,
  type MariaDBInstance,
} from '../helpers/mariadb.js';
import { getFreePort, getFreePorts } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

async function timedStart(label: string, start: () => Promise<MariaDBInstance>): Promise<MariaDBInstance> {
  const t0 = Date.now();
  const inst = await start();
  console.log(
    `${label}: ready in ${Date.now() - t0} ms (mariadbd start ${inst.lastStartupMs} ms, template ${templateBuildMs()} ms), ` +
      `port ${inst.port}, server-id ${inst.serverId}`,
  );
  return inst;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

describe('requireMariaDBBinaries', () => {
  it('finds the four binaries as absolute executable paths', () => {
    const bins = requireMariaDBBinaries();
    expect(Object.keys(bins).sort()).toEqual(['binlog', 'client', 'installDb', 'mariadbd']);
    for (const file of Object.values(bins)) {
      expect(path.isAbsolute(file)).toBe(true);
      expect(existsSync(file)).toBe(true);
    }
    expect(path.basename(bins.mariadbd)).toBe('mariadbd');
    expect(path.basename(bins.binlog)).toBe('mariadb-binlog');
  });

  it('throws the install hint naming what is missing when the search path lacks them', async () => {
    const dir = await makeTempDir('bp-bins-');
    try {
      // An executable mariadbd counts; a non-executable mariadb-binlog does not.
      await writeFile(path.join(dir, 'mariadbd'), '#!/bin/sh\nexit 0\n');
      await chmod(path.join(dir, 'mariadbd'), 0o755);
      await writeFile(path.join(dir, 'mariadb-binlog'), 'not executable');
      await chmod(path.join(dir, 'mariadb-binlog'), 0o644);
      let message = '';
      try {
        requireMariaDBBinaries(`${dir}${path.delimiter}/nonexistent-dir`);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toContain('MariaDB server binaries not found (mariadb-install-db, mariadb, mariadb-binlog missing');
      expect(message).toContain('apt-get install -y mariadb-server mariadb-client');
      expect(message).toContain('.ci/run');
      expect(() => requireMariaDBBinaries('')).toThrow(/mariadbd, mariadb-install-db, mariadb, mariadb-binlog missing/);
    } finally {
      await removeTempDir(dir);
    }
  });
});

describe('free ports', () => {
  it('returns distinct ports that can be bound', async () => {
    const ports = await getFreePorts(3);
    expect(new Set(ports).size).toBe(3);
    for (const port of ports) {
      expect(port).toBeGreaterThan(1023);
      expect(await canListen(port)).toBe(true);
    }
    expect(await getFreePort()).not.toBe(3306);
  });
});

describe('a primary', () => {
  let primary: MariaDBInstance;

  beforeAll(async () => {
    primary = await timedStart('primary', () => startMariaDB());
  });
  afterAll(async () => {
    await primary?.destroy();
  });

  it('is a private server with the default options', async () => {
    expect(primary.lastStartupMs).toBeLessThan(10_000);
    expect(primary.port).not.toBe(3306);
    expect(primary.datadir.startsWith('/etc') || primary.datadir.startsWith('/var/lib/mysql')).toBe(false);
    const [row] = await primary.query<mysql.RowDataPacket[]>(
      'SELECT @@server_id AS serverId, @@port AS port, @@datadir AS datadir, @@socket AS socket, @@log_bin AS logBin, ' +
        '@@binlog_format AS format, @@binlog_checksum AS checksum, @@max_allowed_packet AS maxPacket, ' +
        '@@gtid_domain_id AS domain, @@gtid_strict_mode AS strict, @@log_slave_updates AS lsu, ' +
        '@@rpl_semi_sync_master_enabled AS semi, @@skip_name_resolve AS snr, @@bind_address AS bind',
    );
    expect(row).toEqual({
      serverId: primary.serverId,
      port: primary.port,
      datadir: `${primary.datadir}/`,
      socket: primary.socket,
      logBin: 1,
      format: 'ROW',
      checksum: 'CRC32',
      maxPacket: 1024 * 1024 * 1024,
      domain: 0,
      strict: 0,
      lsu: 0,
      semi: 0,
      snr: 1,
      bind: '127.0.0.1',
    });
    // root needs the password over TCP.
    await expect(
      mysql.createConnection({ host: '127.0.0.1', port: primary.port, user: 'root', password: '' }),
    ).rejects.toThrow(/Access denied/);
  });

  it('records transactions in the binlog and rotates on FLUSH BINARY LOGS', async () => {
    const before = await primary.binlogFiles();
    expect(before.length).toBeGreaterThanOrEqual(1);
    expect(before[0]).toBe(path.join(primary.datadir, 'bin.000001'));
    for (const file of before) expect(existsSync(file)).toBe(true);

    await primary.query('CREATE DATABASE harness; CREATE TABLE harness.t (id INT PRIMARY KEY, v VARCHAR(100))');
    await primary.query("BEGIN; INSERT INTO harness.t VALUES (1, 'a'), (2, 'b'); COMMIT");
    await primary.query('UPDATE harness.t SET v = ? WHERE id = ?', ['bb', 2]);
    const pos = await primary.gtidBinlogPos();
    expect(pos).toMatch(new RegExp(`^0-${primary.serverId}-\\d+$`));

    await primary.query('FLUSH BINARY LOGS');
    const after = await primary.binlogFiles();
    expect(after).toHaveLength(before.length + 1);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(path.basename(after.at(-1)!)).toBe(`bin.${String(before.length + 1).padStart(6, '0')}`);
    expect(await primary.gtidBinlogPos()).toBe(pos);
  });

  it('createReplicationUser grants what a binlog client needs (dump, SHOW BINARY LOGS, SHOW SLAVE HOSTS)', async () => {
    await primary.createReplicationUser('repl', 'repl-pw');
    const conn = await primary.connect({ user: 'repl', password: 'repl-pw' });
    try {
      const [grants] = await conn.query<mysql.RowDataPacket[]>('SHOW GRANTS');
      const text = grants.map((g) => Object.values(g).join(' ')).join('\n');
      expect(text).toContain('REPLICATION SLAVE');
      expect(text).toContain('BINLOG MONITOR');
      expect(text).toContain('REPLICATION MASTER ADMIN');
      const [logs] = await conn.query<mysql.RowDataPacket[]>('SHOW BINARY LOGS');
      expect(logs.map((r) => r['Log_name'])).toEqual((await primary.binlogFiles()).map((f) => path.basename(f)));
      await conn.query('SHOW MASTER STATUS');
      await conn.query('SHOW SLAVE HOSTS');
      // Not more than that: no data access.
      await expect(conn.query('SELECT * FROM harness.t')).rejects.toThrow(/denied/);
    } finally {
      await conn.end();
    }
    // The binlog dump itself, through the real client tool.
    const { stdout } = await run(requireMariaDBBinaries().binlog, [
      '--no-defaults',
      '--read-from-remote-server',
      '--host=127.0.0.1',
      `--port=${primary.port}`,
      '--user=repl',
      '--password=repl-pw',
      'bin.000001',
    ]);
    expect(stdout).toContain(`server id ${primary.serverId}`);
    expect(stdout).toContain('harness');
  });

  it('createReplicationUser with ed25519 makes a user that logs in with the MariaDB client', async () => {
    await primary.createReplicationUser('repl_ed', 'ed-pw', 'ed25519');
    const [row] = await primary.query<mysql.RowDataPacket[]>(
      "SELECT JSON_VALUE(Priv, '$.plugin') AS plugin FROM mysql.global_priv WHERE User = 'repl_ed' AND Host = '%'",
    );
    expect(row?.['plugin']).toBe('ed25519');
    const { stdout } = await run(requireMariaDBBinaries().client, [
      '--no-defaults',
      '--host=127.0.0.1',
      `--port=${primary.port}`,
      '--user=repl_ed',
      '--password=ed-pw',
      '--batch',
      '--skip-column-names',
      '--execute=SELECT CURRENT_USER()',
    ]);
    expect(stdout.trim()).toBe('repl_ed@%');
  });

  it('stop/start keeps the data, the port and the binlog history; idle connections do not crash the test', async () => {
    const port = primary.port;
    const files = await primary.binlogFiles();
    const pos = await primary.gtidBinlogPos();
    const idle = await primary.connect();
    const errorsBefore = primary.connectionErrors.length;

    await primary.stop();
    expect(primary.running).toBe(false);
    expect(primary.pid).toBeNull();
    expect(primary.logTail(5)).toMatch(/Shutdown complete/);
    await expect(primary.query('SELECT 1')).rejects.toThrow(/not running/);
    await expect(mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })).rejects.toThrow(/ECONNREFUSED/);
    expect(primary.connectionErrors.length).toBeGreaterThan(errorsBefore);
    idle.destroy();

    await primary.start();
    console.log(`primary restarted in ${primary.lastStartupMs} ms`);
    expect(primary.running).toBe(true);
    expect(primary.port).toBe(port);
    expect(await primary.query('SELECT id, v FROM harness.t ORDER BY id')).toEqual([
      { id: 1, v: 'a' },
      { id: 2, v: 'bb' },
    ]);
    expect(await primary.gtidBinlogPos()).toBe(pos);
    const after = await primary.binlogFiles();
    expect(after.slice(0, files.length)).toEqual(files);
    expect(after).toHaveLength(files.length + 1); // a new file per server start
  });

  it('kill/start recovers committed transactions', async () => {
    await primary.query("INSERT INTO harness.t VALUES (3, 'before kill')");
    const pos = await primary.gtidBinlogPos();
    await primary.kill();
    expect(primary.running).toBe(false);
    await primary.start();
    expect(await primary.query('SELECT v FROM harness.t WHERE id = 3')).toEqual([{ v: 'before kill' }]);
    expect(await primary.gtidBinlogPos()).toBe(pos);
  });

  it('notices a server that died on its own, and start() brings it back', async () => {
    const pid = primary.pid!;
    await primary.query('SELECT 1'); // a pooled connection exists when the server dies
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && primary.running; i++) await new Promise((r) => setTimeout(r, 20));
    expect(primary.running).toBe(false);
    await expect(primary.query('SELECT 1')).rejects.toThrow(/not running/);
    await primary.start();
    expect(primary.pid).not.toBe(pid);
    expect(await primary.query('SELECT COUNT(*) AS n FROM harness.t')).toEqual([{ n: 3 }]);
  });

  it('startReplica (MASTER_USE_GTID=slave_pos) catches up and CHECKSUM TABLE matches', async () => {
    await primary.query('CREATE TABLE harness.big (id INT AUTO_INCREMENT PRIMARY KEY, payload LONGBLOB)');
    const replica = await timedStart('replica', () =>
      startReplica({ primary, user: 'repl', password: 'repl-pw', useGtid: 'slave_pos' }),
    );
    try {
      // Writes after the replica connected arrive live.
      await primary.query("BEGIN; INSERT INTO harness.t VALUES (4, 'live'); INSERT INTO harness.big (payload) VALUES (REPEAT('x', 100000)); COMMIT");
      await primary.query('DELETE FROM harness.t WHERE id = 1');
      const pos = await primary.gtidBinlogPos();
      await waitForReplicaCatchUp(replica, pos, 30_000);

      const status = await replicaStatus(replica);
      expect(status?.['Using_Gtid']).toBe('Slave_Pos');
      expect(status?.['Slave_IO_Running']).toBe('Yes');
      expect(status?.['Slave_SQL_Running']).toBe('Yes');
      const [slavePos] = await replica.query<mysql.RowDataPacket[]>('SELECT @@gtid_slave_pos AS p');
      expect(slavePos?.['p']).toBe(pos);

      const tables = ['harness.t', 'harness.big'];
      const onPrimary = await checksumTables(primary, tables);
      expect(Object.keys(onPrimary)).toEqual(tables);
      for (const sum of Object.values(onPrimary)) expect(sum).toMatch(/^[1-9]\d*$/);
      expect(await checksumTables(replica, tables)).toEqual(onPrimary);

      // The primary sees the replica register (report-host/report-port are set by the harness).
      const hosts = await primary.query<mysql.RowDataPacket[]>('SHOW SLAVE HOSTS');
      expect(hosts.map((h) => [h['Server_id'], h['Port']])).toContainEqual([replica.serverId, replica.port]);

      // The helpers can fail: a GTID that never comes times out, and a diverged table checksums differently.
      await expect(waitForReplicaCatchUp(replica, `0-${primary.serverId}-999999`, 500)).rejects.toThrow(/did not reach/);
      await replica.query("INSERT INTO harness.t VALUES (99, 'only on the replica')");
      expect((await checksumTables(replica, tables))['harness.t']).not.toBe(onPrimary['harness.t']);
      expect(await checksumTables(replica, ['harness.no_such_table'])).toEqual({ 'harness.no_such_table': null });
    } finally {
      await replica.destroy();
    }
  });

  it('startReplica with file/position replication (MASTER_USE_GTID=no) from the first binlog catches up', async () => {
    const replica = await startReplica({ primary, user: 'repl', password: 'repl-pw', useGtid: 'no', logFile: 'bin.000001', logPos: 4 });
    try {
      await waitForReplicaCatchUp(replica, await primary.gtidBinlogPos(), 30_000);
      const status = await replicaStatus(replica);
      expect(status?.['Using_Gtid']).toBe('No');
      expect(status?.['Master_Log_File']).toBe(path.basename((await primary.binlogFiles()).at(-1)!));
      const tables = ['harness.t', 'harness.big'];
      expect(await checksumTables(replica, tables)).toEqual(await checksumTables(primary, tables));
    } finally {
      await replica.destroy();
    }
  });
});

describe('several instances and options', () => {
  const instances: MariaDBInstance[] = [];
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.destroy()));
  });

  it('two instances at once get distinct ports, server ids and datadirs', async () => {
    const [a, b] = await Promise.all([startMariaDB(), startMariaDB()]);
    instances.push(a!, b!);
    expect(a!.port).not.toBe(b!.port);
    expect(a!.serverId).not.toBe(b!.serverId);
    expect(a!.datadir).not.toBe(b!.datadir);
    expect(a!.socket).not.toBe(b!.socket);
    await a!.query('CREATE DATABASE only_on_a');
    const dbs = await b!.query<mysql.RowDataPacket[]>("SHOW DATABASES LIKE 'only_on_a'");
    expect(dbs).toEqual([]);
  });

  it('passes the binlog, GTID and semi-sync options through to the server', async () => {
    const inst = await timedStart('options', () =>
      startMariaDB({
        serverId: 4242,
        binlogFormat: 'STATEMENT',
        binlogChecksum: 'NONE',
        gtidDomainId: 7,
        gtidStrictMode: true,
        logSlaveUpdates: true,
        semiSyncMaster: true,
        maxAllowedPacket: '64M',
        // No semi-sync replica here: without a short timeout every commit waits the default 10 s.
        extraArgs: ['--max-binlog-size=8192', '--rpl-semi-sync-master-timeout=200'],
      }),
    );
    instances.push(inst);
    const [row] = await inst.query<mysql.RowDataPacket[]>(
      'SELECT @@server_id AS id, @@binlog_format AS format, @@binlog_checksum AS checksum, @@gtid_domain_id AS domain, ' +
        '@@gtid_strict_mode AS strict, @@log_slave_updates AS lsu, @@rpl_semi_sync_master_enabled AS semi, ' +
        '@@rpl_semi_sync_master_wait_point AS waitPoint, @@max_allowed_packet AS maxPacket, @@max_binlog_size AS maxBinlog',
    );
    expect(row).toEqual({
      id: 4242,
      format: 'STATEMENT',
      checksum: 'NONE',
      domain: 7,
      strict: 1,
      lsu: 1,
      semi: 1,
      waitPoint: 'AFTER_SYNC',
      maxPacket: 64 * 1024 * 1024,
      maxBinlog: 8192,
    });
    await inst.query('CREATE DATABASE o; CREATE TABLE o.t (v TEXT); INSERT INTO o.t VALUES (REPEAT(\'y\', 10000))');
    expect(await inst.gtidBinlogPos()).toMatch(/^7-4242-\d+$/);
  });

  it('logBin: false runs without a binlog', async () => {
    const inst = await startMariaDB({ logBin: false });
    instances.push(inst);
    const [row] = await inst.query<mysql.RowDataPacket[]>('SELECT @@log_bin AS logBin');
    expect(row?.['logBin']).toBe(0);
    expect(await inst.binlogFiles()).toEqual([]);
  });
});

describe('destroy and failures', () => {
  it('destroy stops the server and removes the datadir, and is idempotent', async () => {
    const inst = await startMariaDB();
    const { datadir, port } = inst;
    expect(existsSync(path.join(datadir, 'bin.000001'))).toBe(true);
    await inst.destroy();
    expect(inst.running).toBe(false);
    expect(existsSync(datadir)).toBe(false);
    await expect(mysql.createConnection({ host: '127.0.0.1', port, user: 'root' })).rejects.toThrow(/ECONNREFUSED/);
    await inst.destroy();
    await expect(inst.query('SELECT 1')).rejects.toThrow(/destroyed/);
    await expect(inst.start()).rejects.toThrow(/destroyed/);
  });

  it('start() after someone else took the port fails with the bind error, and works once the port is free', async () => {
    const inst = await startMariaDB();
    try {
      await inst.stop();
      const squatter = createServer();
      await new Promise<void>((resolve) => squatter.listen({ host: '127.0.0.1', port: inst.port }, resolve));
      try {
        await expect(inst.start()).rejects.toThrow(/during start-up[\s\S]*Address already in use/);
        expect(inst.running).toBe(false);
      } finally {
        await new Promise<void>((resolve, reject) => squatter.close((err) => (err ? reject(err) : resolve())));
      }
      await inst.start();
      expect(await inst.query('SELECT @@port AS port')).toEqual([{ port: inst.port }]);
    } finally {
      await inst.destroy();
    }
  });

  it('a server that cannot start fails fast with its error log', async () => {
    const t0 = Date.now();
    await expect(startMariaDB({ extraArgs: ['--no-such-option-for-harness-test'] })).rejects.toThrow(
      /exited \(code \d+.*during start-up[\s\S]*unknown option '--no-such-option-for-harness-test'/,
    );
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
