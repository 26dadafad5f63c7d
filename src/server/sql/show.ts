/**
 * Result sets of the replication SHOW statements, with the column names, order and types of the flavour
 * (MariaDB 10.11 captured from a real server; MySQL 8.0/8.4 from its documentation and sources):
 * SHOW MASTER STATUS / BINARY LOG STATUS / BINLOG STATUS, SHOW BINARY LOGS, SHOW SLAVE HOSTS / REPLICAS,
 * SHOW SLAVE STATUS / REPLICA STATUS / ALL SLAVES STATUS (answered from the syncer: the proxy is itself a
 * replica of the primary), SHOW WARNINGS.
 */
import type { ColumnDefinition, TextValue } from '../../../protocol/resultset.js';
import { parseHostPort } from '../../config/config.js';
import type { SyncerStatus } from '../../syncer/types.js';
import type { Flavor } from '../dump/types.js';
import type { ProcessRow, RegisteredSlave } from '../registry.js';
import type { SourceView } from '../source.js';
import { exprColumn, MYSQL_TYPE_LONG, showIntColumn, showStringColumn, type ColumnStyle } from './values.js';

export interface Rows {
  columns: ColumnDefinition[];
  rows: TextValue[][];
}

export function showMasterStatus(source: SourceView, style: ColumnStyle): Rows {
  const columns = [
    showStringColumn('File', style, 2048),
    showIntColumn('Position', 20),
    showStringColumn('Binlog_Do_DB', style, 1020),
    showStringColumn('Binlog_Ignore_DB', style, 1020),
  ];
  if (style.flavor === 'mysql') columns.push(showStringColumn('Executed_Gtid_Set', style, 4096));
  const st = source.masterStatus();
  const rows: TextValue[][] = [];
  if (st) {
    const row: TextValue[] = [st.file, st.position, '', ''];
    if (style.flavor === 'mysql') row.push(source.gtidExecuted());
    rows.push(row);
  }
  return { columns, rows };
}

export function showBinaryLogs(source: SourceView, style: ColumnStyle): Rows {
  const columns = [showStringColumn('Log_name', style, 1020), showIntColumn('File_size', 20)];
  if (style.flavor === 'mysql') columns.push(showStringColumn('Encrypted', style, 12));
  const rows = source.files().map((f) => (style.flavor === 'mysql' ? [f.name, f.size, 'No'] : [f.name, f.size]));
  return { columns, rows };
}

export function showSlaveHosts(
  slaves: ReadonlyArray<RegisteredSlave & { replicaUuid: string | null }>,
  ourServerId: number,
  style: ColumnStyle,
  syntax: 'slave_hosts' | 'replicas',
): Rows {
  const replicas = syntax === 'replicas';
  const columns = [
    showIntColumn(replicas ? 'Server_Id' : 'Server_id', 10, MYSQL_TYPE_LONG),
    showStringColumn('Host', style, 80),
    showIntColumn('Port', 7, MYSQL_TYPE_LONG),
    showIntColumn(replicas ? 'Source_Id' : 'Master_id', 10, MYSQL_TYPE_LONG),
  ];
  const mysql = style.flavor === 'mysql';
  if (mysql) columns.push(showStringColumn(replicas ? 'Replica_UUID' : 'Slave_UUID', style, 144));
  const rows = slaves.map((s) => {
    const row: TextValue[] = [s.serverId, s.host, s.port, ourServerId];
    if (mysql) row.push(s.replicaUuid ?? '');
    return row;
  });
  return { columns, rows };
}

// ---------------------------------------------------------------------------------------------------
// SHOW SLAVE STATUS
// ---------------------------------------------------------------------------------------------------

type ColKind = 's' | 'll' | 'l'; // VAR_STRING, LONGLONG unsigned, LONG unsigned

/** MariaDB 10.11 SHOW SLAVE STATUS columns (names, order, widths) as the server reports them. */
const MARIADB_SLAVE_STATUS: Array<[string, ColKind, number]> = [
  ['Slave_IO_State', 's', 120], ['Master_Host', 's', 3064], ['Master_User', 's', 1540], ['Master_Port', 'l', 7],
  ['Connect_Retry', 'l', 10], ['Master_Log_File', 's', 2048], ['Read_Master_Log_Pos', 'll', 10],
  ['Relay_Log_File', 's', 2048], ['Relay_Log_Pos', 'll', 10], ['Relay_Master_Log_File', 's', 2048],
  ['Slave_IO_Running', 's', 12], ['Slave_SQL_Running', 's', 12], ['Replicate_Do_DB', 's', 80],
  ['Replicate_Ignore_DB', 's', 80], ['Replicate_Do_Table', 's', 80], ['Replicate_Ignore_Table', 's', 92],
  ['Replicate_Wild_Do_Table', 's', 96], ['Replicate_Wild_Ignore_Table', 's', 112], ['Last_Errno', 'l', 4],
  ['Last_Error', 's', 80], ['Skip_Counter', 'l', 10], ['Exec_Master_Log_Pos', 'll', 10], ['Relay_Log_Space', 'll', 10],
  ['Until_Condition', 's', 24], ['Until_Log_File', 's', 2048], ['Until_Log_Pos', 'll', 10],
  ['Master_SSL_Allowed', 's', 28], ['Master_SSL_CA_File', 's', 2048], ['Master_SSL_CA_Path', 's', 2048],
  ['Master_SSL_Cert', 's', 2048], ['Master_SSL_Cipher', 's', 2048], ['Master_SSL_Key', 's', 2048],
  ['Seconds_Behind_Master', 'll', 10], ['Master_SSL_Verify_Server_Cert', 's', 12], ['Last_IO_Errno', 'l', 4],
  ['Last_IO_Error', 's', 80], ['Last_SQL_Errno', 'l', 4], ['Last_SQL_Error', 's', 80],
  ['Replicate_Ignore_Server_Ids', 's', 2048], ['Master_Server_Id', 'l', 8], ['Master_SSL_Crl', 's', 2048],
  ['Master_SSL_Crlpath', 's', 2048], ['Using_Gtid', 's', 44], ['Gtid_IO_Pos', 's', 120],
  ['Replicate_Do_Domain_Ids', 's', 2048], ['Replicate_Ignore_Domain_Ids', 's', 2048], ['Parallel_Mode', 's', 48],
  ['SQL_Delay', 'l', 10], ['SQL_Remaining_Delay', 'l', 8], ['Slave_SQL_Running_State', 's', 80],
  ['Slave_DDL_Groups', 'll', 20], ['Slave_Non_Transactional_Groups', 'll', 20], ['Slave_Transactional_Groups', 'll', 20],
  ['Replicate_Rewrite_DB', 's', 92],
];

/** Extra leading and trailing columns of MariaDB's SHOW ALL SLAVES STATUS. */
const MARIADB_ALL_SLAVES_HEAD: Array<[string, ColKind, number]> = [['Connection_name', 's', 768], ['Slave_SQL_State', 's', 120]];
const MARIADB_ALL_SLAVES_TAIL: Array<[string, ColKind, number]> = [
  ['Retried_transactions', 'l', 10], ['Max_relay_log_size', 'll', 10], ['Executed_log_entries', 'l', 10],
  ['Slave_received_heartbeats', 'l', 10], ['Slave_heartbeat_period', 's', 10], ['Gtid_Slave_Pos', 's', 28],
];

/** MySQL 8.0 SHOW SLAVE STATUS columns; SHOW REPLICA STATUS renames them (see `replicaName`). */
const MYSQL_SLAVE_STATUS: Array<[string, ColKind, number]> = [
  ['Slave_IO_State', 's', 4096], ['Master_Host', 's', 1020], ['Master_User', 's', 384], ['Master_Port', 'l', 7],
  ['Connect_Retry', 'l', 10], ['Master_Log_File', 's', 2048], ['Read_Master_Log_Pos', 'll', 10],
  ['Relay_Log_File', 's', 2048], ['Relay_Log_Pos', 'll', 10], ['Relay_Master_Log_File', 's', 2048],
  ['Slave_IO_Running', 's', 12], ['Slave_SQL_Running', 's', 12], ['Replicate_Do_DB', 's', 80],
  ['Replicate_Ignore_DB', 's', 80], ['Replicate_Do_Table', 's', 80], ['Replicate_Ignore_Table', 's', 92],
  ['Replicate_Wild_Do_Table', 's', 96], ['Replicate_Wild_Ignore_Table', 's', 112], ['Last_Errno', 'l', 4],
  ['Last_Error', 's', 80], ['Skip_Counter', 'l', 10], ['Exec_Master_Log_Pos', 'll', 10], ['Relay_Log_Space', 'll', 10],
  ['Until_Condition', 's', 24], ['Until_Log_File', 's', 2048], ['Until_Log_Pos', 'll', 10],
  ['Master_SSL_Allowed', 's', 28], ['Master_SSL_CA_File', 's', 2048], ['Master_SSL_CA_Path', 's', 2048],
  ['Master_SSL_Cert', 's', 2048], ['Master_SSL_Cipher', 's', 2048], ['Master_SSL_Key', 's', 2048],
  ['Seconds_Behind_Master', 'll', 10], ['Master_SSL_Verify_Server_Cert', 's', 12], ['Last_IO_Errno', 'l', 4],
  ['Last_IO_Error', 's', 80], ['Last_SQL_Errno', 'l', 4], ['Last_SQL_Error', 's', 80],
  ['Replicate_Ignore_Server_Ids', 's', 2048], ['Master_Server_Id', 'l', 10], ['Master_UUID', 's', 144],
  ['Master_Info_File', 's', 2048], ['SQL_Delay', 'l', 10], ['SQL_Remaining_Delay', 'l', 8],
  ['Slave_SQL_Running_State', 's', 80], ['Master_Retry_Count', 'll', 10], ['Master_Bind', 's', 2048],
  ['Last_IO_Error_Timestamp', 's', 80], ['Last_SQL_Error_Timestamp', 's', 80], ['Master_SSL_Crl', 's', 2048],
  ['Master_SSL_Crlpath', 's', 2048], ['Retrieved_Gtid_Set', 's', 4096], ['Executed_Gtid_Set', 's', 4096],
  ['Auto_Position', 'l', 1], ['Replicate_Rewrite_DB', 's', 96], ['Channel_Name', 's', 256],
  ['Master_TLS_Version', 's', 2048], ['Master_public_key_path', 's', 2048], ['Get_master_public_key', 'l', 1],
  ['Network_Namespace', 's', 256],
];

/** SHOW REPLICA STATUS column name for a SHOW SLAVE STATUS name (MySQL 8.0.22+). */
function replicaName(name: string): string {
  const special: Record<string, string> = {
    Slave_IO_State: 'Replica_IO_State',
    Slave_IO_Running: 'Replica_IO_Running',
    Slave_SQL_Running: 'Replica_SQL_Running',
    Slave_SQL_Running_State: 'Replica_SQL_Running_State',
    Relay_Master_Log_File: 'Relay_Source_Log_File',
    Read_Master_Log_Pos: 'Read_Source_Log_Pos',
    Exec_Master_Log_Pos: 'Exec_Source_Log_Pos',
    Seconds_Behind_Master: 'Seconds_Behind_Source',
    Master_Log_File: 'Source_Log_File',
    Get_master_public_key: 'Get_Source_public_key',
    Master_public_key_path: 'Source_public_key_path',
  };
  return special[name] ?? name.replace(/^Master_/, 'Source_');
}

function statusColumn([name, kind, len]: [string, ColKind, number], style: ColumnStyle): ColumnDefinition {
  if (kind === 's') return showStringColumn(name, style, len);
  return showIntColumn(name, len, kind === 'l' ? MYSQL_TYPE_LONG : undefined);
}

function ioRunning(s: SyncerStatus): string {
  if (s.status === 'running') return 'Yes';
  if (s.status === 'connecting') return 'Connecting';
  return 'No';
}

function ioState(s: SyncerStatus, flavor: Flavor): string {
  const who = flavor === 'mysql' ? 'source' : 'master';
  if (s.status === 'running') return `Waiting for ${who} to send event`;
  if (s.status === 'connecting') return `Connecting to ${who}`;
  return '';
}

/** The value of one SHOW SLAVE STATUS column (by its SHOW SLAVE STATUS name) from the syncer status. */
function statusValue(name: string, s: SyncerStatus, flavor: Flavor): TextValue {
  let host = '';
  let port = 0;
  if (s.mysql_addr) {
    try {
      ({ host, port } = parseHostPort(s.mysql_addr, 'mysql_addr'));
    } catch {
      host = s.mysql_addr;
    }
  }
  const active = s.status === 'running' || s.status === 'connecting';
  const errno = s.last_error ? Number(/\b([0-9]{4})\b/.exec(s.last_error.message)?.[1] ?? 2013) : 0;
  const gtids = s.executed_gtid_set;
  switch (name) {
    case 'Slave_IO_State':
    case 'Slave_SQL_State':
      return ioState(s, flavor);
    case 'Master_Host':
      return host;
    case 'Master_User':
      return s.mysql_user ?? '';
    case 'Master_Port':
      return port;
    case 'Connect_Retry':
      return 60;
    case 'Master_Log_File':
    case 'Relay_Master_Log_File':
    case 'Relay_Log_File':
      return s.last_binlog_file ?? '';
    case 'Read_Master_Log_Pos':
    case 'Exec_Master_Log_Pos':
    case 'Relay_Log_Pos':
      return s.last_file_position ?? 0;
    case 'Slave_IO_Running':
      return ioRunning(s);
    case 'Slave_SQL_Running':
      return active ? 'Yes' : 'No';
    case 'Seconds_Behind_Master':
      return s.status === 'running' ? s.seconds_behind_master : null;
    case 'Last_IO_Errno':
      return errno;
    case 'Last_IO_Error':
      return s.last_error?.message ?? '';
    case 'Last_IO_Error_Timestamp':
      return s.last_error?.at ?? '';
    case 'Master_Server_Id':
      return s.master_server_id ?? 0;
    case 'Master_UUID':
      return s.master_server_uuid ?? '';
    case 'Master_SSL_Allowed':
    case 'Master_SSL_Verify_Server_Cert':
      return 'No';
    case 'Until_Condition':
      return 'None';
    case 'Using_Gtid':
      return gtids ? 'Slave_Pos' : 'No';
    case 'Gtid_IO_Pos':
    case 'Gtid_Slave_Pos':
    case 'Retrieved_Gtid_Set':
    case 'Executed_Gtid_Set':
      return gtids;
    case 'Auto_Position':
      return gtids ? 1 : 0;
    case 'Parallel_Mode':
      return 'optimistic';
    case 'Slave_SQL_Running_State':
      return active ? 'Slave has read all relay log; waiting for more updates' : '';
    case 'Slave_heartbeat_period':
      return '30.000';
    case 'Master_Retry_Count':
      return 86400;
    case 'Connection_name':
    case 'Channel_Name':
      return '';
    case 'Slave_received_heartbeats':
      return s.counters.heartbeats_received;
    case 'Slave_Transactional_Groups':
      return s.counters.transactions_stored;
    default:
      return statusDefault(name);
  }
}

function statusDefault(name: string): TextValue {
  const ints = [...MARIADB_SLAVE_STATUS, ...MARIADB_ALL_SLAVES_TAIL, ...MYSQL_SLAVE_STATUS].find(([n]) => n === name);
  if (!ints || ints[1] === 's') return '';
  return name === 'SQL_Remaining_Delay' ? null : 0;
}

/** SHOW SLAVE STATUS (and its variants) from the syncer; no row when the syncer was never configured. */
export function showSlaveStatus(syncer: SyncerStatus | null, style: ColumnStyle, syntax: 'slave' | 'replica' | 'all_slaves'): Rows {
  let spec: Array<[string, ColKind, number]>;
  if (style.flavor === 'mariadb') {
    spec = syntax === 'all_slaves' ? [...MARIADB_ALL_SLAVES_HEAD, ...MARIADB_SLAVE_STATUS, ...MARIADB_ALL_SLAVES_TAIL] : MARIADB_SLAVE_STATUS;
  } else {
    spec = MYSQL_SLAVE_STATUS;
  }
  const rename = style.flavor === 'mysql' && syntax === 'replica';
  const columns = spec.map(([n, k, l]) => statusColumn([rename ? replicaName(n) : n, k, l], style));
  const rows: TextValue[][] = [];
  if (syncer && syncer.mysql_addr) rows.push(spec.map(([n]) => statusValue(n, syncer, style.flavor)));
  return { columns, rows };
}

export function showWarnings(style: ColumnStyle): Rows {
  return {
    columns: [showStringColumn('Level', style, 28), showIntColumn('Code', 4, MYSQL_TYPE_LONG), showStringColumn('Message', style, 2048)],
    rows: [],
  };
}

/** SHOW [FULL] PROCESSLIST (MariaDB adds Progress). Info is cut at 100 characters without FULL. */
export function showProcessList(rows: ProcessRow[], style: ColumnStyle, full: boolean): Rows {
  const columns = [
    showIntColumn('Id', 21),
    showStringColumn('User', style, 512),
    showStringColumn('Host', style, 1044),
    { ...exprColumn('db', 'string', style, 64), flags: 0 },
    showStringColumn('Command', style, 64),
    { ...showIntColumn('Time', 7, MYSQL_TYPE_LONG), flags: 0x0001 | 0x0080 },
    { ...exprColumn('State', 'string', style, 64), flags: 0 },
    { ...exprColumn('Info', 'string', style, 100), flags: 0 },
  ];
  if (style.flavor === 'mariadb') columns.push({ ...exprColumn('Progress', 'decimal', style, 7), decimals: 3 });
  return {
    columns,
    rows: rows.map((r) => {
      const info = r.info !== null && !full ? r.info.slice(0, 100) : r.info;
      const row: TextValue[] = [r.id, r.user, r.host, r.db, r.command, r.time, r.state, info];
      if (style.flavor === 'mariadb') row.push('0.000');
      return row;
    }),
  };
}
