/**
 * Semi-sync with a MariaDB primary (rpl_semi_sync_master_enabled=ON, AFTER_SYNC): a commit on the primary
 * returns only after the proxy acknowledged it, and the proxy acknowledges only what is durable in storage;
 * with the proxy stopped, the primary falls back to asynchronous after its timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MariadbGtidPosition, parseMariadbGtid } from '../../protocol/gtid/mariadb.js';
import { Syncer } from '../../src/syncer/syncer.js';
import type { SyncerStore } from '../../src/syncer/store.js';
import { startMariaDB, type MariaDBInstance } from '../helpers/mariadb.js';
import { compareWithPrimary, makeHarness, statusLine, syncerArgs, waitCaughtUp, waitFor, type Harness } from './syncer-helpers.js';

let db: MariaDBInstance;
let h: Harness;
const ACK_DELAY_MS = 700;
/** Each waitDurable() of the syncer first waits this long: a slow disk. */
let durableDelay = 0;

async function semiStatus(name: string): Promise<string> {
  const rows = await db.query<Array<{ Variable_name: string; Value: string }>>('SHOW GLOBAL STATUS LIKE ?', [name]);
  return rows[0]?.Value ?? '';
}

beforeAll(async () => {
  db = await startMariaDB({ semiSyncMaster: true, extraArgs: ['--rpl-semi-sync-master-timeout=3000'] });
  await db.createReplicationUser('repl', 'replpw');
  await db.query('CREATE DATABASE s; CREATE TABLE s.t (id INT PRIMARY KEY AUTO_INCREMENT, v INT) ENGINE=InnoDB');
  h = await makeHarness();
  // The syncer's view of the store, with a slow waitDurable.
  const real = h.store;
  const slow: SyncerStore = {
    getState: () => real.getState(),
    append: (u) => real.append(u),
    beginTransaction: (m) => real.beginTransaction(m),
    waitDurable: async (seq) => {
      if (durableDelay > 0) await new Promise((r) => setTimeout(r, durableDelay));
      await real.waitDurable(seq);
    },
    flush: () => real.flush(),
    getMeta: (n) => real.getMeta(n),
    putMeta: (n, v) => real.putMeta(n, v),
    setFlavor: (f) => real.setFlavor(f),
  };
  h.syncer = new Syncer({ store: slow, log: h.log, metrics: h.metrics });
}, 120_000);

afterAll(async () => {
  await h?.destroy();
  await db?.destroy();
});

describe('semi-sync against MariaDB (AFTER_SYNC)', () => {
  it('the primary counts the proxy as a semi-sync replica and every commit waits for its acknowledgement', async () => {
    await h.syncer.start(syncerArgs(db, { semi_sync: true }));
    await waitFor('a semi-sync client on the primary', async () => (await semiStatus('Rpl_semi_sync_master_clients')) === '1', 20_000, () => statusLine(h.syncer.status()));
    await waitCaughtUp(h, db);
    const yesBefore = Number(await semiStatus('Rpl_semi_sync_master_yes_tx'));
    const noBefore = Number(await semiStatus('Rpl_semi_sync_master_no_tx'));
    durableDelay = ACK_DELAY_MS;
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      await db.query('INSERT INTO s.t (v) VALUES (?)', [i]);
      const took = Date.now() - t0;
      // The commit returned: the proxy must already hold it durably (it acknowledged only after waitDurable).
      const pos = await db.gtidBinlogPos();
      const st = h.store.getState();
      expect(st.durableSeq).toBe(st.lastSeq);
      const stored = MariadbGtidPosition.parse(st.executedGtids);
      for (const g of pos.split(',')) expect(stored.contains(parseMariadbGtid(g))).toBe(true);
      expect(took).toBeGreaterThanOrEqual(ACK_DELAY_MS - 50);
    }
    durableDelay = 0;
    expect(Number(await semiStatus('Rpl_semi_sync_master_yes_tx'))).toBe(yesBefore + 3);
    expect(Number(await semiStatus('Rpl_semi_sync_master_no_tx'))).toBe(noBefore);
    expect(await semiStatus('Rpl_semi_sync_master_status')).toBe('ON');
    // Many quick commits keep the sequence ids of the dump right (an ACK resets them).
    for (let i = 0; i < 50; i++) await db.query('INSERT INTO s.t (v) VALUES (?)', [i]);
    expect(Number(await semiStatus('Rpl_semi_sync_master_yes_tx'))).toBe(yesBefore + 53);
    await waitCaughtUp(h, db);
    await compareWithPrimary(h.store, await db.binlogFiles());
    expect(h.syncer.status().counters.reconnects).toBe(0);
  }, 60_000);

  it('falls back to asynchronous after the primary timeout when the proxy does not acknowledge, and when it is stopped', async () => {
    // A proxy that receives but cannot make the transaction durable must not acknowledge it.
    durableDelay = 8_000;
    const noBefore = Number(await semiStatus('Rpl_semi_sync_master_no_tx'));
    let t0 = Date.now();
    await db.query('INSERT INTO s.t (v) VALUES (100)');
    const stalled = Date.now() - t0;
    expect(stalled).toBeGreaterThanOrEqual(2_900); // rpl_semi_sync_master_timeout=3000
    expect(stalled).toBeLessThan(8_000);
    expect(Number(await semiStatus('Rpl_semi_sync_master_no_tx'))).toBe(noBefore + 1);
    expect(await semiStatus('Rpl_semi_sync_master_status')).toBe('OFF');
    // stop() does not wait for acknowledgements that can no longer be sent.
    t0 = Date.now();
    await h.syncer.stop();
    expect(Date.now() - t0).toBeLessThan(3_000);
    durableDelay = 0;
    await waitFor('no semi-sync client', async () => (await semiStatus('Rpl_semi_sync_master_clients')) === '0', 10_000);
    await db.query('INSERT INTO s.t (v) VALUES (101)');
    expect(Number(await semiStatus('Rpl_semi_sync_master_no_tx'))).toBe(noBefore + 2);
    // A restarted proxy catches up, the primary switches semi-sync back on, and commits wait for it again.
    await h.syncer.start(syncerArgs(db, { semi_sync: true }));
    await waitCaughtUp(h, db);
    await db.query('INSERT INTO s.t (v) VALUES (102)');
    await waitFor('semi-sync back on', async () => (await semiStatus('Rpl_semi_sync_master_status')) === 'ON', 20_000);
    const yesBefore = Number(await semiStatus('Rpl_semi_sync_master_yes_tx'));
    await db.query('INSERT INTO s.t (v) VALUES (103)');
    expect(Number(await semiStatus('Rpl_semi_sync_master_yes_tx'))).toBe(yesBefore + 1);
    await waitCaughtUp(h, db);
    await compareWithPrimary(h.store, await db.binlogFiles());
  }, 60_000);
});
