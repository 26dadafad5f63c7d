/**
 * Garbage collection on the daemon's own schedule, where V8's is too lazy for a binlog server's memory.
 *
 * Replicas catching up together share the segments they read in the store's read cache; a segment leaves the
 * cache as garbage in V8's old generation, and V8 runs a full collection for external memory (these buffers
 * live outside its heap) only after ~64 MB of it has piled up. Fifty replicas over the bench's 92 MB history
 * let go of ~100 MB of segments per pass: the wait for that collection was 30-60 MB of the peak RSS. With the
 * daemon's V8 flags `--expose-gc` makes `gc` a global; the scheduler asks for a full collection (executed from
 * a task, not inside the caller) after every `everyBytes` let go.
 */
import { readFile } from 'node:fs/promises';

/**
 * V8's `gc` global under `node --expose-gc`, in the two forms the daemon uses: `gc()`, a full collection now;
 * `gc({ type: 'major', execution: 'async' })`, one from a task. (On Node 20, V8 11.3, the synchronous form with an
 * options object frees nothing a plain `gc()` frees: test/integration/admin-api.test.ts.)
 */
export interface CollectGarbage {
  (): void;
  (options: { type: 'major'; execution: 'async' }): Promise<void> | void;
}

/** The async form of `gc`, the one the schedulers below ask for. */
type AsyncCollect = (options: { type: 'major'; execution: 'async' }) => unknown;

export class GcScheduler {
  private pending = 0;
  collections = 0;

  constructor(
    private readonly gc: AsyncCollect,
    private readonly everyBytes: number,
  ) {}

  /** `bytes` of buffers became garbage. */
  readonly released = (bytes: number): void => {
    this.pending += bytes;
    if (this.pending < this.everyBytes) return;
    this.pending = 0;
    this.collections++;
    this.gc({ type: 'major', execution: 'async' });
  };
}

/**
 * A full collection once the daemon goes quiet after a burst of work, like Chrome's memory reducer (V8 runs
 * none by itself in Node). V8 collects when allocating; a daemon that stops allocating (an ingest caught up,
 * the last replica caught up) keeps the garbage of its last busy seconds: in the bench, 42 MB of buffers
 * (46 MB of RSS) after the ingest, until the next burst. `tick()` runs every second or so: once the heap and
 * buffer figure (`sample`) has been still, within `stillBytes`, between two ticks and is `minGarbageBytes`
 * above what the last collection left, it asks for one async major collection. A steady trickle of work
 * makes at most one collection per `minGarbageBytes` of growth; an idle daemon none.
 */
export class IdleCollector {
  private last: number;
  /** What the last collection (ours or V8's) left: the lowest figure seen since. */
  private floor: number;
  collections = 0;

  constructor(
    private readonly gc: AsyncCollect,
    private readonly sample: () => number,
    private readonly minGarbageBytes = 16 << 20,
    private readonly stillBytes = 1 << 20,
  ) {
    this.last = sample();
    this.floor = this.last;
  }

  /** One check; true when it asked for a collection. */
  tick(): boolean {
    const now = this.sample();
    const still = Math.abs(now - this.last) <= this.stillBytes;
    this.last = now;
    if (now < this.floor) this.floor = now;
    if (!still || now - this.floor < this.minGarbageBytes) return false;
    this.collections++;
    this.floor = now; // lowered by the next tick's reading, once the collection ran
    this.gc({ type: 'major', execution: 'async' });
    return true;
  }
}

/** heapUsed + arrayBuffers: what a collection can shrink. */
export function collectableBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** 16 MiB: one read cache's worth (the default readCacheBytes). */
export const GC_EVERY_RELEASED_BYTES = 16 << 20;

/**
 * What the daemon's memory is made of, for GET /debug/memory. `rss_anon_bytes` is what the process itself
 * holds; `rss_file_bytes` is mostly the node binary and LevelDB's memory-mapped table files, pages of the
 * kernel's page cache that count in the RSS while mapped (null where /proc/self/status is not available).
 */
export interface MemoryReport {
  /** A full collection ran just before these figures were read: the heap figures are live objects only. */
  collected: boolean;
  rss_bytes: number;
  rss_anon_bytes: number | null;
  rss_file_bytes: number | null;
  heap_used_bytes: number;
  heap_total_bytes: number;
  /** Memory of buffers and other objects outside V8's heap (array_buffers_bytes included). */
  external_bytes: number;
  array_buffers_bytes: number;
}

/**
 * Reads the process's memory figures, after a full synchronous collection when `gc` is given (the garbage
 * still waiting for one would otherwise count as used heap, by tens of MB under load).
 */
export async function memoryReport(gc: CollectGarbage | null): Promise<MemoryReport> {
  if (gc !== null) gc();
  const m = process.memoryUsage();
  const kinds = await rssKinds();
  return {
    collected: gc !== null,
    rss_bytes: m.rss,
    rss_anon_bytes: kinds?.anon ?? null,
    rss_file_bytes: kinds?.file ?? null,
    heap_used_bytes: m.heapUsed,
    heap_total_bytes: m.heapTotal,
    external_bytes: m.external,
    array_buffers_bytes: m.arrayBuffers,
  };
}

/** A `Field:  N kB` line of a Linux /proc/PID/status text, in bytes; null when the field is not there. */
export function procStatusBytes(status: string, field: string): number | null {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

async function rssKinds(): Promise<{ anon: number; file: number } | null> {
  let status: string;
  try {
    status = await readFile('/proc/self/status', 'utf8');
  } catch {
    return null;
  }
  const anon = procStatusBytes(status, 'RssAnon');
  const file = procStatusBytes(status, 'RssFile');
  return anon === null || file === null ? null : { anon, file };
}
