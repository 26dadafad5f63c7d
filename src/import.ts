/**
 * `binlog-proxy import --data-dir DIR FILE...`: seeds the store from existing binlog files, so old binlogs can
 * be served to replicas and clients (the "fake primary" use).
 *
 * Files are read a piece at a time (src/binlog-file.ts), twice: once to check them all, once to store them; memory
 * does not grow with their size. The files go through exactly the pipeline the syncer uses for a live dump (a fake ROTATE per file, then every
 * event verbatim), so checksums are verified, transactions are grouped and stored atomically, and file
 * coordinates are the files' own. Before anything is stored, the whole set is checked:
 *   - every file starts with the binlog magic and an FDE, and all have the same flavour (MySQL or MariaDB),
 *     which must also be the store's when it already holds data;
 *   - every file but the last ends with a ROTATE that names the next file given (no gap, no reordering);
 *   - an existing store continues into the first file: its last file is the first file (import resumes after
 *     what is stored) or its last ROTATE named the first file.
 */
import { basename, join } from 'node:path';
import { BinlogProxyError, ProtocolError } from '../protocol/errors.js';
import { decodeFormatDescription, flavorOf } from '../protocol/binlog/fde.js';
import { ROTATE_EVENT, BINLOG_CHECKSUM_ALG_OFF } from '../protocol/binlog/constants.js';
import { decodeRotate } from '../protocol/binlog/rotate.js';
import { buildFakeRotate } from '../protocol/binlog/builders.js';
import { openStore, splitEvents, type BinlogStore } from '../storage/index.js';
import { BinlogFileReadError, streamBinlogFile } from './binlog-file.js';
import type { Logger } from './logger.js';
import { StreamPipeline, compareFiles } from './syncer/pipeline.js';
import { StoreWriter } from './syncer/writer.js';
import type { DumpTarget } from './upstream/session.js';

export class ImportError extends BinlogProxyError {}

export interface ImportReport {
  files: Array<{ name: string; bytes: number; events: number }>;
  transactions: number;
  executed_gtids: string;
  last_file: string | null;
  last_position: number;
}

interface CheckedFile {
  path: string;
  name: string;
  bytes: number;
  flavor: 'mysql' | 'mariadb';
  events: number;
  /** Target of the closing ROTATE, if the file ends with one. */
  rotatesTo: string | null;
}

/** ImportError for a failure while reading `path`: unreadable (ERR_IMPORT_READ) or not a binlog (ERR_IMPORT_INVALID). */
function readFailure(path: string, err: unknown): ImportError {
  if (err instanceof BinlogFileReadError) return new ImportError('ERR_IMPORT_READ', err.message, { cause: err });
  return new ImportError('ERR_IMPORT_INVALID', `${path} is not a valid binlog file: ${(err as Error).message}`, { cause: err });
}

async function check(path: string): Promise<CheckedFile> {
  let flavor: 'mysql' | 'mariadb' | null = null;
  let events = 0;
  let bytes = 4;
  let last: { type: number; raw: Buffer; alg: number } | null = null;
  try {
    for await (const batch of streamBinlogFile(path, { verifyChecksums: true })) {
      if (flavor === null) flavor = flavorOf(batch[0]!.fde);
      events += batch.length;
      const e = batch[batch.length - 1]!;
      bytes = e.pos + e.event.raw.length;
      last = { type: e.event.typeCode, raw: e.event.raw, alg: e.checksumAlg };
    }
  } catch (err) {
    throw readFailure(path, err);
  }
  if (flavor === null) throw new ImportError('ERR_IMPORT_INVALID', `${path} holds no events`);
  let rotatesTo: string | null = null;
  if (last && last.type === ROTATE_EVENT) rotatesTo = decodeRotate(last.raw, last.alg).nextFile;
  return { path, name: basename(path), bytes, flavor, events, rotatesTo };
}

export async function runImport(opts: { dataDir: string; files: string[]; log: Logger }): Promise<ImportReport> {
  const loaded: CheckedFile[] = [];
  for (const p of opts.files) loaded.push(await check(p));
  loaded.sort((a, b) => compareFiles(a.name, b.name));
  const names = new Set<string>();
  for (const f of loaded) {
    if (names.has(f.name)) throw new ImportError('ERR_IMPORT_DUPLICATE', `file ${f.name} is given twice`);
    names.add(f.name);
  }
  const flavor = loaded[0]!.flavor;
  for (const f of loaded) {
    if (f.flavor !== flavor) {
      throw new ImportError('ERR_IMPORT_MIXED_FLAVORS', `mixed flavours: ${loaded[0]!.name} is ${flavor} but ${f.name} is ${f.flavor}`);
    }
  }
  for (let i = 0; i + 1 < loaded.length; i++) {
    const f = loaded[i]!;
    const next = loaded[i + 1]!;
    if (f.rotatesTo === null) {
      throw new ImportError('ERR_IMPORT_GAP', `${f.name} does not end with a ROTATE event, so ${next.name} cannot follow it (was the file still being written?)`);
    }
    if (f.rotatesTo !== next.name) {
      throw new ImportError('ERR_IMPORT_GAP', `gap: ${f.name} rotates to ${f.rotatesTo}, but the next file given is ${next.name}`);
    }
  }

  const store = await openStore(join(opts.dataDir, 'binlog'), { flavor });
  try {
    const before = store.getState();
    if (before.flavor !== null && before.flavor !== flavor) {
      throw new ImportError('ERR_IMPORT_MIXED_FLAVORS', `the store holds a ${before.flavor} binlog; cannot import ${flavor} files`);
    }
    let target: DumpTarget;
    if (before.lastSeq === 0 || before.lastFile === null) {
      target = { file: loaded[0]!.name, pos: 4n, newFile: true };
    } else {
      if (before.lastFile !== loaded[0]!.name) {
        const next = await lastRotateTarget(store, before.lastSeq);
        if (next !== loaded[0]!.name) {
          throw new ImportError(
            'ERR_IMPORT_GAP',
            `the store ends in ${before.lastFile} at ${before.lastPos}${next ? ` with a ROTATE to ${next}` : ' without a ROTATE'}; ${loaded[0]!.name} does not continue it`,
          );
        }
      }
      target = { file: before.lastFile, pos: before.lastPos, newFile: false };
    }

    let failure: Error | null = null;
    let transactions = 0;
    let drained: (() => void) | null = null;
    const writer = new StoreWriter(store, {
      sendAck: () => undefined,
      heartbeat: () => undefined,
      located: () => undefined,
      notice: (message, data) => opts.log.info(data ?? {}, message),
      stored: (info) => {
        if (info.kind === 'transaction') transactions++;
      },
      onFailure: (err) => {
        failure ??= err;
        drained?.();
      },
      onDrain: () => drained?.(),
    });
    const pipeline = new StreamPipeline({
      flavor,
      semiSync: false,
      fakeRotateChecksumAlg: BINLOG_CHECKSUM_ALG_OFF,
      target,
      sink: writer,
    });
    const serverId = 1;
    for (const f of loaded) {
      pipeline.pushEvent(buildFakeRotate({ serverId, position: 4n, fileName: f.name, checksum: false }));
      // The first pass (check) verified every CRC and the pipeline verifies them again as it stores: this pass
      // only walks the events, up to where the check ended (a file still growing gives no more than was
      // checked; one cut shorter in between fails here with the reason).
      try {
        for await (const batch of streamBinlogFile(f.path, { verifyChecksums: false, endAt: f.bytes })) {
          for (const e of batch) {
            pipeline.pushEvent(e.event.raw);
            if (writer.pendingBytes > 64 * 1024 * 1024) {
              await new Promise<void>((resolve) => {
                drained = resolve;
              });
              drained = null;
            }
            if (failure) throw failure;
          }
        }
      } catch (err) {
        if (err === failure || err instanceof ImportError) throw err;
        if (err instanceof BinlogFileReadError || err instanceof ProtocolError) throw readFailure(f.path, err);
        throw err;
      }
    }
    if (pipeline.inTransaction) {
      throw new ImportError('ERR_IMPORT_INCOMPLETE', `the last file ends inside a transaction; its complete transactions were kept`);
    }
    await writer.close();
    if (failure) throw failure;
    await store.flush();
    const after = store.getState();
    opts.log.info({ files: loaded.map((f) => f.name), transactions }, 'import finished');
    return {
      files: loaded.map((f) => ({ name: f.name, bytes: f.bytes, events: f.events })),
      transactions,
      executed_gtids: after.executedGtids,
      last_file: after.lastFile,
      last_position: Number(after.lastPos),
    };
  } finally {
    await store.close();
  }
}

/** The file named by the ROTATE that ends the store, or null when the last unit is not a ROTATE. */
async function lastRotateTarget(store: BinlogStore, lastSeq: number): Promise<string | null> {
  const reader = await store.openReader({ from: { seq: lastSeq }, follow: false });
  let last: Buffer | null = null;
  for await (const batch of reader) {
    for (const u of batch) {
      const events = splitEvents(u.data);
      last = events.at(-1) ?? last;
    }
  }
  if (!last || last.length < 19 || last[4] !== ROTATE_EVENT) return null;
  const file = store.listFiles().at(-1);
  const alg = file ? decodeFormatDescription(file.fde).checksumAlg : BINLOG_CHECKSUM_ALG_OFF;
  return decodeRotate(last, alg).nextFile;
}
