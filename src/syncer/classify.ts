/**
 * What a failure of the upstream connection means for the syncer: a stable code for the status and the
 * `binlog_proxy_errors_total{code}` metric, and whether retrying alone can fix it.
 *
 * `fatal: true` means "an operator has to do something" (grant a privilege, fix the password, enable the
 * binary log, pick another start position, give the proxy a unique server_id). The syncer still retries, slowly,
 * so that it recovers by itself once the cause is fixed, but it shows status `error` instead of spinning silently.
 *
 * Server errors, by errno (MySQL and MariaDB share these numbers):
 *
 * | errno | name                                   | code                          | fatal |
 * |-------|----------------------------------------|-------------------------------|-------|
 * | 1045  | ER_ACCESS_DENIED_ERROR                 | ERR_UPSTREAM_ACCESS_DENIED    | yes   |
 * | 1044, 1142, 1227 | ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR | ERR_UPSTREAM_PRIVILEGES | yes |
 * | 1381  | ER_NO_BINARY_LOGGING                   | ERR_UPSTREAM_NO_BINLOG        | yes   |
 * | 1129  | ER_HOST_IS_BLOCKED                     | ERR_UPSTREAM_HOST_BLOCKED     | yes   |
 * | 4052  | ER_SLAVE_SAME_ID (MariaDB)             | ERR_UPSTREAM_SERVER_ID_CLASH  | yes   |
 * | 1236  | ER_MASTER_FATAL_ERROR_READING_BINLOG   | by its text, see below        | yes   |
 * | 1040, 1053, 1205, 1317, 1927, 2013 | too many connections, shutdown, lock wait, interrupted, killed, lost | ERR_UPSTREAM_KILLED / ERR_UPSTREAM_SERVER | no |
 *
 * 1236 texts: "Binary log is not open" → ERR_UPSTREAM_NO_BINLOG; "same server_uuid/server_id" →
 * ERR_UPSTREAM_SERVER_ID_CLASH; "purged", "Could not find first log file", "Could not find GTID state",
 * "not in the master's binlog", "impossible position", "position > file size", "position <" →
 * ERR_UPSTREAM_POSITION; anything else (a corrupt binlog on the primary) → ERR_UPSTREAM_BINLOG.
 */
import { ChecksumError, ProtocolError, BinlogProxyError } from '../../protocol/errors.js';
import { MysqlServerError } from '../../protocol/generic.js';
import { UpstreamError } from '../upstream/errors.js';

export interface Classified {
  code: string;
  message: string;
  fatal: boolean;
  /** The server's errno when the primary sent an ERR packet. */
  errno?: number;
}

export const ER_DBACCESS_DENIED_ERROR = 1044;
export const ER_ACCESS_DENIED_ERROR = 1045;
export const ER_TABLEACCESS_DENIED_ERROR = 1142;
export const ER_SPECIFIC_ACCESS_DENIED_ERROR = 1227;
export const ER_NO_BINARY_LOGGING = 1381;
export const ER_HOST_IS_BLOCKED = 1129;
export const ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236;
export const ER_SLAVE_SAME_ID = 4052;
export const ER_CON_COUNT_ERROR = 1040;
export const ER_SERVER_SHUTDOWN = 1053;
export const ER_QUERY_INTERRUPTED = 1317;
export const ER_CONNECTION_KILLED = 1927;
export const ER_UNKNOWN_SYSTEM_VARIABLE = 1193;

/** Upstream error codes that need an operator (the rest are network trouble and retried quickly). */
const FATAL_UPSTREAM_CODES = new Set([
  'ERR_UPSTREAM_TLS',
  'ERR_UPSTREAM_AUTH_PLUGIN',
  'ERR_UPSTREAM_FATAL',
  'ERR_UPSTREAM_SERVER_ID_CLASH',
  'ERR_UPSTREAM_DIVERGED',
  'ERR_UPSTREAM_GAP',
  'ERR_UPSTREAM_NO_BINLOG',
  'ERR_UPSTREAM_PRIVILEGES',
  'ERR_UPSTREAM_POSITION',
  'ERR_UPSTREAM_FLAVOR',
  'ERR_SYNCER_START',
]);

function classify1236(text: string): string {
  const t = text.toLowerCase();
  if (t.includes('binary log is not open')) return 'ERR_UPSTREAM_NO_BINLOG';
  if (t.includes('same server_uuid') || t.includes('same server_id') || t.includes('same server id')) {
    return 'ERR_UPSTREAM_SERVER_ID_CLASH';
  }
  if (
    t.includes('purged') ||
    t.includes('could not find first log file') ||
    t.includes('could not find gtid state') ||
    t.includes("not in the master's binlog") ||
    t.includes("not in the source's binlog") ||
    t.includes('impossible position') ||
    t.includes('position > file size') ||
    t.includes('position < 4') ||
    t.includes('has more gtids than the')
  ) {
    return 'ERR_UPSTREAM_POSITION';
  }
  return 'ERR_UPSTREAM_BINLOG';
}

/** Maps any failure of a connection attempt or of the dump stream to a status entry. */
export function classifyError(err: unknown): Classified {
  if (err instanceof MysqlServerError) {
    const errno = err.errno;
    const message = err.message;
    switch (errno) {
      case ER_ACCESS_DENIED_ERROR:
        return { code: 'ERR_UPSTREAM_ACCESS_DENIED', message, fatal: true, errno };
      case ER_DBACCESS_DENIED_ERROR:
      case ER_TABLEACCESS_DENIED_ERROR:
      case ER_SPECIFIC_ACCESS_DENIED_ERROR:
        return { code: 'ERR_UPSTREAM_PRIVILEGES', message, fatal: true, errno };
      case ER_NO_BINARY_LOGGING:
        return { code: 'ERR_UPSTREAM_NO_BINLOG', message, fatal: true, errno };
      case ER_HOST_IS_BLOCKED:
        return { code: 'ERR_UPSTREAM_HOST_BLOCKED', message, fatal: true, errno };
      case ER_SLAVE_SAME_ID:
        return { code: 'ERR_UPSTREAM_SERVER_ID_CLASH', message, fatal: true, errno };
      case ER_MASTER_FATAL_ERROR_READING_BINLOG:
        return { code: classify1236(message), message, fatal: true, errno };
      case ER_CONNECTION_KILLED:
      case ER_QUERY_INTERRUPTED:
      case ER_SERVER_SHUTDOWN:
        return { code: 'ERR_UPSTREAM_KILLED', message, fatal: false, errno };
      default:
        return { code: 'ERR_UPSTREAM_SERVER', message, fatal: false, errno };
    }
  }
  if (err instanceof ChecksumError) return { code: 'ERR_CHECKSUM', message: err.message, fatal: false };
  if (err instanceof UpstreamError) return { code: err.code, message: err.message, fatal: FATAL_UPSTREAM_CODES.has(err.code) };
  if (err instanceof ProtocolError) return { code: err.code, message: err.message, fatal: false };
  if (err instanceof BinlogProxyError) {
    // Storage refusing writes (ERR_STORAGE_IO, ERR_STORAGE_FLAVOR, ...) will not heal by reconnecting.
    const fatal = err.code.startsWith('ERR_STORAGE_') || FATAL_UPSTREAM_CODES.has(err.code);
    return { code: err.code, message: err.message, fatal };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'ERR_INTERNAL', message, fatal: false };
}
