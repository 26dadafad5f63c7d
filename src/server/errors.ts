/**
 * Errors of the replica-facing server, and the one function that maps any error to the MySQL ERR packet
 * a client sees (real errno and SQLSTATE, so that replicas and drivers react as they would to a primary).
 */
import { BinlogProxyError, ProtocolError } from '../../protocol/errors.js';
import { MysqlServerError, type ErrPacket } from '../../protocol/generic.js';
import {
  ER_ACCESS_DENIED_ERROR,
  ER_HOST_IS_BLOCKED,
  ER_MALFORMED_PACKET,
  ER_MASTER_FATAL_ERROR_READING_BINLOG,
  ER_NET_PACKETS_OUT_OF_ORDER,
  ER_NO_SUCH_THREAD,
  ER_PARSE_ERROR,
  ER_UNKNOWN_COM_ERROR,
  ER_UNKNOWN_SYSTEM_VARIABLE,
} from '../../protocol/constants.js';
import type { Flavor } from './dump/types.js';

/** Server error numbers we send that protocol/constants.ts does not name (mysqld_error.h names). */
export const ER_CON_COUNT_ERROR = 1040; // 08004
export const ER_HANDSHAKE_ERROR = 1043; // 08S01
export const ER_BAD_FIELD_ERROR = 1054; // 42S22
export const ER_NO_TABLES_USED = 1096; // HY000
export const ER_UNKNOWN_ERROR = 1105; // HY000
export const ER_NET_PACKET_TOO_LARGE = 1153; // 08S01
export const ER_SPECIFIC_ACCESS_DENIED_ERROR = 1227; // 42000
export const ER_WRONG_VALUE_FOR_VAR = 1231; // 42000
export const ER_WRONG_ARGUMENTS = 1210; // HY000
export const ER_INCORRECT_GLOBAL_LOCAL_VAR = 1238; // HY000
export const ER_SP_DOES_NOT_EXIST = 1305; // 42000
export const ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT = 1582; // 42000

export {
  ER_ACCESS_DENIED_ERROR,
  ER_HOST_IS_BLOCKED,
  ER_MALFORMED_PACKET,
  ER_MASTER_FATAL_ERROR_READING_BINLOG,
  ER_NET_PACKETS_OUT_OF_ORDER,
  ER_NO_SUCH_THREAD,
  ER_PARSE_ERROR,
  ER_UNKNOWN_COM_ERROR,
  ER_UNKNOWN_SYSTEM_VARIABLE,
};

/** Configuration / start-up failures of the server (bad TLS files, openssl missing, bad users list). */
export class ServerError extends BinlogProxyError {}

/**
 * An error that the session answers with an ERR packet and then carries on (or closes the connection when
 * `fatal`). `errno`/`sqlState` are the server's own; the message is what the client shows.
 */
export class SqlError extends BinlogProxyError {
  readonly errno: number;
  readonly sqlState: string;
  readonly fatal: boolean;

  constructor(errno: number, sqlState: string, message: string, opts: { fatal?: boolean; cause?: unknown } = {}) {
    super('ERR_SQL', message, { cause: opts.cause });
    this.errno = errno;
    this.sqlState = sqlState;
    this.fatal = opts.fatal ?? false;
  }

  toPacket(): ErrPacket {
    return { code: this.errno, sqlState: this.sqlState, message: this.message };
  }
}

// ---------------------------------------------------------------------------------------------------
// Constructors with the servers' wording
// ---------------------------------------------------------------------------------------------------

/** MySQL's and MariaDB's ER_PARSE_ERROR text; `near` is the rest of the statement from the offending token. */
export function parseError(flavor: Flavor, near: string): SqlError {
  const product = flavor === 'mariadb' ? 'MariaDB' : 'MySQL';
  const shown = near.length > 80 ? near.slice(0, 80) : near;
  return new SqlError(
    ER_PARSE_ERROR,
    '42000',
    `You have an error in your SQL syntax; check the manual that corresponds to your ${product} server version for the right syntax to use near '${shown}' at line 1`,
  );
}

/** A statement we understand as SQL but do not serve (no passthrough configured). */
export function unsupportedStatement(sql: string): SqlError {
  const shown = sql.length > 80 ? `${sql.slice(0, 80)}…` : sql;
  return new SqlError(
    ER_PARSE_ERROR,
    '42000',
    `binlog-proxy does not execute this statement (it serves the binlog only; enable server passthrough to forward read-only SQL to the primary): '${shown}'`,
  );
}

export function unknownSystemVariable(name: string): SqlError {
  return new SqlError(ER_UNKNOWN_SYSTEM_VARIABLE, 'HY000', `Unknown system variable '${name}'`);
}

export function accessDenied(user: string, host: string, usingPassword: boolean): SqlError {
  return new SqlError(
    ER_ACCESS_DENIED_ERROR,
    '28000',
    `Access denied for user '${user}'@'${host}' (using password: ${usingPassword ? 'YES' : 'NO'})`,
    { fatal: true },
  );
}

export function hostBlocked(flavor: Flavor, host: string): SqlError {
  const tool = flavor === 'mariadb' ? 'mariadb-admin' : 'mysqladmin';
  return new SqlError(
    ER_HOST_IS_BLOCKED,
    'HY000',
    `Host '${host}' is blocked because of many connection errors; unblock with '${tool} flush-hosts'`,
    { fatal: true },
  );
}

export function tooManyConnections(): SqlError {
  return new SqlError(ER_CON_COUNT_ERROR, '08004', 'Too many connections', { fatal: true });
}

export function badHandshake(): SqlError {
  return new SqlError(ER_HANDSHAKE_ERROR, '08S01', 'Bad handshake', { fatal: true });
}

export function unknownCommand(): SqlError {
  return new SqlError(ER_UNKNOWN_COM_ERROR, '08S01', 'Unknown command');
}

export function unknownThread(id: bigint | number | string): SqlError {
  return new SqlError(ER_NO_SUCH_THREAD, 'HY000', `Unknown thread id: ${id}`);
}

export function malformedPacket(): SqlError {
  return new SqlError(ER_MALFORMED_PACKET, 'HY000', 'Malformed communication packet.');
}

/** ERR 1236 with the primary's wording (the replica shows "Got fatal error 1236 from source ...: '<text>'"). */
export function fatalReadingBinlog(message: string): SqlError {
  return new SqlError(ER_MASTER_FATAL_ERROR_READING_BINLOG, 'HY000', message);
}

/**
 * Maps any error to the ERR packet the client gets. Codec errors become the network errors a server sends
 * for them; unexpected errors become ER_UNKNOWN_ERROR with their message (never a stack).
 */
export function toErrPacket(err: unknown, phase: 'handshake' | 'command' = 'command'): ErrPacket {
  if (err instanceof SqlError) return err.toPacket();
  if (err instanceof MysqlServerError) return err.toPacket();
  if (err instanceof ProtocolError) {
    switch (err.code) {
      case 'ERR_PACKET_TOO_LARGE':
        return { code: ER_NET_PACKET_TOO_LARGE, sqlState: '08S01', message: "Got a packet bigger than 'max_allowed_packet' bytes" };
      case 'ERR_PACKET_SEQUENCE':
        return { code: ER_NET_PACKETS_OUT_OF_ORDER, sqlState: '08S01', message: 'Got packets out of order' };
      default:
        return phase === 'handshake' ? badHandshake().toPacket() : malformedPacket().toPacket();
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: ER_UNKNOWN_ERROR, sqlState: 'HY000', message: `Unknown error: ${message}` };
}

/** True when the connection must be closed after sending the error. */
export function isFatal(err: unknown): boolean {
  if (err instanceof SqlError) return err.fatal;
  if (err instanceof ProtocolError) return err.code === 'ERR_PACKET_TOO_LARGE' || err.code === 'ERR_PACKET_SEQUENCE';
  return false;
}
