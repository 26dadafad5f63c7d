/**
 * The discovery queue: at most `concurrency` probes at a time, FIFO, and one probe per instance key at a
 * time (asking again for a key that is queued or running joins the same promise).
 */
export class KeyedQueue {
  private readonly waiting: Array<() => void> = [];
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private active = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be >= 1, got ${concurrency}`);
  }

  /** Tasks queued or running. */
  get size(): number {
    return this.inFlight.size;
  }

  has(id: string): boolean {
    return this.inFlight.has(id);
  }

  /** Runs `task` under the concurrency limit, unless a task with this id is already queued or running. */
  run<T>(id: string, task: () => Promise<T>): Promise<T> {
    const existing = this.inFlight.get(id);
    if (existing !== undefined) return existing as Promise<T>;
    const p = this.schedule(task).finally(() => {
      this.inFlight.delete(id);
      if (this.inFlight.size === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    });
    this.inFlight.set(id, p);
    return p;
  }

  /** Resolves when nothing is queued or running. */
  onIdle(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async schedule<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so `active` never exceeds the limit.
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.active--;
    }
  }
}
