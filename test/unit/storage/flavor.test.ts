// A store opened before the primary is known (the daemon at first boot) gets its flavour from the syncer.
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, StorageError, type BinlogStore } from '../../../storage/index.js';
import { makeTempDir } from '../../helpers/tmp.js';

describe('BinlogStore.setFlavor', () => {
  let store: BinlogStore | null = null;
  afterEach(async () => {
    await store?.close();
    store = null;
  });

  it('is set once, persists, and refuses another flavour', async () => {
    const dir = await makeTempDir('binlog-proxy-flavor-');
    store = await openStore(dir);
    expect(store.getState().flavor).toBeNull();
    await store.setFlavor('mariadb');
    await store.setFlavor('mariadb');
    expect(store.getState().flavor).toBe('mariadb');
    await expect(store.setFlavor('mysql')).rejects.toMatchObject({ code: 'ERR_STORAGE_FLAVOR' });
    await store.close();
    store = await openStore(dir);
    expect(store.getState().flavor).toBe('mariadb');
    await store.close();
    store = null;
    await expect(openStore(dir, { flavor: 'mysql' })).rejects.toBeInstanceOf(StorageError);
  });
});
