/**
 * Fan-out correctness under load (`npm run build && node dist/bench/stress.js`): the bench's history on a private
 * primary, the real daemon, then rounds of concurrent dumps from the proxy with every event compared with the
 * primary's own dump, byte for byte and in order. Even rounds mix the dumps (start at the file's start or at a
 * random transaction, ANNOTATE_ROWS asked or not, one in five leaving early); odd rounds start them all together
 * without ANNOTATE_ROWS, as the bench's fan-out does. Exits 1 if any dump got anything else.
 *
 * The history is written in bulk before the syncer starts (big segments), then `--live-txns` more single-row
 * transactions on one connection while it follows: small segments, one per group commit, which readers merge
 * (storage/reader.ts, mergeSmallSegments).
 *
 *   node dist/bench/stress.js [--txns N] [--live-txns N] [--readers N] [--rounds N] [--config FILE]
 *
 * Not part of `npm test` (about four minutes at the defaults: 200k transactions, 92 MB, 50 readers, 6 rounds).
 * At these defaults it catches the stale shared frames fixed in f88638f: 2 and 3 dumps of 300 failed in two
 * runs with the old FrameRing, none in ~216M events compared with the fix.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMariaDB, type MariaDBInstance } from '../test/helpers/mariadb.js';
import { getFreePort } from '../test/helpers/ports.js';
import { prng } from '../test/helpers/prng.js';
import { checkedDump, referenceDump } from '../test/helpers/raw-dump.js';
import { MARIADB_GTID_EVENT } from '../protocol/binlog/constants.js';
import { EVENT_TYPE_OFFSET, LOG_POS_OFFSET } from '../protocol/binlog/header.js';
import { argNumber, argValue } from './args.js';
import { startBenchDaemon, type BenchDaemon } from './daemon.js';
import { generate, REPL_PASSWORD, REPL_USER, startSyncer, waitSynced } from './workload.js';

const TXNS = argNumber('--txns', 200_000, true);
const LIVE_TXNS = argNumber('--live-txns', 30_000, true);
const READERS = argNumber('--readers', 50, true);
const ROUNDS = argNumber('--rounds', 6, true);
const CONFIG = argValue('--config');
const log = (msg: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function main(): Promise<number> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'bp-stress-'));
  let primary: MariaDBInstance | null = null;
  let daemon: BenchDaemon | null = null;
  try {
    primary = await startMariaDB({ serverId: 1, extraArgs: ['--innodb-flush-log-at-trx-commit=0', '--sync-binlog=0', '--max-connections=300'] });
    await primary.createReplicationUser(REPL_USER, REPL_PASSWORD);
    await generate(primary, TXNS);
    daemon = await startBenchDaemon({
      dataDir: await mkdtemp(path.join(scratch, 'proxy-')),
      adminPort: await getFreePort(),
      args: CONFIG !== undefined ? ['--config', path.resolve(CONFIG)] : [],
    });
    await startSyncer(daemon, primary);
    await waitSynced(daemon, await primary.gtidBinlogPos());
    await primary.query('CALL bench.gen(?, ?)', [LIVE_TXNS, 20_000_000]);
    await waitSynced(daemon, await primary.gtidBinlogPos());
    const port = await getFreePort();
    const srv = await daemon.api('PUT', '/binlog/server/start', { addr: `127.0.0.1:${port}`, user: REPL_USER, password: REPL_PASSWORD });
    if (srv.status !== 200) throw new Error(`server start failed: ${JSON.stringify(srv.body)}`);
    const login = { user: REPL_USER, password: REPL_PASSWORD, file: 'bin.000001' };
    const ref = await referenceDump({ ...login, port: primary.port, serverId: 5000, pos: 4 });
    const bytes = ref.events.reduce((n, e) => n + e.length, 0);
    log(`reference (the primary's own dump): ${ref.events.length} events, ${(bytes / 1e6).toFixed(1)} MB; ${READERS} readers x ${ROUNDS} rounds`);
    const starts = ref.events.filter((e) => e[EVENT_TYPE_OFFSET] === MARIADB_GTID_EVENT).map((e) => e.readUInt32LE(LOG_POS_OFFSET) - e.length);
    const rnd = prng(20261208);
    let failed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const together = round % 2 === 1;
      const t0 = performance.now();
      const res = await Promise.all(
        Array.from({ length: READERS }, (_, i) => {
          const annotate = !together && rnd() < 0.5;
          const pos = together || rnd() < 2 / 3 ? 4 : starts[Math.floor(rnd() * starts.length)]!;
          const stopAfter = together || rnd() >= 0.2 ? undefined : 1000 + Math.floor(rnd() * 500_000);
          return checkedDump(ref, { ...login, port, serverId: 6000 + round * 100 + i, pos, annotate, ...(stopAfter !== undefined ? { stopAfter } : {}) }).then(
            (r) => ({ ...r, error: null as string | null }),
            (err: Error) => ({ events: 0, checked: 0, error: err.message }),
          );
        }),
      );
      const bad = res.filter((r) => r.error !== null);
      failed += bad.length;
      const checked = res.reduce((n, r) => n + r.checked, 0);
      log(`round ${round} (${together ? 'all from the start' : 'mixed'}): ${Math.round(performance.now() - t0)} ms, ${checked} events checked, ${bad.length} dump(s) failed`);
      for (const b of bad.slice(0, 5)) log(`  ${b.error}`);
    }
    log(failed === 0 ? 'every dump got the primary\'s events' : `${failed} dump(s) got something else`);
    return failed === 0 ? 0 : 1;
  } finally {
    await daemon?.stop();
    await primary?.destroy();
    await rm(scratch, { recursive: true, force: true });
  }
}

process.exitCode = await main();
