/**
 * Wire constants of the MySQL client/server protocol, with the servers' own names so they can be grepped
 * against mysql-server and MariaDB sources (include/mysql_com.h, include/my_command.h).
 */

/** Capability flags (mysql_com.h). */
export const CLIENT_LONG_PASSWORD = 0x00000001; // MariaDB: CLIENT_MYSQL
export const CLIENT_FOUND_ROWS = 0x00000002;
export const CLIENT_LONG_FLAG = 0x00000004;
export const CLIENT_CONNECT_WITH_DB = 0x00000008;
export const CLIENT_NO_SCHEMA = 0x00000010;
export const CLIENT_COMPRESS = 0x00000020;
export const CLIENT_ODBC = 0x00000040;
export const CLIENT_LOCAL_FILES = 0x00000080;
export const CLIENT_IGNORE_SPACE = 0x00000100;
export const CLIENT_PROTOCOL_41 = 0x00000200;
export const CLIENT_INTERACTIVE = 0x00000400;
export const CLIENT_SSL = 0x00000800;
export const CLIENT_IGNORE_SIGPIPE = 0x00001000;
export const CLIENT_TRANSACTIONS = 0x00002000;
export const CLIENT_RESERVED = 0x00004000;
export const CLIENT_SECURE_CONNECTION = 0x00008000; // RESERVED2
export const CLIENT_MULTI_STATEMENTS = 0x00010000;
export const CLIENT_MULTI_RESULTS = 0x00020000;
export const CLIENT_PS_MULTI_RESULTS = 0x00040000;
export const CLIENT_PLUGIN_AUTH = 0x00080000;
export const CLIENT_CONNECT_ATTRS = 0x00100000;
export const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x00200000;
export const CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 0x00400000;
export const CLIENT_SESSION_TRACK = 0x00800000;
export const CLIENT_DEPRECATE_EOF = 0x01000000;
export const CLIENT_OPTIONAL_RESULTSET_METADATA = 0x02000000;
export const CLIENT_ZSTD_COMPRESSION_ALGORITHM = 0x04000000;
export const CLIENT_QUERY_ATTRIBUTES = 0x08000000;
export const MULTI_FACTOR_AUTHENTICATION = 0x10000000;
export const CLIENT_CAPABILITY_EXTENSION = 0x20000000;
export const CLIENT_SSL_VERIFY_SERVER_CERT = 0x40000000;
export const CLIENT_REMEMBER_OPTIONS = 0x80000000;

/** Server status flags (OK/EOF packets). */
export const SERVER_STATUS_IN_TRANS = 0x0001;
export const SERVER_STATUS_AUTOCOMMIT = 0x0002;
export const SERVER_MORE_RESULTS_EXISTS = 0x0008;
export const SERVER_SESSION_STATE_CHANGED = 0x4000;

/** Commands (my_command.h). */
export const COM_SLEEP = 0x00;
export const COM_QUIT = 0x01;
export const COM_INIT_DB = 0x02;
export const COM_QUERY = 0x03;
export const COM_FIELD_LIST = 0x04;
export const COM_STATISTICS = 0x09;
export const COM_PROCESS_KILL = 0x0c;
export const COM_PING = 0x0e;
export const COM_BINLOG_DUMP = 0x12;
export const COM_REGISTER_SLAVE = 0x15;
export const COM_SET_OPTION = 0x1b;
export const COM_BINLOG_DUMP_GTID = 0x1e;
export const COM_RESET_CONNECTION = 0x1f;

/** COM_BINLOG_DUMP / COM_BINLOG_DUMP_GTID flags. */
export const BINLOG_DUMP_NON_BLOCK = 0x0001;
/** MySQL 8.0.26+: the replica understands HEARTBEAT_LOG_EVENT_V2. */
export const USE_HEARTBEAT_EVENT_V2 = 0x0002;
/** MariaDB: the same bit asks for ANNOTATE_ROWS events. */
export const BINLOG_SEND_ANNOTATE_ROWS_EVENT = 0x0002;
export const BINLOG_THROUGH_POSITION = 0x0002;
export const BINLOG_THROUGH_GTID = 0x0004;

/** Packet headers. */
export const OK_HEADER = 0x00;
export const EOF_HEADER = 0xfe;
export const ERR_HEADER = 0xff;
export const AUTH_SWITCH_HEADER = 0xfe;
export const AUTH_MORE_DATA_HEADER = 0x01;
export const LOCAL_INFILE_HEADER = 0xfb;

/** Semi-sync framing (§5). */
export const SEMI_SYNC_MAGIC = 0xef;
export const SEMI_SYNC_FLAG_NEED_ACK = 0x01;

/** Largest payload of one physical packet; longer payloads are split (§1.1). */
export const MAX_PACKET_PAYLOAD = 0xffffff;

/** Collation ids. */
export const UTF8_GENERAL_CI = 33;
export const UTF8MB4_GENERAL_CI = 45;
export const BINARY_COLLATION = 63;
export const UTF8MB4_0900_AI_CI = 255;

/** Column types used in text result sets. */
export const MYSQL_TYPE_LONGLONG = 0x08;
export const MYSQL_TYPE_VARCHAR = 0x0f;
export const MYSQL_TYPE_VAR_STRING = 0xfd;
export const MYSQL_TYPE_STRING = 0xfe;

/** Column flags. */
export const NOT_NULL_FLAG = 0x0001;
export const UNSIGNED_FLAG = 0x0020;
export const BINARY_FLAG = 0x0080;

/** Authentication plugin names. */
export const MYSQL_NATIVE_PASSWORD = 'mysql_native_password';
export const CACHING_SHA2_PASSWORD = 'caching_sha2_password';

/** caching_sha2_password AuthMoreData status bytes. */
export const CACHING_SHA2_REQUEST_PUBLIC_KEY = 0x02;
export const CACHING_SHA2_FAST_AUTH_SUCCESS = 0x03;
export const CACHING_SHA2_PERFORM_FULL_AUTHENTICATION = 0x04;

/** Server error numbers and SQLSTATEs we send or expect. */
export const ER_ACCESS_DENIED_ERROR = 1045; // 28000
export const ER_UNKNOWN_COM_ERROR = 1047; // 08S01
export const ER_PARSE_ERROR = 1064; // 42000
export const ER_NO_SUCH_THREAD = 1094; // HY000
export const ER_UNKNOWN_SYSTEM_VARIABLE = 1193; // HY000
export const ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236; // HY000
export const ER_NET_PACKETS_OUT_OF_ORDER = 1156; // 08S01
export const ER_MALFORMED_PACKET = 1835; // HY000
export const ER_HOST_IS_BLOCKED = 1129; // HY000
