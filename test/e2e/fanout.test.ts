// Many replicas catching up at once through the real daemon share segments (the store's read cache) and framed
// packets (a ring 1.25 times the read cache): every event each of them gets must be the primary's own, in order,
// whether they start together or apart, ask for ANNOTATE_ROWS or not, or leave early. The read cache is cut to
// 1 MiB here, so the ~20 MB history laps the frame ring many times while the dumps drift apart.
// A stale frame once went out (the ring took the part of a room a write gave back for untouched, while the write
// had used it as scratch): in the bench's fan-out, one or two dumps of fifty over 100 MB got a payload that
// started mid-event. This test did not catch that one in a few runs against the old code (it needs a reader a
// whole lap behind at the wrong moment); test/unit/dump/stream.test.ts pins it deterministically.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDB, type MariaDBInstance } from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startDaemon, writeProxyConfig, type DaemonProcess } from '../helpers/daemon.js';
import { waitProxyCaughtUp } from '../helpers/binlog-client.js';
import { annotations, checkedDump, referenceDump, type Reference } from '../helpers/raw-dump.js';
import { prng } from '../helpers/prng.js';
import { writeRows } from '../helpers/workload.js';
import { MARIADB_GTID_EVENT } from '../../protocol/binlog/constants.js';
import { EVENT_TYPE_OFFSET, LOG_POS_OFFSET } from '../../protocol/binlog/header.js';

const H = '127.0.0.1';
const PW = 'repl-pw-fanout-e2e';
const READERS = 24;
const TXNS = 40_000;


describe('fan-out through the daemon', () => {
  let primary: MariaDBInstance;
  let daemon: DaemonProcess;
  let port: number;
  /** The primary's own dump, ANNOTATE_ROWS included. */
  let ref: Reference;

  beforeAll(async () => {
    primary = await startMariaDB({ extraArgs: ['--innodb-flush-log-at-trx-commit=0', '--sync-binlog=0'] });
    await primary.createReplicationUser('repl', PW);
    // Rows of 100-376 bytes: events of many sizes, segments that end at different points.
    await writeRows(primary, { db: 'app', txns: TXNS, conns: 2, column: 'VARCHAR(400)', value: 'REPEAT(CHAR(97 + (i MOD 26)), 100 + (i MOD 13) * 23)' });
    const dir = await makeTempDir('binlog-proxy-fanout-');
    port = await getFreePort();
    const configFile = await writeProxyConfig(dir, { storage: { readCache: '1MiB' }, listen: `${H}:${port}`, password: PW, primaryPort: primary.port, syncerId: 6401 });
    daemon = await startDaemon({ dataDir: path.join(dir, 'data'), args: ['--config', configFile] });
    await waitProxyCaughtUp(daemon, primary, 60_000);
    ref = await referenceDump({ port: primary.port, user: 'repl', password: PW, serverId: 6499, file: 'bin.000001', pos: 4 });
  }, 120_000);

  afterAll(async () => {
    await daemon?.kill();
    await primary?.destroy();
  });

  const dumpFromProxy = (i: number, o: { pos: number; annotate: boolean; stopAfter?: number }): Promise<{ events: number; checked: number }> =>
    checkedDump(ref, { port, user: 'repl', password: PW, serverId: 7000 + i, file: 'bin.000001', ...o });

  it('replicas that start together all get the primary\'s events, byte for byte', async () => {
    expect(ref.events.length).toBeGreaterThan(4 * TXNS);
    const res = await Promise.all(Array.from({ length: READERS }, (_, i) => dumpFromProxy(i, { pos: 4, annotate: false })));
    for (const r of res) expect(r.checked).toBe(ref.events.length - annotations(ref));
  }, 180_000);

  it('replicas from mixed positions, with and without ANNOTATE_ROWS, some leaving early, get the primary\'s events', async () => {
    const rnd = prng(20261207);
    const starts = ref.events.filter((e) => e[EVENT_TYPE_OFFSET] === MARIADB_GTID_EVENT).map((e) => e.readUInt32LE(LOG_POS_OFFSET) - e.length);
    const plans = Array.from({ length: READERS }, (_, i) => ({
      pos: i % 3 === 0 ? starts[Math.floor(rnd() * starts.length)]! : 4,
      annotate: i % 2 === 0,
      ...(i % 5 === 4 ? { stopAfter: 1000 + Math.floor(rnd() * 50_000) } : {}),
    }));
    const res = await Promise.all(plans.map((p, i) => dumpFromProxy(100 + i, p)));
    for (const [i, r] of res.entries()) {
      const p = plans[i]!;
      if (p.stopAfter !== undefined) expect(r.events).toBe(p.stopAfter);
      else expect(r.checked).toBeGreaterThan(0);
    }
    expect(res.reduce((n, r) => n + r.checked, 0)).toBeGreaterThan(READERS * TXNS);
  }, 180_000);
});
