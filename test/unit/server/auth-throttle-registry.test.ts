import { describe, expect, it } from 'vitest';
import { scrambleCachingSha2, scrambleNativePassword } from '../../../protocol/auth.js';
import { generateNonce } from '../../../protocol/handshake.js';
import { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { hasEmptyPassword, UserRegistry, verifyClearPassword, verifyScramble } from '../../../src/server/auth.js';
import { AuthThrottle } from '../../../src/server/throttle.js';
import { ReplicaRegistry, sameReplica, type DumpAbortReason, type DumpEntry, type SessionHandle } from '../../../src/server/registry.js';
import type { DumpRequest } from '../../../src/server/dump/types.js';

describe('UserRegistry', () => {
  const users = new UserRegistry([
    { user: 'repl', password: 'secret-pw' },
    { user: 'full', password: 'pw2', forceFullAuth: true },
  ]);

  it('verifies both scrambles against the stored hashes, never the password', () => {
    const nonce = generateNonce();
    const repl = users.lookup('repl');
    expect(verifyScramble(repl, 'mysql_native_password', scrambleNativePassword('secret-pw', nonce), nonce)).toBe(true);
    expect(verifyScramble(repl, 'caching_sha2_password', scrambleCachingSha2('secret-pw', nonce), nonce)).toBe(true);
    expect(verifyScramble(repl, 'mysql_native_password', scrambleNativePassword('secret-px', nonce), nonce)).toBe(false);
    expect(verifyScramble(repl, 'caching_sha2_password', scrambleCachingSha2('secret-pw', generateNonce()), nonce)).toBe(false);
    expect(verifyClearPassword(repl, Buffer.from('secret-pw'))).toBe(true);
    expect(verifyClearPassword(repl, Buffer.from('secret-pwx'))).toBe(false);
    expect(verifyClearPassword(repl, Buffer.alloc(0))).toBe(false);
    expect(JSON.stringify(repl)).not.toContain('secret-pw');
    expect(users.lookup('full').forceFullAuth).toBe(true);
    expect(users.names()).toEqual(['repl', 'full']);
  });

  it('an unknown user goes through the same checks and always fails', () => {
    const nobody = users.lookup('mallory');
    const nonce = generateNonce();
    expect(nobody.real).toBe(false);
    expect(verifyScramble(nobody, 'mysql_native_password', scrambleNativePassword('', nonce), nonce)).toBe(false);
    expect(verifyScramble(nobody, 'mysql_native_password', Buffer.alloc(0), nonce)).toBe(false);
    expect(verifyClearPassword(nobody, Buffer.alloc(0))).toBe(false);
    expect(hasEmptyPassword(nobody)).toBe(false);
  });

  it('refuses empty passwords, duplicates and an empty list unless allow_empty_password', () => {
    expect(() => new UserRegistry([{ user: 'a', password: '' }])).toThrow(/empty password/);
    expect(() => new UserRegistry([])).toThrow(/at least one/);
    expect(() => new UserRegistry([{ user: 'a', password: 'x' }, { user: 'a', password: 'y' }])).toThrow(/twice/);
    const open = new UserRegistry([{ user: 'a', password: '' }], { allowEmptyPassword: true });
    const a = open.lookup('a');
    const nonce = generateNonce();
    expect(hasEmptyPassword(a)).toBe(true);
    expect(verifyScramble(a, 'mysql_native_password', Buffer.alloc(0), nonce)).toBe(true);
    expect(verifyScramble(a, 'mysql_native_password', Buffer.from([0]), nonce)).toBe(true);
    expect(verifyScramble(a, 'mysql_native_password', scrambleNativePassword('x', nonce), nonce)).toBe(false);
    expect(hasEmptyPassword(open.lookup('b'))).toBe(false);
    const anyone = new UserRegistry([], { allowEmptyPassword: true });
    expect(hasEmptyPassword(anyone.lookup('whoever'))).toBe(true);
  });
});

describe('AuthThrottle', () => {
  it('blocks after maxFailures within the window, for blockMs, and forgets old failures', () => {
    let now = 1_000_000;
    const th = new AuthThrottle({ maxFailures: 3, windowMs: 60_000, blockMs: 300_000 }, () => now);
    expect(th.recordFailure('10.0.0.1')).toBe(false);
    now += 61_000; // the first failure leaves the window
    expect(th.recordFailure('10.0.0.1')).toBe(false);
    expect(th.recordFailure('10.0.0.1')).toBe(false);
    expect(th.isBlocked('10.0.0.1')).toBe(false);
    expect(th.recordFailure('10.0.0.1')).toBe(true);
    expect(th.isBlocked('10.0.0.1')).toBe(true);
    expect(th.isBlocked('10.0.0.2')).toBe(false);
    th.recordSuccess('10.0.0.1'); // a success during the block does not lift it
    expect(th.isBlocked('10.0.0.1')).toBe(true);
    now += 300_001;
    expect(th.isBlocked('10.0.0.1')).toBe(false);
    expect(th.recordFailure('10.0.0.1')).toBe(false);
  });

  it('a success clears the count; memory is bounded', () => {
    const th = new AuthThrottle({ maxFailures: 2, maxTracked: 100 });
    th.recordFailure('a');
    th.recordSuccess('a');
    expect(th.recordFailure('a')).toBe(false);
    for (let i = 0; i < 10_000; i++) th.recordFailure(`10.1.${i >> 8}.${i & 255}`);
    expect(th.trackedAddresses).toBeLessThanOrEqual(100);
    th.clear();
    expect(th.trackedAddresses).toBe(0);
  });
});

class FakeSession implements SessionHandle {
  readonly remoteAddress = '10.0.0.9';
  readonly remotePort = 40000;
  readonly user = 'repl';
  readonly connectTime = new Date('2030-01-01T00:00:00Z');
  readonly database = null;
  readonly isAuthenticated = true;
  aborted: DumpAbortReason[] = [];
  closed: DumpAbortReason[] = [];
  constructor(readonly connectionId: number) {}
  abortDump(reason: DumpAbortReason): void {
    this.aborted.push(reason);
  }
  close(reason: DumpAbortReason): void {
    this.closed.push(reason);
  }
}

const FILE_DUMP: DumpRequest = { command: 'COM_BINLOG_DUMP', position: 4, flags: 0, serverId: 0, fileName: 'bin.000001' };

function dump(flavor: 'mysql' | 'mariadb', serverId: number, replicaUuid: string | null, request: DumpRequest = FILE_DUMP): DumpEntry {
  return {
    flavor,
    request: { ...request, serverId },
    serverId,
    replicaUuid,
    semiSync: false,
    gtidConnect: false,
    startedAt: new Date(),
    progress: { file: 'bin.000001', position: 4, gtid: null, eventsSent: 3, bytesSent: 300, lastEventTimestamp: 100 },
  };
}

describe('ReplicaRegistry', () => {
  it('applies MySQL\'s replacement rule: uuid when the new replica has one, else the non-zero server_id', () => {
    expect(sameReplica(dump('mysql', 1, 'u1'), dump('mysql', 2, 'U1'))).toBe(true);
    expect(sameReplica(dump('mysql', 1, 'u1'), dump('mysql', 1, 'u2'))).toBe(false);
    expect(sameReplica(dump('mysql', 1, 'u1'), dump('mysql', 1, null))).toBe(false);
    expect(sameReplica(dump('mysql', 1, null), dump('mysql', 1, 'u2'))).toBe(true);
    expect(sameReplica(dump('mysql', 0, null), dump('mysql', 0, null))).toBe(false);
    expect(sameReplica(dump('mariadb', 5, 'u1'), dump('mariadb', 5, 'u2'))).toBe(true);
    expect(sameReplica(dump('mariadb', 0, null), dump('mariadb', 0, null))).toBe(false);
  });

  it('aborts the older dump, lists registered replicas, kills by id and reports status', () => {
    const reg = new ReplicaRegistry();
    const a = new FakeSession(1);
    const b = new FakeSession(2);
    const c = new FakeSession(3);
    for (const s of [a, b, c]) reg.add(s);
    reg.register(1, { serverId: 7, host: 'r1', port: 3306, rank: 0, masterId: 0 });
    expect(reg.startDump(1, dump('mysql', 7, null))).toEqual([]);
    expect(reg.startDump(2, dump('mysql', 7, null))).toEqual([1]);
    expect(a.aborted).toEqual(['replaced']);
    expect(reg.registeredSlaves()).toEqual([{ serverId: 7, host: 'r1', port: 3306, rank: 0, masterId: 0, replicaUuid: null }]);
    reg.endDump(1);
    expect(reg.dumpCount()).toBe(1);
    const gtid: DumpRequest = { command: 'COM_BINLOG_DUMP_GTID', flags: 0, serverId: 8, fileName: '', position: 4n, gtidSet: MysqlGtidSet.empty() };
    reg.startDump(3, { ...dump('mysql', 8, 'uu', gtid), semiSync: true });
    expect(reg.semiSyncCount()).toBe(1);
    const infos = reg.replicaInfos(130);
    expect(infos.map((i) => [i.connection_id, i.kind, i.mode, i.server_id, i.lag_seconds, i.server_uuid, i.semi_sync])).toEqual([
      [1, 'replica', null, 7, null, null, false],
      [2, 'binlog_client', 'file', 7, 30, null, false],
      [3, 'binlog_client', 'gtid', 8, 30, 'uu', true],
    ]);
    expect(infos[0]).toMatchObject({ host_name: 'r1', port: 3306, user: 'repl', remote_address: '10.0.0.9', connect_time: '2030-01-01T00:00:00.000Z' });
    expect(infos[1]).toMatchObject({ host_name: '10.0.0.9', port: 40000, bytes_sent: 300, events_sent: 3, file: 'bin.000001', position: 4 });
    const now = new Date('2030-01-01T00:01:40Z').getTime();
    expect(reg.processList(1, now).map((r) => [r.id, r.user, r.host, r.command, r.info])).toEqual([
      [1, 'repl', '10.0.0.9:40000', 'Query', 'SHOW PROCESSLIST'],
      [2, 'repl', '10.0.0.9:40000', 'Binlog Dump', null],
      [3, 'repl', '10.0.0.9:40000', 'Binlog Dump GTID', null],
    ]);
    expect(reg.processList(1, now)[0]!.time).toBe(100);
    expect(reg.processList(1, now)[2]!.state).toBe('Source has sent all binlog to replica; waiting for more updates');
    expect(reg.kill(3, 'query')).toBe(true);
    expect(c.aborted).toEqual(['killed_query']);
    expect(reg.kill(2, 'connection')).toBe(true);
    expect(b.closed).toEqual(['killed_connection']);
    expect(reg.kill(99, 'connection')).toBe(false);
    reg.remove(1);
    expect(reg.registeredSlaves()).toEqual([]);
    expect(reg.size).toBe(2);
  });
});
