import { describe, expect, it } from 'vitest';
import {
  BINARY_COLLATION,
  MYSQL_TYPE_LONGLONG,
  MYSQL_TYPE_VAR_STRING,
  UNSIGNED_FLAG,
} from '../../../protocol/constants.js';
import type { Flavor } from '../../../src/server/dump/types.js';
import { SqlError } from '../../../src/server/errors.js';
import { faceFor } from '../../../src/server/flavor.js';
import { StaticSourceView, type StaticSourceInit } from '../../../src/server/source.js';
import { routeQuery, type SqlContext, type SqlReply } from '../../../src/server/sql/router.js';
import { MYSQL_TYPE_LONG, MYSQL_TYPE_NULL, type SqlValue } from '../../../src/server/sql/values.js';
import { catalogueFor } from '../../../src/server/variables.js';
import type { SyncerStatus } from '../../../src/syncer/types.js';
import type { RegisteredSlave } from '../../../src/server/registry.js';

const MARIADB: StaticSourceInit = {
  flavor: 'mariadb',
  serverVersion: '10.11.6-MariaDB-log',
  binlogChecksum: 'CRC32',
  files: [
    { name: 'bin.000001', size: 1234 },
    { name: 'bin.000002', size: 5678 },
  ],
  mariadbGtidBinlogPos: '0-1-42',
  gtidPositions: { 'bin.000002:4': '0-1-40' },
};

const MYSQL: StaticSourceInit = {
  flavor: 'mysql',
  serverVersion: '8.0.45',
  binlogChecksum: 'CRC32',
  files: [{ name: 'binlog.000007', size: 4242 }],
  gtidExecuted: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57',
  gtidPurged: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5',
};

interface TestCtx extends SqlContext {
  killed: Array<[number, string]>;
  collation: number;
}

function ctxFor(flavor: Flavor, opts: { source?: StaticSourceInit; syncer?: SyncerStatus | null; slaves?: Array<RegisteredSlave & { replicaUuid: string | null }>; semiSync?: boolean } = {}): TestCtx {
  const face = faceFor(flavor, flavor === 'mysql' ? '8.0.45' : '10.11.6-MariaDB-log');
  const source = new StaticSourceView(opts.source ?? (flavor === 'mysql' ? MYSQL : MARIADB));
  const userVars = new Map<string, SqlValue>();
  const sessionVars = new Map<string, SqlValue>();
  const ctx: TestCtx = {
    killed: [],
    collation: face.collation,
    flavor,
    facts: {
      flavor,
      version: face.version,
      identity: { serverId: 9001, serverUuid: '5d4c3b2a-1f0e-4d3c-8b7a-0123456789ab' },
      source,
      hostname: 'proxyhost',
      port: 3307,
      semiSync: opts.semiSync ?? true,
      tls: true,
      maxAllowedPacket: 16 * 1024 * 1024,
      waitTimeout: 28800,
      systemTimeZone: 'UTC',
      compileOs: 'Linux',
      compileMachine: 'x86_64',
    },
    catalogue: catalogueFor(flavor),
    source,
    connectionId: 17,
    user: 'repl',
    host: '10.0.0.5',
    database: null,
    userVars,
    sessionVars,
    now: () => 1_700_000_123_456,
    style: { flavor, resultCollation: face.collation },
    setDatabase(db) {
      ctx.database = db;
    },
    setResultCollation(c) {
      ctx.collation = c;
      ctx.style = { ...ctx.style, resultCollation: c };
    },
    registeredSlaves: () => opts.slaves ?? [],
    processList: () => [
      { id: 17, user: 'repl', host: '10.0.0.5:5000', db: null, command: 'Query', time: 0, state: 'starting', info: 'SHOW PROCESSLIST' },
      { id: 23, user: 'repl', host: '10.0.0.6:5001', db: null, command: 'Binlog Dump', time: 42, state: 'Master has sent all binlog to slave; waiting for more updates', info: null },
    ],
    syncerStatus: () => opts.syncer ?? null,
    statusFacts: () => ({ flavor, uptimeSeconds: 77, threadsConnected: 3, dumpingReplicas: 1, semiSyncClients: 0, semiSync: true }),
    kill(id, what) {
      if (id !== 23) return 'unknown';
      ctx.killed.push([id, what]);
      return 'ok';
    },
  };
  return ctx;
}

type Rows = Extract<SqlReply, { kind: 'rows' }>;

async function rows(sql: string, ctx: SqlContext): Promise<Rows> {
  const r = await routeQuery(sql, ctx);
  if (r.kind !== 'rows') throw new Error(`expected rows for ${sql}, got ${r.kind}`);
  return r;
}

async function ok(sql: string, ctx: SqlContext): Promise<void> {
  const r = await routeQuery(sql, ctx);
  expect(r.kind, sql).toBe('ok');
}

async function sqlError(sql: string, ctx: SqlContext): Promise<SqlError> {
  try {
    const r = await routeQuery(sql, ctx);
    if (r.kind === 'forward') return r.error;
  } catch (e) {
    if (e instanceof SqlError) return e;
    throw e;
  }
  throw new Error(`expected an error for ${sql}`);
}

function textOf(r: Rows): Array<Array<string | null>> {
  return r.rows.map((row) => row.map((v) => (v === null ? null : typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString() : String(v))));
}

describe('the MySQL 8.0/8.4 replica IO thread sequence (§2.1)', () => {
  it('answers every statement as a replica expects', async () => {
    const ctx = ctxFor('mysql');
    await ok('SET NAMES utf8mb4', ctx);

    const ts = await rows('SELECT UNIX_TIMESTAMP()', ctx);
    expect(ts.columns.map((c) => [c.name, c.type])).toEqual([['UNIX_TIMESTAMP()', MYSQL_TYPE_LONGLONG]]);
    expect(ts.rows).toEqual([[1_700_000_123n]]);

    const id = await rows('SELECT @@GLOBAL.SERVER_ID', ctx);
    expect(id.columns[0]).toMatchObject({ name: '@@GLOBAL.SERVER_ID', type: MYSQL_TYPE_LONGLONG, characterSet: BINARY_COLLATION });
    expect(id.columns[0]!.flags & UNSIGNED_FLAG).toBe(UNSIGNED_FLAG);
    expect(id.rows).toEqual([[9001n]]);

    await ok('SET @master_heartbeat_period = 30000001024, @source_heartbeat_period = 30000001024', ctx);
    await ok('SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum', ctx);
    expect(ctx.userVars.get('source_binlog_checksum')).toBe('CRC32');
    expect(ctx.userVars.get('master_heartbeat_period')).toBe(30000001024n);

    const ck = await rows('SELECT @source_binlog_checksum', ctx);
    expect(ck.columns[0]!.name).toBe('@source_binlog_checksum');
    expect(textOf(ck)).toEqual([['CRC32']]);

    expect(textOf(await rows('SELECT @@GLOBAL.GTID_MODE', ctx))).toEqual([['ON']]);
    const uuid = await rows('SELECT @@GLOBAL.SERVER_UUID', ctx);
    expect(uuid.columns[0]).toMatchObject({ name: '@@GLOBAL.SERVER_UUID', type: MYSQL_TYPE_VAR_STRING });
    expect(textOf(uuid)).toEqual([['5d4c3b2a-1f0e-4d3c-8b7a-0123456789ab']]);

    await ok("SET @slave_uuid = 'f8c09b6f-6342-11ec-9e68-000c2943eee1', @replica_uuid = 'f8c09b6f-6342-11ec-9e68-000c2943eee1'", ctx);
    expect(ctx.userVars.get('replica_uuid')).toBe('f8c09b6f-6342-11ec-9e68-000c2943eee1');

    // semi-sync hook
    expect(textOf(await rows('SELECT @@global.rpl_semi_sync_source_enabled', ctx))).toEqual([['1']]);
    await ok('SET @rpl_semi_sync_replica = 1, @rpl_semi_sync_slave = 1', ctx);
  });

  it('reports gtid_mode OFF for a binlog without GTIDs, and 1193 for variables MySQL does not have', async () => {
    const ctx = ctxFor('mysql', { source: { ...MYSQL, gtidExecuted: '', gtidPurged: '' } });
    expect(textOf(await rows('SELECT @@GLOBAL.GTID_MODE', ctx))).toEqual([['OFF']]);
    const e = await sqlError('SELECT @@GLOBAL.gtid_domain_id', ctx);
    expect([e.errno, e.sqlState, e.message]).toEqual([1193, 'HY000', "Unknown system variable 'gtid_domain_id'"]);
  });

  it('declines semi-sync with 1193 on both probes when it is not offered... and still answers ON/OFF honestly', async () => {
    const ctx = ctxFor('mysql', { semiSync: false });
    expect(textOf(await rows('SELECT @@global.rpl_semi_sync_source_enabled', ctx))).toEqual([['0']]);
  });
});

describe('the MariaDB replica sequence (§2.2)', () => {
  it('answers every statement as a replica expects', async () => {
    const ctx = ctxFor('mariadb');
    expect((await rows('SELECT UNIX_TIMESTAMP()', ctx)).rows).toEqual([[1_700_000_123n]]);

    const sid = await rows("SHOW VARIABLES LIKE 'SERVER_ID'", ctx);
    expect(sid.columns.map((c) => [c.name, c.orgName, c.type])).toEqual([
      ['Variable_name', 'VARIABLE_NAME', MYSQL_TYPE_VAR_STRING],
      ['Value', 'VARIABLE_VALUE', MYSQL_TYPE_VAR_STRING],
    ]);
    expect(textOf(sid)).toEqual([['server_id', '9001']]);

    await ok('SET @master_heartbeat_period= 30000000000', ctx);
    await ok('SET @master_binlog_checksum= @@global.binlog_checksum', ctx);
    expect(textOf(await rows('SELECT @master_binlog_checksum', ctx))).toEqual([['CRC32']]);
    await ok('SET skip_replication=1', ctx);
    expect(ctx.sessionVars.get('skip_replication')).toBe(1n);
    await ok('SET @mariadb_slave_capability=4', ctx);

    const dom = await rows('SELECT @@GLOBAL.gtid_domain_id', ctx);
    expect(dom.columns[0]!.name).toBe('@@GLOBAL.gtid_domain_id');
    expect(dom.rows).toEqual([[0n]]);
    await ok("SET @slave_connect_state='0-1-100,1-2-7'", ctx);
    await ok('SET @slave_gtid_strict_mode=1', ctx);
    await ok('SET @slave_gtid_ignore_duplicates=0', ctx);
    expect(ctx.userVars.get('slave_connect_state')).toBe('0-1-100,1-2-7');

    const pos = await rows("SELECT binlog_gtid_pos('bin.000002',4)", ctx);
    expect(pos.columns[0]!.name).toBe("binlog_gtid_pos('bin.000002',4)");
    expect(textOf(pos)).toEqual([['0-1-40']]);
    expect(textOf(await rows("SELECT binlog_gtid_pos('nope.000001', 4)", ctx))).toEqual([[null]]);

    const semi = await rows("SHOW VARIABLES LIKE 'rpl_semi_sync_master_enabled'", ctx);
    expect(textOf(semi)).toEqual([['rpl_semi_sync_master_enabled', 'ON']]);
    await ok('SET @rpl_semi_sync_slave= 1', ctx);
  });

  it('greets with the 5.5.5- prefix for 10.x and none for 11.x, and VERSION() never has it', async () => {
    expect(faceFor('mariadb', '10.11.6-MariaDB-log')).toMatchObject({ greeting: '5.5.5-10.11.6-MariaDB-binlog-proxy', version: '10.11.6-MariaDB-binlog-proxy', collation: 45, plugin: 'mysql_native_password' });
    expect(faceFor('mariadb', '11.4.3-MariaDB')).toMatchObject({ greeting: '11.4.3-MariaDB-binlog-proxy', version: '11.4.3-MariaDB-binlog-proxy' });
    expect(faceFor('mysql', '8.0.45')).toMatchObject({ greeting: '8.0.45-binlog-proxy', collation: 255, plugin: 'caching_sha2_password' });
    expect(faceFor('mysql', '5.7.23-log')).toMatchObject({ greeting: '5.7.23-binlog-proxy' });
    expect(faceFor('mariadb', null).greeting).toBe('5.5.5-10.11.10-MariaDB-binlog-proxy');
    const ctx = ctxFor('mariadb');
    expect(textOf(await rows('SELECT VERSION()', ctx))).toEqual([['10.11.6-MariaDB-binlog-proxy']]);
  });
});

describe('library clients (§2.4)', () => {
  it('canal: set wait_timeout, names binary, uuid(), capability as a string', async () => {
    const ctx = ctxFor('mysql');
    await ok('set wait_timeout=9999999', ctx);
    await ok('set net_write_timeout=1800', ctx);
    await ok('set net_read_timeout=1800', ctx);
    await ok("set names 'binary'", ctx);
    expect(ctx.collation).toBe(63);
    await ok('set @master_binlog_checksum= @@global.binlog_checksum', ctx);
    await ok('set @slave_uuid=uuid()', ctx);
    expect(String(ctx.userVars.get('slave_uuid'))).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    await ok("SET @mariadb_slave_capability='4'", ctx);
    expect(textOf(await rows('select @master_binlog_checksum', ctx))).toEqual([['CRC32']]);
    expect(textOf(await rows("show variables like 'binlog_format'", ctx))).toEqual([['binlog_format', 'ROW']]);
    expect(textOf(await rows("show variables like 'binlog_row_image'", ctx))).toEqual([['binlog_row_image', 'FULL']]);
    expect(textOf(await rows('SELECT @@wait_timeout, @@global.wait_timeout', ctx))).toEqual([['9999999', '28800']]);
  });

  it('go-mysql: SHOW VARIABLES WHERE Variable_name IN (...), SET lists with trailing semicolon', async () => {
    const ctx = ctxFor('mysql');
    const r = await rows("SHOW VARIABLES WHERE Variable_name IN ('rpl_semi_sync_master_enabled', 'rpl_semi_sync_source_enabled')", ctx);
    expect(textOf(r)).toEqual([
      ['rpl_semi_sync_master_enabled', 'ON'],
      ['rpl_semi_sync_source_enabled', 'ON'],
    ]);
    await ok('SET @rpl_semi_sync_slave = 1, @rpl_semi_sync_replica = 1;', ctx);
    await ok("SET @master_binlog_checksum='NONE', @source_binlog_checksum='NONE'", ctx);
    await ok('SET @master_heartbeat_period = 1000000000, @source_heartbeat_period = 1000000000', ctx);
    expect(textOf(await rows("SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'", ctx))).toEqual([['binlog_checksum', 'CRC32']]);
    expect(textOf(await rows('SELECT @@GLOBAL.GTID_EXECUTED', ctx))).toEqual([['3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57']]);
    expect(textOf(await rows("SHOW VARIABLES WHERE Variable_name = 'gtid_purged' OR Value = 'ROW'", ctx))).toEqual([
      ['binlog_format', 'ROW'],
      ['gtid_purged', '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'],
    ]);
  });

  it('zongji, Debezium, python-mysql-replication probes', async () => {
    const ctx = ctxFor('mysql');
    const z = await rows('select @@GLOBAL.binlog_checksum as checksum', ctx);
    expect(z.columns[0]!.name).toBe('checksum');
    expect(textOf(z)).toEqual([['CRC32']]);
    expect(textOf(await rows('SELECT 1', ctx))).toEqual([['1']]);
    expect(textOf(await rows('select @@server_id', ctx))).toEqual([['9001']]);
    expect(textOf(await rows("show global variables like 'gtid_purged'", ctx))).toEqual([['gtid_purged', '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5']]);
    expect(textOf(await rows("SHOW VARIABLES LIKE 'BINLOG_ROW_METADATA';", ctx))).toEqual([['binlog_row_metadata', 'MINIMAL']]);
    expect(textOf(await rows("SELECT GTID_SUBTRACT('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57', @@GLOBAL.gtid_purged)", ctx))).toEqual([
      ['3e11fa47-71ca-11e1-9e33-c80aa9429562:6-57'],
    ]);
    expect(textOf(await rows("SELECT GTID_SUBSET(@@GLOBAL.gtid_purged, '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10')", ctx))).toEqual([['1']]);
  });

  it('the discovery probe reads hostname, port, read_only, log_bin and the slave status', async () => {
    const ctx = ctxFor('mariadb', {
      syncer: {
        status: 'running',
        mysql_addr: '10.1.2.3:3306',
        mysql_user: 'repl',
        syncer_id: 1001,
        syncer_uuid: null,
        semi_sync: false,
        flavor: 'mariadb',
        master_server_id: 1,
        master_server_uuid: null,
        master_version: '10.11.6-MariaDB-log',
        executed_gtid_set: '0-1-42',
        purged_gtid_set: '',
        current_gtid: '0-1-42',
        last_binlog_file: 'bin.000002',
        last_file_position: 5678,
        seconds_behind_master: 0,
        last_error: null,
        counters: { events_received: 1, bytes_received: 1, transactions_stored: 5, heartbeats_received: 2, reconnects: 0, checksum_errors: 0 },
      },
    });
    const r = await rows('SELECT @@global.hostname, @@global.port, @@global.read_only, @@global.log_bin, @@global.server_id', ctx);
    expect(r.rows).toEqual([['proxyhost', 3307n, 1n, 1n, 9001n]]);
    const st = await rows('SHOW SLAVE STATUS', ctx);
    expect(st.columns).toHaveLength(54);
    const row = Object.fromEntries(st.columns.map((c, i) => [c.name, st.rows[0]![i]]));
    expect(row).toMatchObject({
      Master_Host: '10.1.2.3',
      Master_Port: 3306,
      Master_User: 'repl',
      Master_Log_File: 'bin.000002',
      Read_Master_Log_Pos: 5678,
      Slave_IO_Running: 'Yes',
      Slave_SQL_Running: 'Yes',
      Seconds_Behind_Master: 0,
      Using_Gtid: 'Slave_Pos',
      Gtid_IO_Pos: '0-1-42',
      Master_Server_Id: 1,
    });
    const all = await rows('SHOW ALL SLAVES STATUS', ctx);
    expect(all.columns.slice(0, 2).map((c) => c.name)).toEqual(['Connection_name', 'Slave_SQL_State']);
    expect(all.columns.at(-1)!.name).toBe('Gtid_Slave_Pos');
    expect((await rows('SHOW SLAVE STATUS', ctxFor('mariadb'))).rows).toEqual([]);
  });

  it('SHOW REPLICA STATUS renames the columns for MySQL', async () => {
    const r = await rows('SHOW REPLICA STATUS', ctxFor('mysql'));
    const names = r.columns.map((c) => c.name);
    expect(names.slice(0, 4)).toEqual(['Replica_IO_State', 'Source_Host', 'Source_User', 'Source_Port']);
    expect(names).toContain('Seconds_Behind_Source');
    expect(names).toContain('Read_Source_Log_Pos');
    expect(names).toContain('Executed_Gtid_Set');
    expect(r.rows).toEqual([]);
  });
});

describe('replication SHOW statements (§2.5)', () => {
  it('SHOW MASTER STATUS / BINARY LOG STATUS / BINLOG STATUS per flavour', async () => {
    const m = await rows('SHOW MASTER STATUS', ctxFor('mariadb'));
    expect(m.columns.map((c) => [c.name, c.type])).toEqual([
      ['File', MYSQL_TYPE_VAR_STRING],
      ['Position', MYSQL_TYPE_LONGLONG],
      ['Binlog_Do_DB', MYSQL_TYPE_VAR_STRING],
      ['Binlog_Ignore_DB', MYSQL_TYPE_VAR_STRING],
    ]);
    expect(m.rows).toEqual([['bin.000002', 5678, '', '']]);
    expect((await rows('SHOW BINLOG STATUS', ctxFor('mariadb'))).rows).toEqual(m.rows);
    const y = await rows('SHOW BINARY LOG STATUS', ctxFor('mysql'));
    expect(y.columns.map((c) => c.name)).toEqual(['File', 'Position', 'Binlog_Do_DB', 'Binlog_Ignore_DB', 'Executed_Gtid_Set']);
    expect(y.rows).toEqual([['binlog.000007', 4242, '', '', '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57']]);
    expect((await rows('SHOW MASTER STATUS', ctxFor('mysql', { source: { flavor: 'mysql' } }))).rows).toEqual([]);
  });

  it('SHOW BINARY LOGS / MASTER LOGS', async () => {
    const m = await rows('SHOW BINARY LOGS', ctxFor('mariadb'));
    expect(m.columns.map((c) => [c.name, c.type])).toEqual([
      ['Log_name', MYSQL_TYPE_VAR_STRING],
      ['File_size', MYSQL_TYPE_LONGLONG],
    ]);
    expect(m.rows).toEqual([
      ['bin.000001', 1234],
      ['bin.000002', 5678],
    ]);
    const y = await rows('SHOW MASTER LOGS', ctxFor('mysql'));
    expect(y.columns.map((c) => c.name)).toEqual(['Log_name', 'File_size', 'Encrypted']);
    expect(y.rows).toEqual([['binlog.000007', 4242, 'No']]);
  });

  it('SHOW SLAVE HOSTS / SHOW REPLICAS list registered replicas with our id as the master id', async () => {
    const slaves = [{ serverId: 12, host: 'replica1', port: 3306, rank: 0, masterId: 0, replicaUuid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' }];
    const m = await rows('SHOW SLAVE HOSTS', ctxFor('mariadb', { slaves }));
    expect(m.columns.map((c) => [c.name, c.type])).toEqual([
      ['Server_id', MYSQL_TYPE_LONG],
      ['Host', MYSQL_TYPE_VAR_STRING],
      ['Port', MYSQL_TYPE_LONG],
      ['Master_id', MYSQL_TYPE_LONG],
    ]);
    expect(m.rows).toEqual([[12, 'replica1', 3306, 9001]]);
    const y = await rows('SHOW REPLICAS', ctxFor('mysql', { slaves }));
    expect(y.columns.map((c) => c.name)).toEqual(['Server_Id', 'Host', 'Port', 'Source_Id', 'Replica_UUID']);
    expect(y.rows).toEqual([[12, 'replica1', 3306, 9001, 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee']]);
  });

  it('SHOW PROCESSLIST lists our own connections; information_schema.PROCESSLIST is never forwarded', async () => {
    const m = await rows('SHOW FULL PROCESSLIST', ctxFor('mariadb'));
    expect(m.columns.map((c) => c.name)).toEqual(['Id', 'User', 'Host', 'db', 'Command', 'Time', 'State', 'Info', 'Progress']);
    expect(m.rows[1]).toEqual([23, 'repl', '10.0.0.6:5001', null, 'Binlog Dump', 42, 'Master has sent all binlog to slave; waiting for more updates', null, '0.000']);
    expect((await rows('SHOW PROCESSLIST', ctxFor('mysql'))).columns).toHaveLength(8);
    const f = await routeQuery("SELECT ID, USER, HOST, COMMAND, TIME, STATE FROM information_schema.PROCESSLIST WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID')", ctxFor('mysql'));
    expect(f).toMatchObject({ kind: 'forward', readOnly: false });
  });

  it('SHOW STATUS, SHOW WARNINGS and SHOW COUNT(*) WARNINGS', async () => {
    const ctx = ctxFor('mariadb');
    expect(textOf(await rows("SHOW GLOBAL STATUS LIKE 'Uptime'", ctx))).toEqual([['Uptime', '77']]);
    expect(textOf(await rows("SHOW STATUS LIKE 'Rpl_semi_sync_master_status'", ctx))).toEqual([['Rpl_semi_sync_master_status', 'ON']]);
    const w = await rows('SHOW WARNINGS', ctx);
    expect(w.columns.map((c) => c.name)).toEqual(['Level', 'Code', 'Message']);
    expect(w.rows).toEqual([]);
    expect((await rows('SHOW COUNT(*) WARNINGS', ctx)).columns[0]!.name).toBe('@@session.warning_count');
  });
});

describe('SET and SELECT semantics', () => {
  it('keeps session values of session variables and refuses global or read-only ones', async () => {
    const ctx = ctxFor('mysql');
    await ok('SET @@session.net_read_timeout = 600', ctx);
    expect(textOf(await rows('SELECT @@net_read_timeout, @@session.net_read_timeout, @@global.net_read_timeout', ctx))).toEqual([['600', '600', '30']]);
    expect(textOf(await rows("SHOW SESSION VARIABLES LIKE 'net_read%'", ctx))).toEqual([['net_read_timeout', '600']]);
    expect(textOf(await rows("SHOW GLOBAL VARIABLES LIKE 'net_read%'", ctx))).toEqual([['net_read_timeout', '30']]);
    await ok('SET net_read_timeout = DEFAULT', ctx);
    expect(textOf(await rows('SELECT @@net_read_timeout', ctx))).toEqual([['30']]);

    const g = await sqlError('SET GLOBAL server_id = 5', ctx);
    expect([g.errno, g.sqlState]).toEqual([1227, '42000']);
    const ro = await sqlError('SET server_id = 5', ctx);
    expect([ro.errno, ro.message]).toEqual([1238, "Variable 'server_id' is a read only variable"]);
    const u = await sqlError('SET nonexistent = 1', ctx);
    expect([u.errno, u.sqlState, u.message]).toEqual([1193, 'HY000', "Unknown system variable 'nonexistent'"]);
    const bad = await sqlError("SET autocommit = 'maybe'", ctx);
    expect([bad.errno, bad.message]).toEqual([1231, "Variable 'autocommit' can't be set to the value of 'maybe'"]);
    await ok('SET autocommit = OFF', ctx);
    expect(textOf(await rows('SELECT @@autocommit', ctx))).toEqual([['0']]);
  });

  it('user variables are case-insensitive, unset ones are NULL, integers stay integers', async () => {
    const ctx = ctxFor('mariadb');
    await ok('SET @X = 4, @s = \'abc\', @n = NULL', ctx);
    const r = await rows('SELECT @x, @S, @n, @never', ctx);
    expect(r.rows).toEqual([[4n, 'abc', null, null]]);
    expect(r.columns[0]!.type).toBe(MYSQL_TYPE_LONGLONG);
    expect(r.columns[1]!.type).toBe(MYSQL_TYPE_VAR_STRING);
  });

  it('evaluates literals, arithmetic, functions, LIMIT and FROM DUAL', async () => {
    const ctx = ctxFor('mariadb');
    const r = await rows("SELECT 1 + 1, -5, 'a' 'b', NULL, CONNECTION_ID(), DATABASE(), USER(), CONCAT('x', 1) FROM DUAL", ctx);
    expect(r.rows).toEqual([[2n, -5n, 'ab', null, 17n, null, 'repl@10.0.0.5', 'x1']]);
    expect(r.columns[3]!.type).toBe(MYSQL_TYPE_NULL);
    await ok('USE mydb', ctx);
    expect(textOf(await rows('SELECT DATABASE()', ctx))).toEqual([['mydb']]);
    expect((await rows('SELECT 1 LIMIT 0', ctx)).rows).toEqual([]);
    expect((await rows('SELECT 1 LIMIT 1', ctx)).rows).toEqual([[1n]]);
    const now = await rows('SELECT NOW()', ctx);
    expect(String(now.rows[0]![0])).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it('KILL finds the connection or answers 1094', async () => {
    const ctx = ctxFor('mysql');
    await ok('KILL 23', ctx);
    await ok('KILL QUERY 23', ctx);
    expect(ctx.killed).toEqual([
      [23, 'connection'],
      [23, 'query'],
    ]);
    const e = await sqlError('KILL 99999', ctx);
    expect([e.errno, e.sqlState, e.message]).toEqual([1094, 'HY000', 'Unknown thread id: 99999']);
  });

  it('garbage gets 1064 with the server wording; unknown statements and functions are forwardable', async () => {
    const ctx = ctxFor('mariadb');
    const e = await sqlError('SELEC 1', ctx);
    expect([e.errno, e.sqlState]).toEqual([1064, '42000']);
    expect(e.message).toBe("You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'SELEC 1' at line 1");
    const my = await sqlError('SELECT 1 2', ctxFor('mysql'));
    expect(my.message).toContain('MySQL server version');
    expect(my.message).toContain("near '2'");

    const fwd = await routeQuery('SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS', ctx);
    expect(fwd).toMatchObject({ kind: 'forward', readOnly: true });
    const fn = await routeQuery('SELECT some_udf(1)', ctx);
    expect(fn).toMatchObject({ kind: 'forward', readOnly: true, error: { errno: 1305 } });
    const ins = await routeQuery('INSERT INTO t VALUES (1)', ctx);
    expect(ins).toMatchObject({ kind: 'forward', readOnly: false, error: { errno: 1064 } });
    const col = await sqlError('SELECT nosuchcolumn', ctx);
    expect([col.errno, col.sqlState, col.message]).toEqual([1054, '42S22', "Unknown column 'nosuchcolumn' in 'field list'"]);
    const empty = await sqlError('   ', ctx);
    expect(empty.errno).toBe(1065);
  });

  it('binlog_gtid_pos is MariaDB only; GTID_SUBSET is MySQL only', async () => {
    expect((await routeQuery("SELECT binlog_gtid_pos('f', 4)", ctxFor('mysql'))).kind).toBe('forward');
    expect((await routeQuery("SELECT GTID_SUBSET('', '')", ctxFor('mariadb'))).kind).toBe('forward');
    const bad = await sqlError("SELECT GTID_SUBSET('junk', '')", ctxFor('mysql'));
    expect(bad.errno).toBe(1210);
  });
});
