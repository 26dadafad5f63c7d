// The small pure parts of the sender: heartbeat events and periods, error wording per server version, the
// MySQL start checks, MariaDB connect-state helpers.
import { describe, expect, it } from 'vitest';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  HEARTBEAT_LOG_EVENT,
  LOG_POS_OFFSET,
  buildHeartbeat,
  decodeHeartbeat,
  verifyEventChecksum,
} from '../../../protocol/binlog/index.js';
import { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { DumpError, messages, withLocation, wordingFor } from '../../../src/server/dump/errors.js';
import { buildDumpHeartbeat, heartbeatPeriodMs } from '../../../src/server/dump/heartbeat.js';
import { BinlogState, checkStartPosition, containsAllSlaveGtid, parseConnectState } from '../../../src/server/dump/mariadb_gtid.js';
import { subsetForUuid } from '../../../src/server/dump/start.js';

describe('heartbeats', () => {
  it('MySQL v1 is the protocol brief example; MariaDB is the same below 4 GiB', () => {
    const init = { serverId: 1, fileName: 'binlog.000002', position: 1234n, checksum: true };
    const expected = Buffer.from('000000001b01000000240000 00d204000000006269 6e6c6f672e3030303030324e038768'.replace(/ /g, ''), 'hex');
    expect(buildDumpHeartbeat({ flavor: 'mysql', v2: false, ...init })).toEqual(expected);
    expect(buildDumpHeartbeat({ flavor: 'mariadb', v2: false, ...init })).toEqual(expected);
  });

  it('MariaDB past 4 GiB: log_pos 0 and the 8-byte position before the name', () => {
    const hb = buildDumpHeartbeat({ flavor: 'mariadb', v2: false, serverId: 7, fileName: 'bin.000009', position: 0x1_2345_6789n, checksum: true });
    expect(hb[4]).toBe(HEARTBEAT_LOG_EVENT);
    expect(hb.readUInt32LE(LOG_POS_OFFSET)).toBe(0);
    expect(hb.readBigUInt64LE(19)).toBe(0x1_2345_6789n);
    expect(hb.subarray(27, hb.length - 4).toString()).toBe('bin.000009');
    verifyEventChecksum(hb, BINLOG_CHECKSUM_ALG_CRC32);
    // MySQL v1 just truncates; v2 carries all 64 bits.
    const v1 = buildDumpHeartbeat({ flavor: 'mysql', v2: false, serverId: 7, fileName: 'b.1', position: 0x1_0000_0010n, checksum: false });
    expect(v1).toEqual(buildHeartbeat({ serverId: 7, fileName: 'b.1', position: 0x10n, checksum: false }));
    const v2 = buildDumpHeartbeat({ flavor: 'mysql', v2: true, serverId: 7, fileName: 'b.1', position: 0x1_0000_0010n, checksum: false });
    expect(decodeHeartbeat(v2, 0)).toEqual({ version: 2, fileName: 'b.1', position: 0x1_0000_0010n });
  });

  it('periods: nanoseconds to whole milliseconds, 0 = none, huge values clamped', () => {
    expect(heartbeatPeriodMs(0n)).toBe(0);
    expect(heartbeatPeriodMs(-5n)).toBe(0);
    expect(heartbeatPeriodMs(1n)).toBe(1);
    expect(heartbeatPeriodMs(30_000_000_000n)).toBe(30_000);
    expect(heartbeatPeriodMs(1n << 62n)).toBe(0x7fffffff);
  });
});

describe('wording', () => {
  it('MySQL says source/replica from 8.0.26, master/slave before; MariaDB master/slave', () => {
    expect(messages.checksumUnknown(wordingFor('mysql', '8.0.26'))).toBe(
      'Replica can not handle replication events with the checksum that source is configured to log',
    );
    expect(messages.checksumUnknown(wordingFor('mysql', '8.0.25-log'))).toBe(
      'Slave can not handle replication events with the checksum that master is configured to log',
    );
    expect(messages.positionPastEnd(wordingFor('mysql', '9.6.0'))).toBe('Client requested source to start replication from position > file size');
    expect(messages.positionPastEnd(wordingFor('mariadb', '10.11.19-MariaDB-log'))).toBe(
      'Client requested master to start replication from impossible position',
    );
  });

  it('purged GTIDs: the sets from 8.0 on, the old sentence on 5.7', () => {
    expect(messages.purgedGtids(wordingFor('mysql', '8.0.20'), 'a', 'b')).toBe(
      "Cannot replicate because the master purged required binary logs. Replicate the missing transactions from elsewhere, or provision a new slave from backup. Consider increasing the master's binary log expiration period. The GTID set sent by the slave is 'a', and the missing transactions are 'b'.",
    );
    expect(messages.purgedGtids(wordingFor('mysql', '5.7.23-log'), 'a', 'b')).toBe(
      'The slave is connecting using CHANGE MASTER TO MASTER_AUTO_POSITION = 1, but the master has purged binary logs containing GTIDs that the slave requires.',
    );
  });

  it('the location suffix both servers add', () => {
    expect(withLocation('x', { startFile: 'b.1', startPos: 4, lastFile: 'b.2', lastEventPos: 120n, lastBytePos: 150n })).toBe(
      "x; the first event 'b.1' at 4, the last event read from 'b.2' at 120, the last byte read from 'b.2' at 150.",
    );
    const e = new DumpError('ERR_DUMP_POSITION', 'm');
    expect([e.errno, e.sqlState, e.code]).toEqual([1236, 'HY000', 'ERR_DUMP_POSITION']);
  });
});

describe('MySQL replica-ahead check', () => {
  const U = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
  it('looks only at our source UUID, across tags', () => {
    const executed = MysqlGtidSet.parse(`${U}:1-10:t1:1-3`);
    expect(subsetForUuid(MysqlGtidSet.parse(`${U}:1-10`), executed, U)).toBe(true);
    expect(subsetForUuid(MysqlGtidSet.parse(`${U}:1-11`), executed, U)).toBe(false);
    expect(subsetForUuid(MysqlGtidSet.parse(`${U}:t1:2-4`), executed, U)).toBe(false);
    expect(subsetForUuid(MysqlGtidSet.parse(`aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:1-99`), executed, U)).toBe(true);
  });
});

describe('MariaDB connect state', () => {
  it('parses like MariaDB: one GTID per domain, whitespace tolerated, empty allowed', () => {
    expect([...parseConnectState(' 0-1-5 , 2-3-9', false).values()]).toEqual([
      { domainId: 0, serverId: 1, seqNo: 5n },
      { domainId: 2, serverId: 3, seqNo: 9n },
    ]);
    expect(parseConnectState('', false).size).toBe(0);
    expect(() => parseConnectState('1-2', true)).toThrow('Out of memory or malformed slave request when obtaining UNTIL position sent from slave');
  });

  it('the binlog state keeps every server of a domain, the most recent last', () => {
    const s = BinlogState.fromList([
      { domainId: 0, serverId: 1, seqNo: 5n },
      { domainId: 0, serverId: 2, seqNo: 7n },
    ]);
    s.update({ domainId: 0, serverId: 1, seqNo: 8n });
    expect(s.list()).toEqual([
      { domainId: 0, serverId: 2, seqNo: 7n },
      { domainId: 0, serverId: 1, seqNo: 8n },
    ]);
    expect(s.lastInDomain(0)).toEqual({ domainId: 0, serverId: 1, seqNo: 8n });
    expect(s.find(0, 2)).toBe(7n);
  });

  it('contains_all_slave_gtid: the last GTID of a domain in the list is a valid start, an earlier one is not', () => {
    const list = [
      { domainId: 0, serverId: 1, seqNo: 10n },
      { domainId: 0, serverId: 2, seqNo: 20n },
    ];
    const entry = (s: number, n: bigint) => new Map([[0, { gtid: { domainId: 0, serverId: s, seqNo: n }, startOnEmptyDomain: false }]]);
    expect(containsAllSlaveGtid(entry(2, 20n), list)).toBe(true);
    expect(containsAllSlaveGtid(entry(2, 21n), list)).toBe(true);
    expect(containsAllSlaveGtid(entry(2, 19n), list)).toBe(false);
    // 0-1-10 is in the list but not the domain's last: the group after it is in an earlier file.
    expect(containsAllSlaveGtid(entry(1, 10n), list)).toBe(false);
    expect(containsAllSlaveGtid(new Map(), list)).toBe(false);
  });

  it('an UNTIL already inside our binlog lets a missing start position through', () => {
    const binlog = BinlogState.fromList([{ domainId: 0, serverId: 1, seqNo: 50n }]);
    const until = new Map([[0, { domainId: 0, serverId: 1, seqNo: 40n }]]);
    const state = checkStartPosition(new Map([[0, { domainId: 0, serverId: 9, seqNo: 3n }]]), binlog, false, until);
    expect(state.get(0)?.startOnEmptyDomain).toBe(false);
    expect(until.size).toBe(0);
  });
});
