import { describe, expect, it } from 'vitest';
import type { SyncUnit } from '../../../src/syncer/pipeline.js';
import type { AppendResult, AppendUnit, StoreState, SyncerStore, TransactionMeta, TransactionWriter } from '../../../src/syncer/store.js';
import { StoreWriter, type StoreWriterHooks, type StoredInfo } from '../../../src/syncer/writer.js';

/** An in-memory store with a durability point the test moves by hand. */
class FakeStore implements SyncerStore {
  lastSeq = 0;
  durable = 0;
  appended: AppendUnit[] = [];
  txns: Array<{ meta: TransactionMeta; events: Buffer[]; state: 'open' | 'committed' | 'aborted' }> = [];
  failOnAppend: number | null = null;
  private durableWaiters: Array<{ seq: number; resolve: () => void }> = [];

  getState(): StoreState {
    return { flavor: 'mariadb', firstSeq: 1, lastSeq: this.lastSeq, durableSeq: this.durable, lastFile: null, lastPos: 0n, executedGtids: '', purgedGtids: '' };
  }
  async append(unit: AppendUnit): Promise<AppendResult> {
    if (this.failOnAppend === this.appended.length) throw new Error('disk on fire');
    this.appended.push(unit);
    this.lastSeq++;
    return { seq: this.lastSeq, endPos: unit.pos + BigInt(unit.events.reduce((n, e) => n + e.length, 0)) };
  }
  async beginTransaction(meta: TransactionMeta): Promise<TransactionWriter> {
    const t = { meta, events: [] as Buffer[], state: 'open' as 'open' | 'committed' | 'aborted' };
    this.txns.push(t);
    const seq = this.lastSeq + 1;
    return {
      seq,
      write: async (e) => {
        t.events.push(e);
      },
      commit: async () => {
        t.state = 'committed';
        this.lastSeq = seq;
        return { seq, endPos: meta.pos + BigInt(t.events.reduce((n, e) => n + e.length, 0)) };
      },
      abort: async () => {
        t.state = 'aborted';
      },
    };
  }
  waitDurable(seq: number): Promise<void> {
    if (seq <= this.durable) return Promise.resolve();
    return new Promise((resolve) => this.durableWaiters.push({ seq, resolve }));
  }
  makeDurable(seq: number): void {
    this.durable = seq;
    const ready = this.durableWaiters.filter((w) => w.seq <= seq);
    this.durableWaiters = this.durableWaiters.filter((w) => w.seq > seq);
    for (const w of ready) w.resolve();
  }
  async flush(): Promise<void> {}
  async getMeta(): Promise<Buffer | undefined> {
    return undefined;
  }
  async putMeta(): Promise<void> {}
}

interface Recorder extends StoreWriterHooks {
  acks: string[];
  storedList: StoredInfo[];
  failures: Error[];
  drains: number;
}

function hooks(): Recorder {
  const h: Recorder = {
    acks: [],
    storedList: [],
    failures: [],
    drains: 0,
    sendAck: (file, pos) => {
      h.acks.push(`${file}:${pos}`);
    },
    heartbeat: () => undefined,
    located: () => undefined,
    notice: () => undefined,
    stored: (i) => {
      h.storedList.push(i);
    },
    onFailure: (e) => {
      h.failures.push(e);
    },
    onDrain: () => {
      h.drains++;
    },
  };
  return h;
}

function event(size: number, fill = 1): Buffer {
  const b = Buffer.alloc(Math.max(size, 19), fill);
  b.writeUInt32LE(b.length, 9);
  return b;
}

function unit(pos: number, sizes: number[], kind: 'transaction' | 'control' = 'transaction'): SyncUnit {
  const events = sizes.map((s) => event(s));
  const bytes = sizes.reduce((a, b) => a + b, 0);
  return { file: 'bin.000001', pos: BigInt(pos), endPos: BigInt(pos + bytes), events, bytes, kind, groupKind: kind === 'transaction' ? 'transaction' : null, eventType: 2, gtid: null, timestamp: 1 };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('StoreWriter', () => {
  it('appends units in order and reports them', async () => {
    const store = new FakeStore();
    const h = hooks();
    const w = new StoreWriter(store, h);
    w.unit(unit(4, [100], 'control'));
    w.unit(unit(104, [50, 60]));
    w.unit(unit(214, [30]));
    expect(w.pendingBytes).toBe(240);
    await w.close();
    expect(store.appended.map((u) => u.pos)).toEqual([4n, 104n, 214n]);
    expect(h.storedList.map((s) => [s.seq, s.kind])).toEqual([[1, 'control'], [2, 'transaction'], [3, 'transaction']]);
    expect(w.pendingBytes).toBe(0);
  });

  it('sends an ACK only once the units before it are durable, in order, without blocking later appends', async () => {
    const store = new FakeStore();
    const h = hooks();
    const w = new StoreWriter(store, h);
    w.unit(unit(4, [100]));
    w.ack('bin.000001', 104n);
    w.unit(unit(104, [100]));
    w.ack('bin.000001', 204n);
    w.unit(unit(204, [100]));
    for (let i = 0; i < 5; i++) await tick();
    expect(store.appended).toHaveLength(3);
    expect(h.acks).toEqual([]);
    store.makeDurable(1);
    for (let i = 0; i < 5; i++) await tick();
    expect(h.acks).toEqual(['bin.000001:104']);
    store.makeDurable(3);
    for (let i = 0; i < 5; i++) await tick();
    expect(h.acks).toEqual(['bin.000001:104', 'bin.000001:204']);
    await w.close();
  });

  it('stops at the first failure: nothing after it is stored, the failure is reported once', async () => {
    const store = new FakeStore();
    store.failOnAppend = 1;
    const h = hooks();
    const w = new StoreWriter(store, h);
    w.unit(unit(4, [20]));
    w.unit(unit(24, [20]));
    w.unit(unit(44, [20]));
    w.ack('bin.000001', 64n);
    await w.close();
    expect(store.appended.map((u) => u.pos)).toEqual([4n]);
    expect(h.failures.map((e) => e.message)).toEqual(['disk on fire']);
    expect(w.failed?.message).toBe('disk on fire');
    expect(h.acks).toEqual([]);
  });

  it('streams a large transaction (with its GTID) and aborts one left open when the connection ends', async () => {
    const store = new FakeStore();
    const h = hooks();
    const w = new StoreWriter(store, h);
    const gtid = { domainId: 0, serverId: 1, seqNo: 5n };
    w.largeBegin({ file: 'bin.000001', pos: 4n, timestamp: 9, gtid }, [event(40), event(50)]);
    w.largeEvent(event(60));
    w.largeEnd({ endPos: 154n, groupKind: 'transaction', gtid, events: 3, bytes: 150 });
    w.largeBegin({ file: 'bin.000001', pos: 154n, timestamp: 9, gtid: null }, [event(40)]);
    w.largeEvent(event(25));
    const { abortedBytes } = await w.close();
    expect(store.txns.map((t) => [t.meta.pos, t.meta.gtid, t.events.length, t.state])).toEqual([
      [4n, gtid, 3, 'committed'],
      [154n, null, 2, 'aborted'],
    ]);
    expect(abortedBytes).toBe(65);
    expect(h.storedList.map((s) => [s.seq, s.bytes])).toEqual([[1, 150]]);
  });

  it('pendingBytes tracks what storage has not taken yet; onDrain fires when it falls to the low-water mark', async () => {
    const store = new FakeStore();
    const h = hooks();
    const w = new StoreWriter(store, h, { lowWaterBytes: 150 });
    w.unit(unit(4, [100]));
    w.unit(unit(104, [100]));
    w.unit(unit(204, [100]));
    expect(w.pendingBytes).toBe(300);
    await w.close();
    expect(h.drains).toBe(1);
  });

  it('close() does not wait for ACKs that can no longer be sent, and never sends them later', async () => {
    const store = new FakeStore();
    const h = hooks();
    const w = new StoreWriter(store, h);
    w.unit(unit(4, [20]));
    w.ack('bin.000001', 24n);
    await w.close();
    store.makeDurable(1);
    for (let i = 0; i < 5; i++) await tick();
    expect(h.acks).toEqual([]);
    w.unit(unit(24, [20]));
    await w.close();
    expect(store.appended).toHaveLength(1);
  });
});
