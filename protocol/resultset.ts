/**
 * Text result sets, the reply to COM_QUERY (§1.8):
 *
 *   column count      lenenc N
 *   N × column definition (ColumnDefinition41)
 *   EOF               only without CLIENT_DEPRECATE_EOF
 *   rows              one packet each: N × (str<lenenc> | 0xfb NULL)
 *   terminator        classic EOF, or with CLIENT_DEPRECATE_EOF an OK with header 0xfe
 */
import { ByteReader, ByteWriter, lenencSize, lenencStringSize } from './bytes.js';
import { ProtocolError } from './errors.js';
import {
  BINARY_COLLATION,
  BINARY_FLAG,
  CLIENT_DEPRECATE_EOF,
  EOF_HEADER,
  LOCAL_INFILE_HEADER,
  MAX_PACKET_PAYLOAD,
  MYSQL_TYPE_LONGLONG,
  MYSQL_TYPE_VAR_STRING,
  NOT_NULL_FLAG,
  OK_HEADER,
  SERVER_STATUS_AUTOCOMMIT,
  UNSIGNED_FLAG,
  UTF8MB4_GENERAL_CI,
} from './constants.js';
import { decodeEof, decodeErr, decodeOk, encodeEof, encodeOk, isErrPacket, MysqlServerError, type OkPacket } from './generic.js';

// ---------------------------------------------------------------------------------------------------
// Column definitions
// ---------------------------------------------------------------------------------------------------

/*
 * ColumnDefinition41 layout
 *   str<lenenc>  catalog ("def")
 *   str<lenenc>  schema
 *   str<lenenc>  table
 *   str<lenenc>  org_table
 *   str<lenenc>  name
 *   str<lenenc>  org_name
 *   lenenc       length of the fixed fields = 0x0c
 *   2            character set (collation id)
 *   4            column_length
 *   1            type
 *   2            flags
 *   1            decimals
 *   2            filler
 */
export interface ColumnDefinition {
  catalog: string;
  schema: string;
  table: string;
  orgTable: string;
  name: string;
  orgName: string;
  characterSet: number;
  columnLength: number;
  type: number;
  flags: number;
  decimals: number;
}

const FIXED_FIELDS_LENGTH = 0x0c;

export function encodeColumnDefinition(c: ColumnDefinition): Buffer {
  const strs = [c.catalog, c.schema, c.table, c.orgTable, c.name, c.orgName].map((s) => Buffer.from(s, 'utf8'));
  let size = 1 + FIXED_FIELDS_LENGTH;
  for (const s of strs) size += lenencStringSize(s.length);
  const w = new ByteWriter(size);
  for (const s of strs) w.bytesLenenc(s);
  w.lenenc(FIXED_FIELDS_LENGTH).u16(c.characterSet).u32(c.columnLength).u8(c.type).u16(c.flags).u8(c.decimals).u16(0);
  return w.finish();
}

export function decodeColumnDefinition(payload: Buffer): ColumnDefinition {
  const r = new ByteReader(payload);
  const catalog = r.strLenenc('catalog');
  const schema = r.strLenenc('schema');
  const table = r.strLenenc('table');
  const orgTable = r.strLenenc('org_table');
  const name = r.strLenenc('name');
  const orgName = r.strLenenc('org_name');
  const fixed = r.lenencNumber('fixed-fields length');
  if (fixed < 10) throw new ProtocolError('ERR_MALFORMED', `column definition fixed fields of ${fixed} bytes (want 12)`);
  r.need(fixed, 'column definition fixed fields');
  const characterSet = r.u16('character set');
  const columnLength = r.u32('column_length');
  const type = r.u8('type');
  const flags = r.u16('flags');
  const decimals = r.u8('decimals');
  r.skip(fixed - 10);
  return { catalog, schema, table, orgTable, name, orgName, characterSet, columnLength, type, flags, decimals };
}

function column(name: string, fields: Pick<ColumnDefinition, 'characterSet' | 'columnLength' | 'type' | 'flags' | 'decimals'>): ColumnDefinition {
  return { catalog: 'def', schema: '', table: '', orgTable: '', name, orgName: name, ...fields };
}

/** A text column (VAR_STRING, utf8mb4_general_ci unless told otherwise), as in SHOW VARIABLES. */
export function stringColumn(name: string, opts: { characterSet?: number; columnLength?: number; notNull?: boolean } = {}): ColumnDefinition {
  return column(name, {
    characterSet: opts.characterSet ?? UTF8MB4_GENERAL_CI,
    columnLength: opts.columnLength ?? 1024,
    type: MYSQL_TYPE_VAR_STRING,
    flags: opts.notNull ? NOT_NULL_FLAG : 0,
    decimals: 0x1f,
  });
}

/** An integer column (LONGLONG, binary collation), e.g. `@@GLOBAL.SERVER_ID` (unsigned) or `UNIX_TIMESTAMP()`. */
export function integerColumn(name: string, opts: { unsigned?: boolean; notNull?: boolean } = {}): ColumnDefinition {
  return column(name, {
    characterSet: BINARY_COLLATION,
    columnLength: opts.unsigned ? 20 : 21,
    type: MYSQL_TYPE_LONGLONG,
    flags: BINARY_FLAG | (opts.unsigned ? UNSIGNED_FLAG : 0) | (opts.notNull ? NOT_NULL_FLAG : 0),
    decimals: 0,
  });
}

// ---------------------------------------------------------------------------------------------------
// Rows and whole result sets
// ---------------------------------------------------------------------------------------------------

export type TextValue = string | Buffer | null | number | bigint;

function valueBytes(v: Exclude<TextValue, null>): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`cannot send ${v} in a text row`);
    return Buffer.from(String(v), 'latin1');
  }
  if (typeof v === 'bigint') return Buffer.from(v.toString(), 'latin1');
  return v;
}

/** One text row: each value as str<lenenc>, NULL as 0xfb. Numbers are sent as their decimal text. */
export function encodeTextRow(values: readonly TextValue[]): Buffer {
  const bytes = values.map((v) => (v === null ? null : valueBytes(v)));
  let size = 0;
  for (const b of bytes) size += b === null ? 1 : lenencStringSize(b.length);
  const w = new ByteWriter(size);
  for (const b of bytes) {
    if (b === null) w.nullMarker();
    else w.bytesLenenc(b);
  }
  return w.finish();
}

/** Decodes one text row of `columnCount` values (zero-copy slices of `payload`; null for SQL NULL). */
export function decodeTextRow(payload: Buffer, columnCount: number): Array<Buffer | null> {
  const r = new ByteReader(payload);
  const out: Array<Buffer | null> = new Array<Buffer | null>(columnCount);
  for (let i = 0; i < columnCount; i++) out[i] = r.bytesLenencOrNull(`column ${i}`);
  if (r.remaining !== 0) throw new ProtocolError('ERR_MALFORMED', `text row has ${r.remaining} bytes after ${columnCount} columns`);
  return out;
}

export interface TextResultSetInit {
  columns: readonly ColumnDefinition[];
  rows: ReadonlyArray<readonly TextValue[]>;
}

export interface TextResultSetOptions {
  capabilities: number;
  /** Status flags of the terminator (default SERVER_STATUS_AUTOCOMMIT). */
  statusFlags?: number;
  warnings?: number;
}

/** The payloads of a complete text result set, in order, ready to be framed with consecutive seq ids. */
export function encodeTextResultSet(rs: TextResultSetInit, opts: TextResultSetOptions): Buffer[] {
  const n = rs.columns.length;
  if (n === 0) throw new RangeError('a result set needs at least one column');
  const deprecateEof = (opts.capabilities & CLIENT_DEPRECATE_EOF) !== 0;
  const statusFlags = opts.statusFlags ?? SERVER_STATUS_AUTOCOMMIT;
  const warnings = opts.warnings ?? 0;
  const out: Buffer[] = [new ByteWriter(lenencSize(n)).lenenc(n).finish()];
  for (const c of rs.columns) out.push(encodeColumnDefinition(c));
  if (!deprecateEof) out.push(encodeEof({ warnings, statusFlags }));
  for (const row of rs.rows) {
    if (row.length !== n) throw new RangeError(`row of ${row.length} values for ${n} columns`);
    out.push(encodeTextRow(row));
  }
  out.push(
    deprecateEof
      ? encodeOk({ statusFlags, warnings }, { capabilities: opts.capabilities, eofHeader: true })
      : encodeEof({ warnings, statusFlags }),
  );
  return out;
}

/** A decoded COM_QUERY response. `ok` is set (and columns/rows empty) when the server sent a plain OK. */
export interface TextResultSet {
  columns: ColumnDefinition[];
  rows: Array<Array<Buffer | null>>;
  statusFlags: number;
  warnings: number;
  ok: OkPacket | null;
}

/** Rows as strings (UTF-8), NULL kept as null. */
export function textRows(rs: Pick<TextResultSet, 'rows'>): Array<Array<string | null>> {
  return rs.rows.map((row) => row.map((v) => (v === null ? null : v.toString('utf8'))));
}

/** More columns than any server allows in one result (guards the row array allocation). */
const MAX_COLUMNS = 65535;

type DecoderState = 'start' | 'columns' | 'columnsEof' | 'rows' | 'done';

/**
 * Client-side state machine for one COM_QUERY response, fed one logical payload at a time. `push`
 * returns the result when the last packet arrived, else undefined. An ERR packet from the server is
 * thrown as `MysqlServerError`; malformed or unexpected packets as `ProtocolError`.
 */
export class TextResultSetDecoder {
  private readonly capabilities: number;
  private state: DecoderState = 'start';
  private columnCount = 0;
  private readonly columns: ColumnDefinition[] = [];
  private readonly rows: Array<Array<Buffer | null>> = [];

  constructor(opts: { capabilities: number }) {
    this.capabilities = opts.capabilities;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  push(payload: Buffer): TextResultSet | undefined {
    if (this.state === 'done') throw new ProtocolError('ERR_MALFORMED', 'packet after the end of the result set');
    if (isErrPacket(payload)) {
      this.state = 'done';
      throw MysqlServerError.fromPacket(decodeErr(payload));
    }
    switch (this.state) {
      case 'start':
        return this.onStart(payload);
      case 'columns':
        this.columns.push(decodeColumnDefinition(payload));
        if (this.columns.length === this.columnCount) {
          this.state = this.capabilities & CLIENT_DEPRECATE_EOF ? 'rows' : 'columnsEof';
        }
        return undefined;
      case 'columnsEof':
        decodeEof(payload);
        this.state = 'rows';
        return undefined;
      default:
        return this.onRow(payload);
    }
  }

  private onStart(payload: Buffer): TextResultSet | undefined {
    if (payload.length === 0) throw new ProtocolError('ERR_TRUNCATED', 'empty response packet');
    if (payload[0] === OK_HEADER) {
      const ok = decodeOk(payload, { capabilities: this.capabilities });
      this.state = 'done';
      return { columns: [], rows: [], statusFlags: ok.statusFlags, warnings: ok.warnings, ok };
    }
    if (payload[0] === LOCAL_INFILE_HEADER) {
      throw new ProtocolError('ERR_UNSUPPORTED', 'LOCAL INFILE requests are not supported');
    }
    const r = new ByteReader(payload);
    const n = r.lenencNumber('column count');
    if (r.remaining !== 0) throw new ProtocolError('ERR_MALFORMED', 'column-count packet has trailing bytes');
    if (n === 0 || n > MAX_COLUMNS) throw new ProtocolError('ERR_MALFORMED', `invalid column count ${n}`);
    this.columnCount = n;
    this.state = 'columns';
    return undefined;
  }

  private onRow(payload: Buffer): TextResultSet | undefined {
    if (payload.length > 0 && payload[0] === EOF_HEADER) {
      if (this.capabilities & CLIENT_DEPRECATE_EOF) {
        if (payload.length < MAX_PACKET_PAYLOAD) {
          const ok = decodeOk(payload, { capabilities: this.capabilities });
          return this.finish(ok.statusFlags, ok.warnings);
        }
      } else if (payload.length < 9) {
        const eof = decodeEof(payload);
        return this.finish(eof.statusFlags, eof.warnings);
      }
    }
    this.rows.push(decodeTextRow(payload, this.columnCount));
    return undefined;
  }

  private finish(statusFlags: number, warnings: number): TextResultSet {
    this.state = 'done';
    return { columns: this.columns, rows: this.rows, statusFlags, warnings, ok: null };
  }
}
