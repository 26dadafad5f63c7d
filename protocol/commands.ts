/**
 * Client commands (§1.9, §3.1–§3.3) and the semi-sync packets (§5.2–§5.3). Every command payload starts
 * with its command byte; payloads exclude the packet header. A command always starts at sequence id 0.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { ProtocolError } from './errors.js';
import {
  COM_BINLOG_DUMP,
  COM_BINLOG_DUMP_GTID,
  COM_INIT_DB,
  COM_PING,
  COM_PROCESS_KILL,
  COM_QUERY,
  COM_QUIT,
  COM_REGISTER_SLAVE,
  COM_RESET_CONNECTION,
  COM_SET_OPTION,
  COM_STATISTICS,
  OK_HEADER,
  SEMI_SYNC_FLAG_NEED_ACK,
  SEMI_SYNC_MAGIC,
} from './constants.js';

function expectCommand(r: ByteReader, command: number, name: string): void {
  const b = r.u8('command');
  if (b !== command) {
    throw new ProtocolError('ERR_MALFORMED', `not a ${name} packet: command byte 0x${b.toString(16).padStart(2, '0')}`);
  }
}

/** The bytes of a file name as a C string: everything before the first NUL. */
function cString(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

// ---------------------------------------------------------------------------------------------------
// Simple commands
// ---------------------------------------------------------------------------------------------------

/*
 * COM_QUERY layout (CLIENT_QUERY_ATTRIBUTES never negotiated, so no parameter prefix)
 *   1         0x03
 *   str<EOF>  query text
 */
export function encodeComQuery(sql: string | Buffer): Buffer {
  const text = typeof sql === 'string' ? Buffer.from(sql, 'utf8') : sql;
  return new ByteWriter(1 + text.length).u8(COM_QUERY).bytes(text).finish();
}

export function decodeComQuery(payload: Buffer): { sql: string } {
  const r = new ByteReader(payload);
  expectCommand(r, COM_QUERY, 'COM_QUERY');
  return { sql: r.rest().toString('utf8') };
}

function commandOnly(command: number): Buffer {
  return Buffer.from([command]);
}

/** COM_QUIT (0x01): no reply, the server closes. */
export function encodeComQuit(): Buffer {
  return commandOnly(COM_QUIT);
}

/** COM_PING (0x0e): OK. */
export function encodeComPing(): Buffer {
  return commandOnly(COM_PING);
}

/** COM_STATISTICS (0x09): a str<EOF> status line. */
export function encodeComStatistics(): Buffer {
  return commandOnly(COM_STATISTICS);
}

/** COM_RESET_CONNECTION (0x1f): OK. */
export function encodeComResetConnection(): Buffer {
  return commandOnly(COM_RESET_CONNECTION);
}

/* COM_INIT_DB layout: 1 byte 0x02, str<EOF> schema name. */
export function encodeComInitDb(database: string): Buffer {
  const db = Buffer.from(database, 'utf8');
  return new ByteWriter(1 + db.length).u8(COM_INIT_DB).bytes(db).finish();
}

export function decodeComInitDb(payload: Buffer): { database: string } {
  const r = new ByteReader(payload);
  expectCommand(r, COM_INIT_DB, 'COM_INIT_DB');
  return { database: r.rest().toString('utf8') };
}

/* COM_SET_OPTION layout: 1 byte 0x1b, int<2> option (0 MULTI_STATEMENTS_ON, 1 MULTI_STATEMENTS_OFF). */
export function encodeComSetOption(option: number): Buffer {
  return new ByteWriter(3).u8(COM_SET_OPTION).u16(option).finish();
}

export function decodeComSetOption(payload: Buffer): { option: number } {
  const r = new ByteReader(payload);
  expectCommand(r, COM_SET_OPTION, 'COM_SET_OPTION');
  return { option: r.u16('option') };
}

/* COM_PROCESS_KILL layout: 1 byte 0x0c, int<4> connection id. */
export function encodeComProcessKill(connectionId: number): Buffer {
  return new ByteWriter(5).u8(COM_PROCESS_KILL).u32(connectionId).finish();
}

export function decodeComProcessKill(payload: Buffer): { connectionId: number } {
  const r = new ByteReader(payload);
  expectCommand(r, COM_PROCESS_KILL, 'COM_PROCESS_KILL');
  return { connectionId: r.u32('connection id') };
}

// ---------------------------------------------------------------------------------------------------
// COM_REGISTER_SLAVE
// ---------------------------------------------------------------------------------------------------

/*
 * COM_REGISTER_SLAVE layout
 *   1      0x15
 *   4      server_id of the replica
 *   1 + n  report_host     (int<1> length + bytes)
 *   1 + n  report_user
 *   1 + n  report_password
 *   2      report_port
 *   4      replication rank (ignored)
 *   4      master_id (0; the source substitutes its own)
 * Bytes after master_id are ignored, as MySQL does.
 */
export interface ComRegisterSlave {
  serverId: number;
  host: string;
  user: string;
  password: string;
  port: number;
  rank: number;
  masterId: number;
}

function shortString(s: string, what: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 255) throw new RangeError(`${what} of ${b.length} bytes does not fit a 1-byte length`);
  return b;
}

export function encodeComRegisterSlave(c: Partial<ComRegisterSlave> & { serverId: number }): Buffer {
  const host = shortString(c.host ?? '', 'report_host');
  const user = shortString(c.user ?? '', 'report_user');
  const password = shortString(c.password ?? '', 'report_password');
  const w = new ByteWriter(1 + 4 + 3 + host.length + user.length + password.length + 2 + 4 + 4);
  w.u8(COM_REGISTER_SLAVE).u32(c.serverId);
  w.u8(host.length).bytes(host).u8(user.length).bytes(user).u8(password.length).bytes(password);
  w.u16(c.port ?? 0).u32(c.rank ?? 0).u32(c.masterId ?? 0);
  return w.finish();
}

export function decodeComRegisterSlave(payload: Buffer): ComRegisterSlave {
  const r = new ByteReader(payload);
  expectCommand(r, COM_REGISTER_SLAVE, 'COM_REGISTER_SLAVE');
  const serverId = r.u32('server_id');
  const host = r.bytes(r.u8('report_host length'), 'report_host').toString('utf8');
  const user = r.bytes(r.u8('report_user length'), 'report_user').toString('utf8');
  const password = r.bytes(r.u8('report_password length'), 'report_password').toString('utf8');
  const port = r.u16('report_port');
  const rank = r.u32('rank');
  const masterId = r.u32('master_id');
  return { serverId, host, user, password, port, rank, masterId };
}

// ---------------------------------------------------------------------------------------------------
// COM_BINLOG_DUMP
// ---------------------------------------------------------------------------------------------------

/*
 * COM_BINLOG_DUMP layout
 *   1         0x12
 *   4         binlog position (int<4>, so at most 4 GiB - 1)
 *   2         flags (0x01 BINLOG_DUMP_NON_BLOCK; 0x02 heartbeat v2 on MySQL, send ANNOTATE_ROWS on MariaDB)
 *   4         server_id of the requester (0 = non-blocking on MySQL)
 *   str<EOF>  binlog file name; cut at the first NUL (zongji and python clients append one)
 */
export interface ComBinlogDump {
  position: number;
  flags: number;
  serverId: number;
  fileName: string;
}

export function encodeComBinlogDump(c: ComBinlogDump): Buffer {
  const name = Buffer.from(c.fileName, 'utf8');
  return new ByteWriter(1 + 4 + 2 + 4 + name.length).u8(COM_BINLOG_DUMP).u32(c.position).u16(c.flags).u32(c.serverId).bytes(name).finish();
}

export function decodeComBinlogDump(payload: Buffer): ComBinlogDump {
  const r = new ByteReader(payload);
  expectCommand(r, COM_BINLOG_DUMP, 'COM_BINLOG_DUMP');
  const position = r.u32('binlog position');
  const flags = r.u16('flags');
  const serverId = r.u32('server_id');
  const fileName = cString(r.rest()).toString('utf8');
  return { position, flags, serverId, fileName };
}

// ---------------------------------------------------------------------------------------------------
// COM_BINLOG_DUMP_GTID (MySQL only)
// ---------------------------------------------------------------------------------------------------

/*
 * COM_BINLOG_DUMP_GTID layout
 *   1  0x1e
 *   2  flags
 *   4  server_id
 *   4  binlog_name_info_size
 *   n  binlog name (usually empty; read as a C string: python-mysql-replication sends "\0\0\0")
 *   8  binlog position
 *   4  gtid data size (current servers always read it)
 *   n  encoded GTID set (see protocol/gtid/mysql.ts), kept raw here
 */
export interface ComBinlogDumpGtid {
  flags: number;
  serverId: number;
  fileName: string;
  position: bigint;
  /** Raw encoded GTID set (zero-copy slice of the payload when decoded). */
  gtidData: Buffer;
}

export function encodeComBinlogDumpGtid(c: ComBinlogDumpGtid): Buffer {
  const name = Buffer.from(c.fileName, 'utf8');
  const w = new ByteWriter(1 + 2 + 4 + 4 + name.length + 8 + 4 + c.gtidData.length);
  w.u8(COM_BINLOG_DUMP_GTID).u16(c.flags).u32(c.serverId).u32(name.length).bytes(name);
  w.u64(c.position).u32(c.gtidData.length).bytes(c.gtidData);
  return w.finish();
}

export function decodeComBinlogDumpGtid(payload: Buffer): ComBinlogDumpGtid {
  const r = new ByteReader(payload);
  expectCommand(r, COM_BINLOG_DUMP_GTID, 'COM_BINLOG_DUMP_GTID');
  const flags = r.u16('flags');
  const serverId = r.u32('server_id');
  const nameSize = r.u32('binlog_name_info_size');
  const fileName = cString(r.bytes(nameSize, 'binlog name')).toString('utf8');
  const position = r.u64('binlog position');
  const dataSize = r.u32('gtid data size');
  const gtidData = r.bytes(dataSize, 'gtid data');
  return { flags, serverId, fileName, position, gtidData };
}

// ---------------------------------------------------------------------------------------------------
// Semi-sync
// ---------------------------------------------------------------------------------------------------

/*
 * Semi-sync event packet (source → replica), once the replica set @rpl_semi_sync_replica/_slave = 1
 *   1  0x00 (OK marker of every dump packet)
 *   1  0xef magic
 *   1  flags: 0x01 = the source waits for an ACK of this event
 *   n  binlog event
 */
export interface SemiSyncEventPacket {
  needAck: boolean;
  /** Offset of the binlog event in the payload (always 3). */
  eventOffset: number;
}

export const SEMI_SYNC_HEADER_SIZE = 3;

export function decodeSemiSyncEventPacket(payload: Buffer): SemiSyncEventPacket {
  if (payload.length < SEMI_SYNC_HEADER_SIZE) {
    throw new ProtocolError('ERR_TRUNCATED', `semi-sync packet of ${payload.length} bytes`);
  }
  if (payload[0] !== OK_HEADER) {
    throw new ProtocolError('ERR_MALFORMED', `dump packet starts with 0x${payload[0]!.toString(16)}, not 0x00`);
  }
  if (payload[1] !== SEMI_SYNC_MAGIC) {
    throw new ProtocolError('ERR_MALFORMED', 'missing magic number 0xef for semi-sync packet');
  }
  return { needAck: (payload[2]! & SEMI_SYNC_FLAG_NEED_ACK) !== 0, eventOffset: SEMI_SYNC_HEADER_SIZE };
}

/*
 * Semi-sync ACK (replica → source), sent with sequence id 0
 *   1         0xef
 *   8         binlog position: end position (log_pos) of the acknowledged event
 *   str<EOF>  binlog file name, no NUL
 */
export interface SemiSyncAck {
  position: bigint;
  fileName: string;
}

export function encodeSemiSyncAck(a: SemiSyncAck): Buffer {
  const name = Buffer.from(a.fileName, 'utf8');
  return new ByteWriter(1 + 8 + name.length).u8(SEMI_SYNC_MAGIC).u64(a.position).bytes(name).finish();
}

export function decodeSemiSyncAck(payload: Buffer): SemiSyncAck {
  const r = new ByteReader(payload);
  const magic = r.u8('semi-sync magic');
  if (magic !== SEMI_SYNC_MAGIC) throw new ProtocolError('ERR_MALFORMED', `not a semi-sync ACK: first byte 0x${magic.toString(16)}`);
  const position = r.u64('binlog position');
  return { position, fileName: cString(r.rest()).toString('utf8') };
}

// ---------------------------------------------------------------------------------------------------
// Names for logs
// ---------------------------------------------------------------------------------------------------

const COMMAND_NAMES: readonly string[] = [
  'COM_SLEEP', 'COM_QUIT', 'COM_INIT_DB', 'COM_QUERY', 'COM_FIELD_LIST', 'COM_CREATE_DB', 'COM_DROP_DB',
  'COM_REFRESH', 'COM_SHUTDOWN', 'COM_STATISTICS', 'COM_PROCESS_INFO', 'COM_CONNECT', 'COM_PROCESS_KILL',
  'COM_DEBUG', 'COM_PING', 'COM_TIME', 'COM_DELAYED_INSERT', 'COM_CHANGE_USER', 'COM_BINLOG_DUMP',
  'COM_TABLE_DUMP', 'COM_CONNECT_OUT', 'COM_REGISTER_SLAVE', 'COM_STMT_PREPARE', 'COM_STMT_EXECUTE',
  'COM_STMT_SEND_LONG_DATA', 'COM_STMT_CLOSE', 'COM_STMT_RESET', 'COM_SET_OPTION', 'COM_STMT_FETCH',
  'COM_DAEMON', 'COM_BINLOG_DUMP_GTID', 'COM_RESET_CONNECTION', 'COM_CLONE',
];

/** The server's name of a command byte, for logs (`COM_UNKNOWN_0xNN` when it has none). */
export function commandName(byte: number): string {
  if (byte === 0xfa) return 'COM_STMT_BULK_EXECUTE'; // MariaDB
  return COMMAND_NAMES[byte] ?? `COM_UNKNOWN_0x${(byte & 0xff).toString(16).padStart(2, '0')}`;
}
