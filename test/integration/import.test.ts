// `binlog-proxy import`: seed a store from real binlog files (MariaDB 10.11 and MySQL 8.0.45 fixtures), then
// serve them: what a client downloads from the proxy must be the files' own bytes. Bad sets of files (a gap,
// mixed flavours, a truncated file, a store they do not continue) are refused with a clear error and leave
// the store as it was.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { runImport, ImportError } from '../../src/import.js';
import { openStore, type BinlogStore } from '../../storage/index.js';
import { ReplicationServer } from '../../src/server/server.js';
import { UpstreamConnection } from '../../src/upstream/connection.js';
import { encodeComBinlogDump } from '../../protocol/commands.js';
import { BINLOG_DUMP_NON_BLOCK } from '../../protocol/constants.js';
import { BINLOG_CHECKSUM_ALG_OFF, LOG_EVENT_ARTIFICIAL_F, ROTATE_EVENT, FORMAT_DESCRIPTION_EVENT } from '../../protocol/binlog/constants.js';
import { decodeRotate } from '../../protocol/binlog/rotate.js';
import { decodeFormatDescription } from '../../protocol/binlog/fde.js';
import { readEventHeader } from '../../protocol/binlog/header.js';
import { downloadRawBinlogs } from '../helpers/binlog-client.js';
import { makeTempDir } from '../helpers/tmp.js';
import { ensureBuilt, MAIN } from '../helpers/daemon.js';

const run = promisify(execFile);
const FIX = path.resolve(import.meta.dirname, '../../../shared/fixtures/binlog');
const log = pino({ level: 'silent' });
const USER = { user: 'repl', password: 'import-test-pw' };

async function serve(dataDir: string): Promise<{ store: BinlogStore; server: ReplicationServer; port: number }> {
  const store = await openStore(path.join(dataDir, 'binlog'));
  const server = new ReplicationServer({
    store,
    dataDir,
    identity: { serverId: 4343, serverUuid: '0f0e0d0c-0b0a-4908-8706-050403020100' },
    settings: { tls: false },
    log,
  });
  await server.start({ addr: '127.0.0.1:0', users: [USER] });
  return { store, server, port: server.port! };
}

describe('import', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('imports the MariaDB 10.11 files and mariadb-binlog downloads them byte for byte', async () => {
    const dataDir = await makeTempDir('binlog-proxy-import-maria-');
    const files = ['bin.000001', 'bin.000002'].map((f) => path.join(FIX, 'mariadb-10.11-crc32', f));
    const report = await runImport({ dataDir, files, log });
    expect(report.files.map((f) => f.name)).toEqual(['bin.000001', 'bin.000002']);
    // The last GTIDs of the files (bin.000002.txt ends with GTID 0-7-19; domain 2 wrote 2-7-1).
    expect(report.executed_gtids).toBe('0-7-19,2-7-1');
    expect(report.last_file).toBe('bin.000002');

    const { store, server, port } = await serve(dataDir);
    cleanups.push(async () => {
      await server.stop();
      await store.close();
    });
    const got = await downloadRawBinlogs({ ...USER, port, dir: path.join(dataDir, 'download'), first: 'bin.000001', timeoutMs: 30_000 });
    expect([...got.keys()]).toEqual(files.map((f) => path.basename(f)));
    for (const f of files) expect(got.get(path.basename(f))!.equals(await readFile(f)), path.basename(f)).toBe(true);
  });

  it('imports the MySQL 8.0.45 GTID files and a COM_BINLOG_DUMP returns their bytes', async () => {
    const dataDir = await makeTempDir('binlog-proxy-import-mysql-');
    const files = ['binlog.000001', 'binlog.000002'].map((f) => path.join(FIX, 'mysql-8.0.45-gtid', f));
    const report = await runImport({ dataDir, files, log });
    expect(report.executed_gtids).toMatch(/^396e294c-1ca4-11f1-9ae7-00155da79c6b:1-\d+$/);

    const { store, server, port } = await serve(dataDir);
    cleanups.push(async () => {
      await server.stop();
      await store.close();
    });
    const conn = await UpstreamConnection.connect({ host: '127.0.0.1', port, user: USER.user, password: USER.password, tls: { mode: 'disabled' } });
    expect(conn.serverVersion).toMatch(/^8\.0\.45/);
    await conn.query("SET @master_binlog_checksum = 'NONE', @source_binlog_checksum = 'NONE'");
    const events: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      conn.startStream(
        encodeComBinlogDump({ position: 4, flags: BINLOG_DUMP_NON_BLOCK, serverId: 0, fileName: 'binlog.000001' }),
        (payload) => events.push(Buffer.from(payload.subarray(1))),
        (err) => (err ? reject(err) : resolve()),
      );
    });
    await conn.close();
    // Per file: the events after its fake ROTATE (artificial), FDE with the in-use flag cleared, then verbatim.
    const perFile = new Map<string, Buffer[]>();
    let current = '';
    // The first fake ROTATE follows the checksum we negotiated (NONE); later ones the binlog's own (its FDE's).
    let alg = BINLOG_CHECKSUM_ALG_OFF;
    for (const e of events) {
      const h = readEventHeader(e);
      if (h.typeCode === ROTATE_EVENT && (h.flags & LOG_EVENT_ARTIFICIAL_F) !== 0) {
        current = decodeRotate(e, alg).nextFile;
        perFile.set(current, []);
        continue;
      }
      if (h.typeCode === FORMAT_DESCRIPTION_EVENT) alg = decodeFormatDescription(e).checksumAlg;
      perFile.get(current)!.push(e);
    }
    expect([...perFile.keys()]).toEqual(['binlog.000001', 'binlog.000002']);
    for (const f of files) {
      const expected = await readFile(f);
      const got = Buffer.concat([expected.subarray(0, 4), ...perFile.get(path.basename(f))!]);
      expect(readEventHeader(got, 4).typeCode).toBe(FORMAT_DESCRIPTION_EVENT);
      expect(got.equals(expected), path.basename(f)).toBe(true);
    }
  });

  it('refuses a gap, mixed flavours, a truncated file and a non-continuing store, storing nothing', async () => {
    const dataDir = await makeTempDir('binlog-proxy-import-bad-');
    const k = (f: string) => path.join(FIX, 'mysql-5.7.23-gtid', f);
    await expect(runImport({ dataDir, files: [k('mysql_bin.000011'), k('mysql_bin.000013')], log })).rejects.toThrow(
      /gap: mysql_bin\.000011 rotates to mysql_bin\.000012, but the next file given is mysql_bin\.000013/,
    );
    await expect(
      runImport({ dataDir, files: [k('mysql_bin.000011'), path.join(FIX, 'mariadb-10.11-crc32', 'bin.000001')], log }),
    ).rejects.toMatchObject({ code: 'ERR_IMPORT_MIXED_FLAVORS' });
    await expect(runImport({ dataDir, files: [path.join(FIX, 'truncated', 'binlog_truncated_event.000001')], log })).rejects.toBeInstanceOf(ImportError);
    // Nothing was stored by the refused imports.
    const empty = await openStore(path.join(dataDir, 'binlog'));
    expect(empty.getState().lastSeq).toBe(0);
    await empty.close();

    // A store holding 000011 continues with 000012 but not with 000013.
    await runImport({ dataDir, files: [k('mysql_bin.000011')], log });
    await expect(runImport({ dataDir, files: [k('mysql_bin.000013')], log })).rejects.toMatchObject({ code: 'ERR_IMPORT_GAP' });
    const r = await runImport({ dataDir, files: [k('mysql_bin.000012'), k('mysql_bin.000013')], log });
    expect(r.last_file).toBe('mysql_bin.000013');
    // Importing the same file again adds nothing (the pipeline skips what is stored).
    const again = await runImport({ dataDir, files: [k('mysql_bin.000013')], log });
    expect(again.transactions).toBe(0);
    expect(again.last_position).toBe(r.last_position);
  });

  it('the CLI exits non-zero with the reason on a bad import', async () => {
    ensureBuilt();
    const dataDir = await makeTempDir('binlog-proxy-import-cli-');
    const k = (f: string) => path.join(FIX, 'mysql-5.7.23-gtid', f);
    const bad = await run(process.execPath, [MAIN, 'import', '--data-dir', dataDir, k('mysql_bin.000011'), k('mysql_bin.000013')]).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toMatch(/gap/);
    const ok = await run(process.execPath, [MAIN, 'import', '--data-dir', dataDir, k('mysql_bin.000011'), k('mysql_bin.000012')]);
    expect(JSON.parse(ok.stdout)).toMatchObject({ last_file: 'mysql_bin.000012' });
  });
});
