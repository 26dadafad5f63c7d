import { BinlogProxyError } from '../../protocol/errors.js';

/**
 * Failures talking to the primary. The syncer shows the code in its status (`last_error.code`) and counts it
 * in `binlog_proxy_errors_total{code}`; src/syncer/classify.ts decides which ones an operator must fix.
 *
 * Network (retried with a fast backoff):
 * - ERR_UPSTREAM_REFUSED / ERR_UPSTREAM_UNREACHABLE / ERR_UPSTREAM_TIMEOUT / ERR_UPSTREAM_IO / ERR_UPSTREAM_CLOSED
 *
 * Need an operator (retried slowly, status `error`):
 * - ERR_UPSTREAM_TLS, ERR_UPSTREAM_AUTH_PLUGIN: TLS or authentication configuration.
 * - ERR_UPSTREAM_PRIVILEGES: REPLICATION SLAVE (or REPLICATION CLIENT / BINLOG MONITOR) missing.
 * - ERR_UPSTREAM_SERVER_ID_CLASH: syncer_id equals the primary's server_id, or another replica uses it.
 * - ERR_UPSTREAM_FLAVOR: the primary's flavour differs from the stored binlog's.
 * - ERR_UPSTREAM_DIVERGED: the primary's binlog has no event boundary where the stored binlog ends.
 * - ERR_UPSTREAM_GAP: the primary skipped bytes after storing began (the stored files must stay contiguous).
 * - ERR_UPSTREAM_NO_BINLOG: the primary has no binary log.
 * - ERR_SYNCER_START: the requested start point is not usable (not an event boundary, past the file, ...).
 * - ERR_UPSTREAM_FATAL: anything else the primary answered that makes replication impossible.
 *
 * Errors the primary sent as ERR packets arrive as MysqlServerError (protocol/generic.ts) and are mapped by
 * classify.ts to ERR_UPSTREAM_ACCESS_DENIED, ERR_UPSTREAM_PRIVILEGES, ERR_UPSTREAM_POSITION,
 * ERR_UPSTREAM_NO_BINLOG, ERR_UPSTREAM_SERVER_ID_CLASH, ERR_UPSTREAM_BINLOG, ERR_UPSTREAM_HOST_BLOCKED,
 * ERR_UPSTREAM_KILLED or ERR_UPSTREAM_SERVER.
 */
export class UpstreamError extends BinlogProxyError {}
