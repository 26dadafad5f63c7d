// Passthrough of read-only SQL to a real primary (a private mariadbd): what CDC tools ask on their metadata
// connection reaches the primary and comes back with the primary's columns and errors; writes never do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDB, type MariaDBInstance } from '../helpers/mariadb.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { errOf, MARIADB_SOURCE, startTestServer, type TestServer } from './server-session-helpers.js';

let db: MariaDBInstance;
let dir: string;
let t: TestServer;

beforeAll(async () => {
  db = await startMariaDB();
  await db.query(
    'CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, price DECIMAL(10,2), big BIGINT UNSIGNED, note TEXT NULL)',
  );
  const values = Array.from({ length: 5000 }, (_, i) => `(${i + 1}, 'item-${i + 1}', ${(i % 100) + 0.5}, ${18446744073709551615n - BigInt(i)}, ${i % 7 === 0 ? 'NULL' : `'n${i}'`})`);
  await db.query(`INSERT INTO shop.items VALUES ${values.join(',')}`);
  dir = await makeTempDir('bp-srv-pt-');
  t = await startTestServer({
    source: MARIADB_SOURCE,
    dataDir: dir,
    settings: { passthrough: true, limits: { dumpHighWaterMark: 64 * 1024 } },
    passthroughTarget: () => ({ host: db.host, port: db.port, user: db.rootUser, password: db.rootPassword }),
  });
}, 180_000);

afterAll(async () => {
  await t?.close();
  await db?.destroy();
  if (dir) await removeTempDir(dir);
});

describe('passthrough', () => {
  it('forwards information_schema queries, SHOW CREATE TABLE and snapshot SELECTs, with the primary types', async () => {
    const c = await t.connect({ supportBigNumbers: true, bigNumberStrings: true });
    try {
      const [cols] = await c.query(
        "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'items' ORDER BY ORDINAL_POSITION",
      );
      expect(cols).toEqual(['id', 'name', 'price', 'big', 'note'].map((COLUMN_NAME) => ({ COLUMN_NAME })));
      const [create] = await c.query('SHOW CREATE TABLE shop.items');
      expect((create as Array<Record<string, string>>)[0]!['Create Table']).toContain('CREATE TABLE `items`');
      const [rows, fields] = await c.query('SELECT * FROM shop.items WHERE id IN (1, 7) ORDER BY id');
      expect(rows).toEqual([
        { id: 1, name: 'item-1', price: '0.50', big: '18446744073709551615', note: null },
        { id: 7, name: 'item-7', price: '6.50', big: '18446744073709551609', note: 'n6' },
      ]);
      expect((fields as Array<{ name: string; columnType: number; table: string; db: string }>).map((f) => [f.name, f.columnType, f.table, f.db])).toEqual([
        ['id', 3, 'items', 'shop'],
        ['name', 253, 'items', 'shop'],
        ['price', 246, 'items', 'shop'],
        ['big', 8, 'items', 'shop'],
        ['note', 252, 'items', 'shop'],
      ]);
      // Our own statements stay ours.
      const [ms] = await c.query('SHOW MASTER STATUS');
      expect(ms).toEqual([{ File: 'bin.000002', Position: '5678', Binlog_Do_DB: '', Binlog_Ignore_DB: '' }]);
    } finally {
      await c.end();
    }
  });

  it('streams a large result with backpressure and follows USE', async () => {
    const c = await t.connect({ database: 'shop' });
    try {
      const [rows] = await c.query('SELECT id, name FROM items ORDER BY id');
      const list = rows as Array<{ id: number; name: string }>;
      expect(list).toHaveLength(5000);
      expect(list[4999]).toEqual({ id: 5000, name: 'item-5000' });
      await c.query('USE information_schema');
      const [n] = await c.query("SELECT COUNT(*) AS n FROM TABLES WHERE TABLE_SCHEMA = 'shop'");
      expect(n).toEqual([{ n: 1 }]);
    } finally {
      await c.end();
    }
  });

  it('returns the primary errors as they are, and never forwards writes', async () => {
    const c = await t.connect();
    try {
      const e = errOf(await c.query('SELECT * FROM shop.nope').catch((err: unknown) => err));
      expect([e.errno, e.sqlState, e.sqlMessage]).toEqual([1146, '42S02', "Table 'shop.nope' doesn't exist"]);
      for (const sql of ['INSERT INTO shop.items (id, name) VALUES (99999, "x")', 'DELETE FROM shop.items', 'SELECT * FROM shop.items FOR UPDATE', 'SELECT 1; DELETE FROM shop.items']) {
        const w = errOf(await c.query(sql).catch((err: unknown) => err));
        expect(w.errno, sql).toBe(1064);
        expect(w.sqlMessage, sql).toContain('binlog-proxy does not execute this statement');
      }
      expect(await db.query('SELECT COUNT(*) AS n FROM shop.items')).toEqual([{ n: 5000 }]);
      const [after] = await c.query('SELECT 1 AS ok');
      expect(after).toEqual([{ ok: 1 }]);
    } finally {
      await c.end();
    }
  });

  it('the forwarded session is read-only on the primary too', async () => {
    const c = await t.connect();
    try {
      // A SELECT that would write through a stored function is stopped by the primary's READ ONLY session.
      await db.query('CREATE FUNCTION shop.bump() RETURNS INT DETERMINISTIC MODIFIES SQL DATA BEGIN INSERT INTO shop.items (id, name) VALUES (100000, "f"); RETURN 1; END');
      const e = errOf(await c.query('SELECT shop.bump() AS b').catch((err: unknown) => err));
      expect(e.errno).toBe(1792); // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
      expect(await db.query('SELECT COUNT(*) AS n FROM shop.items')).toEqual([{ n: 5000 }]);
    } finally {
      await c.end();
    }
  });

  it('says so when no primary is configured, and answers with our ERR when passthrough is off', async () => {
    const none = await startTestServer({ source: MARIADB_SOURCE, dataDir: dir, settings: { passthrough: true }, passthroughTarget: () => null });
    const off = await startTestServer({ source: MARIADB_SOURCE, dataDir: dir });
    try {
      const c1 = await none.connect();
      const e1 = errOf(await c1.query('SELECT * FROM information_schema.TABLES').catch((err: unknown) => err));
      expect([e1.errno, e1.sqlMessage]).toEqual([1105, 'passthrough to the primary failed: no primary is configured (start the syncer first)']);
      await c1.end();
      const c2 = await off.connect();
      const e2 = errOf(await c2.query('SELECT * FROM information_schema.TABLES').catch((err: unknown) => err));
      expect(e2.errno).toBe(1064);
      await c2.end();
    } finally {
      await none.close();
      await off.close();
    }
  });
});
