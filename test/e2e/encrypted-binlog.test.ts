// A primary that encrypts its binlog at rest (file_key_management plugin, --encrypt-binlog): its dump thread
// decrypts what it sends, so the proxy stores and serves plain events. Checked against the real thing: the
// primary's files on disk are encrypted (a START_ENCRYPTION_EVENT after the FDE, no table name in clear), a
// MariaDB replica (MASTER_USE_GTID=slave_pos) replicating through the proxy ends with the primary's
// CHECKSUM TABLE, and `mariadb-binlog --raw --to-last-log` downloads from the proxy what it downloads from the
// primary.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMAT_DESCRIPTION_EVENT, START_ENCRYPTION_EVENT } from '../../protocol/binlog/constants.js';
import { expectSameDownloads, waitProxyCaughtUp } from '../helpers/binlog-client.js';
import { startDaemon, type DaemonProcess } from '../helpers/daemon.js';
import {
  checksumTables,
  replicaStatus,
  requireMariaDBPlugin,
  startMariaDB,
  startReplica,
  waitForReplicaCatchUp,
  type MariaDBInstance,
} from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { makeTempDir } from '../helpers/tmp.js';

const H = '127.0.0.1';
const REPL_PASSWORD = 'repl-pw-encrypted-e2e';
const TABLES = ['secret.accounts', 'secret.notes'];
/** A table name that would show in clear in an unencrypted binlog (TABLE_MAP and QUERY events). */
const MARKER = 'accounts';

async function workload(p: MariaDBInstance, round: number): Promise<void> {
  const c = await p.connect();
  try {
    await c.query(`INSERT INTO secret.accounts (owner, balance, blob_col) VALUES ('owner-${round}', ${round * 100}, REPEAT('s', 70000))`);
    await c.query(`UPDATE secret.accounts SET balance = balance + 1 WHERE id % 2 = ${round % 2}`);
    await c.query(`INSERT INTO secret.notes (note) VALUES ('note ${round}'), ('note ${round} bis')`);
    await c.query(`DELETE FROM secret.notes WHERE id % 5 = ${round % 5}`);
    if (round % 3 === 2) await c.query('FLUSH BINARY LOGS');
  } finally {
    await c.end();
  }
}

describe('a primary with an encrypted binlog', () => {
  let primary: MariaDBInstance;
  let daemon: DaemonProcess;
  let replica: MariaDBInstance | undefined;
  let port: number;
  let out: string;

  beforeAll(async () => {
    out = await makeTempDir('blp-enc-');
    const keyFile = path.join(out, 'keys.txt');
    // key id 1, a 256-bit AES key in hex (the plugin's file format)
    await writeFile(keyFile, `1;${'a1b2c3d4e5f60718'.repeat(4)}\n`, { mode: 0o600 });
    requireMariaDBPlugin('file_key_management'); // fails with the package to install when it is missing
    primary = await startMariaDB({
      extraArgs: ['--plugin-load-add=file_key_management', `--file-key-management-filename=${keyFile}`, '--encrypt-binlog=1'],
    });
    await primary.createReplicationUser('repl', REPL_PASSWORD);
    await primary.query('CREATE DATABASE secret');
    await primary.query('CREATE TABLE secret.accounts (id INT PRIMARY KEY AUTO_INCREMENT, owner VARCHAR(64), balance BIGINT, blob_col LONGBLOB) ENGINE=InnoDB');
    await primary.query('CREATE TABLE secret.notes (id INT PRIMARY KEY AUTO_INCREMENT, note TEXT) ENGINE=InnoDB');
    daemon = await startDaemon();
    port = await getFreePort();
    expect((await daemon.api('PUT', '/binlog/server/start', { addr: `${H}:${port}`, user: 'repl', password: REPL_PASSWORD })).status).toBe(200);
    expect(
      (await daemon.api('PUT', '/binlog/syncer/start', { mysql_addr: `${H}:${primary.port}`, mysql_user: 'repl', mysql_password: REPL_PASSWORD, syncer_id: 6301, start: 'earliest' })).status,
    ).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await replica?.destroy();
    await daemon?.kill();
    await primary?.destroy();
  });

  const proxyCaughtUp = (): Promise<void> => waitProxyCaughtUp(daemon, primary);

  it("the primary's binlog files are encrypted on disk", async () => {
    await workload(primary, 0);
    const files = await primary.binlogFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const buf = await readFile(f);
      // magic, FDE, then the START_ENCRYPTION_EVENT (its own header is in clear)
      expect(buf[4 + 4], `${f}: FDE`).toBe(FORMAT_DESCRIPTION_EVENT);
      const second = 4 + buf.readUInt32LE(4 + 9);
      expect(buf[second + 4], `${f}: START_ENCRYPTION_EVENT after the FDE`).toBe(START_ENCRYPTION_EVENT);
    }
    const last = await readFile(files.at(-1)!);
    expect(last.includes(Buffer.from(MARKER)), 'table name in clear in an encrypted binlog').toBe(false);
  });

  it('a MariaDB replica (slave_pos) through the proxy ends with the primary\'s data', async () => {
    await proxyCaughtUp();
    replica = await startReplica({ primary: { host: H, port }, user: 'repl', password: REPL_PASSWORD, useGtid: 'slave_pos' });
    for (let round = 1; round <= 6; round++) await workload(primary, round);
    const pos = await primary.gtidBinlogPos();
    await waitForReplicaCatchUp(replica, pos, 60_000);
    const expected = await checksumTables(primary, TABLES);
    expect(Object.values(expected).every((v) => v !== null && v !== '0')).toBe(true);
    expect(await checksumTables(replica, TABLES)).toEqual(expected);
    expect(await replicaStatus(replica)).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Last_IO_Error: '', Last_SQL_Error: '' });
  }, 120_000);

  it('mariadb-binlog --raw downloads from the proxy what it downloads from the primary (decrypted events)', async () => {
    await proxyCaughtUp();
    const fromProxy = await expectSameDownloads({ proxyPort: port, primaryPort: primary.port, user: 'repl', password: REPL_PASSWORD, dir: out, first: 'bin.000001', minFiles: 3 });
    // What the dump thread sends is decrypted: the table name is there in clear.
    expect(Buffer.concat([...fromProxy.values()]).includes(Buffer.from(MARKER))).toBe(true);
  }, 120_000);
});
