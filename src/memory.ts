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
export type CollectGarbage = (options: { type: 'major'; execution: 'async' }) => void;

export class GcScheduler {
  private pending = 0;
  collections = 0;

  constructor(
    private readonly gc: CollectGarbage,
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

/** 16 MiB: one read cache's worth (the default readCacheBytes). */
export const GC_EVERY_RELEASED_BYTES = 16 << 20;
