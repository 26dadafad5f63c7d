/**
 * Evaluation of the expressions of parser.ts against a session: literals, system and user variables, the
 * handful of functions replicas and binlog clients call (UNIX_TIMESTAMP(), VERSION(), DATABASE(), UUID(),
 * CONNECTION_ID(), binlog_gtid_pos(), GTID_SUBSET/GTID_SUBTRACT …), comparisons, LIKE and IN.
 * Unknown functions raise ER_SP_DOES_NOT_EXIST marked `forwardable`: with passthrough on, the statement goes
 * to the primary instead.
 */
import { randomUUID } from 'node:crypto';
import { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { BinlogProxyError } from '../../../protocol/errors.js';
import {
  ER_BAD_FIELD_ERROR,
  ER_SP_DOES_NOT_EXIST,
  ER_WRONG_ARGUMENTS,
  ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT,
  SqlError,
  unknownSystemVariable,
} from '../errors.js';
import type { Flavor } from '../dump/types.js';
import type { SourceView } from '../source.js';
import { globalValue, type ServerFacts, type VariableCatalogue } from '../variables.js';
import { sqlLike } from './like.js';
import type { Expr } from './parser.js';
import { asInteger, int, NULL_VALUE, str, valueText, type SqlValue, type TypedValue } from './values.js';

/** What expression evaluation reads from the session and the server. */
export interface EvalContext {
  flavor: Flavor;
  facts: ServerFacts;
  catalogue: VariableCatalogue;
  source: SourceView;
  connectionId: number;
  user: string;
  host: string;
  database: string | null;
  /** User variables, lower-case names. */
  userVars: Map<string, SqlValue>;
  /** Session values of system variables, lower-case names. */
  sessionVars: Map<string, SqlValue>;
  /** Wall clock in ms (injectable for tests). */
  now(): number;
}

/** An error that passthrough may resolve by asking the primary. */
export class ForwardableSqlError extends SqlError {}

/** Resolves a bare column name (SHOW … WHERE); undefined when there is no such column. */
export type ColumnResolver = (name: string) => TypedValue | undefined;

const TRUE = int(1);
const FALSE = int(0);

function truthy(v: TypedValue): boolean | null {
  if (v.value === null) return null;
  if (typeof v.value === 'bigint') return v.value !== 0n;
  const n = Number.parseFloat(v.value);
  return Number.isFinite(n) ? n !== 0 : false;
}

function bool(b: boolean | null): TypedValue {
  return b === null ? NULL_VALUE : b ? TRUE : FALSE;
}

/** Compares like MySQL does for our value kinds: numerically when both read as numbers, else as text, case-insensitively. */
function compare(a: TypedValue, b: TypedValue): number | null {
  if (a.value === null || b.value === null) return null;
  const an = typeof a.value === 'bigint' ? a.value : null;
  const bn = typeof b.value === 'bigint' ? b.value : null;
  if (an !== null || bn !== null) {
    const x = an ?? asInteger(a.value);
    const y = bn ?? asInteger(b.value);
    if (x !== null && y !== null) return x < y ? -1 : x > y ? 1 : 0;
    const fx = Number(valueText(a.value));
    const fy = Number(valueText(b.value));
    if (Number.isFinite(fx) && Number.isFinite(fy)) return fx < fy ? -1 : fx > fy ? 1 : 0;
  }
  const sa = valueText(a.value)!.toLowerCase();
  const sb = valueText(b.value)!.toLowerCase();
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function pad2(n: number): string {
  return n.toString().padStart(2, '0');
}

function formatDateTime(d: Date, utc: boolean): string {
  const [y, mo, da, h, mi, s] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${y}-${pad2(mo)}-${pad2(da)} ${pad2(h)}:${pad2(mi)}:${pad2(s)}`;
}

function argCount(name: string, args: Expr[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    throw new SqlError(ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT, '42000', `Incorrect parameter count in the call to native function '${name}'`);
  }
}

function noSuchFunction(name: string, ctx: EvalContext): ForwardableSqlError {
  const db = ctx.database ?? '';
  return new ForwardableSqlError(ER_SP_DOES_NOT_EXIST, '42000', `FUNCTION ${db ? `${db}.` : ''}${name} does not exist`);
}

function gtidSetArg(v: TypedValue): MysqlGtidSet {
  const text = valueText(v.value) ?? '';
  try {
    return MysqlGtidSet.parse(text);
  } catch (cause) {
    if (cause instanceof BinlogProxyError) {
      throw new SqlError(ER_WRONG_ARGUMENTS, 'HY000', `Malformed GTID set specification '${text}'.`, { cause });
    }
    throw cause;
  }
}

/** The value of `@@[scope.]name` for this session. */
export function systemVariable(name: string, scope: 'global' | 'session' | null, ctx: EvalContext): TypedValue {
  const def = ctx.catalogue.get(name);
  if (!def) throw unknownSystemVariable(name);
  const base = globalValue(def, ctx.facts);
  if (scope !== 'global' && def.session) {
    const v = ctx.sessionVars.get(def.name);
    if (v !== undefined) return { value: v, kind: base.kind };
  }
  return base;
}

export function userVariable(name: string, ctx: EvalContext): TypedValue {
  const v = ctx.userVars.get(name.toLowerCase());
  if (v === undefined || v === null) return { value: null, kind: 'string' };
  return typeof v === 'bigint' ? int(v) : str(v);
}

export async function evaluate(e: Expr, ctx: EvalContext, columns?: ColumnResolver): Promise<TypedValue> {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'default':
      return NULL_VALUE;
    case 'sysvar':
      return systemVariable(e.name, e.scope, ctx);
    case 'uservar':
      return userVariable(e.name, ctx);
    case 'column': {
      const v = columns?.(e.name);
      if (v === undefined) {
        throw new SqlError(ER_BAD_FIELD_ERROR, '42S22', `Unknown column '${e.name}' in '${columns ? 'where clause' : 'field list'}'`);
      }
      return v;
    }
    case 'unary': {
      const v = await evaluate(e.expr, ctx, columns);
      if (e.op === 'NOT') {
        const t = truthy(v);
        return bool(t === null ? null : !t);
      }
      if (v.value === null) return NULL_VALUE;
      if (e.op === '+') return v;
      const n = typeof v.value === 'bigint' ? v.value : asInteger(v.value);
      if (e.op === '~') return n === null ? NULL_VALUE : int(~n & 0xffffffffffffffffn, 'uint');
      if (n !== null) return int(-n);
      const f = Number(v.value);
      return Number.isFinite(f) ? { value: String(-f), kind: 'decimal' } : int(0);
    }
    case 'binary':
      return binary(e.op, e.left, e.right, ctx, columns);
    case 'like': {
      const v = await evaluate(e.expr, ctx, columns);
      const p = await evaluate(e.pattern, ctx, columns);
      if (v.value === null || p.value === null) return NULL_VALUE;
      const m = sqlLike(valueText(v.value)!, valueText(p.value)!);
      return bool(e.not ? !m : m);
    }
    case 'in': {
      const v = await evaluate(e.expr, ctx, columns);
      if (v.value === null) return NULL_VALUE;
      let sawNull = false;
      for (const item of e.list) {
        const c = compare(v, await evaluate(item, ctx, columns));
        if (c === null) sawNull = true;
        else if (c === 0) return bool(!e.not);
      }
      return sawNull ? NULL_VALUE : bool(e.not);
    }
    case 'is_null': {
      const v = await evaluate(e.expr, ctx, columns);
      return bool((v.value === null) !== e.not);
    }
    case 'call':
      return call(e.name, e.args, ctx, columns);
  }
}

async function binary(op: string, l: Expr, r: Expr, ctx: EvalContext, columns?: ColumnResolver): Promise<TypedValue> {
  if (op === 'AND' || op === 'OR') {
    const a = truthy(await evaluate(l, ctx, columns));
    if (op === 'AND' && a === false) return FALSE;
    if (op === 'OR' && a === true) return TRUE;
    const b = truthy(await evaluate(r, ctx, columns));
    if (op === 'AND') return b === false ? FALSE : a === null || b === null ? NULL_VALUE : TRUE;
    return b === true ? TRUE : a === null || b === null ? NULL_VALUE : FALSE;
  }
  const a = await evaluate(l, ctx, columns);
  const b = await evaluate(r, ctx, columns);
  if (op === '<=>') {
    if (a.value === null || b.value === null) return bool(a.value === null && b.value === null);
    return bool(compare(a, b) === 0);
  }
  if (a.value === null || b.value === null) return NULL_VALUE;
  switch (op) {
    case '=':
      return bool(compare(a, b) === 0);
    case '<>':
      return bool(compare(a, b) !== 0);
    case '<':
      return bool(compare(a, b)! < 0);
    case '>':
      return bool(compare(a, b)! > 0);
    case '<=':
      return bool(compare(a, b)! <= 0);
    case '>=':
      return bool(compare(a, b)! >= 0);
  }
  const x = typeof a.value === 'bigint' ? a.value : asInteger(a.value);
  const y = typeof b.value === 'bigint' ? b.value : asInteger(b.value);
  if (x !== null && y !== null && op !== '/') {
    switch (op) {
      case '+':
        return int(x + y);
      case '-':
        return int(x - y);
      case '*':
        return int(x * y);
      case 'DIV':
        return y === 0n ? NULL_VALUE : int(x / y);
      case '%':
        return y === 0n ? NULL_VALUE : int(x % y);
    }
  }
  const fx = Number(valueText(a.value));
  const fy = Number(valueText(b.value));
  if (!Number.isFinite(fx) || !Number.isFinite(fy)) return int(0);
  let res: number;
  switch (op) {
    case '+':
      res = fx + fy;
      break;
    case '-':
      res = fx - fy;
      break;
    case '*':
      res = fx * fy;
      break;
    case '/':
      if (fy === 0) return NULL_VALUE;
      return { value: (fx / fy).toFixed(4), kind: 'decimal' };
    case 'DIV':
      return fy === 0 ? NULL_VALUE : int(BigInt(Math.trunc(fx / fy)));
    default:
      return fy === 0 ? NULL_VALUE : { value: String(fx % fy), kind: 'decimal' };
  }
  return { value: String(res), kind: 'decimal' };
}

async function call(name: string, args: Expr[], ctx: EvalContext, columns?: ColumnResolver): Promise<TypedValue> {
  const values = async (): Promise<TypedValue[]> => {
    const out: TypedValue[] = [];
    for (const a of args) out.push(await evaluate(a, ctx, columns));
    return out;
  };
  switch (name) {
    case 'unix_timestamp':
      // UNIX_TIMESTAMP(date) needs date arithmetic we do not implement: the primary can answer it.
      if (args.length !== 0) throw noSuchFunction(name, ctx);
      return int(Math.floor(ctx.now() / 1000));
    case 'version':
      argCount(name, args, 0);
      return str(ctx.facts.version);
    case 'database':
    case 'schema':
      argCount(name, args, 0);
      return str(ctx.database);
    case 'user':
    case 'session_user':
    case 'system_user':
      argCount(name, args, 0);
      return str(`${ctx.user}@${ctx.host}`);
    case 'current_user':
      argCount(name, args, 0);
      return str(`${ctx.user}@%`);
    case 'connection_id':
      argCount(name, args, 0);
      return int(ctx.connectionId, 'uint');
    case 'now':
    case 'current_timestamp':
    case 'localtime':
    case 'localtimestamp':
    case 'sysdate':
      return { value: formatDateTime(new Date(ctx.now()), false), kind: 'datetime' };
    case 'utc_timestamp':
      return { value: formatDateTime(new Date(ctx.now()), true), kind: 'datetime' };
    case 'uuid':
      argCount(name, args, 0);
      return str(randomUUID());
    case 'last_insert_id':
    case 'found_rows':
      return int(0, 'uint');
    case 'concat': {
      const vs = await values();
      if (vs.some((v) => v.value === null)) return NULL_VALUE;
      return str(vs.map((v) => valueText(v.value)).join(''));
    }
    case 'ifnull': {
      argCount(name, args, 2);
      const [a, b] = await values();
      return a!.value === null ? b! : a!;
    }
    case 'coalesce': {
      for (const v of await values()) if (v.value !== null) return v;
      return NULL_VALUE;
    }
    case 'lower':
    case 'upper': {
      argCount(name, args, 1);
      const [a] = await values();
      if (a!.value === null) return NULL_VALUE;
      const t = valueText(a!.value)!;
      return str(name === 'lower' ? t.toLowerCase() : t.toUpperCase());
    }
    case 'binlog_gtid_pos': {
      if (ctx.flavor !== 'mariadb') throw noSuchFunction(name, ctx);
      argCount(name, args, 2);
      const [file, pos] = await values();
      if (file!.value === null || pos!.value === null) return NULL_VALUE;
      const p = typeof pos!.value === 'bigint' ? pos!.value : asInteger(pos!.value);
      if (p === null || p < 0n || p > 0xffffffffffffn) return NULL_VALUE;
      return str(await ctx.source.binlogGtidPos(valueText(file!.value)!, Number(p)));
    }
    case 'gtid_subset':
    case 'gtid_subtract': {
      if (ctx.flavor !== 'mysql') throw noSuchFunction(name, ctx);
      argCount(name, args, 2);
      const [a, b] = await values();
      if (a!.value === null || b!.value === null) return NULL_VALUE;
      const sa = gtidSetArg(a!);
      const sb = gtidSetArg(b!);
      return name === 'gtid_subset' ? int(sb.containsSet(sa) ? 1 : 0) : str(sa.subtract(sb).toString());
    }
    default:
      throw noSuchFunction(name, ctx);
  }
}
