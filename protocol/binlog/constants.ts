/**
 * Binlog event constants with the servers' own names (libbinlogevents binlog_event.h, MariaDB log_event.h).
 */

export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]); // "\xfebin"
export const BINLOG_MAGIC_SIZE = 4;
export const LOG_EVENT_HEADER_LEN = 19;
export const BINLOG_CHECKSUM_LEN = 4;

/** Event type codes (§4.4). */
export const UNKNOWN_EVENT = 0;
export const START_EVENT_V3 = 1;
export const QUERY_EVENT = 2;
export const STOP_EVENT = 3;
export const ROTATE_EVENT = 4;
export const INTVAR_EVENT = 5;
export const LOAD_EVENT = 6;
export const SLAVE_EVENT = 7;
export const CREATE_FILE_EVENT = 8;
export const APPEND_BLOCK_EVENT = 9;
export const EXEC_LOAD_EVENT = 10;
export const DELETE_FILE_EVENT = 11;
export const NEW_LOAD_EVENT = 12;
export const RAND_EVENT = 13;
export const USER_VAR_EVENT = 14;
export const FORMAT_DESCRIPTION_EVENT = 15;
export const XID_EVENT = 16;
export const BEGIN_LOAD_QUERY_EVENT = 17;
export const EXECUTE_LOAD_QUERY_EVENT = 18;
export const TABLE_MAP_EVENT = 19;
export const WRITE_ROWS_EVENT_V0 = 20;
export const UPDATE_ROWS_EVENT_V0 = 21;
export const DELETE_ROWS_EVENT_V0 = 22;
export const WRITE_ROWS_EVENT_V1 = 23;
export const UPDATE_ROWS_EVENT_V1 = 24;
export const DELETE_ROWS_EVENT_V1 = 25;
export const INCIDENT_EVENT = 26;
export const HEARTBEAT_LOG_EVENT = 27;
export const IGNORABLE_LOG_EVENT = 28;
export const ROWS_QUERY_LOG_EVENT = 29;
export const WRITE_ROWS_EVENT = 30;
export const UPDATE_ROWS_EVENT = 31;
export const DELETE_ROWS_EVENT = 32;
export const GTID_LOG_EVENT = 33;
export const ANONYMOUS_GTID_LOG_EVENT = 34;
export const PREVIOUS_GTIDS_LOG_EVENT = 35;
export const TRANSACTION_CONTEXT_EVENT = 36;
export const VIEW_CHANGE_EVENT = 37;
export const XA_PREPARE_LOG_EVENT = 38;
export const PARTIAL_UPDATE_ROWS_EVENT = 39;
export const TRANSACTION_PAYLOAD_EVENT = 40;
export const HEARTBEAT_LOG_EVENT_V2 = 41;
export const GTID_TAGGED_LOG_EVENT = 42;

/** MariaDB event type codes. */
export const ANNOTATE_ROWS_EVENT = 160;
export const BINLOG_CHECKPOINT_EVENT = 161;
export const MARIADB_GTID_EVENT = 162;
export const MARIADB_GTID_LIST_EVENT = 163;
export const START_ENCRYPTION_EVENT = 164;
export const QUERY_COMPRESSED_EVENT = 165;
export const WRITE_ROWS_COMPRESSED_EVENT_V1 = 166;
export const UPDATE_ROWS_COMPRESSED_EVENT_V1 = 167;
export const DELETE_ROWS_COMPRESSED_EVENT_V1 = 168;
export const WRITE_ROWS_COMPRESSED_EVENT = 169;
export const UPDATE_ROWS_COMPRESSED_EVENT = 170;
export const DELETE_ROWS_COMPRESSED_EVENT = 171;

/** Common-header flags (§4.1). */
export const LOG_EVENT_BINLOG_IN_USE_F = 0x0001;
export const LOG_EVENT_FORCED_ROTATE_F = 0x0002;
export const LOG_EVENT_THREAD_SPECIFIC_F = 0x0004;
export const LOG_EVENT_SUPPRESS_USE_F = 0x0008;
export const LOG_EVENT_UPDATE_TABLE_MAP_VERSION_F = 0x0010;
export const LOG_EVENT_ARTIFICIAL_F = 0x0020;
export const LOG_EVENT_RELAY_LOG_F = 0x0040;
export const LOG_EVENT_IGNORABLE_F = 0x0080;
export const LOG_EVENT_NO_FILTER_F = 0x0100;
export const LOG_EVENT_MTS_ISOLATE_F = 0x0200;
export const LOG_EVENT_SKIP_REPLICATION_F = 0x8000;

/** Checksum algorithms (FDE trailer byte). */
export const BINLOG_CHECKSUM_ALG_OFF = 0;
export const BINLOG_CHECKSUM_ALG_CRC32 = 1;
export const BINLOG_CHECKSUM_ALG_UNDEF = 0xff;

/** MariaDB GTID_EVENT flags2. */
export const FL_STANDALONE = 0x01;
export const FL_GROUP_COMMIT_ID = 0x02;
export const FL_TRANSACTIONAL = 0x04;
export const FL_ALLOW_PARALLEL = 0x08;
export const FL_WAITED = 0x10;
export const FL_DDL = 0x20;
export const FL_PREPARED_XA = 0x40;
export const FL_COMPLETED_XA = 0x80;

/** MariaDB GTID_EVENT flags_extra (10.5+). */
export const FL_EXTRA_MULTI_ENGINE_E1 = 0x01;
export const FL_START_ALTER_E1 = 0x02;
export const FL_COMMIT_ALTER_E1 = 0x04;
export const FL_ROLLBACK_ALTER_E1 = 0x08;

/** MariaDB GTID_LIST count-word flags. */
export const GTID_LIST_FLAG_UNTIL_REACHED = 1 << 28;
export const GTID_LIST_FLAG_IGN_GTIDS = 1 << 29;

/** MariaDB @mariadb_slave_capability values. */
export const MARIA_SLAVE_CAPABILITY_UNKNOWN = 0;
export const MARIA_SLAVE_CAPABILITY_ANNOTATE = 1;
export const MARIA_SLAVE_CAPABILITY_TOLERATE_HOLES = 2;
export const MARIA_SLAVE_CAPABILITY_BINLOG_CHECKPOINT = 3;
export const MARIA_SLAVE_CAPABILITY_GTID = 4;
