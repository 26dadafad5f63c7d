// The store after a failed write (regression: a full disk left the store refusing writes until the daemon
// was restarted, so the syncer never resumed by itself). No MariaDB here: LevelDB's batch is made to fail
// the way a full disk makes it fail, then recoverWrites() must roll the store back to what is durable and
// take appends again, and a reopen must find exactly the durable units plus the ones appended afterwards.
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type BinlogStore } from '../../storage/index.js';
import type { AppendUnit } from '../../storage/types.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import './setup-file.js';

function event(type: number, bodyLen: number, pos: bigint): Buffer {
  const size = 19 + bodyLen + 4;
  const b = Buffer.alloc(size, 0x61);
  b.writeUInt32LE(1_700_000_000, 0);
  b[4] = type;
  b.writeUInt32LE(1, 5);
  b.writeUInt32LE(size, 9);
  b.writeUInt32LE(Number(pos) + size, 13);
  b.writeUInt16LE(0, 17);
  b.writeUInt32LE(crc32(b.subarray(0, size - 4)), size - 4);
  return b;
}

/** MariaDB-flavoured units: the FDE of bin.000001, then transactions GTID 0-1-n (GTID, row, XID). */
class Units {
  pos = 4n;
  seq = 0n;
  fde(): AppendUnit {
    const fde = event(15, 96, 4n);
    this.pos = 4n + BigInt(fde.length);
    return { file: 'bin.000001', pos: 4n, events: [fde], kind: 'control', timestamp: 1_700_000_000, newFile: { fde } };
  }
  trx(): AppendUnit {
    const start = this.pos;
    const events: Buffer[] = [];
    for (const type of [162, 30, 16]) {
      const e = event(type, 60, this.pos);
      events.push(e);
      this.pos += BigInt(e.length);
    }
    return { file: 'bin.000001', pos: start, events, kind: 'transaction', gtid: { domainId: 0, serverId: 1, seqNo: ++this.seq }, timestamp: 1_700_000_000 };
  }
}

const enospc = (): Error => Object.assign(new Error('IO error: /data/binlog/000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' });

describe('store: recovery after a failed write (disk full)', () => {
  let dir: string;
  let store: BinlogStore;

  beforeEach(async () => {
    dir = await makeTempDir('bp-store-full-');
    store = await openStore(dir, { flavor: 'mariadb' });
  });

  afterEach(async () => {
    await store.close();
    await removeTempDir(dir);
  });

  it('reports ERR_STORAGE_FULL, refuses writes, and recoverWrites() resumes from the durable state', async () => {
    const u = new Units();
    await store.append(u.fde());
    for (let i = 0; i < 3; i++) await store.append(u.trx());
    await store.flush();
    const durable = store.getState();
    expect(durable.executedGtids).toBe('0-1-3');

    const db = (store as unknown as { db: { batch: (...a: unknown[]) => Promise<void> } }).db;
    db.batch = async () => {
      throw enospc();
    };
    const lost = u.trx();
    await store.append(lost);
    await expect(store.flush()).rejects.toMatchObject({ code: 'ERR_STORAGE_FULL' });
    expect(store.failure?.code).toBe('ERR_STORAGE_FULL');
    expect(store.failure?.message).toMatch(/disk .*full/);
    await expect(store.append(u.trx())).rejects.toMatchObject({ code: 'ERR_STORAGE_FULL' });

    // Still full: LevelDB cannot be opened again; the store stays failed and says so.
    const level = db as unknown as { open: () => Promise<void>; batch: unknown };
    level.open = async () => {
      throw enospc();
    };
    await expect(store.recoverWrites()).rejects.toMatchObject({ code: 'ERR_STORAGE_FULL' });
    expect(store.failure).not.toBeNull();

    // Space is back.
    delete (level as { open?: unknown }).open;
    delete (level as { batch?: unknown }).batch;
    await store.recoverWrites();
    expect(store.failure).toBeNull();
    const after = store.getState();
    expect({ lastSeq: after.lastSeq, lastPos: after.lastPos, executed: after.executedGtids }).toEqual({
      lastSeq: durable.lastSeq,
      lastPos: durable.lastPos,
      executed: '0-1-3',
    });
    // The transaction that never became durable is appended again, at the same place, exactly once.
    await store.append(lost);
    await store.flush();
    expect(store.getState().executedGtids).toBe('0-1-4');
    await store.close();
    store = await openStore(dir, { flavor: 'mariadb' });
    const reopened = store.getState();
    expect(reopened.executedGtids).toBe('0-1-4');
    expect(reopened.lastSeq).toBe(durable.lastSeq + 1);
    const units: number[] = [];
    for await (const batch of await store.openReader({ from: 'oldest', follow: false })) for (const x of batch) units.push(x.seq);
    expect(units).toEqual([1, 2, 3, 4, 5]);
  });

  it('recoverWrites() is a no-op while writes work', async () => {
    const u = new Units();
    await store.append(u.fde());
    await store.flush();
    await store.recoverWrites();
    await store.append(u.trx());
    await store.flush();
    expect(store.getState().executedGtids).toBe('0-1-1');
  });
});
