import { describe, it, expect } from 'vitest';
import {
  commandName,
  decodeComBinlogDump,
  decodeComBinlogDumpGtid,
  decodeComInitDb,
  decodeComProcessKill,
  decodeComQuery,
  decodeComRegisterSlave,
  decodeComSetOption,
  decodeSemiSyncAck,
  decodeSemiSyncEventPacket,
  encodeComBinlogDump,
  encodeComBinlogDumpGtid,
  encodeComInitDb,
  encodeComPing,
  encodeComProcessKill,
  encodeComQuery,
  encodeComQuit,
  encodeComRegisterSlave,
  encodeComResetConnection,
  encodeComSetOption,
  encodeComStatistics,
  encodeSemiSyncAck,
} from '../../../protocol/commands.js';
import { framePacket, frameEventPacket } from '../../../protocol/packet.js';
import { ProtocolError } from '../../../protocol/errors.js';
import * as C from '../../../protocol/constants.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]+/g, ''), 'hex');

describe('simple commands', () => {
  it('COM_QUERY', () => {
    expect(encodeComQuery('SELECT @@GLOBAL.SERVER_ID').toString('hex')).toBe('03' + Buffer.from('SELECT @@GLOBAL.SERVER_ID').toString('hex'));
    expect(decodeComQuery(encodeComQuery("SET @slave_uuid = 'é'")).sql).toBe("SET @slave_uuid = 'é'");
    expect(decodeComQuery(hex('03')).sql).toBe('');
    expect(() => decodeComQuery(hex('02 41'))).toThrow(ProtocolError);
  });

  it('one-byte commands', () => {
    expect(encodeComQuit().toString('hex')).toBe('01');
    expect(encodeComPing().toString('hex')).toBe('0e');
    expect(encodeComStatistics().toString('hex')).toBe('09');
    expect(encodeComResetConnection().toString('hex')).toBe('1f');
    expect(framePacket(encodeComQuit(), 0).toString('hex')).toBe('0100000001');
  });

  it('COM_INIT_DB, COM_SET_OPTION, COM_PROCESS_KILL', () => {
    expect(encodeComInitDb('mysql').toString('hex')).toBe('02' + Buffer.from('mysql').toString('hex'));
    expect(decodeComInitDb(encodeComInitDb('mysql')).database).toBe('mysql');
    expect(encodeComSetOption(1).toString('hex')).toBe('1b0100');
    expect(decodeComSetOption(hex('1b 0000')).option).toBe(0);
    expect(() => decodeComSetOption(hex('1b 00'))).toThrow(ProtocolError);
    expect(encodeComProcessKill(0x01020304).toString('hex')).toBe('0c04030201');
    expect(decodeComProcessKill(hex('0c ffffffff')).connectionId).toBe(0xffffffff);
  });

  it('commandName names every command byte for logs', () => {
    expect(commandName(C.COM_QUERY)).toBe('COM_QUERY');
    expect(commandName(C.COM_BINLOG_DUMP)).toBe('COM_BINLOG_DUMP');
    expect(commandName(C.COM_REGISTER_SLAVE)).toBe('COM_REGISTER_SLAVE');
    expect(commandName(C.COM_BINLOG_DUMP_GTID)).toBe('COM_BINLOG_DUMP_GTID');
    expect(commandName(C.COM_RESET_CONNECTION)).toBe('COM_RESET_CONNECTION');
    expect(commandName(0xfa)).toBe('COM_STMT_BULK_EXECUTE');
    expect(commandName(0x99)).toBe('COM_UNKNOWN_0x99');
  });
});

describe('COM_REGISTER_SLAVE', () => {
  // Laid out by hand from the §3.1 table: server_id 2, host "replica1", empty user and password, port 3306.
  const GOLDEN = hex('15 | 02000000 | 08 7265706c69636131 | 00 | 00 | ea0c | 00000000 | 00000000');

  it('encodes and decodes the golden packet', () => {
    expect(encodeComRegisterSlave({ serverId: 2, host: 'replica1', port: 3306 }).equals(GOLDEN)).toBe(true);
    expect(decodeComRegisterSlave(GOLDEN)).toEqual({ serverId: 2, host: 'replica1', user: '', password: '', port: 3306, rank: 0, masterId: 0 });
  });

  it('round-trips all fields', () => {
    const c = { serverId: 0xfffffffe, host: 'h', user: 'repl', password: 'pw', port: 65535, rank: 7, masterId: 1 };
    expect(decodeComRegisterSlave(encodeComRegisterSlave(c))).toEqual(c);
    expect(() => encodeComRegisterSlave({ serverId: 1, host: 'x'.repeat(256) })).toThrow(RangeError);
  });

  it('ignores trailing bytes and rejects lengths past the end', () => {
    expect(decodeComRegisterSlave(Buffer.concat([GOLDEN, hex('0000')])).host).toBe('replica1');
    const bad = Buffer.from(GOLDEN);
    bad[5] = 0x40; // host length 64, past the end
    expect(() => decodeComRegisterSlave(bad)).toThrow(ProtocolError);
    for (let n = 0; n < GOLDEN.length; n++) expect(() => decodeComRegisterSlave(GOLDEN.subarray(0, n))).toThrow(ProtocolError);
  });
});

describe('COM_BINLOG_DUMP', () => {
  // §3.2 layout: pos 4, flags 0x0002, server_id 3, "mysql-bin.000023" without NUL.
  const GOLDEN = hex('12 | 04000000 | 0200 | 03000000 | 6d7973716c2d62696e2e303030303233');

  it('encodes and decodes the golden packet', () => {
    const c = { position: 4, flags: 2, serverId: 3, fileName: 'mysql-bin.000023' };
    expect(encodeComBinlogDump(c).equals(GOLDEN)).toBe(true);
    expect(decodeComBinlogDump(GOLDEN)).toEqual(c);
  });

  it('cuts the file name at the first NUL (zongji, python-mysql-replication)', () => {
    expect(decodeComBinlogDump(Buffer.concat([GOLDEN, hex('00')])).fileName).toBe('mysql-bin.000023');
    expect(decodeComBinlogDump(hex('12 04000000 0000 00000000 00000000')).fileName).toBe('');
  });

  it('keeps a position up to 4 GiB - 1 and rejects truncation', () => {
    expect(decodeComBinlogDump(encodeComBinlogDump({ position: 0xffffffff, flags: 1, serverId: 0, fileName: '' })).position).toBe(0xffffffff);
    expect(() => decodeComBinlogDump(hex('12 04000000 0200 030000'))).toThrow(ProtocolError);
  });
});

describe('COM_BINLOG_DUMP_GTID', () => {
  // GTID set 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5 built by hand: n_sids 1, the UUID, n_intervals 1, [1, 6).
  const GTID = hex('0100000000000000 3e11fa4771ca11e19e33c80aa9429562 0100000000000000 0100000000000000 0600000000000000');
  // §3.4: the whole packet with its header, seq 0, from server_id 2 with flags 0x0002, empty name, pos 4.
  const GOLDEN_FRAME = hex(`
    47 00 00 00 | 1e | 02 00 | 02 00 00 00 | 00 00 00 00 | 04 00 00 00 00 00 00 00 | 30 00 00 00 |
    01 00 00 00 00 00 00 00 | 3e 11 fa 47 71 ca 11 e1 9e 33 c8 0a a9 42 95 62 |
    01 00 00 00 00 00 00 00 | 01 00 00 00 00 00 00 00 | 06 00 00 00 00 00 00 00`);

  it('reproduces the golden packet of the protocol brief', () => {
    expect(GTID.length).toBe(48);
    const payload = encodeComBinlogDumpGtid({ flags: 2, serverId: 2, fileName: '', position: 4n, gtidData: GTID });
    expect(framePacket(payload, 0).toString('hex')).toBe(GOLDEN_FRAME.toString('hex'));
    const d = decodeComBinlogDumpGtid(GOLDEN_FRAME.subarray(4));
    expect(d).toEqual({ flags: 2, serverId: 2, fileName: '', position: 4n, gtidData: GTID });
  });

  it('reads the name as a C string and keeps 64-bit positions', () => {
    const py = encodeComBinlogDumpGtid({ flags: 4, serverId: 9, fileName: '\0\0\0', position: 4n, gtidData: hex('0000000000000000') });
    expect(py.subarray(7, 14).toString('hex')).toBe('03000000000000');
    expect(decodeComBinlogDumpGtid(py).fileName).toBe('');
    const big = decodeComBinlogDumpGtid(encodeComBinlogDumpGtid({ flags: 0, serverId: 1, fileName: 'binlog.000007', position: 0x1_2345_6789n, gtidData: GTID }));
    expect(big.position).toBe(0x1_2345_6789n);
    expect(big.fileName).toBe('binlog.000007');
  });

  it('rejects lengths past the end and a missing GTID block', () => {
    const p = GOLDEN_FRAME.subarray(4);
    const bad = Buffer.from(p);
    bad.writeUInt32LE(1000, 7); // name size
    expect(() => decodeComBinlogDumpGtid(bad)).toThrow(ProtocolError);
    const bad2 = Buffer.from(p);
    bad2.writeUInt32LE(49, 19); // gtid data size one past the end
    expect(() => decodeComBinlogDumpGtid(bad2)).toThrow(ProtocolError);
    expect(() => decodeComBinlogDumpGtid(p.subarray(0, 19))).toThrow(ProtocolError);
  });
});

describe('semi-sync', () => {
  it('encodes and decodes the ACK', () => {
    const ack = encodeSemiSyncAck({ position: 1234n, fileName: 'binlog.000002' });
    expect(ack.toString('hex')).toBe('ef' + 'd204000000000000' + Buffer.from('binlog.000002').toString('hex'));
    expect(decodeSemiSyncAck(ack)).toEqual({ position: 1234n, fileName: 'binlog.000002' });
    expect(framePacket(ack, 0).subarray(0, 4).toString('hex')).toBe('16000000'); // the ACK goes out as seq 0
    expect(decodeSemiSyncAck(encodeSemiSyncAck({ position: 0x1_0000_0004n, fileName: 'f' })).position).toBe(0x1_0000_0004n);
    expect(() => decodeSemiSyncAck(hex('ee d204000000000000'))).toThrow(ProtocolError);
    expect(() => decodeSemiSyncAck(hex('ef d2040000'))).toThrow(ProtocolError);
  });

  it('decodes the event packet header and agrees with frameEventPacket', () => {
    const event = hex('00000000 04 01000000 13000000 00000000 2000');
    for (const needAck of [true, false]) {
      const payload = Buffer.concat(frameEventPacket(event, 1, { needAck })).subarray(4);
      const h = decodeSemiSyncEventPacket(payload);
      expect(h).toEqual({ needAck, eventOffset: 3 });
      expect(payload.subarray(h.eventOffset).equals(event)).toBe(true);
    }
  });

  it('rejects a packet without the magic byte', () => {
    expect(() => decodeSemiSyncEventPacket(hex('00 00 00 01'))).toThrow(/missing magic/);
    expect(() => decodeSemiSyncEventPacket(hex('ff ef 01'))).toThrow(ProtocolError);
    expect(() => decodeSemiSyncEventPacket(hex('00 ef'))).toThrow(ProtocolError);
  });
});
