/**
 * Values of the small SQL dialect we answer, and the column definitions that describe them in a text
 * result set. Types follow what MariaDB 10.11 and MySQL 8 report for the same expressions (captured with a
 * real server): integer system variables are LONGLONG (UNSIGNED when the variable is), booleans LONGLONG of
 * width 1, strings VAR_STRING in the connection's result collation, NULL the NULL type.
 */
import {
  BINARY_COLLATION,
  BINARY_FLAG,
  MYSQL_TYPE_LONGLONG,
  MYSQL_TYPE_VAR_STRING,
  NOT_NULL_FLAG,
  UNSIGNED_FLAG,
} from '../../../protocol/constants.js';
import type { ColumnDefinition } from '../../../protocol/resultset.js';
import type { Flavor } from '../dump/types.js';

/** MySQL field types not named in protocol/constants.ts (field_types.h). */
export const MYSQL_TYPE_LONG = 0x03;
export const MYSQL_TYPE_NULL = 0x06;
export const MYSQL_TYPE_DATETIME = 0x0c;
export const MYSQL_TYPE_NEWDECIMAL = 0xf6;

/** A scalar: text, a 64-bit integer, or SQL NULL. Booleans are integers 0/1 (kind 'bool'). */
export type SqlValue = string | bigint | null;

export type ValueKind = 'int' | 'uint' | 'bool' | 'string' | 'decimal' | 'datetime' | 'null';

export interface TypedValue {
  value: SqlValue;
  kind: ValueKind;
}

export const NULL_VALUE: TypedValue = { value: null, kind: 'null' };

export function str(value: string | null): TypedValue {
  return value === null ? NULL_VALUE : { value, kind: 'string' };
}

export function int(value: bigint | number, kind: 'int' | 'uint' | 'bool' = 'int'): TypedValue {
  return { value: BigInt(value), kind };
}

/** Text form of a value in a result row (NULL stays null). */
export function valueText(v: SqlValue): string | null {
  if (v === null) return null;
  return typeof v === 'bigint' ? v.toString() : v;
}

/** The value as an integer when it reads as one ('4', 4n, ' 4 '), else null. */
export function asInteger(v: SqlValue): bigint | null {
  if (v === null) return null;
  if (typeof v === 'bigint') return v;
  const t = v.trim();
  if (!/^[+-]?[0-9]+$/.test(t)) return null;
  return BigInt(t);
}

/** SHOW VARIABLES text of a typed value: booleans as ON/OFF, NULL as ''. */
export function showText(v: TypedValue): string {
  if (v.value === null) return '';
  if (v.kind === 'bool') return v.value === 0n || v.value === '0' ? 'OFF' : 'ON';
  return valueText(v.value) ?? '';
}

export interface ColumnStyle {
  flavor: Flavor;
  /** Collation id of string results (character_set_results of the connection). */
  resultCollation: number;
}

/** Decimals byte of string columns: MariaDB 39, MySQL 31 (NOT_FIXED_DEC). */
function stringDecimals(flavor: Flavor): number {
  return flavor === 'mariadb' ? 39 : 31;
}

function base(name: string): Pick<ColumnDefinition, 'catalog' | 'schema' | 'table' | 'orgTable' | 'name' | 'orgName'> {
  return { catalog: 'def', schema: '', table: '', orgTable: '', name, orgName: '' };
}

/** Column definition of a computed SELECT expression named `name` whose values have `kind`. */
export function exprColumn(name: string, kind: ValueKind, style: ColumnStyle, maxTextLength = 0): ColumnDefinition {
  switch (kind) {
    case 'uint':
      return { ...base(name), characterSet: BINARY_COLLATION, columnLength: 21, type: MYSQL_TYPE_LONGLONG, flags: UNSIGNED_FLAG | BINARY_FLAG, decimals: 0 };
    case 'int':
      return { ...base(name), characterSet: BINARY_COLLATION, columnLength: 21, type: MYSQL_TYPE_LONGLONG, flags: BINARY_FLAG, decimals: 0 };
    case 'bool':
      return { ...base(name), characterSet: BINARY_COLLATION, columnLength: 1, type: MYSQL_TYPE_LONGLONG, flags: BINARY_FLAG, decimals: 0 };
    case 'decimal':
      return { ...base(name), characterSet: BINARY_COLLATION, columnLength: Math.max(4, maxTextLength), type: MYSQL_TYPE_NEWDECIMAL, flags: BINARY_FLAG, decimals: 1 };
    case 'datetime':
      return { ...base(name), characterSet: BINARY_COLLATION, columnLength: 19, type: MYSQL_TYPE_DATETIME, flags: BINARY_FLAG, decimals: 0 };
    case 'null':
      return { ...base(name), characterSet: BINARY_COLLATION, columnLength: 0, type: MYSQL_TYPE_NULL, flags: BINARY_FLAG, decimals: 0 };
    case 'string':
      return {
        ...base(name),
        characterSet: style.resultCollation,
        columnLength: Math.max(4, maxTextLength * 4),
        type: MYSQL_TYPE_VAR_STRING,
        flags: 0,
        decimals: stringDecimals(style.flavor),
      };
  }
}

/** A NOT NULL text column of a SHOW statement (e.g. `File`, `Log_name`). */
export function showStringColumn(name: string, style: ColumnStyle, length: number): ColumnDefinition {
  return {
    ...base(name),
    characterSet: style.resultCollation,
    columnLength: length,
    type: MYSQL_TYPE_VAR_STRING,
    flags: NOT_NULL_FLAG,
    decimals: stringDecimals(style.flavor),
  };
}

/** A NOT NULL unsigned integer column of a SHOW statement (`Position`, `File_size`: LONGLONG; ids: LONG). */
export function showIntColumn(name: string, length: number, type: number = MYSQL_TYPE_LONGLONG): ColumnDefinition {
  return {
    ...base(name),
    characterSet: BINARY_COLLATION,
    columnLength: length,
    type,
    flags: NOT_NULL_FLAG | UNSIGNED_FLAG | BINARY_FLAG,
    decimals: 0,
  };
}

/** The two columns of SHOW VARIABLES / SHOW STATUS, as information_schema reports them. */
export function variableColumns(style: ColumnStyle, table: string): ColumnDefinition[] {
  const NO_DEFAULT_VALUE_FLAG = 0x1000;
  const common = {
    catalog: 'def',
    schema: 'information_schema',
    table,
    orgTable: table,
    characterSet: style.resultCollation,
    type: MYSQL_TYPE_VAR_STRING,
    flags: NOT_NULL_FLAG | NO_DEFAULT_VALUE_FLAG,
    decimals: 0,
  };
  return [
    { ...common, name: 'Variable_name', orgName: 'VARIABLE_NAME', columnLength: 256 },
    { ...common, name: 'Value', orgName: 'VARIABLE_VALUE', columnLength: 16384 },
  ];
}
