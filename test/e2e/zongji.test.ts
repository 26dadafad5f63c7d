// An independent binlog client against the proxy: @vlasky/zongji (mysql2-based CDC library) pointed at the
// daemon's replica port receives the rows written on the primary, from the stored history and live, and can
// resume from a MariaDB GTID position.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ZongJi from '@vlasky/zongji';
import { startMariaDB, type MariaDBInstance } from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { startDaemon, type DaemonProcess } from '../helpers/daemon.js';

const REPL_PASSWORD = 'repl-pw-zongji';
const CDC_USER = 'cdc';
const CDC_PASSWORD = 'cdc-pw-zongji-31';
const H = '127.0.0.1';

interface RowsEvent {
  getTypeName(): string;
  tableMap: Record<number, { tableName: string; parentSchema: string }>;
  tableId: number;
  rows: Array<Record<string, unknown> | { before: Record<string, unknown>; after: Record<string, unknown> }>;
  gtid?: string;
}

describe('zongji through the proxy', () => {
  let primary: MariaDBInstance;
  let daemon: DaemonProcess;
  let port: number;
  const clients: ZongJi[] = [];

  beforeAll(async () => {
    // FULL row metadata: zongji decodes rows from the TABLE_MAP events alone (no information_schema queries).
    primary = await startMariaDB({ extraArgs: ['--binlog-row-metadata=FULL'] });
    await primary.createReplicationUser('repl', REPL_PASSWORD);
    await primary.query('CREATE DATABASE shop');
    await primary.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40), qty INT) ENGINE=InnoDB');
    await primary.query("INSERT INTO shop.orders VALUES (1, 'apple', 3), (2, 'pear', 5)");
    await primary.query("UPDATE shop.orders SET qty = 4 WHERE id = 1");

    daemon = await startDaemon();
    port = await getFreePort();
    expect((await daemon.api('PUT', '/binlog/server/start', { addr: `${H}:${port}`, users: [{ user: 'repl', password: REPL_PASSWORD }, { user: CDC_USER, password: CDC_PASSWORD }] })).status).toBe(200);
    expect(
      (await daemon.api('PUT', '/binlog/syncer/start', { mysql_addr: `${H}:${primary.port}`, mysql_user: 'repl', mysql_password: REPL_PASSWORD, syncer_id: 8101, start: 'earliest' })).status,
    ).toBe(200);
    const pos = await primary.gtidBinlogPos();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const s = await daemon.api<{ data: { executed_gtid_set: string } }>('GET', '/binlog/syncer/status');
      if (s.body.data.executed_gtid_set === pos) break;
      if (Date.now() > deadline) throw new Error('the proxy did not catch up');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);

  afterAll(async () => {
    for (const z of clients) z.stop();
    await daemon?.kill();
    await primary?.destroy();
  });

  function open(options: Record<string, unknown>): { events: RowsEvent[]; errors: Error[] } {
    const z = new ZongJi({ host: H, port, user: CDC_USER, password: CDC_PASSWORD });
    clients.push(z);
    const events: RowsEvent[] = [];
    const errors: Error[] = [];
    z.on('binlog', (e) => events.push(e as unknown as RowsEvent));
    z.on('error', (e: Error) => errors.push(e));
    z.start({ serverId: 5000 + clients.length, includeEvents: ['tablemap', 'writerows', 'updaterows', 'deleterows'], ...options });
    return { events, errors };
  }

  async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('receives the stored rows from the start of the history, then live rows', async () => {
    const { events, errors } = open({ filename: 'bin.000001', position: 4 });
    const rowsOf = (type: string) => events.filter((e) => e.getTypeName() === type).flatMap((e) => e.rows);
    await until(() => rowsOf('UpdateRows').length >= 1, 'the stored rows');
    expect(rowsOf('WriteRows')).toEqual([
      { id: 1, item: 'apple', qty: 3 },
      { id: 2, item: 'pear', qty: 5 },
    ]);
    expect(rowsOf('UpdateRows')).toEqual([{ before: { id: 1, item: 'apple', qty: 3 }, after: { id: 1, item: 'apple', qty: 4 } }]);

    await primary.query("INSERT INTO shop.orders VALUES (3, 'plum', 7)");
    await primary.query('DELETE FROM shop.orders WHERE id = 2');
    await until(() => rowsOf('DeleteRows').length >= 1, 'the live rows');
    expect(rowsOf('WriteRows').at(-1)).toEqual({ id: 3, item: 'plum', qty: 7 });
    expect(rowsOf('DeleteRows')).toEqual([{ id: 2, item: 'pear', qty: 5 }]);
    const write = events.find((e) => e.getTypeName() === 'WriteRows')!;
    expect(write.tableMap[write.tableId]).toMatchObject({ parentSchema: 'shop', tableName: 'orders' });
    expect(errors).toEqual([]);
  });

  it('resumes from a MariaDB GTID position and skips what it already has', async () => {
    const before = await primary.gtidBinlogPos();
    await primary.query("INSERT INTO shop.orders VALUES (4, 'fig', 1)");
    const { events, errors } = open({ gtidSet: before });
    await until(() => events.some((e) => e.getTypeName() === 'WriteRows'), 'the row after the position');
    const written = events.filter((e) => e.getTypeName() === 'WriteRows').flatMap((e) => e.rows);
    expect(written).toEqual([{ id: 4, item: 'fig', qty: 1 }]);
    expect(errors).toEqual([]);
  });
});
