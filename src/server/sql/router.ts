/**
 * The SQL router: parses one COM_QUERY text and answers it from the session, the server variables and the
 * stored binlog. Pure with respect to I/O (everything comes through `SqlContext`), so every statement can
 * be tested without a socket. Replies are an OK, a result set, or "forward" (a read-only statement we do not
 * answer; the session sends it to the primary when passthrough is on, or the attached error otherwise).
 * Errors the client must see are thrown as SqlError.
 */
import type { ColumnDefinition, TextValue } from '../../../protocol/resultset.js';
import type { SyncerStatus } from '../../syncer/types.js';
import {
  ER_INCORRECT_GLOBAL_LOCAL_VAR,
  ER_SPECIFIC_ACCESS_DENIED_ERROR,
  ER_WRONG_VALUE_FOR_VAR,
  parseError,
  SqlError,
  unknownSystemVariable,
  unknownThread,
  unsupportedStatement,
} from '../errors.js';
import type { ProcessRow, RegisteredSlave } from '../registry.js';
import { catalogueFor, globalValue, normaliseSessionValue, statusVariables, type StatusFacts } from '../variables.js';
import { evaluate, ForwardableSqlError, type EvalContext } from './eval.js';
import { sqlLike } from './like.js';
import { parseStatement, type Expr, type SetItem, type Statement } from './parser.js';
import { showBinaryLogs, showMasterStatus, showProcessList, showSlaveHosts, showSlaveStatus, showWarnings } from './show.js';
import { SqlSyntaxError } from './tokenizer.js';
import {
  exprColumn,
  showText,
  str,
  valueText,
  variableColumns,
  type ColumnStyle,
  type SqlValue,
  type TypedValue,
  type ValueKind,
} from './values.js';

export interface SqlContext extends EvalContext {
  style: ColumnStyle;
  setDatabase(db: string): void;
  /** SET NAMES / CHARACTER SET / character_set_results changed the result collation. */
  setResultCollation(collation: number): void;
  registeredSlaves(): Array<RegisteredSlave & { replicaUuid: string | null }>;
  processList(): ProcessRow[];
  syncerStatus(): SyncerStatus | null;
  statusFacts(): StatusFacts;
  /** KILL: 'unknown' when there is no such connection. */
  kill(id: number, what: 'connection' | 'query'): 'ok' | 'unknown';
}

export type SqlReply =
  | { kind: 'ok' }
  | { kind: 'rows'; columns: ColumnDefinition[]; rows: TextValue[][] }
  /** Not answered here: forward to the primary (passthrough) or send `error`. */
  | { kind: 'forward'; error: SqlError; readOnly: boolean };

/** Collation ids of the charsets and collations clients name in SET NAMES. */
const COLLATIONS: Record<string, number> = {
  utf8mb4_general_ci: 45,
  utf8mb4_bin: 46,
  utf8mb4_unicode_ci: 224,
  utf8mb4_0900_ai_ci: 255,
  utf8mb3_general_ci: 33,
  utf8_general_ci: 33,
  utf8mb3_bin: 83,
  utf8_bin: 83,
  utf8mb3_unicode_ci: 192,
  utf8_unicode_ci: 192,
  latin1_swedish_ci: 8,
  latin1_bin: 47,
  ascii_general_ci: 11,
  binary: 63,
};

function defaultCollation(charset: string, flavor: 'mysql' | 'mariadb'): number | undefined {
  switch (charset.toLowerCase()) {
    case 'utf8mb4':
      return flavor === 'mysql' ? 255 : 45;
    case 'utf8':
    case 'utf8mb3':
      return 33;
    case 'latin1':
      return 8;
    case 'ascii':
      return 11;
    case 'binary':
      return 63;
    default:
      return undefined;
  }
}

function unknownCharset(name: string): SqlError {
  return new SqlError(1115, '42000', `Unknown character set: '${name}'`);
}

function unknownCollation(name: string): SqlError {
  return new SqlError(1273, 'HY000', `Unknown collation: '${name}'`);
}

/** Answers one statement. */
export async function routeQuery(sql: string, ctx: SqlContext): Promise<SqlReply> {
  let stmt: Statement;
  try {
    stmt = parseStatement(sql);
  } catch (err) {
    if (err instanceof SqlSyntaxError) throw parseError(ctx.flavor, sql.slice(err.at).trim());
    throw err;
  }
  try {
    return await execute(stmt, sql, ctx);
  } catch (err) {
    if (err instanceof ForwardableSqlError) return { kind: 'forward', error: err, readOnly: true };
    throw err;
  }
}

async function execute(stmt: Statement, sql: string, ctx: SqlContext): Promise<SqlReply> {
  switch (stmt.kind) {
    case 'empty':
      throw new SqlError(1065, '42000', 'Query was empty');
    case 'set':
      for (const item of stmt.items) await setItem(item, ctx);
      return { kind: 'ok' };
    case 'set_transaction':
      if (stmt.scope === 'global') throw superRequired();
      return { kind: 'ok' };
    case 'transaction':
      return { kind: 'ok' };
    case 'use':
      ctx.setDatabase(stmt.database);
      return { kind: 'ok' };
    case 'select':
      return select(stmt.items, stmt.limit, stmt.offset, ctx);
    case 'show_variables':
      return showVariables(stmt, ctx);
    case 'show_master_status':
      return { kind: 'rows', ...showMasterStatus(ctx.source, ctx.style) };
    case 'show_binary_logs':
      return { kind: 'rows', ...showBinaryLogs(ctx.source, ctx.style) };
    case 'show_slave_hosts':
      return { kind: 'rows', ...showSlaveHosts(ctx.registeredSlaves(), ctx.facts.identity.serverId, ctx.style, stmt.syntax) };
    case 'show_slave_status':
      return { kind: 'rows', ...showSlaveStatus(ctx.syncerStatus(), ctx.style, stmt.syntax) };
    case 'show_processlist':
      return { kind: 'rows', ...showProcessList(ctx.processList(), ctx.style, stmt.full) };
    case 'show_warnings':
      if (stmt.count) {
        const name = stmt.errors ? '@@session.error_count' : '@@session.warning_count';
        return { kind: 'rows', columns: [exprColumn(name, 'uint', ctx.style)], rows: [[0]] };
      }
      return { kind: 'rows', ...showWarnings(ctx.style) };
    case 'kill': {
      const v = await evaluate(stmt.id, ctx);
      const id = typeof v.value === 'bigint' ? v.value : null;
      if (id === null || id < 0n || id > 0xffffffffn) throw unknownThread(valueText(v.value) ?? 'NULL');
      if (ctx.kill(Number(id), stmt.what) === 'unknown') throw unknownThread(id);
      return { kind: 'ok' };
    }
    case 'unsupported':
      return {
        kind: 'forward',
        error: stmt.syntaxAt === undefined ? unsupportedStatement(sql.trim()) : parseError(ctx.flavor, sql.slice(stmt.syntaxAt).trim()),
        readOnly: stmt.readOnly,
      };
  }
}

function superRequired(): SqlError {
  return new SqlError(
    ER_SPECIFIC_ACCESS_DENIED_ERROR,
    '42000',
    'Access denied; you need (at least one of) the SUPER, SYSTEM_VARIABLES_ADMIN privilege(s) for this operation',
  );
}

async function setItem(item: SetItem, ctx: SqlContext): Promise<void> {
  switch (item.target) {
    case 'user': {
      const v = await setValue(item.expr, ctx);
      ctx.userVars.set(item.name.toLowerCase(), v);
      return;
    }
    case 'names': {
      const charset = item.charset ?? 'utf8mb4';
      let collation = defaultCollation(charset, ctx.flavor);
      if (collation === undefined) throw unknownCharset(charset);
      if (item.collate) {
        collation = COLLATIONS[item.collate.toLowerCase()];
        if (collation === undefined) throw unknownCollation(item.collate);
      }
      for (const v of ['character_set_client', 'character_set_connection', 'character_set_results']) ctx.sessionVars.set(v, charset.toLowerCase());
      ctx.sessionVars.set('collation_connection', item.collate?.toLowerCase() ?? collationNameOf(collation, charset));
      ctx.setResultCollation(collation);
      return;
    }
    case 'charset': {
      const charset = item.charset ?? 'utf8mb4';
      const collation = defaultCollation(charset, ctx.flavor);
      if (collation === undefined) throw unknownCharset(charset);
      ctx.sessionVars.set('character_set_client', charset.toLowerCase());
      ctx.sessionVars.set('character_set_results', charset.toLowerCase());
      ctx.setResultCollation(collation);
      return;
    }
    case 'system': {
      const def = ctx.catalogue.get(item.name);
      if (!def) throw unknownSystemVariable(item.name);
      if (item.scope === 'global') throw superRequired();
      if (!def.session) {
        throw new SqlError(ER_INCORRECT_GLOBAL_LOCAL_VAR, 'HY000', `Variable '${def.name}' is a read only variable`);
      }
      if (item.expr.kind === 'default') {
        ctx.sessionVars.delete(def.name);
        return;
      }
      const raw = await setValue(item.expr, ctx);
      const v = normaliseSessionValue(def, raw);
      if (v === undefined) {
        throw new SqlError(ER_WRONG_VALUE_FOR_VAR, '42000', `Variable '${def.name}' can't be set to the value of '${valueText(raw) ?? 'NULL'}'`);
      }
      ctx.sessionVars.set(def.name, v);
      if (def.name === 'character_set_results' && typeof v === 'string') {
        const c = defaultCollation(v, ctx.flavor);
        if (c !== undefined) ctx.setResultCollation(c);
      }
      return;
    }
  }
}

function collationNameOf(id: number, charset: string): string {
  for (const [name, c] of Object.entries(COLLATIONS)) if (c === id && name.startsWith(charset.toLowerCase())) return name;
  return charset.toLowerCase() === 'binary' ? 'binary' : `${charset.toLowerCase()}_general_ci`;
}

/** A SET right-hand side: a bare word (SET autocommit = ON) is its own text. */
async function setValue(e: Expr, ctx: SqlContext): Promise<SqlValue> {
  if (e.kind === 'column') return e.name;
  return (await evaluate(e, ctx)).value;
}

async function select(items: Array<{ expr: Expr; name: string }>, limit: bigint | null, offset: bigint, ctx: SqlContext): Promise<SqlReply> {
  const values: TypedValue[] = [];
  for (const item of items) values.push(await evaluate(item.expr, ctx));
  const columns = items.map((item, i) => {
    const v = values[i]!;
    return exprColumn(item.name, columnKind(v), ctx.style, (valueText(v.value) ?? '').length);
  });
  const include = offset === 0n && (limit === null || limit > 0n);
  return { kind: 'rows', columns, rows: include ? [values.map((v) => v.value)] : [] };
}

function columnKind(v: TypedValue): ValueKind {
  if (v.value === null && v.kind === 'string') return 'string';
  return v.kind;
}

async function showVariables(
  stmt: Extract<Statement, { kind: 'show_variables' }>,
  ctx: SqlContext,
): Promise<SqlReply> {
  let all: Array<[string, TypedValue]>;
  if (stmt.status) {
    all = statusVariables(ctx.statusFacts());
  } else {
    const cat = catalogueFor(ctx.flavor);
    all = cat.sorted.map((def) => {
      const g = globalValue(def, ctx.facts);
      const s = stmt.scope === 'session' && def.session ? ctx.sessionVars.get(def.name) : undefined;
      return [def.name, s === undefined ? g : { value: s, kind: g.kind }];
    });
  }
  const rows: TextValue[][] = [];
  for (const [name, value] of all) {
    const text = showText(value);
    if (stmt.like !== null && !sqlLike(name, stmt.like)) continue;
    if (stmt.where) {
      const row = (col: string): TypedValue | undefined => {
        const c = col.toLowerCase();
        if (c === 'variable_name') return str(name);
        if (c === 'value') return str(text);
        return undefined;
      };
      const keep = await evaluate(stmt.where, ctx, row);
      if (keep.value === null || keep.value === 0n || keep.value === '0' || keep.value === '') continue;
    }
    rows.push([name, text]);
  }
  const table = stmt.status ? (stmt.scope === 'global' ? 'GLOBAL_STATUS' : 'SESSION_STATUS') : stmt.scope === 'global' ? 'GLOBAL_VARIABLES' : 'SESSION_VARIABLES';
  return { kind: 'rows', columns: variableColumns(ctx.style, table), rows };
}

