import { describe, expect, it } from 'vitest';
import { ChecksumError, ProtocolError } from '../../../protocol/errors.js';
import { MysqlServerError } from '../../../protocol/generic.js';
import { classifyError } from '../../../src/syncer/classify.js';
import { UpstreamError } from '../../../src/upstream/errors.js';
import { StorageError } from '../../../storage/index.js';

const server = (errno: number, msg: string): MysqlServerError => new MysqlServerError(errno, 'HY000', `server error ${errno} (HY000): ${msg}`);

describe('classifyError', () => {
  // Texts as MariaDB 10.11 and MySQL 8.0 send them.
  it.each([
    [1045, "Access denied for user 'repl'@'127.0.0.1' (using password: YES)", 'ERR_UPSTREAM_ACCESS_DENIED', true],
    [1227, 'Access denied; you need (at least one of) the REPLICATION SLAVE privilege(s) for this operation', 'ERR_UPSTREAM_PRIVILEGES', true],
    [1381, 'You are not using binary logging', 'ERR_UPSTREAM_NO_BINLOG', true],
    [4052, 'A slave with the same server_uuid/server_id is already connected', 'ERR_UPSTREAM_SERVER_ID_CLASH', true],
    [1236, 'Binary log is not open', 'ERR_UPSTREAM_NO_BINLOG', true],
    [1236, 'Could not find first log file name in binary log index file', 'ERR_UPSTREAM_POSITION', true],
    [1236, 'Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged.', 'ERR_UPSTREAM_POSITION', true],
    [1236, "Error: connecting slave requested to start from GTID 0-101-500, which is not in the master's binlog", 'ERR_UPSTREAM_POSITION', true],
    [1236, 'Cannot replicate because the source purged required binary logs.', 'ERR_UPSTREAM_POSITION', true],
    [1236, 'Client requested master to start replication from impossible position', 'ERR_UPSTREAM_POSITION', true],
    [1236, 'A replica with the same server_uuid/server_id as this replica has connected to the source', 'ERR_UPSTREAM_SERVER_ID_CLASH', true],
    [1236, 'binlog truncated in the middle of event; consider out of disk space on source', 'ERR_UPSTREAM_BINLOG', true],
    [1927, 'Connection was killed', 'ERR_UPSTREAM_KILLED', false],
    [1053, 'Server shutdown in progress', 'ERR_UPSTREAM_KILLED', false],
    [1040, 'Too many connections', 'ERR_UPSTREAM_SERVER', false],
  ])('errno %i "%s" → %s (fatal %s)', (errno, msg, code, fatal) => {
    expect(classifyError(server(errno, msg))).toMatchObject({ code, fatal, errno });
  });

  it('network trouble is retried quickly; configuration and history problems need an operator', () => {
    expect(classifyError(new UpstreamError('ERR_UPSTREAM_REFUSED', 'x'))).toMatchObject({ code: 'ERR_UPSTREAM_REFUSED', fatal: false });
    expect(classifyError(new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'x'))).toMatchObject({ fatal: false });
    expect(classifyError(new UpstreamError('ERR_UPSTREAM_TLS', 'x'))).toMatchObject({ fatal: true });
    expect(classifyError(new UpstreamError('ERR_UPSTREAM_DIVERGED', 'x'))).toMatchObject({ fatal: true });
    expect(classifyError(new UpstreamError('ERR_SYNCER_START', 'x'))).toMatchObject({ fatal: true });
  });

  it('a bad checksum or malformed bytes mean reconnect; storage failures need an operator', () => {
    expect(classifyError(new ChecksumError('bad', 1, 2))).toMatchObject({ code: 'ERR_CHECKSUM', fatal: false });
    expect(classifyError(new ProtocolError('ERR_PACKET_SEQUENCE', 'x'))).toMatchObject({ code: 'ERR_PACKET_SEQUENCE', fatal: false });
    expect(classifyError(new StorageError('ERR_STORAGE_IO', 'disk'))).toMatchObject({ code: 'ERR_STORAGE_IO', fatal: true });
    expect(classifyError(new Error('boom'))).toMatchObject({ code: 'ERR_INTERNAL', fatal: false, message: 'boom' });
  });
});
