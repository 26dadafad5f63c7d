import { describe, expect, it } from 'vitest';
import { DiscoveryError } from '../../../src/discovery/errors.js';
import {
  PROBE_VARIABLES,
  VARIABLES_SQL,
  asBool,
  asInt,
  buildInstance,
  column,
  computeRole,
  errantGtid,
  parseDumpThreads,
  parseReplicationRow,
  parseVersion,
  resolveReplicas,
  statementPlan,
  withErrantGtid,
  type RawProbe,
} from '../../../src/discovery/interpret.js';
import type { Row } from '../../../src/discovery/sql.js';
import type { ProbedInstance } from '../../../src/discovery/types.js';

const OPTS = { lagThresholdSeconds: 10 };

function raw(partial: Partial<RawProbe> & { vars: Record<string, string> }): RawProbe {
  return {
    key: { host: '127.0.0.1', port: 3306 },
    variables: new Map(Object.entries(partial.vars)),
    status: partial.status ?? new Map(),
    replicaStatusRows: partial.replicaStatusRows === undefined ? [] : partial.replicaStatusRows,
    binlogStatusRows: partial.binlogStatusRows === undefined ? null : partial.binlogStatusRows,
    replicaHostRows: partial.replicaHostRows === undefined ? [] : partial.replicaHostRows,
    processlistRows: partial.processlistRows === undefined ? [] : partial.processlistRows,
    notes: partial.notes ?? [],
  };
}

// SHOW ALL SLAVES STATUS of a MariaDB 10.11 replica, as mysql2 returned it (trimmed to the columns we read).
const MARIADB_SLAVE_ROW: Row = {
  Connection_name: '',
  Slave_IO_State: 'Waiting for master to send event',
  Master_Host: '127.0.0.1',
  Master_User: 'repl',
  Master_Port: 41879,
  Master_Log_File: 'bin.000001',
  Read_Master_Log_Pos: 729,
  Relay_Master_Log_File: 'bin.000001',
  Slave_IO_Running: 'Yes',
  Slave_SQL_Running: 'Yes',
  Exec_Master_Log_Pos: 729,
  Seconds_Behind_Master: 0,
  Last_IO_Errno: 0,
  Last_IO_Error: '',
  Last_SQL_Errno: 0,
  Last_SQL_Error: '',
  Master_Server_Id: 101,
  Using_Gtid: 'Slave_Pos',
  Gtid_IO_Pos: '0-101-2',
  SQL_Delay: 0,
};

// SHOW REPLICA STATUS of MySQL 8.0.22+ (renamed columns), with a stopped SQL thread.
const MYSQL_REPLICA_ROW: Row = {
  Replica_IO_State: 'Waiting for source to send event',
  Source_Host: 'db1.example',
  Source_Port: 3306,
  Source_Log_File: 'binlog.000003',
  Read_Source_Log_Pos: '157',
  Relay_Source_Log_File: 'binlog.000003',
  Exec_Source_Log_Pos: '120',
  Replica_IO_Running: 'Yes',
  Replica_SQL_Running: 'No',
  Seconds_Behind_Source: null,
  Last_IO_Errno: 0,
  Last_IO_Error: '',
  Last_SQL_Errno: 1062,
  Last_SQL_Error: "Duplicate entry '1' for key 'PRIMARY'",
  Source_Server_Id: 1,
  Source_UUID: '3E11FA47-71CA-11E1-9E33-C80AA9429562',
  Retrieved_Gtid_Set: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5',
  Auto_Position: 1,
  Channel_Name: '',
};

describe('column / scalars', () => {
  it('reads a column by any of its names, case-insensitively, new name first', () => {
    const row: Row = { slave_io_running: 'No', Master_Host: 'x' };
    expect(column(row, 'Replica_IO_Running', 'Slave_IO_Running')).toBe('No');
    expect(column(row, 'Source_Host', 'Master_Host')).toBe('x');
    expect(column(row, 'Nope')).toBeUndefined();
  });

  it('parses booleans and integers from the forms servers use', () => {
    expect([asBool('ON'), asBool('off'), asBool('1'), asBool('0'), asBool('Yes'), asBool(''), asBool(null)]).toEqual([
      true,
      false,
      true,
      false,
      true,
      null,
      null,
    ]);
    expect([asInt('42'), asInt(7), asInt(' 3 '), asInt('x'), asInt(null), asInt('99999999999999999999')]).toEqual([
      42,
      7,
      3,
      null,
      null,
      null,
    ]);
  });
});

describe('versions and statement plans', () => {
  it('parses MySQL, MariaDB and the 5.5.5- replication prefix', () => {
    expect(parseVersion('8.0.36')).toEqual({ major: 8, minor: 0, patch: 36 });
    expect(parseVersion('10.11.19-MariaDB-0+deb12u1-log')).toEqual({ major: 10, minor: 11, patch: 19 });
    expect(parseVersion('5.5.5-10.6.4-MariaDB')).toEqual({ major: 10, minor: 6, patch: 4 });
    expect(parseVersion('garbage')).toBeNull();
  });

  it('picks SHOW REPLICA STATUS / SHOW REPLICAS from MySQL 8.0.22, SHOW BINARY LOG STATUS from 8.2', () => {
    expect(statementPlan('mysql', '8.0.21').replicaStatus).toEqual(['SHOW SLAVE STATUS']);
    expect(statementPlan('mysql', '8.0.21').replicaHosts).toEqual(['SHOW SLAVE HOSTS']);
    expect(statementPlan('mysql', '8.0.22').replicaStatus[0]).toBe('SHOW REPLICA STATUS');
    expect(statementPlan('mysql', '8.0.22').replicaHosts[0]).toBe('SHOW REPLICAS');
    expect(statementPlan('mysql', '8.0.40').binlogStatus).toEqual(['SHOW MASTER STATUS']);
    expect(statementPlan('mysql', '8.4.3').binlogStatus[0]).toBe('SHOW BINARY LOG STATUS');
    expect(statementPlan('mysql', '9.1.0').binlogStatus[0]).toBe('SHOW BINARY LOG STATUS');
  });

  it('uses SHOW ALL SLAVES STATUS on MariaDB and SHOW BINLOG STATUS from 10.5.2', () => {
    expect(statementPlan('mariadb', '10.4.30-MariaDB').replicaStatus[0]).toBe('SHOW ALL SLAVES STATUS');
    expect(statementPlan('mariadb', '10.4.30-MariaDB').binlogStatus).toEqual(['SHOW MASTER STATUS']);
    expect(statementPlan('mariadb', '10.5.2-MariaDB').binlogStatus[0]).toBe('SHOW BINLOG STATUS');
    expect(statementPlan('mariadb', '11.4.2-MariaDB').replicaHosts).toEqual(['SHOW SLAVE HOSTS']);
  });

  it('asks for every variable the instance model needs', () => {
    for (const v of PROBE_VARIABLES) expect(VARIABLES_SQL).toContain(`'${v}'`);
    expect(PROBE_VARIABLES).toEqual(expect.arrayContaining(['log_slave_updates', 'log_replica_updates', 'gtid_executed', 'gtid_slave_pos']));
  });
});

describe('replication rows', () => {
  it('reads MariaDB SHOW ALL SLAVES STATUS by name', () => {
    expect(parseReplicationRow(MARIADB_SLAVE_ROW)).toEqual({
      channel: '',
      master_key: { host: '127.0.0.1', port: 41879 },
      master_server_id: 101,
      master_uuid: null,
      io_running: true,
      io_state: 'Yes',
      sql_running: true,
      seconds_behind_master: 0,
      read_position: { file: 'bin.000001', position: 729 },
      exec_position: { file: 'bin.000001', position: 729 },
      using_gtid: true,
      gtid_mode: 'slave_pos',
      gtid_io_pos: '0-101-2',
      last_io_errno: 0,
      last_io_error: '',
      last_sql_errno: 0,
      last_sql_error: '',
      sql_delay: 0,
    });
  });

  it('reads MySQL 8.0.22+ renamed columns (Source_*, Replica_*)', () => {
    const r = parseReplicationRow(MYSQL_REPLICA_ROW)!;
    expect(r.master_key).toEqual({ host: 'db1.example', port: 3306 });
    expect(r.io_running).toBe(true);
    expect(r.sql_running).toBe(false);
    expect(r.seconds_behind_master).toBeNull();
    expect(r.read_position).toEqual({ file: 'binlog.000003', position: 157 });
    expect(r.exec_position).toEqual({ file: 'binlog.000003', position: 120 });
    expect(r.gtid_mode).toBe('auto_position');
    expect(r.master_uuid).toBe('3E11FA47-71CA-11E1-9E33-C80AA9429562');
    expect(r.last_sql_errno).toBe(1062);
  });

  it('reads the pre-8.0.22 MySQL names too', () => {
    const old: Row = {
      Master_Host: '10.0.0.1',
      Master_Port: 3307,
      Slave_IO_Running: 'Connecting',
      Slave_SQL_Running: 'Yes',
      Seconds_Behind_Master: null,
      Last_IO_Errno: 2003,
      Last_IO_Error: "error connecting to master 'repl@10.0.0.1:3307'",
      Auto_Position: 0,
      Channel_Name: '',
    };
    const r = parseReplicationRow(old)!;
    expect(r.io_running).toBe(false);
    expect(r.io_state).toBe('Connecting');
    expect(r.using_gtid).toBe(false);
    expect(r.gtid_mode).toBeNull();
    expect(r.last_io_errno).toBe(2003);
  });

  it('ignores a row without a configured source', () => {
    expect(parseReplicationRow({ Master_Host: '', Master_Port: 3306 })).toBeNull();
  });
});

describe('replicas', () => {
  const self = { host: '127.0.0.1', port: 3306 };

  it('takes SHOW SLAVE HOSTS rows, dropping self and duplicates', () => {
    const notes: string[] = [];
    const rows: Row[] = [
      { Server_id: 2, Host: '127.0.0.1', Port: 3307, Master_id: 1 },
      { Server_id: 2, Host: '127.0.0.1', Port: 3307, Master_id: 1 },
      { Server_id: 9, Host: '127.0.0.1', Port: 3306, Master_id: 1 },
    ];
    expect(resolveReplicas(self, rows, [], notes)).toEqual([{ host: '127.0.0.1', port: 3307, server_id: 2 }]);
    expect(notes).toEqual([]);
  });

  it('fills a missing report_host from the one dump-thread client address, else notes it', () => {
    const rows: Row[] = [{ Server_id: 3, Host: '', Port: 3310, Master_id: 1 }];
    const one = parseDumpThreads([{ ID: 5, USER: 'repl', HOST: '10.1.1.5:50000', COMMAND: 'Binlog Dump', STATE: '' }]);
    expect(resolveReplicas(self, rows, one, [])).toEqual([{ host: '10.1.1.5', port: 3310, server_id: 3 }]);
    const two = parseDumpThreads([
      { ID: 5, USER: 'repl', HOST: '10.1.1.5:50000', COMMAND: 'Binlog Dump' },
      { ID: 6, USER: 'repl', HOST: '10.1.1.6:50001', COMMAND: 'Binlog Dump GTID' },
    ]);
    const notes: string[] = [];
    expect(resolveReplicas(self, rows, two, notes)).toEqual([]);
    expect(notes[0]).toMatch(/server_id 3 .*ambiguous/);
  });

  it("falls back to orchestrator's processlist guess when SHOW SLAVE HOSTS is unreadable", () => {
    const threads = parseDumpThreads([
      { Id: 5, User: 'repl', Host: '10.1.1.5:50000', Command: 'Binlog Dump' },
      { Id: 7, User: 'app', Host: '10.1.1.9:50002', Command: 'Query' },
      { Id: 8, User: 'repl', Host: '[fe80::1]:50003', Command: 'Binlog Dump GTID' },
    ]);
    expect(threads.map((t) => t.host)).toEqual(['10.1.1.5', 'fe80::1']);
    const notes: string[] = [];
    expect(resolveReplicas(self, null, threads, notes)).toEqual([
      { host: '10.1.1.5', port: 3306, server_id: null },
      { host: 'fe80::1', port: 3306, server_id: null },
    ]);
    expect(notes[0]).toMatch(/processlist/);
  });
});

describe('buildInstance', () => {
  const mariaVars = {
    hostname: 'vm',
    report_host: '127.0.0.1',
    report_port: '33707',
    server_id: '102',
    version: '10.11.19-MariaDB-0+deb12u1-log',
    version_comment: 'Debian 12',
    read_only: 'OFF',
    binlog_format: 'ROW',
    log_bin: 'ON',
    log_slave_updates: 'ON',
    gtid_binlog_pos: '0-101-2',
    gtid_binlog_state: '0-101-2',
    gtid_current_pos: '0-101-2',
    gtid_slave_pos: '0-101-2',
    gtid_domain_id: '0',
    gtid_strict_mode: 'OFF',
    rpl_semi_sync_master_enabled: 'OFF',
    rpl_semi_sync_slave_enabled: 'ON',
  };

  it('builds a MariaDB intermediate replica', () => {
    const inst = buildInstance(
      raw({
        vars: mariaVars,
        status: new Map([
          ['uptime', '12'],
          ['rpl_semi_sync_slave_status', 'ON'],
        ]),
        replicaStatusRows: [MARIADB_SLAVE_ROW],
        binlogStatusRows: [{ File: 'bin.000001', Position: 729, Binlog_Do_DB: '', Binlog_Ignore_DB: '' }],
        replicaHostRows: [{ Server_id: 103, Host: '127.0.0.1', Port: 45085, Master_id: 102 }],
      }),
      OPTS,
    );
    expect(inst).toMatchObject({
      flavor: 'mariadb',
      version: '10.11.19-MariaDB-0+deb12u1-log',
      version_comment: 'Debian 12',
      hostname: 'vm',
      report_host: '127.0.0.1',
      server_id: 102,
      server_uuid: null,
      read_only: false,
      log_bin: true,
      binlog_format: 'ROW',
      log_replica_updates: true,
      binlog: { file: 'bin.000001', position: 729 },
      gtid: { flavor: 'mariadb', binlog_pos: '0-101-2', current_pos: '0-101-2', slave_pos: '0-101-2', domain_id: 0, strict_mode: false },
      semi_sync: { source_enabled: false, replica_enabled: true, replica_active: true },
      master_key: { host: '127.0.0.1', port: 41879 },
      replicas: [{ host: '127.0.0.1', port: 45085, server_id: 103 }],
      role: 'intermediate',
      problems: [],
      uptime_seconds: 12,
      notes: [],
    });
    expect(inst.replication?.io_running).toBe(true);
  });

  it('builds a MySQL replica with a stopped SQL thread, reading log_replica_updates and the executed set', () => {
    const inst = buildInstance(
      raw({
        vars: {
          server_id: '2',
          server_uuid: 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa',
          version: '8.4.3',
          version_comment: 'MySQL Community Server - GPL',
          read_only: 'ON',
          super_read_only: 'ON',
          log_bin: 'ON',
          log_replica_updates: 'ON',
          gtid_mode: 'ON',
          gtid_executed: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\naaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:1',
          gtid_purged: '',
        },
        replicaStatusRows: [MYSQL_REPLICA_ROW],
      }),
      OPTS,
    );
    expect(inst.flavor).toBe('mysql');
    expect(inst.read_only).toBe(true);
    expect(inst.super_read_only).toBe(true);
    expect(inst.log_replica_updates).toBe(true);
    expect(inst.gtid).toEqual({
      flavor: 'mysql',
      mode: 'ON',
      executed: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:1',
      purged: '',
    });
    expect(inst.role).toBe('replica');
    expect(inst.problems).toEqual(expect.arrayContaining(['not_replicating', 'sql_thread_stopped', 'sql_error']));
    expect(inst.problems).not.toContain('io_thread_stopped');
  });

  it('flags lag above the threshold and a stopped IO thread', () => {
    const lagging = buildInstance(raw({ vars: mariaVars, replicaStatusRows: [{ ...MARIADB_SLAVE_ROW, Seconds_Behind_Master: 11 }] }), OPTS);
    expect(lagging.problems).toEqual(['replication_lag']);
    const atThreshold = buildInstance(raw({ vars: mariaVars, replicaStatusRows: [{ ...MARIADB_SLAVE_ROW, Seconds_Behind_Master: 10 }] }), OPTS);
    expect(atThreshold.problems).toEqual([]);
    const ioStopped = buildInstance(
      raw({ vars: mariaVars, replicaStatusRows: [{ ...MARIADB_SLAVE_ROW, Slave_IO_Running: 'No', Seconds_Behind_Master: null }] }),
      OPTS,
    );
    expect(ioStopped.problems.sort()).toEqual(['io_thread_stopped', 'not_replicating']);
  });

  it('takes the default connection of a multi-source replica as master_key and notes the others', () => {
    const other = { ...MARIADB_SLAVE_ROW, Connection_name: 'analytics', Master_Port: 5000, Slave_SQL_Running: 'No' };
    const inst = buildInstance(raw({ vars: mariaVars, replicaStatusRows: [other, MARIADB_SLAVE_ROW] }), OPTS);
    expect(inst.master_key).toEqual({ host: '127.0.0.1', port: 41879 });
    expect(inst.replication_channels.map((c) => c.channel)).toEqual(['analytics', '']);
    expect(inst.problems).toContain('sql_thread_stopped');
    expect(inst.notes[0]).toMatch(/2 replication connections/);
  });

  it('computes roles', () => {
    const r = [{ host: 'h', port: 1, server_id: 1 }];
    expect(computeRole(null, [])).toBe('standalone');
    expect(computeRole(null, r)).toBe('primary');
    expect(computeRole({ host: 'h', port: 2 }, [])).toBe('replica');
    expect(computeRole({ host: 'h', port: 2 }, r)).toBe('intermediate');
  });

  it('fails with ERR_DISCOVERY_IO when the server does not report server_id', () => {
    expect(() => buildInstance(raw({ vars: { version: '8.0.1' } }), OPTS)).toThrow(DiscoveryError);
    expect(() => buildInstance(raw({ vars: { version: '8.0.1' } }), OPTS)).toThrow(/server_id/);
  });

  it('keeps the notes of failed optional statements', () => {
    const inst = buildInstance(raw({ vars: mariaVars, replicaHostRows: null, processlistRows: null, notes: ['SHOW SLAVE HOSTS: denied (1227)'] }), OPTS);
    expect(inst.notes).toEqual(['SHOW SLAVE HOSTS: denied (1227)']);
    expect(inst.binlog_dump_threads).toBeNull();
  });
});

describe('errant GTIDs', () => {
  function mariaReplica(serverId: number, binlogState: string): ProbedInstance {
    return buildInstance(
      raw({
        vars: { server_id: String(serverId), version: '10.11.6-MariaDB', gtid_binlog_state: binlogState, log_bin: 'ON' },
        replicaStatusRows: [MARIADB_SLAVE_ROW],
      }),
      OPTS,
    );
  }

  it("MariaDB: the replica's own server_id in gtid_binlog_state is errant unless the source has it", () => {
    expect(errantGtid(mariaReplica(103, '0-101-9'), null)).toBeNull();
    expect(errantGtid(mariaReplica(103, '0-101-9,0-103-10'), null)).toBe('0-103-10');
    const source = mariaReplica(101, '0-101-12,0-103-10');
    expect(errantGtid(mariaReplica(103, '0-101-9,0-103-10'), source)).toBeNull();
    const staleSource = mariaReplica(101, '0-101-12,0-103-8');
    expect(errantGtid(mariaReplica(103, '0-101-9,0-103-10'), staleSource)).toBe('0-103-10');
  });

  it('MySQL: transactions with the replica server_uuid that the source lacks', () => {
    const uuid = 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa';
    const src = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
    const mk = (executed: string, serverUuid = uuid): ProbedInstance =>
      buildInstance(
        raw({
          vars: { server_id: '2', server_uuid: serverUuid, version: '8.0.36', gtid_executed: executed, gtid_mode: 'ON' },
          replicaStatusRows: [MYSQL_REPLICA_ROW],
        }),
        OPTS,
      );
    expect(errantGtid(mk(`${src}:1-5`), null)).toBeNull();
    expect(errantGtid(mk(`${src}:1-5,${uuid}:1-3`), null)).toBe(`${uuid}:1-3`);
    expect(errantGtid(mk(`${src}:1-5,${uuid}:1-3`), mk(`${src}:1-9,${uuid}:1-2`, src))).toBe(`${uuid}:3`);
    expect(errantGtid(mk(`${src}:1-5,${uuid}:1-3`), mk(`${src}:1-9,${uuid}:1-3`, src))).toBeNull();
    // An unparsable set gives no verdict rather than an exception.
    expect(errantGtid(mk('not-a-gtid-set'), null)).toBeNull();
  });

  it('withErrantGtid sets and clears the problem', () => {
    const errant = withErrantGtid(mariaReplica(103, '0-103-10'), null);
    expect(errant.problems).toContain('errant_gtid');
    expect(errant.gtid_errant).toBe('0-103-10');
    const cleared = withErrantGtid(errant, mariaReplica(101, '0-103-10'));
    expect(cleared.problems).not.toContain('errant_gtid');
    expect(cleared.gtid_errant).toBeNull();
  });

  it('a primary has no errant GTIDs', () => {
    const primary = buildInstance(raw({ vars: { server_id: '1', version: '10.11.6-MariaDB', gtid_binlog_state: '0-1-50' } }), OPTS);
    expect(errantGtid(primary, null)).toBeNull();
  });
});
