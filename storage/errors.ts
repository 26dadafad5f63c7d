/**
 * Errors of the storage layer. Every failure the store reports is a `StorageError` with one of the stable
 * codes below (scripts, the admin API and the replica-facing server match on them; never reword a code).
 *
 * | code                    | when                                                                        |
 * |-------------------------|-----------------------------------------------------------------------------|
 * | ERR_STORAGE_FORMAT      | the directory is not a binlog-proxy store, or its format version is newer     |
 * |                         | than this build (or older with no migration)                                 |
 * | ERR_STORAGE_CORRUPT     | LevelDB reports corruption, or data, indexes and state disagree on open       |
 * | ERR_STORAGE_LOCKED      | another process holds the LevelDB lock of the directory                      |
 * | ERR_STORAGE_FLAVOR      | MySQL/MariaDB flavour unknown for a new store, or a mismatch                  |
 * | ERR_STORAGE_APPEND      | an append that would break the log (not contiguous, bad event framing, ...)   |
 * | ERR_STORAGE_BUSY        | an append while a streamed transaction is open (single writer)                |
 * | ERR_STORAGE_CLOSED      | the store is closed (or closing)                                             |
 * | ERR_STORAGE_IO          | a LevelDB write failed; the store refuses further writes until recoverWrites() |
 * | ERR_STORAGE_FULL        | the same, because the disk is full (ENOSPC); recoverWrites() once space returns |
 * | ERR_STORAGE_NOT_FOUND   | a binlog file name that is not stored                                         |
 * | ERR_STORAGE_POSITION    | a position outside the stored part of a file, or not at an event boundary     |
 * | ERR_STORAGE_PURGED      | the requested position or GTIDs were purged (or were never stored)           |
 * | ERR_STORAGE_ABORTED     | a streamed transaction was used after commit()/abort()                       |
 * | ERR_STORAGE_ARGUMENT    | an argument of the wrong shape (empty meta name, negative size, ...)         |
 */
import { BinlogProxyError } from '../protocol/errors.js';

export type StorageErrorCode =
  | 'ERR_STORAGE_FORMAT'
  | 'ERR_STORAGE_CORRUPT'
  | 'ERR_STORAGE_LOCKED'
  | 'ERR_STORAGE_FLAVOR'
  | 'ERR_STORAGE_APPEND'
  | 'ERR_STORAGE_BUSY'
  | 'ERR_STORAGE_CLOSED'
  | 'ERR_STORAGE_IO'
  | 'ERR_STORAGE_FULL'
  | 'ERR_STORAGE_NOT_FOUND'
  | 'ERR_STORAGE_POSITION'
  | 'ERR_STORAGE_PURGED'
  | 'ERR_STORAGE_ABORTED'
  | 'ERR_STORAGE_ARGUMENT';

export class StorageError extends BinlogProxyError {
  declare readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A value or key in the database that does not decode: always ERR_STORAGE_CORRUPT. */
export function corrupt(message: string, cause?: unknown): StorageError {
  return new StorageError('ERR_STORAGE_CORRUPT', message, cause === undefined ? undefined : { cause });
}

export function badArgument(message: string): StorageError {
  return new StorageError('ERR_STORAGE_ARGUMENT', message);
}

/** True when `err` (or a cause of it) says the disk is full. */
export function isDiskFull(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && e !== undefined && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    const message = (e as { message?: unknown }).message;
    if (code === 'ENOSPC' || code === 'ERR_STORAGE_FULL') return true;
    if (typeof message === 'string' && /no space left on device|ENOSPC/i.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The error that stops writes after a failed LevelDB write (ERR_STORAGE_FULL when the disk is full). */
export function writeFailed(err: unknown): StorageError {
  if (isDiskFull(err)) {
    return new StorageError('ERR_STORAGE_FULL', 'the disk of the store is full: writes stopped until space is freed', { cause: err });
  }
  return new StorageError('ERR_STORAGE_IO', 'a write of the store failed (LevelDB or a segment file); writes stopped until the store recovers', { cause: err });
}
