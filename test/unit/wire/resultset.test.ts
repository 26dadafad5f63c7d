import { describe, it, expect } from 'vitest';
import {
  TextResultSetDecoder,
  decodeColumnDefinition,
  decodeTextRow,
  encodeColumnDefinition,
  encodeTextResultSet,
  encodeTextRow,
  integerColumn,
  stringColumn,
  textRows,
  type ColumnDefinition,
} from '../../../protocol/resultset.js';
import { MysqlServerError } from '../../../protocol/generic.js';
import { ProtocolError } from '../../../protocol/errors.js';
import * as C from '../../../protocol/constants.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]+/g, ''), 'hex');
const P41 = C.CLIENT_PROTOCOL_41;
const DEP = C.CLIENT_PROTOCOL_41 | C.CLIENT_DEPRECATE_EOF;

// Captured on 2026-11-21 from MariaDB 10.11.19: `SELECT 1, 'abc' AS s, NULL AS n`.
const COL_1 = hex('03646566 00 00 00 0131 00 0c 3f00 01000000 03 8100 00 0000');
const COL_S = hex('03646566 00 00 00 0173 00 0c 2d00 0c000000 fd 0100 27 0000');
const COL_N = hex('03646566 00 00 00 016e 00 0c 3f00 00000000 06 8000 00 0000');
const ROW = hex('0131 03616263 fb');
const SELECT_CLASSIC = [hex('03'), COL_1, COL_S, COL_N, hex('fe00000200'), ROW, hex('fe00000200')];
const SELECT_DEPRECATE_EOF = [hex('03'), COL_1, COL_S, COL_N, ROW, hex('fe000002000000')];

// `SHOW VARIABLES LIKE 'server_id'` from the same server (classic EOF).
const SHOW_VARIABLES = [
  hex('02'),
  hex('03646566 12696e666f726d6174696f6e5f736368656d61 1153455353494f4e5f5641524941424c4553 1153455353494f4e5f5641524941424c4553 0d5661726961626c655f6e616d65 0d5641524941424c455f4e414d45 0c 2d00 00010000 fd 0110 00 0000'),
  hex('03646566 12696e666f726d6174696f6e5f736368656d61 1153455353494f4e5f5641524941424c4553 1153455353494f4e5f5641524941424c4553 0556616c7565 0e5641524941424c455f56414c5545 0c 2d00 00400000 fd 0110 00 0000'),
  hex('fe00002200'),
  hex('097365727665725f6964 0131'),
  hex('fe00002200'),
];

function feed(payloads: Buffer[], capabilities: number) {
  const d = new TextResultSetDecoder({ capabilities });
  for (let i = 0; i < payloads.length; i++) {
    const r = d.push(payloads[i]!);
    if (i < payloads.length - 1) expect(r).toBeUndefined();
    else return r!;
  }
  throw new Error('no packets');
}

describe('column definitions', () => {
  it('decode captured definitions and re-encode them byte for byte', () => {
    const one = decodeColumnDefinition(COL_1);
    expect(one).toEqual({ catalog: 'def', schema: '', table: '', orgTable: '', name: '1', orgName: '', characterSet: 63, columnLength: 1, type: 3, flags: 0x81, decimals: 0 });
    for (const c of [COL_1, COL_S, COL_N, SHOW_VARIABLES[1]!, SHOW_VARIABLES[2]!]) {
      expect(encodeColumnDefinition(decodeColumnDefinition(c)).equals(c)).toBe(true);
    }
    const v = decodeColumnDefinition(SHOW_VARIABLES[1]!);
    expect(v.schema).toBe('information_schema');
    expect(v.table).toBe('SESSION_VARIABLES');
    expect(v.name).toBe('Variable_name');
    expect(v.orgName).toBe('VARIABLE_NAME');
  });

  it('declares string and integer columns as §1.8 says', () => {
    const s = stringColumn('Value');
    expect(s).toMatchObject({ catalog: 'def', name: 'Value', orgName: 'Value', type: C.MYSQL_TYPE_VAR_STRING, characterSet: C.UTF8MB4_GENERAL_CI, decimals: 0x1f, flags: 0 });
    const i = integerColumn('@@GLOBAL.SERVER_ID', { unsigned: true });
    expect(i).toMatchObject({ type: C.MYSQL_TYPE_LONGLONG, characterSet: C.BINARY_COLLATION, flags: C.BINARY_FLAG | C.UNSIGNED_FLAG, decimals: 0 });
    expect(integerColumn('UNIX_TIMESTAMP()').flags & C.UNSIGNED_FLAG).toBe(0);
    expect(encodeColumnDefinition(i).toString('hex')).toBe(
      '03646566' + '00' + '00' + '00' + '12' + Buffer.from('@@GLOBAL.SERVER_ID').toString('hex') + '12' + Buffer.from('@@GLOBAL.SERVER_ID').toString('hex') +
        '0c' + '3f00' + '14000000' + '08' + 'a000' + '00' + '0000',
    );
  });

  it('reject a fixed-field block that is too short or truncated', () => {
    const short = Buffer.from(COL_1);
    short[10] = 0x09;
    expect(() => decodeColumnDefinition(short)).toThrow(ProtocolError);
    expect(() => decodeColumnDefinition(COL_1.subarray(0, COL_1.length - 3))).toThrow(ProtocolError);
  });
});

describe('text rows', () => {
  it('encode values of every kind', () => {
    expect(encodeTextRow([1, 'abc', null]).equals(ROW)).toBe(true);
    expect(encodeTextRow([18446744073709551615n, -5, Buffer.from([0, 0xff]), '']).toString('hex')).toBe(
      '14' + Buffer.from('18446744073709551615').toString('hex') + '02' + Buffer.from('-5').toString('hex') + '0200ff' + '00',
    );
    expect(() => encodeTextRow([Number.NaN])).toThrow(RangeError);
  });

  it('decode to zero-copy slices with null for 0xfb', () => {
    const r = decodeTextRow(ROW, 3);
    expect(r.map((v) => v?.toString() ?? null)).toEqual(['1', 'abc', null]);
    expect(r[1]!.buffer).toBe(ROW.buffer);
    expect(r[1]!.byteOffset).toBe(ROW.byteOffset + 3);
  });

  it('reject rows with too few or too many values', () => {
    expect(() => decodeTextRow(ROW, 4)).toThrow(ProtocolError);
    expect(() => decodeTextRow(ROW, 2)).toThrow(ProtocolError);
    expect(() => decodeTextRow(hex('ff'), 1)).toThrow(ProtocolError);
  });

  it('carry long values with 2- and 3-byte lenenc lengths', () => {
    const v300 = 'x'.repeat(300);
    const v70k = 'y'.repeat(70000);
    const row = encodeTextRow([v300, v70k]);
    expect(row.subarray(0, 3).toString('hex')).toBe('fc2c01');
    expect(row.subarray(303, 307).toString('hex')).toBe('fd701101');
    expect(decodeTextRow(row, 2).map((b) => b!.toString())).toEqual([v300, v70k]);
  });
});

describe('whole text result sets', () => {
  const columns: ColumnDefinition[] = [decodeColumnDefinition(COL_1), decodeColumnDefinition(COL_S), decodeColumnDefinition(COL_N)];

  it('encode the captured SELECT without DEPRECATE_EOF', () => {
    const payloads = encodeTextResultSet({ columns, rows: [[1, 'abc', null]] }, { capabilities: P41 });
    expect(payloads.map((p) => p.toString('hex'))).toEqual(SELECT_CLASSIC.map((p) => p.toString('hex')));
  });

  it('encode the captured SELECT with DEPRECATE_EOF', () => {
    const payloads = encodeTextResultSet({ columns, rows: [[1, 'abc', null]] }, { capabilities: DEP });
    expect(payloads.map((p) => p.toString('hex'))).toEqual(SELECT_DEPRECATE_EOF.map((p) => p.toString('hex')));
  });

  it('encode the captured SHOW VARIABLES with its status flags', () => {
    const cols = [decodeColumnDefinition(SHOW_VARIABLES[1]!), decodeColumnDefinition(SHOW_VARIABLES[2]!)];
    const payloads = encodeTextResultSet({ columns: cols, rows: [['server_id', '1']] }, { capabilities: P41, statusFlags: 0x22 });
    expect(payloads.map((p) => p.toString('hex'))).toEqual(SHOW_VARIABLES.map((p) => p.toString('hex')));
  });

  it('reject rows whose width differs from the columns, and zero columns', () => {
    expect(() => encodeTextResultSet({ columns, rows: [[1]] }, { capabilities: P41 })).toThrow(RangeError);
    expect(() => encodeTextResultSet({ columns: [], rows: [] }, { capabilities: P41 })).toThrow(RangeError);
  });

  it('decode the captured packets with TextResultSetDecoder, both terminators', () => {
    for (const [payloads, caps] of [[SELECT_CLASSIC, P41], [SELECT_DEPRECATE_EOF, DEP]] as const) {
      const rs = feed([...payloads], caps);
      expect(rs.columns.map((c) => c.name)).toEqual(['1', 's', 'n']);
      expect(textRows(rs)).toEqual([['1', 'abc', null]]);
      expect(rs.statusFlags).toBe(2);
      expect(rs.ok).toBeNull();
    }
    const show = feed(SHOW_VARIABLES, P41);
    expect(textRows(show)).toEqual([['server_id', '1']]);
    expect(show.statusFlags).toBe(0x22);
  });

  it('decode an empty result set and many rows', () => {
    const cols = [stringColumn('a'), integerColumn('b')];
    for (const caps of [P41, DEP]) {
      expect(feed(encodeTextResultSet({ columns: cols, rows: [] }, { capabilities: caps }), caps).rows).toEqual([]);
      const rows = Array.from({ length: 50 }, (_, i) => [`v${i}`, i % 3 === 0 ? null : i]);
      const rs = feed(encodeTextResultSet({ columns: cols, rows }, { capabilities: caps }), caps);
      expect(textRows(rs)).toEqual(rows.map((r) => r.map((v) => (v === null ? null : String(v)))));
      expect(rs.columns).toEqual(cols);
    }
  });

  it('treats a first OK as a statement without a result set', () => {
    const rs = feed([hex('00 02 00 2200 0000')], P41);
    expect(rs.ok!.affectedRows).toBe(2n);
    expect(rs.columns).toEqual([]);
    expect(rs.statusFlags).toBe(0x22);
  });

  it('throws MysqlServerError for an ERR, first or mid-stream', () => {
    const err = hex('ff 2804 23 3432303030 6e6f');
    expect(() => feed([err], P41)).toThrow(MysqlServerError);
    const d = new TextResultSetDecoder({ capabilities: P41 });
    d.push(SELECT_CLASSIC[0]!);
    d.push(COL_1);
    let caught: unknown;
    try {
      d.push(err);
    } catch (e) {
      caught = e;
    }
    expect((caught as MysqlServerError).errno).toBe(1064);
    expect(d.done).toBe(true);
  });

  it('rejects protocol violations with ProtocolError', () => {
    // An EOF expected after the column definitions, a row came.
    const d1 = new TextResultSetDecoder({ capabilities: P41 });
    d1.push(hex('01'));
    d1.push(COL_1);
    expect(() => d1.push(hex('0131'))).toThrow(ProtocolError);
    // LOCAL INFILE, a zero column count, a column count with trailing bytes, a packet after the end.
    expect(() => new TextResultSetDecoder({ capabilities: P41 }).push(hex('fb 2f746d70'))).toThrow(ProtocolError);
    expect(() => new TextResultSetDecoder({ capabilities: P41 }).push(Buffer.alloc(0))).toThrow(ProtocolError);
    expect(() => new TextResultSetDecoder({ capabilities: P41 }).push(hex('fc0000'))).toThrow(ProtocolError);
    expect(() => new TextResultSetDecoder({ capabilities: P41 }).push(hex('0101'))).toThrow(ProtocolError);
    const d2 = new TextResultSetDecoder({ capabilities: DEP });
    for (const p of SELECT_DEPRECATE_EOF) d2.push(p);
    expect(d2.done).toBe(true);
    expect(() => d2.push(ROW)).toThrow(ProtocolError);
  });
});
