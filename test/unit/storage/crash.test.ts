// Crash test of the storage layer: a child process appends under load (small transactions, control units,
// rotations, chunked units, streamed multi-MB transactions, purges) and is killed with SIGKILL at random
// moments, many times over the same store. Each reopen must find complete units only, consistent indexes,
// and a state equal to the last complete unit; nothing reported durable may be lost.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { openStore, splitEvents, type BinlogStore, type StoredUnit } from '../../../storage/index.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { checkEvent, UUID } from '../../storage-crash/units.mjs';

const root = path.resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const buildDir = path.join(root, '.vitest-tmp', 'storage-crash-build');
const child = path.join(root, 'test', 'storage-crash', 'child.mjs');

function newestMtime(dirs: string[]): number {
  let t = 0;
  for (const d of dirs) {
    for (const f of readdirSync(d, { recursive: true }) as string[]) {
      if (f.endsWith('.ts')) t = Math.max(t, statSync(path.join(d, f)).mtimeMs);
    }
  }
  return t;
}

/** Compiles storage/ (and the protocol modules it uses) for the child, unless the build is up to date. */
function buildStorage(): void {
  const marker = path.join(buildDir, 'storage', 'index.js');
  const sources = [path.join(root, 'storage'), path.join(root, 'protocol')];
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(sources)) return;
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [tsc, '--outDir', buildDir, '--rootDir', root, '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--lib', 'es2023', '--types', 'node', '--strict', '--skipLibCheck', path.join(root, 'storage', 'index.ts')];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  // tsc still emits when a file has type errors (possibly another module in progress); only a missing output fails.
  if (r.status !== 0 && !(existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(sources))) {
    throw new Error(`building storage for the crash child failed:\n${r.stdout}${r.stderr}`);
  }
}

interface RunResult {
  lines: string[];
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/** Runs the child until `killWhen` says so (on a stdout line or after a delay), then SIGKILLs it. */
function runChild(storeDir: string, seed: number, durability: string, mode: 'random' | 'pause-in-txn', delayMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const args = [child, buildDir, storeDir, String(seed), durability];
    if (mode === 'pause-in-txn') args.push('pause-in-txn');
    const p: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    let buf = '';
    let timer: NodeJS.Timeout | null = null;
    const kill = (): void => {
      p.kill('SIGKILL');
    };
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line.startsWith('R ') && mode === 'random') timer = setTimeout(kill, delayMs);
        if (line.startsWith('S ') && mode === 'pause-in-txn') kill();
      }
    });
    p.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const guard = setTimeout(kill, 20_000);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (timer !== null) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child ended by itself (code ${code}, signal ${signal}):\n${stderr}`));
      else resolve({ lines, exit: { code, signal } });
    });
  });
}

/** Reads the whole store and checks it; returns what it found. */
async function verify(store: BinlogStore, minDurable: number): Promise<{ units: number; lastSeq: number }> {
  const st = store.getState();
  expect(st.lastSeq).toBeGreaterThanOrEqual(minDurable);
  expect(st.durableSeq).toBe(st.lastSeq);
  const files = store.listFiles();
  const reader = await store.openReader({ from: 'oldest', follow: false });
  // Executed = the kept files' start GTIDs (each covers everything before it) ∪ every stored GTID.
  let gtids = MysqlGtidSet.empty();
  for (const f of files) if (f.startGtids) gtids = gtids.union(MysqlGtidSet.parse(f.startGtids));
  let expectSeq = st.firstSeq;
  let expectChunk = 0;
  let unitEvents: Array<{ seq: number; index: number; count: number }> = [];
  let last: StoredUnit | null = null;
  let fileIdx = -1;
  let units = 0;
  const samples: Array<{ file: string; pos: bigint; seq: number }> = [];
  for await (const batch of reader) {
    for (const u of batch) {
      expect(u.seq).toBe(expectSeq);
      expect(u.chunk).toBe(expectChunk);
      // file / position continuity
      if (u.chunk === 0 && (last === null || u.file !== last.file)) {
        fileIdx++;
        expect(u.file).toBe(files[fileIdx]!.name);
        expect(u.pos).toBe(files[fileIdx]!.firstPos);
        expect(u.seq).toBe(files[fileIdx]!.firstSeq);
      } else {
        expect(u.pos).toBe(last!.endPos);
      }
      let at = u.pos;
      for (const e of splitEvents(u.data)) {
        const ev = checkEvent(e, at);
        expect(ev.seq).toBe(u.seq);
        unitEvents.push(ev);
        if (units % 50 === 0 && samples.length < 40) samples.push({ file: u.file, pos: at, seq: u.seq });
        at += BigInt(e.length);
      }
      if (u.lastChunk) {
        // complete: every event of the unit, in order
        const count = unitEvents[0]!.count;
        expect(unitEvents.map((x) => x.index)).toEqual(Array.from({ length: count }, (_, i) => i));
        if (u.kind === 'transaction') {
          expect(u.gtid).toEqual({ uuid: UUID, tag: '', gno: BigInt(u.seq) });
          gtids.add({ uuid: UUID, tag: '', gno: BigInt(u.seq) });
        }
        unitEvents = [];
        expectSeq++;
        expectChunk = 0;
        units++;
      } else {
        expectChunk++;
      }
      last = u;
    }
  }
  expect(expectChunk).toBe(0);
  expect(expectSeq - 1).toBe(st.lastSeq);
  if (last !== null) {
    expect(st.lastPos).toBe(last.endPos);
    expect(st.lastFile).toBe(last.file);
    expect(files[files.length - 1]!.endPos).toBe(last.endPos);
  }
  expect(st.executedGtids).toBe(gtids.toString());
  // indexes: positions and timestamps resolve to the units that hold them
  for (const s of samples) expect((await store.locate({ file: s.file, pos: s.pos })).seq).toBe(s.seq);
  if (st.lastSeq >= st.firstSeq) {
    const ts = 1_700_000_000 + Math.floor((st.firstSeq + st.lastSeq) / 2);
    const loc = await store.locate({ timestamp: ts });
    expect(loc.seq).toBeGreaterThanOrEqual(st.firstSeq);
  }
  return { units, lastSeq: st.lastSeq };
}

describe('storage crash safety', () => {
  it('survives SIGKILL at random moments: complete units only, indexes consistent, state = last unit', { timeout: 120_000 }, async () => {
    buildStorage();
    const dir = await makeTempDir('bp-crash-');
    const storeDir = path.join(dir, 'store');
    try {
      let durable = 0;
      let kills = 0;
      let orphanRecoveries = 0;
      let lastSeq = 0;
      let purges = 0;
      let replayed = 0;
      let maxUnits = 0;
      const rounds = 24;
      for (let round = 0; round < rounds; round++) {
        const mode = round % 4 === 3 ? 'pause-in-txn' : 'random';
        // One store for all rounds: inline segments and segment files mixed, killed in either mode.
        const durability = ['group', 'group-external', 'fsync'][round % 3]!;
        const delay = 30 + ((round * 7919) % 350);
        const r = await runChild(storeDir, 1000 + round, durability, mode, delay);
        kills++;
        const ready = r.lines.find((l) => l.startsWith('R '));
        expect(ready, 'the child opened the store').toBeDefined();
        expect(Number(ready!.slice(2))).toBe(lastSeq); // the child recovered what the last check saw
        for (const l of r.lines) if (l.startsWith('D ')) durable = Math.max(durable, Number(l.slice(2)));
        purges += r.lines.filter((l) => l.startsWith('P ')).length;
        const store = await openStore(storeDir, {});
        try {
          if (store.recovery.orphanChunksRemoved > 0) orphanRecoveries++;
          replayed += store.recovery.unitsReplayed;
          const v = await verify(store, durable);
          lastSeq = v.lastSeq;
          maxUnits = Math.max(maxUnits, v.units);
        } finally {
          await store.close();
        }
      }
      console.log(
        `crash test: ${kills} SIGKILLs, last unit ${lastSeq}, last durable reported ${durable}, up to ${maxUnits} units checked per reopen, ` +
          `${orphanRecoveries} reopens removed orphan chunks, ${replayed} units replayed in all, ${purges} purges`,
      );
      expect(kills).toBeGreaterThanOrEqual(20);
      expect(orphanRecoveries).toBeGreaterThanOrEqual(1);
      expect(lastSeq).toBeGreaterThan(500);
    } finally {
      await removeTempDir(dir);
    }
  });
});
