/**
 * The replication session set-up, without a server: the exact statements and command bytes for given server
 * answers (MySQL 5.7 / 8.0 / 8.4 and MariaDB), checked against the protocol brief (§2.6, §3.1–§3.4, §5.1).
 */
import { describe, expect, it } from 'vitest';
import { decodeComBinlogDump, decodeComBinlogDumpGtid, decodeComRegisterSlave } from '../../../protocol/commands.js';
import { MysqlServerError, type OkPacket } from '../../../protocol/generic.js';
import { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { setupSession, versionTriple, type QueryAnswer, type SessionOptions, type SessionPort } from '../../../src/upstream/session.js';

type Answer = QueryAnswer | MysqlServerError;

/** A server that answers statements from a table (exact text), records them and the commands it got. */
class FakePort implements SessionPort {
  readonly statements: string[] = [];
  readonly commands: Buffer[] = [];
  constructor(
    readonly serverVersion: string,
    private readonly answers: Record<string, Answer>,
  ) {}

  async query(sql: string): Promise<QueryAnswer> {
    this.statements.push(sql);
    const a = this.answers[sql];
    if (a instanceof MysqlServerError) throw a;
    if (a) return a;
    if (/^SET /.test(sql)) return { columns: [], rows: [] };
    throw new Error(`unexpected statement: ${sql}`);
  }

  async command(payload: Buffer): Promise<OkPacket> {
    this.commands.push(payload);
    return { affectedRows: 0n, lastInsertId: 0n, statusFlags: 2, warnings: 0, info: '', sessionState: null };
  }
}

const unknownVar = (name: string): MysqlServerError => new MysqlServerError(1193, 'HY000', `server error 1193 (HY000): Unknown system variable '${name}'`);
const row = (...values: Array<string | null>): QueryAnswer => ({ columns: values.map((_, i) => `c${i}`), rows: [values] });

const UUID = '5a4c0b8e-1111-4222-8333-944455556666';
const SOURCE_UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

function mysqlAnswers(version: string, gtidMode: string, extra: Record<string, Answer> = {}): Record<string, Answer> {
  return {
    'SELECT @master_binlog_checksum, @@GLOBAL.server_id, @@GLOBAL.server_uuid, @@GLOBAL.gtid_mode, VERSION(), UNIX_TIMESTAMP()': row(
      'CRC32',
      '1',
      SOURCE_UUID,
      gtidMode,
      version,
      '1700000000',
    ),
    'SHOW BINARY LOGS': { columns: ['Log_name', 'File_size', 'Encrypted'], rows: [['binlog.000001', '2000', 'No'], ['binlog.000002', '157', 'No']] },
    'SHOW MASTER STATUS': row('binlog.000002', '157', '', '', `${SOURCE_UUID}:1-5`),
    'SHOW BINARY LOG STATUS': row('binlog.000002', '157', '', '', `${SOURCE_UUID}:1-5`),
    'SELECT @@global.rpl_semi_sync_source_enabled': row('1'),
    ...extra,
  };
}

function opts(over: Partial<SessionOptions>): SessionOptions {
  return { serverId: 2, serverUuid: UUID, heartbeatPeriodMs: 30_000, semiSync: false, start: { kind: 'earliest' }, now: () => 1_700_000_000_500, ...over };
}

describe('versionTriple', () => {
  it('reads MySQL and MariaDB versions (with the 5.5.5- prefix of MariaDB greetings)', () => {
    expect(versionTriple('8.0.45')).toEqual([8, 0, 45]);
    expect(versionTriple('5.5.5-10.11.19-MariaDB-0+deb12u1-log')).toEqual([10, 11, 19]);
    expect(versionTriple('11.4.2-MariaDB')).toEqual([11, 4, 2]);
  });
});

describe('MySQL session set-up', () => {
  it('8.0.45, gtid_mode ON, resume by GTID: exact statements, COM_REGISTER_SLAVE and COM_BINLOG_DUMP_GTID bytes', async () => {
    const port = new FakePort('8.0.45', mysqlAnswers('8.0.45', 'ON'));
    const s = await setupSession(
      port,
      opts({ start: { kind: 'resume', file: 'binlog.000002', pos: 157n, gtids: `${SOURCE_UUID}:1-5` }, reportHost: 'proxy1', reportPort: 3307 }),
    );
    expect(port.statements).toEqual([
      'SET @source_binlog_checksum = @@global.binlog_checksum, @master_binlog_checksum = @@global.binlog_checksum',
      'SELECT @master_binlog_checksum, @@GLOBAL.server_id, @@GLOBAL.server_uuid, @@GLOBAL.gtid_mode, VERSION(), UNIX_TIMESTAMP()',
      'SET @master_heartbeat_period = 30000000000, @source_heartbeat_period = 30000000000',
      `SET @replica_uuid = '${UUID}', @slave_uuid = '${UUID}'`,
      'SHOW BINARY LOGS',
    ]);
    expect(s).toMatchObject({ flavor: 'mysql', version: '8.0.45', masterServerId: 1, masterServerUuid: SOURCE_UUID, gtidMode: 'ON', checksumAlg: 1, semiSync: false });
    expect(s.clockOffsetMs).toBe(-500);
    // COM_REGISTER_SLAVE (§3.1)
    expect(port.commands).toHaveLength(1);
    expect(port.commands[0]!.toString('hex')).toBe(
      '15' + '02000000' + '06' + Buffer.from('proxy1').toString('hex') + '00' + '00' + 'eb0c' + '00000000' + '00000000',
    );
    expect(decodeComRegisterSlave(port.commands[0]!)).toMatchObject({ serverId: 2, host: 'proxy1', port: 3307 });
    // COM_BINLOG_DUMP_GTID: the byte-exact example of §3.4 (server_id 2, flags 0x0002, '', 4, uuid:1-5).
    expect(s.plan.mode).toBe('stream');
    expect(s.plan.command.toString('hex')).toBe(
      [
        '1e', '0200', '02000000', '00000000', '0400000000000000', '30000000',
        '0100000000000000', '3e11fa4771ca11e19e33c80aa9429562',
        '0100000000000000', '0100000000000000', '0600000000000000',
      ].join(''),
    );
    expect(s.plan.mode === 'stream' && s.plan.target).toEqual({ file: 'binlog.000002', pos: 157n, newFile: false });
  });

  it('8.4, start at current: SHOW BINARY LOG STATUS, then COM_BINLOG_DUMP from position 4 of that file', async () => {
    const port = new FakePort('8.4.3', mysqlAnswers('8.4.3', 'ON'));
    const s = await setupSession(port, opts({ start: { kind: 'current' } }));
    expect(port.statements).toContain('SHOW BINARY LOG STATUS');
    expect(port.statements).not.toContain('SHOW MASTER STATUS');
    const dump = decodeComBinlogDump(s.plan.command);
    expect(dump).toEqual({ position: 4, flags: 0x0002, serverId: 2, fileName: 'binlog.000002' });
    expect(s.plan.mode === 'stream' && s.plan.target).toEqual({ file: 'binlog.000002', pos: 157n, newFile: true });
  });

  it('8.0.45 with semi-sync: asks the source plugin, then sets both replica variables before registering', async () => {
    const port = new FakePort('8.0.45', mysqlAnswers('8.0.45', 'ON'));
    const s = await setupSession(port, opts({ semiSync: true }));
    expect(port.statements.slice(-2)).toEqual(['SELECT @@global.rpl_semi_sync_source_enabled', 'SET @rpl_semi_sync_replica = 1, @rpl_semi_sync_slave = 1']);
    expect(s).toMatchObject({ semiSync: true, primarySemiSyncEnabled: true });
  });

  it('5.7, gtid_mode OFF: the old semi-sync variable, file/position resume, no heartbeat v2 flag', async () => {
    const port = new FakePort(
      '5.7.23-log',
      mysqlAnswers('5.7.23-log', 'OFF', {
        'SELECT @@global.rpl_semi_sync_source_enabled': unknownVar('rpl_semi_sync_source_enabled'),
        'SELECT @@global.rpl_semi_sync_master_enabled': row('0'),
      }),
    );
    const s = await setupSession(port, opts({ semiSync: true, start: { kind: 'resume', file: 'mysql_bin.000012', pos: 4000n, gtids: null } }));
    expect(port.statements).toEqual([
      'SET @source_binlog_checksum = @@global.binlog_checksum, @master_binlog_checksum = @@global.binlog_checksum',
      'SELECT @master_binlog_checksum, @@GLOBAL.server_id, @@GLOBAL.server_uuid, @@GLOBAL.gtid_mode, VERSION(), UNIX_TIMESTAMP()',
      'SET @master_heartbeat_period = 30000000000, @source_heartbeat_period = 30000000000',
      `SET @replica_uuid = '${UUID}', @slave_uuid = '${UUID}'`,
      'SELECT @@global.rpl_semi_sync_source_enabled',
      'SELECT @@global.rpl_semi_sync_master_enabled',
      'SET @rpl_semi_sync_replica = 1, @rpl_semi_sync_slave = 1',
    ]);
    expect(s).toMatchObject({ semiSync: true, primarySemiSyncEnabled: false });
    expect(decodeComBinlogDump(s.plan.command)).toEqual({ position: 4000, flags: 0, serverId: 2, fileName: 'mysql_bin.000012' });
    expect(s.plan.command.toString('hex')).toBe('12' + 'a00f0000' + '0000' + '02000000' + Buffer.from('mysql_bin.000012').toString('hex'));
  });

  it('without a semi-sync plugin on the primary it stays asynchronous and says so', async () => {
    const port = new FakePort(
      '8.0.45',
      mysqlAnswers('8.0.45', 'ON', {
        'SELECT @@global.rpl_semi_sync_source_enabled': unknownVar('rpl_semi_sync_source_enabled'),
        'SELECT @@global.rpl_semi_sync_master_enabled': unknownVar('rpl_semi_sync_master_enabled'),
      }),
    );
    const s = await setupSession(port, opts({ semiSync: true }));
    expect(s.semiSync).toBe(false);
    expect(port.statements.some((q) => q.includes('@rpl_semi_sync_replica'))).toBe(false);
    expect(s.warnings.join()).toMatch(/semi-sync/);
  });

  it('resume by file/position when our last file is longer on the primary and a later file exists', async () => {
    const port = new FakePort('8.0.45', mysqlAnswers('8.0.45', 'ON'));
    const s = await setupSession(port, opts({ start: { kind: 'resume', file: 'binlog.000001', pos: 1500n, gtids: `${SOURCE_UUID}:1-3` } }));
    expect(decodeComBinlogDump(s.plan.command)).toEqual({ position: 1500, flags: 2, serverId: 2, fileName: 'binlog.000001' });
  });

  it('start from GTIDs: a locate plan with COM_BINLOG_DUMP_GTID; refused when gtid_mode is not ON', async () => {
    const port = new FakePort('8.0.45', mysqlAnswers('8.0.45', 'ON'));
    const s = await setupSession(port, opts({ start: { kind: 'gtid', gtids: `${SOURCE_UUID}:1-3` } }));
    expect(s.plan.mode).toBe('locate');
    const d = decodeComBinlogDumpGtid(s.plan.command);
    expect(MysqlGtidSet.decode(d.gtidData).toString()).toBe(`${SOURCE_UUID}:1-3`);
    expect(d).toMatchObject({ flags: 2, serverId: 2, fileName: '', position: 4n });

    const off = new FakePort('8.0.45', mysqlAnswers('8.0.45', 'OFF_PERMISSIVE'));
    await expect(setupSession(off, opts({ start: { kind: 'gtid', gtids: `${SOURCE_UUID}:1-3` } }))).rejects.toMatchObject({ code: 'ERR_SYNCER_START' });
  });

  it('refuses a primary with our server_id or our UUID, and a flavour other than the stored one', async () => {
    await expect(setupSession(new FakePort('8.0.45', mysqlAnswers('8.0.45', 'ON')), opts({ serverId: 1 }))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_SERVER_ID_CLASH' });
    await expect(setupSession(new FakePort('8.0.45', mysqlAnswers('8.0.45', 'ON')), opts({ serverUuid: SOURCE_UUID }))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_SERVER_ID_CLASH' });
    const p = new FakePort('8.0.45', mysqlAnswers('8.0.45', 'ON'));
    await expect(setupSession(p, opts({ expectFlavor: 'mariadb' }))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_FLAVOR' });
    expect(p.statements).toEqual([]);
  });

  it('maps a refused COM_REGISTER_SLAVE to a missing REPLICATION SLAVE privilege', async () => {
    const port = new FakePort('8.0.45', mysqlAnswers('8.0.45', 'ON'));
    port.command = async () => {
      throw new MysqlServerError(1227, '42000', 'server error 1227 (42000): Access denied; you need (at least one of) the REPLICATION SLAVE privilege(s)');
    };
    await expect(setupSession(port, opts({}))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_PRIVILEGES' });
  });
});

describe('MariaDB session set-up', () => {
  const mariaVersion = '10.11.19-MariaDB-0+deb12u1-log';
  const answers: Record<string, Answer> = {
    'SELECT @master_binlog_checksum, @@GLOBAL.server_id, VERSION(), UNIX_TIMESTAMP()': row('CRC32', '7', mariaVersion, '1700000000'),
    'SHOW BINARY LOGS': { columns: ['Log_name', 'File_size'], rows: [['bin.000001', '2365'], ['bin.000002', '1031']] },
    'SHOW BINLOG STATUS': row('bin.000002', '1031', '', ''),
    "SHOW VARIABLES LIKE 'rpl_semi_sync_master_enabled'": { columns: ['Variable_name', 'Value'], rows: [['rpl_semi_sync_master_enabled', 'ON']] },
  };

  it('earliest: exact statements and COM_BINLOG_DUMP asking for ANNOTATE_ROWS', async () => {
    const port = new FakePort(`5.5.5-${mariaVersion}`, answers);
    const s = await setupSession(port, opts({ heartbeatPeriodMs: 500 }));
    expect(port.statements).toEqual([
      'SET @master_binlog_checksum = @@global.binlog_checksum',
      'SELECT @master_binlog_checksum, @@GLOBAL.server_id, VERSION(), UNIX_TIMESTAMP()',
      'SET @mariadb_slave_capability = 4',
      'SET @master_heartbeat_period = 500000000',
      'SHOW BINARY LOGS',
    ]);
    expect(s).toMatchObject({ flavor: 'mariadb', masterServerId: 7, masterServerUuid: null, gtidMode: null });
    expect(s.plan.command.toString('hex')).toBe('12' + '04000000' + '0200' + '02000000' + Buffer.from('bin.000001').toString('hex'));
    expect(s.plan.mode === 'stream' && s.plan.target).toEqual({ file: 'bin.000001', pos: 4n, newFile: true });
  });

  it('resume: GTID connect in strict mode, semi-sync, COM_BINLOG_DUMP with an empty file name', async () => {
    const port = new FakePort(`5.5.5-${mariaVersion}`, answers);
    const s = await setupSession(port, opts({ semiSync: true, start: { kind: 'resume', file: 'bin.000002', pos: 1031n, gtids: '2-7-4,0-7-9' } }));
    expect(port.statements.slice(4)).toEqual([
      'SHOW BINARY LOGS',
      "SET @slave_connect_state = '0-7-9,2-7-4'",
      'SET @slave_gtid_strict_mode = 1',
      'SET @slave_gtid_ignore_duplicates = 0',
      "SHOW VARIABLES LIKE 'rpl_semi_sync_master_enabled'",
      'SET @rpl_semi_sync_slave = 1',
    ]);
    expect(s).toMatchObject({ semiSync: true, primarySemiSyncEnabled: true });
    expect(decodeComBinlogDump(s.plan.command)).toEqual({ position: 4, flags: 2, serverId: 2, fileName: '' });
    expect(s.plan.mode === 'stream' && s.plan.target).toEqual({ file: 'bin.000002', pos: 1031n, newFile: false });
  });

  it("current: SHOW BINLOG STATUS (10.5.2+), SHOW MASTER STATUS before", async () => {
    const port = new FakePort(`5.5.5-${mariaVersion}`, answers);
    const s = await setupSession(port, opts({ start: { kind: 'current' } }));
    expect(port.statements).toContain('SHOW BINLOG STATUS');
    expect(s.plan.mode === 'stream' && s.plan.target).toEqual({ file: 'bin.000002', pos: 1031n, newFile: true });
    const old = new FakePort('5.5.5-10.4.30-MariaDB', {
      ...answers,
      'SELECT @master_binlog_checksum, @@GLOBAL.server_id, VERSION(), UNIX_TIMESTAMP()': row('CRC32', '7', '10.4.30-MariaDB', '1700000000'),
      'SHOW MASTER STATUS': row('bin.000002', '1031', '', ''),
    });
    await setupSession(old, opts({ start: { kind: 'current' } }));
    expect(old.statements).toContain('SHOW MASTER STATUS');
  });

  it('resume with no stored GTIDs uses the file and position', async () => {
    const port = new FakePort(`5.5.5-${mariaVersion}`, answers);
    const s = await setupSession(port, opts({ start: { kind: 'resume', file: 'bin.000001', pos: 285n, gtids: null } }));
    expect(port.statements.some((q) => q.includes('slave_connect_state'))).toBe(false);
    expect(decodeComBinlogDump(s.plan.command)).toEqual({ position: 285, flags: 2, serverId: 2, fileName: 'bin.000001' });
  });

  it('start from GTIDs: locate plan; a malformed position is a start error', async () => {
    const port = new FakePort(`5.5.5-${mariaVersion}`, answers);
    const s = await setupSession(port, opts({ start: { kind: 'gtid', gtids: '0-7-5' } }));
    expect(s.plan.mode).toBe('locate');
    expect(port.statements).toContain("SET @slave_connect_state = '0-7-5'");
    await expect(setupSession(new FakePort(`5.5.5-${mariaVersion}`, answers), opts({ start: { kind: 'gtid', gtids: "0-7-5'; DROP" } }))).rejects.toMatchObject({
      code: 'ERR_SYNCER_START',
    });
  });

  it('a binlog file name that is not one is refused before it reaches a command', async () => {
    await expect(
      setupSession(new FakePort(`5.5.5-${mariaVersion}`, answers), opts({ start: { kind: 'position', file: "x'; DROP TABLE y", pos: 4n } })),
    ).rejects.toMatchObject({ code: 'ERR_SYNCER_START' });
  });
});
