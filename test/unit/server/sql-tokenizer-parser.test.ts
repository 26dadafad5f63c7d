import { describe, expect, it } from 'vitest';
import { SqlSyntaxError, tokenize } from '../../../src/server/sql/tokenizer.js';
import { parseStatement, type Statement } from '../../../src/server/sql/parser.js';
import { sqlLike } from '../../../src/server/sql/like.js';

describe('tokenize', () => {
  it('reads variables, strings, numbers and operators with their source offsets', () => {
    const sql = "SET @master_heartbeat_period= 30000001024, @@GLOBAL.x = 'a''b\\n', y=@@z";
    const toks = tokenize(sql);
    expect(toks.map((t) => [t.kind, t.text])).toEqual([
      ['ident', 'SET'],
      ['uservar', 'master_heartbeat_period'],
      ['op', '='],
      ['number', '30000001024'],
      ['op', ','],
      ['sysvar', 'x'],
      ['op', '='],
      ['string', "a'b\n"],
      ['op', ','],
      ['ident', 'y'],
      ['op', '='],
      ['sysvar', 'z'],
      ['eof', ''],
    ]);
    expect(toks[5]!.scope).toBe('global');
    expect(toks[11]!.scope).toBeNull();
    expect(sql.slice(toks[5]!.start, toks[5]!.end)).toBe('@@GLOBAL.x');
  });

  it('skips comments and tokenizes the body of versioned comments', () => {
    const toks = tokenize("/* mysql-connector-java */ SELECT 1 -- tail\n # more\n /*!40101 , 2 */");
    expect(toks.filter((t) => t.kind !== 'eof').map((t) => t.text)).toEqual(['SELECT', '1', ',', '2']);
  });

  it('accepts quoted user variable names and backquoted identifiers', () => {
    const toks = tokenize('SELECT @`my var`, @\'x\', `a``b`');
    expect(toks.filter((t) => t.kind === 'uservar' || t.kind === 'qident').map((t) => t.text)).toEqual(['my var', 'x', 'a`b']);
  });

  it('reports unterminated strings and comments with their offset', () => {
    expect(() => tokenize("SELECT 'abc")).toThrow(SqlSyntaxError);
    try {
      tokenize('SELECT 1 /* open');
    } catch (e) {
      expect((e as SqlSyntaxError).at).toBe(9);
    }
    expect(() => tokenize('SELECT 1 /* open')).toThrow(/unterminated comment/);
  });
});

function parse(sql: string): Statement {
  return parseStatement(sql);
}

describe('parseStatement', () => {
  it('parses SET lists of user and system variables, whitespace-tolerant, with a trailing semicolon', () => {
    for (const sql of [
      'SET @master_binlog_checksum= @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum',
      'set @master_binlog_checksum=@@global.binlog_checksum,@source_binlog_checksum=@@global.binlog_checksum;',
      '  SET   @master_binlog_checksum :=  @@GLOBAL.binlog_checksum ,  @source_binlog_checksum=@@global.BINLOG_CHECKSUM ; ',
    ]) {
      const s = parse(sql);
      expect(s.kind).toBe('set');
      if (s.kind !== 'set') continue;
      expect(s.items.map((i) => (i.target === 'user' ? i.name.toLowerCase() : i.target))).toEqual(['master_binlog_checksum', 'source_binlog_checksum']);
      for (const i of s.items) {
        expect(i.target === 'user' && i.expr.kind === 'sysvar' && i.expr.scope === 'global' && i.expr.name.toLowerCase() === 'binlog_checksum').toBe(true);
      }
    }
  });

  it('parses SET NAMES, CHARACTER SET, session scope and transaction forms', () => {
    expect(parse("SET NAMES 'binary'")).toEqual({ kind: 'set', items: [{ target: 'names', charset: 'binary', collate: null }] });
    expect(parse('SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci')).toEqual({
      kind: 'set',
      items: [{ target: 'names', charset: 'utf8mb4', collate: 'utf8mb4_unicode_ci' }],
    });
    expect(parse('SET CHARACTER SET utf8')).toEqual({ kind: 'set', items: [{ target: 'charset', charset: 'utf8' }] });
    const s = parse('SET SESSION net_read_timeout = 1800, wait_timeout=9999999');
    expect(s).toMatchObject({ kind: 'set', items: [{ target: 'system', name: 'net_read_timeout', scope: 'session' }, { target: 'system', name: 'wait_timeout', scope: 'session' }] });
    expect(parse('SET GLOBAL read_only = 0')).toMatchObject({ kind: 'set', items: [{ target: 'system', scope: 'global' }] });
    expect(parse('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')).toEqual({ kind: 'set_transaction', scope: 'session' });
    expect(parse('SET autocommit=ON')).toMatchObject({ kind: 'set', items: [{ target: 'system', name: 'autocommit', expr: { kind: 'column', name: 'ON' } }] });
  });

  it('names SELECT columns by alias or by the expression text as written', () => {
    const s = parse('SELECT @@GLOBAL.SERVER_ID, UNIX_TIMESTAMP() AS ts, @@version_comment v, 1 + 1, binlog_gtid_pos(\'bin.000002\', 4) LIMIT 1');
    expect(s.kind).toBe('select');
    if (s.kind !== 'select') return;
    expect(s.items.map((i) => i.name)).toEqual(['@@GLOBAL.SERVER_ID', 'ts', 'v', '1 + 1', "binlog_gtid_pos('bin.000002', 4)"]);
    expect(s.limit).toBe(1n);
  });

  it('classifies table queries and other SQL for passthrough', () => {
    expect(parse('SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = "a"')).toEqual({ kind: 'unsupported', readOnly: true, verb: 'SELECT' });
    expect(parse('SELECT * FROM t FOR UPDATE')).toMatchObject({ kind: 'unsupported', readOnly: false });
    expect(parse('SELECT 1 INTO @x')).toMatchObject({ kind: 'unsupported', readOnly: false });
    expect(parse('SHOW CREATE TABLE db.t')).toEqual({ kind: 'unsupported', readOnly: true, verb: 'SHOW' });
    expect(parse('DESCRIBE t')).toMatchObject({ kind: 'unsupported', readOnly: true });
    expect(parse('INSERT INTO t VALUES (1)')).toEqual({ kind: 'unsupported', readOnly: false, verb: 'INSERT' });
    expect(parse('SELECT 1; DROP TABLE t')).toMatchObject({ kind: 'unsupported', readOnly: false });
    expect(parse('WITH x AS (SELECT 1) DELETE FROM t')).toMatchObject({ kind: 'unsupported', readOnly: false });
  });

  it('parses the replication SHOW statements', () => {
    expect(parse('show master status')).toEqual({ kind: 'show_master_status', syntax: 'master' });
    expect(parse('SHOW BINARY LOG STATUS')).toEqual({ kind: 'show_master_status', syntax: 'binary_log' });
    expect(parse('SHOW BINLOG STATUS;')).toEqual({ kind: 'show_master_status', syntax: 'binlog' });
    expect(parse('SHOW BINARY LOGS')).toEqual({ kind: 'show_binary_logs' });
    expect(parse('SHOW MASTER LOGS')).toEqual({ kind: 'show_binary_logs' });
    expect(parse('SHOW SLAVE HOSTS')).toEqual({ kind: 'show_slave_hosts', syntax: 'slave_hosts' });
    expect(parse('SHOW REPLICAS')).toEqual({ kind: 'show_slave_hosts', syntax: 'replicas' });
    expect(parse('SHOW REPLICA STATUS FOR CHANNEL ""')).toEqual({ kind: 'show_slave_status', syntax: 'replica' });
    expect(parse('SHOW ALL SLAVES STATUS')).toEqual({ kind: 'show_slave_status', syntax: 'all_slaves' });
    expect(parse("SHOW GLOBAL VARIABLES LIKE 'BINLOG_CHECKSUM'")).toEqual({ kind: 'show_variables', status: false, scope: 'global', like: 'BINLOG_CHECKSUM', where: null });
    const w = parse("SHOW VARIABLES WHERE Variable_name IN ('rpl_semi_sync_master_enabled', 'rpl_semi_sync_source_enabled')");
    expect(w).toMatchObject({ kind: 'show_variables', scope: 'session', like: null, where: { kind: 'in', not: false } });
    expect(parse('SHOW COUNT(*) WARNINGS')).toEqual({ kind: 'show_warnings', errors: false, count: true });
  });

  it('parses KILL forms', () => {
    expect(parse('KILL 12')).toMatchObject({ kind: 'kill', what: 'connection', id: { kind: 'literal' } });
    expect(parse('KILL CONNECTION 12')).toMatchObject({ kind: 'kill', what: 'connection' });
    expect(parse('kill query 7')).toMatchObject({ kind: 'kill', what: 'query' });
    expect(parse('KILL HARD QUERY ID 7')).toMatchObject({ kind: 'kill', what: 'query' });
  });

  it('rejects garbage with the offset of the offending token', () => {
    for (const [sql, at] of [
      ['SELEC 1', 0],
      ['SET @x', 6],
      ['SET = 1', 4],
      ['KILL', 4],
      ['\u0000\u0001', 0],
    ] as const) {
      let caught: unknown;
      try {
        parse(sql);
      } catch (e) {
        caught = e;
      }
      expect(caught, sql).toBeInstanceOf(SqlSyntaxError);
      expect((caught as SqlSyntaxError).at, sql).toBe(at);
    }
  });

  it('refuses hostile nesting instead of exhausting the stack', () => {
    for (const sql of [`SET @x = ${'('.repeat(100_000)}1${')'.repeat(100_000)}`, `SET @x = ${'-'.repeat(100_000)}1`, `SET @x = ${'NOT '.repeat(50_000)}1`]) {
      expect(() => parse(sql)).toThrow(SqlSyntaxError);
    }
    expect(parse(`SELECT ${'('.repeat(100_000)}1${')'.repeat(100_000)}`)).toMatchObject({ kind: 'unsupported', syntaxAt: expect.any(Number) });
  });

  it('classifies read-only statements it cannot parse, keeping the offset for the syntax error', () => {
    expect(parse('SELECT 1 2 3')).toEqual({ kind: 'unsupported', readOnly: true, verb: 'SELECT', syntaxAt: 9 });
    expect(parse('SHOW VARIABLES LIKE')).toEqual({ kind: 'unsupported', readOnly: true, verb: 'SHOW', syntaxAt: 19 });
    expect(parse('SELECT (1')).toMatchObject({ kind: 'unsupported', syntaxAt: 9 });
    expect(parse('SELECT COUNT(*) FROM information_schema.TABLES')).toMatchObject({ kind: 'unsupported', readOnly: true, syntaxAt: 13 });
    expect(parse('SELECT GET_LOCK(x, 1')).toMatchObject({ kind: 'unsupported', readOnly: false });
  });
});

describe('sqlLike', () => {
  it('matches % and _ case-insensitively, with backslash escapes', () => {
    expect(sqlLike('server_id', 'SERVER_ID')).toBe(true);
    expect(sqlLike('server_id', 'server%')).toBe(true);
    expect(sqlLike('server_uuid', 'server_i_')).toBe(false);
    expect(sqlLike('server_id', 'server_i_')).toBe(true);
    expect(sqlLike('gtid_binlog_pos', '%binlog%')).toBe(true);
    expect(sqlLike('gtid_binlog_pos', '%binlog')).toBe(false);
    expect(sqlLike('a_b', 'a\\_b')).toBe(true);
    expect(sqlLike('axb', 'a\\_b')).toBe(false);
    expect(sqlLike('', '%')).toBe(true);
    expect(sqlLike('abc', '')).toBe(false);
  });

  it('stays linear on a hostile pattern', () => {
    const t0 = Date.now();
    expect(sqlLike('a'.repeat(5000), `${'%a'.repeat(200)}b`)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
