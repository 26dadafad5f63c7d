import { describe, it, expect } from 'vitest';
import {
  MysqlServerError,
  decodeEof,
  decodeErr,
  decodeOk,
  encodeEof,
  encodeErr,
  encodeOk,
  isEofPacket,
  isErrPacket,
  isOkPacket,
} from '../../../protocol/generic.js';
import { BinlogProxyError, ProtocolError } from '../../../protocol/errors.js';
import { CLIENT_DEPRECATE_EOF, CLIENT_PROTOCOL_41, CLIENT_SESSION_TRACK, SERVER_SESSION_STATE_CHANGED } from '../../../protocol/constants.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]+/g, ''), 'hex');
const P41 = CLIENT_PROTOCOL_41;
const TRACK = CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK;

// Packets captured on 2026-11-21 from MariaDB 10.11.19.
const OK_PLAIN = hex('00 00 00 0200 0000'); // after login, and for SET @x = 1
const OK_UPDATE_INFO = hex('00 02 00 2200 0000 28 526f7773206d6174636865643a203220204368616e6765643a203220205761726e696e67733a2030');
const OK_SESSION_AUTOCOMMIT = hex('00 00 00 0040 0000 00 11 000f0a6175746f636f6d6d6974034f4646'); // SET autocommit = 0, SESSION_TRACK
const OK_SESSION_SCHEMA = hex('00 00 00 0040 0000 00 04 01020174'); // USE t, SESSION_TRACK, session_track_schema=ON
const ERR_PARSE = hex(
  'ff 2804 23 3432303030 596f75206861766520616e206572726f7220696e20796f75722053514c2073796e7461783b20636865636b20746865206d616e75616c207468617420636f72726573706f6e647320746f20796f7572204d617269614442207365727665722076657273696f6e20666f72207468652072696768742073796e74617820746f20757365206e656172202753454c4543203127206174206c696e652031',
);
const ERR_ACCESS = hex('ff 1504 23 3238303030 4163636573732064656e69656420666f72207573657220277265706c2740276c6f63616c686f73742720287573696e672070617373776f72643a2059455329');

describe('OK packet', () => {
  it('decodes and re-encodes the plain OK', () => {
    const ok = decodeOk(OK_PLAIN, { capabilities: P41 });
    expect(ok).toEqual({ affectedRows: 0n, lastInsertId: 0n, statusFlags: 2, warnings: 0, info: '', sessionState: null });
    expect(encodeOk({ statusFlags: 2 }, { capabilities: P41 }).equals(OK_PLAIN)).toBe(true);
    expect(encodeOk({ statusFlags: 2 }, { capabilities: TRACK }).equals(OK_PLAIN)).toBe(true);
  });

  it('reads and writes the info as a lenenc string also without SESSION_TRACK, like the servers do', () => {
    for (const caps of [P41, TRACK]) {
      const ok = decodeOk(OK_UPDATE_INFO, { capabilities: caps });
      expect(ok.affectedRows).toBe(2n);
      expect(ok.statusFlags).toBe(0x22);
      expect(ok.info).toBe('Rows matched: 2  Changed: 2  Warnings: 0');
      expect(encodeOk(ok, { capabilities: caps }).equals(OK_UPDATE_INFO)).toBe(true);
    }
  });

  it('falls back to str<EOF> info without SESSION_TRACK when the lenenc reading does not fit', () => {
    const eofInfo = Buffer.concat([hex('00 00 00 0200 0000'), Buffer.from('Records: 3')]);
    expect(decodeOk(eofInfo, { capabilities: P41 }).info).toBe('Records: 3');
  });

  it('decodes the session-state block only with SESSION_TRACK and SERVER_SESSION_STATE_CHANGED', () => {
    const a = decodeOk(OK_SESSION_AUTOCOMMIT, { capabilities: TRACK });
    expect(a.statusFlags).toBe(SERVER_SESSION_STATE_CHANGED);
    expect(a.info).toBe('');
    expect(a.sessionState!.toString('hex')).toBe('000f0a6175746f636f6d6d6974034f4646');
    expect(encodeOk(a, { capabilities: TRACK }).equals(OK_SESSION_AUTOCOMMIT)).toBe(true);
    const s = decodeOk(OK_SESSION_SCHEMA, { capabilities: TRACK });
    expect(s.sessionState!.toString('hex')).toBe('01020174');
  });

  it('never sends a session-state block without SESSION_TRACK', () => {
    const b = encodeOk({ statusFlags: 2 | SERVER_SESSION_STATE_CHANGED, sessionState: hex('01020174') }, { capabilities: P41 });
    expect(b.equals(OK_PLAIN)).toBe(true);
  });

  it('encodes large lenenc counts and the 0xfe header of a result-set terminator', () => {
    const b = encodeOk({ affectedRows: 0x1_0000_0000n, lastInsertId: 300, statusFlags: 2, warnings: 1 }, { capabilities: P41 | CLIENT_DEPRECATE_EOF, eofHeader: true });
    expect(b.toString('hex')).toBe('fe' + 'fe0000000001000000' + 'fc2c01' + '0200' + '0100');
    const ok = decodeOk(b, { capabilities: P41 });
    expect(ok.affectedRows).toBe(0x1_0000_0000n);
    expect(ok.lastInsertId).toBe(300n);
    expect(ok.warnings).toBe(1);
  });

  it('rejects other headers and truncation', () => {
    expect(() => decodeOk(hex('ff 00 00 0200 0000'), { capabilities: P41 })).toThrow(ProtocolError);
    expect(() => decodeOk(hex('00 00 00 02'), { capabilities: P41 })).toThrow(ProtocolError);
    expect(() => decodeOk(hex('00 00 00 0200 0000 05 4142'), { capabilities: TRACK })).toThrow(ProtocolError);
  });
});

describe('ERR packet', () => {
  it('decodes captured ERR packets', () => {
    expect(decodeErr(ERR_PARSE)).toEqual({
      code: 1064,
      sqlState: '42000',
      message: "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'SELEC 1' at line 1",
    });
    const a = decodeErr(ERR_ACCESS);
    expect(a.code).toBe(1045);
    expect(a.sqlState).toBe('28000');
    expect(a.message).toBe("Access denied for user 'repl'@'localhost' (using password: YES)");
  });

  it('re-encodes them byte for byte', () => {
    expect(encodeErr(decodeErr(ERR_PARSE)).equals(ERR_PARSE)).toBe(true);
    expect(encodeErr(decodeErr(ERR_ACCESS)).equals(ERR_ACCESS)).toBe(true);
  });

  it('defaults the SQLSTATE when the marker is missing', () => {
    expect(decodeErr(Buffer.concat([hex('ff 1304'), Buffer.from('Too many connections')]))).toEqual({ code: 1043, sqlState: 'HY000', message: 'Too many connections' });
    expect(encodeErr({ code: 1236, message: 'x' }).toString('hex')).toBe('ffd404' + '23' + Buffer.from('HY000').toString('hex') + '78');
    expect(() => encodeErr({ code: 1, sqlState: 'ABC', message: '' })).toThrow(RangeError);
    expect(() => decodeErr(hex('ff 15'))).toThrow(ProtocolError);
    expect(() => decodeErr(hex('00 1504'))).toThrow(ProtocolError);
  });

  it('MysqlServerError carries errno, SQLSTATE and the stable code ERR_SERVER', () => {
    const e = MysqlServerError.fromPacket(decodeErr(ERR_ACCESS));
    expect(e).toBeInstanceOf(BinlogProxyError);
    expect(e).not.toBeInstanceOf(ProtocolError);
    expect(e.code).toBe('ERR_SERVER');
    expect(e.errno).toBe(1045);
    expect(e.sqlState).toBe('28000');
    expect(e.message).toContain('Access denied');
    expect(encodeErr(e.toPacket()).equals(ERR_ACCESS)).toBe(true);
  });
});

describe('EOF packet', () => {
  it('encodes and decodes the classic 5-byte EOF', () => {
    expect(encodeEof({ warnings: 0, statusFlags: 0x22 }).toString('hex')).toBe('fe00002200');
    expect(decodeEof(hex('fe 0000 2200'))).toEqual({ warnings: 0, statusFlags: 0x22 });
    expect(decodeEof(hex('fe'))).toEqual({ warnings: 0, statusFlags: 0 });
    expect(() => decodeEof(hex('fe 00'))).toThrow(ProtocolError);
    expect(() => decodeEof(hex('fe 0000 0000 0000 0000'))).toThrow(ProtocolError);
    expect(() => decodeEof(hex('00 0000 0200'))).toThrow(ProtocolError);
  });
});

describe('packet predicates', () => {
  const DEP = P41 | CLIENT_DEPRECATE_EOF;
  it('tells OK, ERR and EOF apart per §1.7', () => {
    expect(isOkPacket(OK_PLAIN, P41)).toBe(true);
    expect(isOkPacket(hex('00 00 00 02'), P41)).toBe(false); // too short for an OK
    expect(isOkPacket(hex('fe 00 00 0200 0000'), P41)).toBe(false);
    expect(isOkPacket(hex('fe 00 00 0200 0000'), DEP)).toBe(true); // captured DEPRECATE_EOF terminator
    expect(isOkPacket(Buffer.alloc(0), DEP)).toBe(false);
    expect(isErrPacket(ERR_PARSE)).toBe(true);
    expect(isErrPacket(OK_PLAIN)).toBe(false);
    expect(isEofPacket(hex('fe 0000 0200'), P41)).toBe(true);
    expect(isEofPacket(hex('fe 0000 0200'), DEP)).toBe(true); // the end-of-dump EOF is always classic
    expect(isEofPacket(Buffer.concat([hex('fe'), Buffer.alloc(8)]), P41)).toBe(false); // a row with an 8-byte lenenc
    expect(isEofPacket(Buffer.alloc(0), P41)).toBe(false);
  });

  it('treats a 0xfe row of 0xFFFFFF bytes or more as data under DEPRECATE_EOF', () => {
    const row = Buffer.alloc(0xffffff);
    row[0] = 0xfe;
    expect(isOkPacket(row, DEP)).toBe(false);
    expect(isOkPacket(row.subarray(0, 0xfffffe), DEP)).toBe(true);
  });
});
