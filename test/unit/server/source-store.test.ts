// SourceView over a real store filled from the MariaDB 10.11 and MySQL 8.0 fixtures: what SHOW BINARY LOGS,
// SHOW MASTER STATUS, the GTID variables, the greeting and binlog_gtid_pos() report. Known answers come
// from the fixtures' mariadb-binlog / mysqlbinlog decodes.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BinlogStore } from '../../../storage/index.js';
import { StoreSourceView } from '../../../src/server/source-store.js';
import { faceFor } from '../../../src/server/flavor.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { fixture, storeOf, unitsOf } from '../dump/_helpers.js';

describe('StoreSourceView (MariaDB)', () => {
  let dir: string;
  let store: BinlogStore;
  let view: StoreSourceView;

  beforeAll(async () => {
    dir = await makeTempDir('bp-src-');
    store = await storeOf(path.join(dir, 'store'), 'mariadb', unitsOf([
      ['mariadb-10.11-crc32/bin.000001', 'bin.000001'],
      ['mariadb-10.11-crc32/bin.000002', 'bin.000002'],
    ]).units);
    view = new StoreSourceView(store);
  });

  afterAll(async () => {
    await store.close();
    await removeTempDir(dir);
  });

  it('reports the files, the end of the log, the version, the checksum and the GTID position', () => {
    expect(view.flavor()).toBe('mariadb');
    expect(view.files()).toEqual([
      { name: 'bin.000001', size: fixture('mariadb-10.11-crc32/bin.000001').length },
      { name: 'bin.000002', size: fixture('mariadb-10.11-crc32/bin.000002').length },
    ]);
    expect(view.masterStatus()).toEqual({ file: 'bin.000002', position: 672 });
    expect(view.serverVersion()).toBe('10.11.19-MariaDB-0+deb12u1-log');
    expect(view.binlogChecksum()).toBe('CRC32');
    expect(view.mariadbGtidBinlogPos()).toBe('0-7-19,2-7-1');
    expect(view.gtidExecuted()).toBe('');
    expect(view.hasGtids()).toBe(false);
    expect(view.newestEventTimestamp()).toBeGreaterThan(1_700_000_000);
    expect(faceFor(view.flavor()!, view.serverVersion()).greeting).toBe('5.5.5-10.11.19-MariaDB-0+deb12u1-binlog-proxy');
  });

  it('binlog_gtid_pos(file, pos) gives the GTID position at that point, as MariaDB does', async () => {
    expect(await view.binlogGtidPos('bin.000001', 4)).toBe('');
    expect(await view.binlogGtidPos('bin.000001', 322)).toBe('');
    expect(await view.binlogGtidPos('bin.000001', 488)).toBe('0-7-1');
    expect(await view.binlogGtidPos('bin.000001', 2074)).toBe('0-7-7');
    expect(await view.binlogGtidPos('bin.000001', 4840)).toBe('0-7-15,2-7-1');
    expect(await view.binlogGtidPos('bin.000002', 4)).toBe('0-7-18,2-7-1');
    expect(await view.binlogGtidPos('bin.000002', 352)).toBe('0-7-18,2-7-1');
    expect(await view.binlogGtidPos('bin.000002', 672)).toBe('0-7-19,2-7-1');
    expect(await view.binlogGtidPos('bin.000003', 4)).toBeNull();
    expect(await view.binlogGtidPos('bin.000002', 673)).toBeNull();
    expect(await view.binlogGtidPos('bin.000002', 3)).toBeNull();
  });
});

describe('StoreSourceView (MySQL)', () => {
  let dir: string;
  let store: BinlogStore;

  beforeAll(async () => {
    dir = await makeTempDir('bp-src-my-');
    store = await storeOf(path.join(dir, 'store'), 'mysql', unitsOf([['mysql-8.0.45-gtid/binlog.000001', 'binlog.000001']]).units);
  });

  afterAll(async () => {
    await store.close();
    await removeTempDir(dir);
  });

  it('reports gtid_executed and gtid_mode from the stored GTIDs, and no binlog_gtid_pos', async () => {
    const view = new StoreSourceView(store);
    expect(view.flavor()).toBe('mysql');
    expect(view.serverVersion()).toBe('8.0.45');
    expect(view.hasGtids()).toBe(true);
    expect(view.gtidExecuted()).toMatch(/^[0-9a-f-]{36}:1-\d+$/);
    expect(view.gtidExecuted()).toBe(store.getState().executedGtids);
    expect(view.mariadbGtidBinlogPos()).toBe('');
    expect(await view.binlogGtidPos('binlog.000001', 4)).toBeNull();
    expect(faceFor('mysql', view.serverVersion()).greeting).toBe('8.0.45-binlog-proxy');
  });
});
