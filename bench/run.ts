/**
 * The binlog-proxy benchmark (`npm run build && npm run bench`): the real daemon (dist/src/main.js as a child
 * process) between a private MariaDB primary and its readers, each figure beside the MariaDB reference.
 *
 *   node dist/bench/run.js [--txns N] [--runs N] [--fanout N] [--live-seconds N] [--live-rate N]
 *                          [--only 1,2a,2b,3,4,5,6,storage] [--smoke] [--cpu-prof DIR] [--config FILE]
 *                          [--node-flags "FLAGS"] [--daemon-log FILE]
 *
 *   1  ingest:   the proxy pulls the whole binlog (default 200k single-row transactions, ~90 MB) into durable
 *                storage  vs  `mariadb-binlog --read-from-remote-server --raw --to-last-log` to files.
 *   2a serve:    `mariadb-binlog --raw` pulling everything from the proxy  vs  from the primary.
 *   2b serve:    the raw reader (bench/raw-reader.ts: login, non-blocking COM_BINLOG_DUMP, count bytes)
 *                from the proxy  vs  from the primary.
 *   3  replica:  a MariaDB replica's IO thread fetching everything through the proxy  vs  from the primary.
 *   4  fan-out:  N (default 50) concurrent raw readers from the proxy  vs  from the primary; proxy peak RSS.
 *   5  latency:  1,000 single-row transactions/s for 30 s; commit-to-arrival at a reader through the proxy
 *                vs  directly, both readers following at the same time; added p50/p99 per transaction.
 *   6  restart:  SIGTERM the daemon, start it again on the same data (>= 1M events stored): spawn to the first
 *                event of a dump.
 *   storage:     the storage micro-benchmark (bench/storage.ts) in a child process.
 *
 * One primary holds the big history for 1-4 and 6 (generating 90 MB four times would dominate the run); the
 * latency scenario writes on that same primary after the history, with readers starting at its end.
 * Durations are the median of --runs runs (default 3), alternating proxy and reference. Prints a table and
 * writes bench-results.json (cwd). `--smoke` is a short run (20k transactions, 1 run, 5 readers, 5 s).
 * `--node-flags` adds node/V8 flags to the daemon's own (src/node-flags.ts), after them, so a flag given twice
 * takes this value (an A/B of `--initial-old-space-size=64`, or `--trace-gc`); `--daemon-log` appends what the
 * daemons print (their logs, `--trace-gc` lines) to FILE.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import {
  replicaStatus,
  startMariaDB,
  startReplica,
  type MariaDBInstance,
} from '../test/helpers/mariadb.js';
import { getFreePort } from '../test/helpers/ports.js';
import { argNumber, argValue } from './args.js';
import { cpuMsOfPid, mainThreadCpuMs, memOfPid, startBenchDaemon, type BenchDaemon } from './daemon.js';
import { follow, readAll, readFirst, type Endpoint, type ReadResult } from './raw-reader.js';
import { generate, REPL_PASSWORD, REPL_USER, startSyncer, waitSynced, waitUntil } from './workload.js';

// ---- arguments -------------------------------------------------------------------------------------------

const SMOKE = process.argv.includes('--smoke');
const TXNS = argNumber('--txns', SMOKE ? 20_000 : 200_000);
const RUNS = argNumber('--runs', SMOKE ? 1 : 3);
const FANOUT = argNumber('--fanout', SMOKE ? 5 : 50);
const LIVE_SECONDS = argNumber('--live-seconds', SMOKE ? 5 : 30);
const LIVE_RATE = argNumber('--live-rate', 1000);
const ONLY = argValue('--only')?.split(',') ?? null;
const CPU_PROF = argValue('--cpu-prof');
const CONFIG = argValue('--config');
const NODE_FLAGS = argValue('--node-flags')?.split(' ').filter((f) => f !== '') ?? [];
const DAEMON_LOG = argValue('--daemon-log');
const want = (s: string): boolean => ONLY === null || ONLY.includes(s);

const MB = 1e6;
const round = (v: number, d = 2): number => Math.round(v * 10 ** d) / 10 ** d;
/** Concurrent readers of the same history must all have got the same stream (each reader checks its framing). */
function sameStreams(res: ReadResult[], side: string): void {
  const kinds = new Set(res.map((r) => `${r.packets} packets, ${r.bytes} bytes`));
  if (kinds.size !== 1) throw new Error(`fan-out from the ${side}: the readers did not all get the same stream: ${[...kinds].join(' / ')}`);
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
function log(msg: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

// ---- results ---------------------------------------------------------------------------------------------

interface Row {
  scenario: string;
  measure: string;
  proxy: number;
  reference: number | null;
  unit: string;
  /** proxy / reference, oriented so that lower is better (time ratio), or as stated in `target`. */
  ratio: number | null;
  target: string;
  met: boolean | null;
  note?: string;
}
const rows: Row[] = [];
function addRow(r: Omit<Row, 'ratio' | 'met'> & { ratio?: number | null; check: (ratio: number | null, proxy: number) => boolean | null }): void {
  const ratio = r.ratio !== undefined ? r.ratio : r.reference !== null && r.reference !== 0 ? r.proxy / r.reference : null;
  const { check, ...rest } = r;
  const row: Row = { ...rest, ratio: ratio === null ? null : round(ratio, 3), met: check(ratio, r.proxy) };
  rows.push(row);
  log(`  => ${row.measure}: proxy ${row.proxy} ${row.unit}, reference ${row.reference ?? '-'}, ratio ${row.ratio ?? '-'} (${row.target}) ${row.met === null ? '' : row.met ? 'MET' : 'NOT MET'}`);
}

// ---- the workload ----------------------------------------------------------------------------------------

// ---- process helpers -------------------------------------------------------------------------------------

async function runCmd(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${err}`))));
  });
  return performance.now() - t0;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(path.join(dir, f))).size;
  return total;
}

/** `mariadb-binlog --raw` pulling every file from `port` into a fresh directory; ms. */
async function mariadbBinlogPull(port: number, scratch: string, tag: string): Promise<{ ms: number; bytes: number }> {
  const out = await mkdtemp(path.join(scratch, `mb-${tag}-`));
  const ms = await runCmd('mariadb-binlog', [
    '--no-defaults',
    // Plain text on both sides: the private primary offers no TLS, while the proxy's replica port offers it by
    // default (a self-signed certificate) and MariaDB's client takes it when offered, which cost the proxy
    // side about 12% (and a fixed ~50 ms for the handshake) in scenario 2a.
    '--skip-ssl',
    '--read-from-remote-server',
    '--raw',
    '--host=127.0.0.1',
    `--port=${port}`,
    `--user=${REPL_USER}`,
    `--password=${REPL_PASSWORD}`,
    `--result-file=${out}/`,
    '--to-last-log',
    'bin.000001',
  ]);
  const bytes = await dirBytes(out);
  await rm(out, { recursive: true, force: true });
  return { ms, bytes };
}

/** The daemon's histogram of synced group writes (binlog_proxy_storage_group_write_seconds): count per `le` bucket. */
async function groupWriteBuckets(d: BenchDaemon): Promise<Map<string, number>> {
  const text = (await d.api<string>('GET', '/metrics')).body;
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^binlog_proxy_storage_group_write_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Samples the RSS of `pid` every 50 ms until stopped; returns the peaks in MB (total, anonymous). */
function rssSampler(pid: number): { stop: () => { rssMB: number; anonMB: number } } {
  const peak = memOfPid(pid);
  const sample = (): void => {
    const m = memOfPid(pid);
    peak.rssMB = Math.max(peak.rssMB, m.rssMB);
    peak.anonMB = Math.max(peak.anonMB, m.anonMB);
  };
  const t = setInterval(sample, 50);
  return {
    stop: () => {
      clearInterval(t);
      sample();
      return peak;
    },
  };
}

// ---- main ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'bp-bench-'));
  const load0 = loadavg();
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memGB: round(totalmem() / 2 ** 30, 1), node: process.version },
    loadAverageAtStart: load0.map((l) => round(l)),
    params: { txns: TXNS, runs: RUNS, fanout: FANOUT, liveSeconds: LIVE_SECONDS, liveRate: LIVE_RATE, config: CONFIG ?? null },
  };
  log(`binlog-proxy bench: ${TXNS} transactions, ${RUNS} run(s) each, load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  let primary: MariaDBInstance | null = null;
  let daemon: BenchDaemon | null = null;
  const replicas: MariaDBInstance[] = [];
  try {
    primary = await startMariaDB({
      serverId: 1,
      // Generation speed only: the dump thread reads the binlog file either way.
      extraArgs: ['--innodb-flush-log-at-trx-commit=0', '--sync-binlog=0', '--max-connections=300'],
    });
    await primary.createReplicationUser(REPL_USER, REPL_PASSWORD);
    const g0 = performance.now();
    await generate(primary, TXNS);
    const files = await primary.binlogFiles();
    let binlogBytes = 0;
    for (const f of files) binlogBytes += (await stat(f)).size;
    const target = await primary.gtidBinlogPos();
    log(`workload: ${TXNS} transactions in ${round((performance.now() - g0) / 1000, 1)} s; ${files.length} file(s), ${round(binlogBytes / MB, 1)} MB; ${target}`);
    results.workload = { transactions: TXNS, binlogFiles: files.length, binlogMB: round(binlogBytes / MB, 1) };

    const primaryEp: Endpoint = { host: '127.0.0.1', port: primary.port, user: REPL_USER, password: REPL_PASSWORD };
    const serverPort = await getFreePort();
    const proxyEp: Endpoint = { ...primaryEp, port: serverPort };
    const dataDir = await mkdtemp(path.join(scratch, 'proxy-'));
    const adminPort = await getFreePort();
    const daemonArgs = CONFIG !== undefined ? ['--config', path.resolve(CONFIG)] : [];
    const logFile = DAEMON_LOG !== undefined ? path.resolve(DAEMON_LOG) : undefined;
    const nodeArgs = [...NODE_FLAGS, ...(CPU_PROF !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROF)}`] : [])];

    // 1. ingest ------------------------------------------------------------------------------------------
    // Alternating reference and proxy, --runs times each; the proxy ingests into a fresh store every time and the
    // last one is kept for the other scenarios.
    const refPulls: number[] = [];
    const ingests: Array<{ ms: number; cpuMs: number; mainMs: number }> = [];
    const ingestOnce = async (dir: string): Promise<BenchDaemon> => {
      const d = await startBenchDaemon({ dataDir: dir, adminPort, args: daemonArgs, nodeArgs, logFile });
      const t1 = performance.now();
      const cpu0 = cpuMsOfPid(d.child.pid!);
      const main0 = mainThreadCpuMs(d.child.pid!);
      await startSyncer(d, primary!);
      await waitSynced(d, target);
      ingests.push({ ms: performance.now() - t1, cpuMs: cpuMsOfPid(d.child.pid!) - cpu0, mainMs: mainThreadCpuMs(d.child.pid!) - main0 });
      return d;
    };
    const runs1 = want('1') ? RUNS : 1;
    for (let i = 0; i < runs1; i++) {
      if (want('1')) refPulls.push((await mariadbBinlogPull(primary.port, scratch, 'ingest')).ms);
      if (i < runs1 - 1) {
        const dir = await mkdtemp(path.join(scratch, 'ingest-'));
        const d = await ingestOnce(dir);
        await d.stop();
        await rm(dir, { recursive: true, force: true });
      } else {
        daemon = await ingestOnce(dataDir);
      }
    }
    if (daemon === null) throw new Error('no daemon after the ingest');
    if (want('1')) {
      const ref = median(refPulls);
      const ingestMs = median(ingests.map((x) => x.ms));
      const mainShare = median(ingests.map((x) => x.mainMs / x.ms));
      log(`1 ingest: proxy ${ingests.map((x) => round(x.ms)).join('/')} ms (CPU time ${ingests.map((x) => round(x.cpuMs)).join('/')} ms all threads, ${ingests.map((x) => round(x.mainMs)).join('/')} ms main thread), mariadb-binlog ${refPulls.map((x) => round(x)).join('/')} ms`);
      addRow({
        scenario: '1 ingest',
        measure: `store ${round(binlogBytes / MB, 1)} MB / ${TXNS} txns (s)`,
        proxy: round(ingestMs / 1000, 3),
        reference: round(ref / 1000, 3),
        unit: 's',
        target: '<= 1.0 (never > 1.25)',
        note: `proxy ${round(binlogBytes / MB / (ingestMs / 1000), 1)} MB/s, its JavaScript thread busy ${Math.round(mainShare * 100)}% of the time; each median of ${runs1}, fresh store per proxy run; reference: mariadb-binlog -R --raw to files`,
        check: (r) => (r === null ? null : r <= 1.0),
      });
    }
    const srv = await daemon.api('PUT', '/binlog/server/start', { addr: `127.0.0.1:${serverPort}`, user: REPL_USER, password: REPL_PASSWORD });
    if (srv.status !== 200) throw new Error(`server start failed: ${JSON.stringify(srv.body)}`);

    // 2a. mariadb-binlog from the proxy vs the primary -------------------------------------------------
    if (want('2a')) {
      const p: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const a = await mariadbBinlogPull(serverPort, scratch, 'proxy');
        const b = await mariadbBinlogPull(primary.port, scratch, 'primary');
        if (a.bytes !== b.bytes) throw new Error(`mariadb-binlog got ${a.bytes} bytes from the proxy, ${b.bytes} from the primary`);
        p.push(a.ms);
        r.push(b.ms);
      }
      log(`2a mariadb-binlog: proxy ${p.map((x) => round(x)).join('/')} ms, primary ${r.map((x) => round(x)).join('/')} ms`);
      addRow({
        scenario: '2a serve',
        measure: 'mariadb-binlog --raw, whole history (s)',
        proxy: round(median(p) / 1000, 3),
        reference: round(median(r) / 1000, 3),
        unit: 's',
        target: '<= 1.0',
        check: (x) => (x === null ? null : x <= 1.0),
      });
    }

    // 2b. raw reader from the proxy vs the primary ------------------------------------------------------
    let proxyPackets = 0;
    if (want('2b') || want('6')) {
      const p: number[] = [];
      const r: number[] = [];
      const pc: number[] = [];
      const rc: number[] = [];
      const pmain: number[] = [];
      let bytes = 0;
      for (let i = 0; i < RUNS; i++) {
        const c0 = cpuMsOfPid(daemon.child.pid!);
        const main0 = mainThreadCpuMs(daemon.child.pid!);
        const a = await readAll(proxyEp, 7001);
        const c1 = cpuMsOfPid(daemon.child.pid!);
        pmain.push(mainThreadCpuMs(daemon.child.pid!) - main0);
        const m0 = cpuMsOfPid(primary.pid!);
        const b = await readAll(primaryEp, 7002);
        const m1 = cpuMsOfPid(primary.pid!);
        pc.push(c1 - c0);
        rc.push(m1 - m0);
        // The first packets differ (fake ROTATE, the proxy's own server id in it...) but the event count must not.
        if (a.packets !== b.packets) log(`  note: ${a.packets} packets from the proxy, ${b.packets} from the primary`);
        p.push(a.ms);
        r.push(b.ms);
        bytes = a.bytes;
        proxyPackets = a.packets;
      }
      const pm = median(p);
      const rm_ = median(r);
      log(`2b raw reader: proxy ${p.map((x) => round(x)).join('/')} ms, primary ${r.map((x) => round(x)).join('/')} ms; ${proxyPackets} packets`);
      log(`   CPU time used (all threads): proxy ${pc.map((x) => round(x)).join('/')} ms (main thread ${pmain.map((x) => round(x)).join('/')} ms), primary ${rc.map((x) => round(x)).join('/')} ms`);
      addRow({
        scenario: '2b serve',
        measure: 'raw reader, whole history (s)',
        proxy: round(pm / 1000, 3),
        reference: round(rm_ / 1000, 3),
        unit: 's',
        target: '<= 1.0 (never > 2.0)',
        note: `proxy ${round(bytes / MB / (pm / 1000), 1)} MB/s ${Math.round(proxyPackets / (pm / 1000))} ev/s; primary ${round(bytes / MB / (rm_ / 1000), 1)} MB/s ${Math.round(proxyPackets / (rm_ / 1000))} ev/s; CPU time median proxy ${round(median(pc))} ms (main thread ${round(median(pmain))} ms), primary ${round(median(rc))} ms`,
        check: (x) => (x === null ? null : x <= 1.0),
      });
    }

    // 3. replica catch-up -----------------------------------------------------------------------------------
    if (want('3')) {
      const timeIo = async (port: number, serverId: number): Promise<number> => {
        const replica = await startReplica({
          serverId,
          primary: { host: '127.0.0.1', port },
          user: REPL_USER,
          password: REPL_PASSWORD,
          useGtid: 'slave_pos',
          startSlave: false,
        });
        replicas.push(replica);
        const t0 = performance.now();
        await replica.query('START SLAVE IO_THREAD');
        await waitUntil(
          async () => {
            const s = await replicaStatus(replica);
            if (s !== null && Number(s['Last_IO_Errno']) !== 0) throw new Error(`replica IO error: ${String(s['Last_IO_Error'])}`);
            return s !== null && String(s['Gtid_IO_Pos']) === target;
          },
          300_000,
          'the replica IO thread',
          5,
        );
        const ms = performance.now() - t0;
        await replica.destroy();
        return ms;
      };
      const p: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < Math.min(RUNS, 2); i++) {
        p.push(await timeIo(serverPort, 201 + 2 * i));
        r.push(await timeIo(primary.port, 202 + 2 * i));
      }
      log(`3 replica IO thread: proxy ${p.map((x) => round(x)).join('/')} ms, primary ${r.map((x) => round(x)).join('/')} ms`);
      addRow({
        scenario: '3 replica',
        measure: 'replica IO thread fetches everything (s)',
        proxy: round(median(p) / 1000, 3),
        reference: round(median(r) / 1000, 3),
        unit: 's',
        target: '<= 1.0',
        check: (x) => (x === null ? null : x <= 1.0),
      });
    }

    // 4. fan-out ------------------------------------------------------------------------------------------
    if (want('4')) {
      const fan = async (ep: Endpoint, pid: number | null): Promise<{ mbps: number; ms: number; peak: { rssMB: number; anonMB: number } | null }> => {
        const sampler = pid !== null ? rssSampler(pid) : null;
        const t0 = performance.now();
        const res = await Promise.all(Array.from({ length: FANOUT }, (_, i) => readAll(ep, 8000 + i)));
        const ms = performance.now() - t0;
        const peak = sampler?.stop() ?? null;
        sameStreams(res, ep === proxyEp ? 'proxy' : 'primary');
        const bytes = res.reduce((s, x) => s + x.bytes, 0);
        return { mbps: bytes / MB / (ms / 1000), ms, peak };
      };
      const before = memOfPid(daemon.child.pid!);
      const a = await fan(proxyEp, daemon.child.pid!);
      const b = await fan(primaryEp, null);
      log(`4 fan-out x${FANOUT}: proxy ${round(a.mbps, 1)} MB/s (${round(a.ms)} ms, peak RSS ${round(a.peak?.rssMB ?? 0, 1)} MB, anon ${round(a.peak?.anonMB ?? 0, 1)} MB), primary ${round(b.mbps, 1)} MB/s (${round(b.ms)} ms)`);
      addRow({
        scenario: '4 fan-out',
        measure: `${FANOUT} raw readers, aggregate (MB/s)`,
        proxy: round(a.mbps, 1),
        reference: round(b.mbps, 1),
        unit: 'MB/s',
        target: '>= 1.0',
        check: (x) => (x === null ? null : x >= 1.0),
      });
      addRow({
        scenario: '4 fan-out',
        measure: 'proxy peak RSS (MB)',
        proxy: round(a.peak?.rssMB ?? 0, 1),
        reference: null,
        unit: 'MB',
        target: '<= 300 MB',
        note: `anonymous ${round(a.peak?.anonMB ?? 0, 1)} MB, the rest file-backed; before the readers: ${round(before.rssMB, 1)} MB, anonymous ${round(before.anonMB, 1)} MB`,
        check: (_r, v) => v <= 300,
      });
    }

    // 5. live latency ---------------------------------------------------------------------------------------
    if (want('5')) {
      const st = await primary.query<Array<{ File: string; Position: number }>>('SHOW MASTER STATUS');
      const file = st[0]!.File;
      const pos = Number(st[0]!.Position);
      const start = await primary.gtidBinlogPos();
      await waitSynced(daemon, start);
      const baseSeq = BigInt(start.split('-')[2] ?? '0');
      const n = Math.round(LIVE_SECONDS * LIVE_RATE);
      const sent = new Float64Array(n).fill(NaN);
      const direct = new Float64Array(n).fill(NaN);
      const viaProxy = new Float64Array(n).fill(NaN);
      const idx = (seq: bigint): number => Number(seq - baseSeq - 1n);
      const fd = await follow(primaryEp, 7101, file, pos, (seq, t) => {
        const i = idx(seq);
        if (i >= 0 && i < n) direct[i] = t;
      });
      const fp = await follow(proxyEp, 7102, file, pos, (seq, t) => {
        const i = idx(seq);
        if (i >= 0 && i < n) viaProxy[i] = t;
      });
      await sleep(200);
      const writesBefore = await groupWriteBuckets(daemon);
      // One writer; transactions are issued on a fixed schedule (k / rate) and their GTID seq_no follows the
      // order (nothing else writes to the primary now).
      const conn = await mysql.createConnection({ host: '127.0.0.1', port: primary.port, user: 'root', password: primary.rootPassword });
      const interval = 1000 / LIVE_RATE;
      const t0 = performance.now();
      let late = 0;
      for (let k = 0; k < n; k++) {
        const due = t0 + k * interval;
        let now = performance.now();
        if (due - now > 1) await sleep(due - now - 1);
        while ((now = performance.now()) < due) {
          /* spin the last millisecond for pacing accuracy */
        }
        if (now - due > 5) late++;
        sent[k] = now;
        await conn.query('INSERT INTO bench.t (k, v) VALUES (?, ?)', [k, 'live']);
      }
      const writeMs = performance.now() - t0;
      await conn.end();
      await waitUntil(async () => Number.isFinite(viaProxy[n - 1]!) && Number.isFinite(direct[n - 1]!), 30_000, 'the live readers', 5);
      fd.close();
      fp.close();
      const dLat: number[] = [];
      const pLat: number[] = [];
      const added: number[] = [];
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(direct[i]!) || !Number.isFinite(viaProxy[i]!)) continue;
        dLat.push(direct[i]! - sent[i]!);
        pLat.push(viaProxy[i]! - sent[i]!);
        added.push(viaProxy[i]! - direct[i]!);
      }
      const rate = n / (writeMs / 1000);
      // The proxy's synced group writes during the live phase (what each durable commit waits for): how many
      // took longer than 5 and 25 ms.
      const writesAfter = await groupWriteBuckets(daemon);
      const during = (le: string): number => (writesAfter.get(le) ?? 0) - (writesBefore.get(le) ?? 0);
      const writes = { total: during('+Inf'), over5ms: during('+Inf') - during('0.005'), over25ms: during('+Inf') - during('0.025') };
      log(
        `5 live: ${n} txns at ${round(rate, 0)}/s (${late} issued > 5 ms late); direct p50 ${round(percentile(dLat, 50), 3)} p99 ${round(percentile(dLat, 99), 3)} ms; ` +
          `proxy p50 ${round(percentile(pLat, 50), 3)} p99 ${round(percentile(pLat, 99), 3)} ms; added p50 ${round(percentile(added, 50), 3)} p99 ${round(percentile(added, 99), 3)} ms; ` +
          `proxy group writes ${writes.total}, ${writes.over5ms} over 5 ms, ${writes.over25ms} over 25 ms`,
      );
      results.live = {
        transactions: n,
        achievedRate: round(rate, 0),
        directMs: { p50: round(percentile(dLat, 50), 3), p99: round(percentile(dLat, 99), 3), max: round(percentile(dLat, 100), 3) },
        proxyMs: { p50: round(percentile(pLat, 50), 3), p99: round(percentile(pLat, 99), 3), max: round(percentile(pLat, 100), 3) },
        addedMs: { p50: round(percentile(added, 50), 3), p99: round(percentile(added, 99), 3), max: round(percentile(added, 100), 3) },
        groupWrites: writes,
      };
      for (const [p, limit] of [
        [50, 1],
        [99, 5],
      ] as const) {
        addRow({
          scenario: '5 latency',
          measure: `added commit-to-reader latency p${p} (ms)`,
          proxy: round(percentile(pLat, p), 3),
          reference: round(percentile(dLat, p), 3),
          unit: 'ms',
          ratio: null,
          target: `added <= ${limit} ms`,
          note: `added p${p} ${round(percentile(added, p), 3)} ms` + (p === 99 ? `; ${writes.over5ms} of ${writes.total} synced group writes took over 5 ms, ${writes.over25ms} over 25 ms` : ''),
          check: () => percentile(added, p) <= limit,
        });
      }
    }

    // 6. restart ------------------------------------------------------------------------------------------
    if (want('6')) {
      let stored = await readAll(proxyEp, 7201);
      if (!SMOKE && stored.packets < 1_000_000) {
        // 4 events per transaction: top the history up to at least 1M events.
        const more = Math.ceil((1_000_000 - stored.packets) / 4) + 100;
        await primary.query('CALL bench.gen(?, ?)', [more, 10_000_000]);
      }
      await waitSynced(daemon, await primary.gtidBinlogPos());
      stored = await readAll(proxyEp, 7201);
      const code = await daemon.stop();
      if (code !== 0) log(`  note: the daemon exited with ${code} on SIGTERM`);
      daemon = null;
      const t0 = performance.now();
      daemon = await startBenchDaemon({ dataDir, adminPort, args: daemonArgs, nodeArgs, logFile, noWait: true });
      // Serving = a dump on the replica port returns its first event.
      let first: number | null = null;
      const deadline = t0 + 30_000;
      while (first === null) {
        try {
          await readFirst(proxyEp, 7202);
          first = performance.now() - t0;
        } catch (err) {
          if (performance.now() > deadline) throw err;
          await sleep(5);
        }
      }
      log(`6 restart with ${stored.packets} events stored: first event after ${round(first)} ms`);
      addRow({
        scenario: '6 restart',
        measure: `spawn to first served event, ${stored.packets} events stored (s)`,
        proxy: round(first / 1000, 3),
        reference: null,
        unit: 's',
        target: '<= 2 s',
        note: stored.packets < 1_000_000 ? 'fewer than 1M events stored (smaller workload)' : '',
        check: (_r, v) => v <= 2,
      });
      if (want('4')) {
        // The fan-out again, on the restarted daemon: its memory without what the ingest left behind.
        const before = memOfPid(daemon.child.pid!);
        const sampler = rssSampler(daemon.child.pid!);
        const t4 = performance.now();
        const res = await Promise.all(Array.from({ length: FANOUT }, (_, i) => readAll(proxyEp, 8100 + i)));
        const ms = performance.now() - t4;
        const peak = sampler.stop();
        sameStreams(res, 'restarted proxy');
        const mbps = res.reduce((a, x) => a + x.bytes, 0) / MB / (ms / 1000);
        log(`6+4 fan-out x${FANOUT} after the restart: ${round(mbps, 1)} MB/s, peak RSS ${round(peak.rssMB, 1)} MB (anon ${round(peak.anonMB, 1)})`);
        addRow({
          scenario: '4 fan-out',
          measure: 'proxy peak RSS, restarted daemon (MB)',
          proxy: round(peak.rssMB, 1),
          reference: null,
          unit: 'MB',
          target: '<= 300 MB',
          note: `anonymous ${round(peak.anonMB, 1)} MB; before the readers ${round(before.rssMB, 1)} MB; ${round(mbps, 1)} MB/s aggregate`,
          check: (_r, v) => v <= 300,
        });
      }
    }
  } finally {
    if (daemon !== null) await daemon.stop();
    for (const r of replicas) await r.destroy();
    await primary?.destroy();
    await rm(scratch, { recursive: true, force: true });
  }

  // storage micro-benchmark ---------------------------------------------------------------------------------
  if (want('storage')) {
    log('storage micro-benchmark (bench/storage.ts) ...');
    const storageArgs = SMOKE ? ['--events', '100000', '--no-rss'] : ['--rss-bytes', '300000000'];
    await runCmd(process.execPath, [path.join(import.meta.dirname, 'storage.js'), ...storageArgs]);
    const s = JSON.parse(await readFile('bench-results-storage.json', 'utf8')) as {
      append: { mbPerSec: number; eventsPerSec: number };
      scan: { mbPerSec: number };
    };
    results.storage = s;
    addRow({ scenario: 'storage', measure: 'append, group commit (MB/s)', proxy: s.append.mbPerSec, reference: null, unit: 'MB/s', target: '>= 100 MB/s', check: (_r, v) => v >= 100 });
    addRow({ scenario: 'storage', measure: 'append (events/s)', proxy: s.append.eventsPerSec, reference: null, unit: 'ev/s', target: '>= 400k ev/s', check: (_r, v) => v >= 400_000 });
    addRow({ scenario: 'storage', measure: 'full scan, 1 reader (MB/s)', proxy: s.scan.mbPerSec, reference: null, unit: 'MB/s', target: '>= 300 MB/s', check: (_r, v) => v >= 300 });
  }

  const load1 = loadavg();
  results.loadAverageAtEnd = load1.map((l) => round(l));
  results.rows = rows;
  await writeFile('bench-results.json', `${JSON.stringify(results, null, 2)}\n`);
  console.log('');
  console.log(markdownTable());
  console.log(`\nload average: ${load0.map((l) => l.toFixed(2)).join(' ')} at start, ${load1.map((l) => l.toFixed(2)).join(' ')} at end`);
  console.log('wrote bench-results.json');
}

export function markdownTable(): string {
  const out = ['| scenario | measure | proxy | MariaDB reference | ratio | target | met |', '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const met = r.met === null ? '' : r.met ? 'yes' : '**no**';
    out.push(`| ${r.scenario} | ${r.measure} | ${r.proxy} | ${r.reference ?? '—'} | ${r.ratio ?? '—'} | ${r.target} | ${met}${r.note ? ` (${r.note})` : ''} |`);
  }
  return out.join('\n');
}

await main();
