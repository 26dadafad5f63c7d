/**
 * Storage micro-benchmark (`npm run build && npm run bench:storage`).
 *
 *   node dist/bench/storage.js [--events N] [--rss-bytes N] [--no-rss] [--followers N] [--layouts] [--layout-events N]
 *
 * 1. append: N events (default 1,000,000; 100-300 bytes, 200 on average; 4 per transaction, each with a MySQL
 *    GTID) through BinlogStore.append() with group commit, then flush(); data MB/s and events/s.
 * 2. scan: reopen the store and read everything with one reader (follow: false); MB/s.
 * 3. follow: the same append with N live readers (default 2) following the tail; append rate and how soon the readers catch up.
 * 4. rss: append --rss-bytes (default 1 GB) into a fresh store, in a fresh child process, sampling RSS every
 *    20 ms; the peak (total, and anonymous memory without the mapped files).
 * 5. --layouts: raw classic-level experiments behind the key/value layout (see storage/keys.ts), each in a
 *    fresh child process.
 *
 * Prints a table and writes bench-results-storage.json in the working directory. Event bodies are random
 * bytes (incompressible: a conservative case for LevelDB's snappy compression).
 */
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { openStore, type AppendUnit, type BinlogStore } from '../storage/index.js';
import { procStatusBytes } from '../src/memory.js';

// ---- arguments -------------------------------------------------------------------------------------------

function argNumber(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} needs a number`);
  return v;
}
const EVENTS = argNumber('--events', 1_000_000);
const RSS_BYTES = argNumber('--rss-bytes', 1e9);
const FOLLOWERS = argNumber('--followers', 2);
const LAYOUT_EVENTS = argNumber('--layout-events', 1_000_000);
const DO_RSS = !process.argv.includes('--no-rss');
const DO_LAYOUTS = process.argv.includes('--layouts');
const PER_TXN = 4;
const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

// ---- data ------------------------------------------------------------------------------------------------

/** mulberry32 */
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A pool of distinct events (valid v4 headers: event_size set; 100-300 bytes) reused round-robin, so that
 * generating data costs next to nothing and holds no memory: the benchmark measures the store.
 */
function eventPool(n: number): Buffer[] {
  const rnd = prng(42);
  const pool: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const size = 100 + Math.floor(rnd() * 201);
    const b = Buffer.allocUnsafe(size);
    for (let j = 0; j < size; j++) b[j] = Math.floor(rnd() * 256);
    b.writeUInt32LE(1_700_000_000, 0);
    b[4] = i % PER_TXN === 0 ? 33 : i % PER_TXN === PER_TXN - 1 ? 16 : 30;
    b.writeUInt32LE(1, 5);
    b.writeUInt32LE(size, 9);
    pool.push(b);
  }
  return pool;
}

const POOL = eventPool(4096);

/** Generates units continuing a file: 4 events, a GTID, contiguous positions; rotates every `fileBytes`. */
class Workload {
  private i = 0;
  private gno = 0n;
  private fileNo = 0;
  file = '';
  pos = 4n;
  bytes = 0;
  events = 0;

  constructor(private readonly fileBytes: number) {}

  private fde(): Buffer {
    const b = Buffer.alloc(119);
    b[4] = 15;
    b.writeUInt32LE(b.length, 9);
    return b;
  }

  firstUnit(): AppendUnit {
    this.fileNo++;
    this.file = `bin.${String(this.fileNo).padStart(6, '0')}`;
    this.pos = 4n;
    const fde = this.fde();
    const u: AppendUnit = { file: this.file, pos: this.pos, events: [fde], kind: 'control', timestamp: 1_700_000_000, newFile: { fde } };
    this.pos += BigInt(fde.length);
    return u;
  }

  next(): AppendUnit {
    if (this.pos >= BigInt(this.fileBytes)) {
      const rot = Buffer.alloc(48);
      rot[4] = 4;
      rot.writeUInt32LE(rot.length, 9);
      const u: AppendUnit = { file: this.file, pos: this.pos, events: [rot], kind: 'control', timestamp: 1_700_000_000 };
      this.pos += BigInt(rot.length);
      return u;
    }
    const events: Buffer[] = [];
    let len = 0;
    for (let k = 0; k < PER_TXN; k++) {
      const e = POOL[this.i++ & 4095]!;
      events.push(e);
      len += e.length;
    }
    const u: AppendUnit = {
      file: this.file,
      pos: this.pos,
      events,
      kind: 'transaction',
      gtid: { uuid: UUID, tag: '', gno: ++this.gno },
      timestamp: 1_700_000_000 + Math.floor(this.events / 100_000),
    };
    this.pos += BigInt(len);
    this.bytes += len;
    this.events += PER_TXN;
    return u;
  }

  /** True when the last unit was the ROTATE: the next must open a new file. */
  get rotated(): boolean {
    return this.pos >= BigInt(this.fileBytes);
  }
}

// ---- measurement helpers ---------------------------------------------------------------------------------

interface Rss {
  rssMB: number;
  anonMB: number;
}

async function rssNow(): Promise<Rss> {
  const { readFile } = await import('node:fs/promises');
  const s = await readFile('/proc/self/status', 'utf8').catch(() => '');
  return { rssMB: process.memoryUsage().rss / 2 ** 20, anonMB: (procStatusBytes(s, 'RssAnon') ?? NaN) / 2 ** 20 };
}

class RssSampler {
  peak: Rss = { rssMB: 0, anonMB: 0 };
  private timer: NodeJS.Timeout | null = null;

  start(everyMs = 20): void {
    this.timer = setInterval(() => {
      void rssNow().then((r) => {
        this.peak = { rssMB: Math.max(this.peak.rssMB, r.rssMB), anonMB: Math.max(this.peak.anonMB, r.anonMB || 0) };
      });
    }, everyMs);
  }

  async stop(): Promise<Rss> {
    if (this.timer !== null) clearInterval(this.timer);
    const r = await rssNow();
    this.peak = { rssMB: Math.max(this.peak.rssMB, r.rssMB), anonMB: Math.max(this.peak.anonMB, r.anonMB || 0) };
    return this.peak;
  }
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(path.join(dir, f))).size;
  return total;
}

const MB = 1e6;
const round = (v: number, d = 1): number => Math.round(v * 10 ** d) / 10 ** d;

// ---- phases ----------------------------------------------------------------------------------------------

interface AppendResult {
  events: number;
  dataMB: number;
  seconds: number;
  mbPerSec: number;
  eventsPerSec: number;
  peakRssMB: number;
  peakAnonMB: number;
  diskMB: number;
}

async function appendPhase(dir: string, events: number, fileBytes: number, followers = 0): Promise<AppendResult & { followersCatchUpMs?: number }> {
  const store = await openStore(dir, { flavor: 'mysql' });
  const w = new Workload(fileBytes);
  await store.append(w.firstUnit());
  await store.flush();
  const readers = await Promise.all(Array.from({ length: followers }, () => store.openReader({ from: 'end' })));
  let followerUnits = 0;
  const consumers = readers.map(async (r) => {
    for await (const batch of r) followerUnits += batch.length;
  });
  const sampler = new RssSampler();
  sampler.start();
  const t0 = performance.now();
  while (w.events < events) {
    await store.append(w.next());
    if (w.rotated) {
      await store.append(w.next());
      await store.append(w.firstUnit());
    }
  }
  await store.flush();
  const seconds = (performance.now() - t0) / 1000;
  const lastSeq = store.durableSeq;
  // Followers: how long after the writer's last flush until every reader has every unit?
  let catchUpMs: number | undefined;
  if (followers > 0) {
    const t1 = performance.now();
    const deadline = t1 + 30_000;
    while (followerUnits < (lastSeq - 1) * followers && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    catchUpMs = round(performance.now() - t1);
    await Promise.all(readers.map((r) => r.return()));
    await Promise.all(consumers);
  }
  const peak = await sampler.stop();
  await store.close();
  return {
    events: w.events,
    dataMB: round(w.bytes / MB),
    seconds: round(seconds, 2),
    mbPerSec: round(w.bytes / MB / seconds),
    eventsPerSec: Math.round(w.events / seconds),
    peakRssMB: round(peak.rssMB),
    peakAnonMB: round(peak.anonMB),
    diskMB: round((await dirBytes(dir)) / MB),
    ...(catchUpMs !== undefined ? { followersCatchUpMs: catchUpMs } : {}),
  };
}

async function scanPhase(dir: string): Promise<{ mbPerSec: number; seconds: number; units: number; dataMB: number }> {
  const store: BinlogStore = await openStore(dir, {});
  const t0 = performance.now();
  let bytes = 0;
  let units = 0;
  const reader = await store.openReader({ from: 'oldest', follow: false });
  for await (const batch of reader) {
    units += batch.length;
    for (const u of batch) bytes += u.data.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  return { mbPerSec: round(bytes / MB / seconds), seconds: round(seconds, 2), units, dataMB: round(bytes / MB) };
}

// ---- raw layout experiments --------------------------------------------------------------------------------

interface LayoutResult {
  layout: string;
  appendMBps: number;
  eventsPerSec: number;
  peakAnonMB: number;
  scanMBps: number;
  seekUs: number;
}

/**
 * Writes `events` events (4 per unit) to a bare LevelDB with one of several layouts, in 1 MiB sync batches
 * (pipelined: the next batch is built while one is written), then scans and seeks.
 *   event-keys:          one key per event, a separate state key per batch (chained batch)
 *   unit-keys+state:     one key per unit, a separate state key per batch (chained batch)
 *   unit-keys+index:     one key per unit, a per-unit position-index key and a state key (chained batch)
 *   unit-keys,1-stream:  one key per unit, the state inside the same key range (chained batch)
 *   segments (chosen):   64 KiB values of whole units, state in the same key range (array batch)
 *   segments, chained:   the same with a chained batch
 */
async function layoutExperiment(layout: string, events: number): Promise<LayoutResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bp-layout-'));
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  const key = (prefix: number, a: number, b = 0): Buffer => {
    const k = Buffer.allocUnsafe(13);
    k[0] = prefix;
    k.writeUInt32BE(Math.floor(a / 2 ** 32), 1);
    k.writeUInt32BE(a >>> 0, 5);
    k.writeUInt32BE(b, 9);
    return k;
  };
  const chained = layout !== 'segments (chosen)';
  let batch = db.batch();
  let ops: Array<{ type: 'put'; key: Buffer; value: Buffer }> = [];
  const put = (k: Buffer, v: Buffer): void => {
    if (chained) batch.put(k, v);
    else ops.push({ type: 'put', key: k, value: v });
  };
  let seg: Buffer[] = [];
  let segBytes = 0;
  let segFirst = 0;
  const seal = (): void => {
    if (seg.length === 0) return;
    put(key(0x10, segFirst), Buffer.concat(seg, segBytes));
    seg = [];
    segBytes = 0;
  };
  const header = Buffer.alloc(65, 1);
  const state = Buffer.alloc(120, 2);
  let pending: Promise<void> | null = null;
  let groupBytes = 0;
  let bytes = 0;
  let n = 0;
  let seq = 0;
  const sampler = new RssSampler();
  sampler.start();
  const t0 = performance.now();
  while (n < events) {
    const s = ++seq;
    const evs: Buffer[] = [];
    let len = 0;
    for (let k = 0; k < PER_TXN; k++) {
      const e = POOL[n++ & 4095]!;
      evs.push(e);
      len += e.length;
    }
    bytes += len;
    groupBytes += len;
    if (layout === 'event-keys') {
      evs.forEach((e, k) => put(key(0x10, s, k), e));
    } else if (layout.startsWith('unit-keys')) {
      put(key(0x10, s), Buffer.concat([header, ...evs], 65 + len));
      if (layout === 'unit-keys+index') put(key(0x11, bytes), key(0, s));
    } else {
      if (segBytes === 0) segFirst = s;
      seg.push(header, ...evs);
      segBytes += 65 + len;
      if (segBytes >= 64 << 10) seal();
    }
    if (groupBytes >= 1 << 20) {
      seal();
      const inStream = layout === 'unit-keys,1-stream' || layout.startsWith('segments');
      put(inStream ? key(0x10, s, 0xffffffff) : Buffer.from([0x02]), state);
      if (pending !== null) await pending;
      if (chained) {
        pending = batch.write({ sync: true });
        batch = db.batch();
      } else {
        pending = db.batch(ops, { sync: true });
        ops = [];
      }
      groupBytes = 0;
    }
  }
  seal();
  if (pending !== null) await pending;
  if (chained) await batch.write({ sync: true });
  else await db.batch(ops, { sync: true });
  const seconds = (performance.now() - t0) / 1000;
  const peak = await sampler.stop();
  await db.close();
  await db.open();
  const t1 = performance.now();
  let read = 0;
  const it = db.iterator({ gte: key(0x10, 0), lt: key(0x11, 0), highWaterMarkBytes: 1 << 20 });
  for (;;) {
    const entries = await it.nextv(1000);
    if (entries.length === 0) break;
    for (const [, v] of entries) read += v.length;
  }
  await it.close();
  const scanSeconds = (performance.now() - t1) / 1000;
  const rnd = prng(7);
  const seeks = 2000;
  const t2 = performance.now();
  for (let i = 0; i < seeks; i++) {
    const target = key(0x10, 1 + Math.floor(rnd() * seq));
    const s = db.iterator({ lte: target, reverse: true, limit: 1 });
    await s.next();
    await s.close();
  }
  const seekUs = ((performance.now() - t2) / seeks) * 1000;
  await db.close();
  await rm(dir, { recursive: true, force: true });
  return {
    layout,
    appendMBps: round(bytes / MB / seconds),
    eventsPerSec: Math.round(n / seconds),
    peakAnonMB: round(peak.anonMB),
    scanMBps: round(read / MB / scanSeconds),
    seekUs: round(seekUs),
  };
}

// ---- main ------------------------------------------------------------------------------------------------

/** Runs this script again in a fresh process with `args` and returns the JSON it prints. */
async function inChild<T>(args: string[]): Promise<T> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [process.argv[1]!, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) reject(new Error(`bench child ${args.join(' ')} exited with ${code}`));
      else resolve(JSON.parse(out) as T);
    });
  });
}

function rssPhaseInChild(dir: string): Promise<AppendResult> {
  return inChild<AppendResult>(['--rss-child', dir, '--rss-bytes', String(RSS_BYTES)]);
}

async function main(): Promise<void> {
  const base = await mkdtemp(path.join(tmpdir(), 'bp-bench-storage-'));
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memGB: round(totalmem() / 2 ** 30), node: process.version },
    workload: { events: EVENTS, eventsPerTransaction: PER_TXN, eventBytes: '100-300 (200 avg), random', durability: 'group (defaults)' },
  };
  try {
    console.log(`storage bench: ${EVENTS} events, ${PER_TXN} per transaction, ~200 bytes each; tmp ${base}`);
    const append = await appendPhase(path.join(base, 'a'), EVENTS, 256 << 20);
    results.append = append;
    const scan = await scanPhase(path.join(base, 'a'));
    results.scan = scan;
    await rm(path.join(base, 'a'), { recursive: true, force: true });
    let follow: (AppendResult & { followersCatchUpMs?: number }) | undefined;
    if (FOLLOWERS > 0) {
      follow = await appendPhase(path.join(base, 'f'), EVENTS, 256 << 20, FOLLOWERS);
      results.followers = { readers: FOLLOWERS, ...follow };
      await rm(path.join(base, 'f'), { recursive: true, force: true });
    }
    let rss: AppendResult | undefined;
    if (DO_RSS) {
      // In a fresh process: the earlier phases leave their own memory behind (V8 heap, malloc arenas).
      rss = await rssPhaseInChild(path.join(base, 'r'));
      results.rss = rss;
      await rm(path.join(base, 'r'), { recursive: true, force: true });
    }

    const rows: Array<[string, string, string, string]> = [
      ['append (group commit)', `${append.mbPerSec} MB/s`, '>= 100 MB/s', append.mbPerSec >= 100 ? 'ok' : 'MISS'],
      ['append events', `${append.eventsPerSec} ev/s`, '>= 400000 ev/s', append.eventsPerSec >= 400_000 ? 'ok' : 'MISS'],
      ['full scan (1 reader)', `${scan.mbPerSec} MB/s`, '>= 300 MB/s', scan.mbPerSec >= 300 ? 'ok' : 'MISS'],
      ['peak RSS (1M-event append)', `${append.peakRssMB} MB (anon ${append.peakAnonMB})`, '', ''],
    ];
    if (follow !== undefined) {
      rows.push([`append with ${FOLLOWERS} live readers`, `${follow.mbPerSec} MB/s, ${follow.eventsPerSec} ev/s`, '', '']);
      rows.push(['readers caught up after the last flush', `${follow.followersCatchUpMs} ms`, '', '']);
    }
    if (rss !== undefined) {
      rows.push([`peak RSS appending ${round(rss.dataMB / 1000, 2)} GB`, `${rss.peakRssMB} MB (anon ${rss.peakAnonMB})`, '< 200 MB', rss.peakRssMB < 200 ? 'ok' : 'MISS']);
      rows.push([`append rate over ${round(rss.dataMB / 1000, 2)} GB`, `${rss.mbPerSec} MB/s, ${rss.eventsPerSec} ev/s`, '', '']);
    }
    const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 6));
    const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join('  ');
    console.log(line(['measure', 'result', 'target', '']));
    for (const r of rows) console.log(line(r));

    if (DO_LAYOUTS) {
      const layouts = ['event-keys', 'unit-keys+state', 'unit-keys+index', 'unit-keys,1-stream', 'segments, chained', 'segments (chosen)'];
      const out: LayoutResult[] = [];
      console.log(`\nlayouts (${LAYOUT_EVENTS} events each, bare LevelDB, 1 MiB sync batches):`);
      console.log(line(['layout', 'append MB/s  ev/s', 'peak anon MB', 'scan MB/s  seek us']));
      for (const l of layouts) {
        // Each in a fresh process, so that one layout's memory does not count against the next.
        const r = await inChild<LayoutResult>(['--layout-child', l, '--layout-events', String(LAYOUT_EVENTS)]);
        out.push(r);
        console.log(line([l, `${r.appendMBps}  ${r.eventsPerSec}`, String(r.peakAnonMB), `${r.scanMBps}  ${r.seekUs}`]));
      }
      results.layouts = out;
    }
    await writeFile('bench-results-storage.json', `${JSON.stringify(results, null, 2)}\n`);
    console.log('\nwrote bench-results-storage.json');
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

const rssChild = process.argv.indexOf('--rss-child');
const layoutChild = process.argv.indexOf('--layout-child');
if (rssChild >= 0) {
  const r = await appendPhase(process.argv[rssChild + 1]!, Math.round(RSS_BYTES / 200), 256 << 20);
  process.stdout.write(JSON.stringify(r));
} else if (layoutChild >= 0) {
  process.stdout.write(JSON.stringify(await layoutExperiment(process.argv[layoutChild + 1]!, LAYOUT_EVENTS)));
} else {
  await main();
}
