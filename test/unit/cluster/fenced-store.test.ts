// The store the cluster's syncers write through: every append and every commit of a streamed transaction is
// refused once the writer's fence (leadership term, or following a given leader) says no.
import { describe, expect, it } from 'vitest';
import { FencedStore } from '../../../src/cluster/runtime.js';
import type { AppendUnit, SyncerStore, TransactionWriter } from '../../../src/syncer/store.js';

function fakeStore() {
  const calls: string[] = [];
  const store: SyncerStore = {
    getState: () => ({ flavor: 'mariadb', firstSeq: 1, lastSeq: 0, durableSeq: 0, lastFile: null, lastPos: 0n, executedGtids: '', purgedGtids: '' }),
    append: async () => {
      calls.push('append');
      return { seq: 1 } as Awaited<ReturnType<SyncerStore['append']>>;
    },
    beginTransaction: async () => {
      calls.push('begin');
      const txn: TransactionWriter = {
        seq: 2,
        write: async () => {
          calls.push('write');
        },
        commit: async () => {
          calls.push('commit');
          return { seq: 2 } as Awaited<ReturnType<TransactionWriter['commit']>>;
        },
        abort: async () => {
          calls.push('abort');
        },
      };
      return txn;
    },
    waitDurable: async () => undefined,
    flush: async () => undefined,
    getMeta: async () => undefined,
    putMeta: async () => undefined,
    setFlavor: async () => {
      calls.push('flavor');
    },
  };
  return { store, calls };
}

const unit = {} as AppendUnit;

describe('FencedStore', () => {
  it('refuses every write before a writer is fenced in', async () => {
    const { store, calls } = fakeStore();
    const fenced = new FencedStore(store);
    await expect(fenced.append(unit)).rejects.toMatchObject({ code: 'ERR_NOT_LEADER' });
    await expect(fenced.beginTransaction({} as never)).rejects.toMatchObject({ code: 'ERR_NOT_LEADER' });
    await expect(fenced.setFlavor('mariadb')).rejects.toMatchObject({ code: 'ERR_NOT_LEADER' });
    expect(calls).toEqual([]);
  });

  it('passes writes through while the fence holds and refuses them the moment it ends', async () => {
    const { store, calls } = fakeStore();
    const fenced = new FencedStore(store);
    let current = true;
    fenced.fence(() => current, 'the leadership term 7');
    await fenced.append(unit);
    const txn = await fenced.beginTransaction({} as never);
    await txn.write(Buffer.alloc(1));
    current = false;
    await expect(fenced.append(unit)).rejects.toThrow(/the leadership term 7 is over/);
    // A streamed transaction begun under the term cannot commit after it.
    await expect(txn.commit()).rejects.toMatchObject({ code: 'ERR_NOT_LEADER' });
    await txn.abort();
    expect(calls).toEqual(['append', 'begin', 'write', 'abort']);
  });

  it('lets reads through whatever the fence says', async () => {
    const { store } = fakeStore();
    const fenced = new FencedStore(store);
    expect(fenced.getState().flavor).toBe('mariadb');
    expect(await fenced.getMeta('x')).toBeUndefined();
  });
});
