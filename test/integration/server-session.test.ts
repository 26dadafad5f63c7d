// The replica-facing server over real sockets: authentication (both plugins, AuthSwitch, caching_sha2 full
// authentication over TLS and RSA, 1045, throttling), TLS, the SQL surface seen by mysql2, and the session
// side of COM_REGISTER_SLAVE and KILL.
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOk, decodeErr } from '../../protocol/generic.js';
import { encodeComRegisterSlave } from '../../protocol/commands.js';
import { CLIENT_DEPRECATE_EOF, CLIENT_PLUGIN_AUTH, CLIENT_SECURE_CONNECTION, UTF8MB4_GENERAL_CI } from '../../protocol/constants.js';
import { encodeHandshakeResponse41, UPSTREAM_CLIENT_CAPABILITIES } from '../../protocol/handshake.js';
import { nativePasswordHash, scrambleNativePassword } from '../../protocol/auth.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { requireMariaDBBinaries } from '../helpers/mariadb.js';
import { UpstreamConnection } from '../../src/upstream/connection.js';
import {
  errOf,
  MARIADB_SOURCE,
  MYSQL_SOURCE,
  RawClient,
  rawExchange,
  splitPackets,
  startTestServer,
  type TestServer,
} from './server-session-helpers.js';

let sharedDir: string;

beforeAll(async () => {
  sharedDir = await makeTempDir('bp-srv-shared-');
});

afterAll(async () => {
  await removeTempDir(sharedDir);
});

function logged(t: TestServer, msg: string): Array<Record<string, unknown>> {
  return t.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

async function expectLoginError(p: Promise<unknown>): Promise<{ errno?: number; sqlState?: string; sqlMessage?: string }> {
  try {
    await p;
  } catch (e) {
    return errOf(e);
  }
  throw new Error('expected the login to fail');
}

describe('authentication with mysql2', () => {
  it('MariaDB flavour: mysql_native_password from the greeting', async () => {
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: sharedDir });
    try {
      const c = await t.connect();
      const [rows] = await c.query('SELECT CONNECTION_ID() AS id, USER() AS u');
      expect(rows).toEqual([{ id: expect.any(Number), u: 'repl@127.0.0.1' }]);
      await c.end();
      expect(logged(t, 'client authenticated')[0]).toMatchObject({ plugin: 'mysql_native_password', tls: false, user: 'repl' });
    } finally {
      await t.close();
    }
  });

  it('MySQL flavour: caching_sha2_password fast path', async () => {
    const t = await startTestServer({ source: MYSQL_SOURCE, dataDir: sharedDir });
    try {
      const c = await t.connect();
      const [rows] = await c.query('SELECT @@version AS v');
      expect(rows).toEqual([{ v: '8.0.45-binlog-proxy' }]);
      await c.end();
      expect(logged(t, 'client authenticated')[0]).toMatchObject({ plugin: 'caching_sha2_password', tls: false });
    } finally {
      await t.close();
    }
  });

  it('MySQL flavour: a client answering with mysql_native_password is switched to it (AuthSwitch)', async () => {
    const t = await startTestServer({ source: MYSQL_SOURCE, dataDir: sharedDir });
    try {
      // A custom caching_sha2 handler makes mysql2 answer the greeting with mysql_native_password.
      const c = await t.connect({
        authPlugins: {
          caching_sha2_password: () => () => {
            throw new Error('not used');
          },
        },
      });
      await c.query('SELECT 1');
      await c.end();
      expect(logged(t, 'client authenticated')[0]).toMatchObject({ plugin: 'mysql_native_password' });
    } finally {
      await t.close();
    }
  });

  it('MariaDB flavour: a client answering with caching_sha2_password is switched to it, then fast auth', async () => {
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: sharedDir });
    try {
      const c = await RawClient.open(t.port);
      expect(c.greeting.authPluginName).toBe('mysql_native_password');
      const { packets, last } = await c.login('repl', 'secret-pw', { plugin: 'caching_sha2_password' });
      expect(packets.map((p) => [p.seq, p.payload[0]])).toEqual([
        [2, 0xfe], // AuthSwitchRequest(caching_sha2_password)
        [4, 0x01], // AuthMoreData 0x03 fast_auth_success
        [5, 0x00], // OK
      ]);
      expect(packets[1]!.payload.subarray(1)).toEqual(Buffer.from([0x03]));
      expect(last!.payload[0]).toBe(0);
      expect((await c.query('SELECT 7 AS x')).rows).toEqual([['7']]);
      c.end();
    } finally {
      await t.close();
    }
  });

  it('an unknown plugin is switched to the flavour default', async () => {
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: sharedDir });
    try {
      const c = await RawClient.open(t.port);
      const { packets, last } = await c.login('repl', 'secret-pw', { plugin: 'sha256_password' });
      expect(packets[0]!.payload.subarray(0, 23).toString('latin1')).toBe('\xfemysql_native_password\0');
      expect(last!.payload[0]).toBe(0);
      c.end();
    } finally {
      await t.close();
    }
  });

  it('caching_sha2_password full authentication over TLS (account forced to full auth)', async () => {
    const t = await startTestServer({ source: MYSQL_SOURCE, dataDir: sharedDir, settings: { forceFullAuth: ['repl'] } });
    try {
      const c = await t.connect({ ssl: { rejectUnauthorized: false } });
      const [rows] = await c.query("SHOW VARIABLES LIKE 'have_ssl'");
      expect(rows).toEqual([{ Variable_name: 'have_ssl', Value: 'YES' }]);
      await c.end();
      expect(logged(t, 'client authenticated')[0]).toMatchObject({ plugin: 'caching_sha2_password', tls: true });
      // The wrong password over TLS is refused.
      const e = await expectLoginError(t.connect({ password: 'nope', ssl: { rejectUnauthorized: false } }));
      expect(e.errno).toBe(1045);
    } finally {
      await t.close();
    }
  });

  it('caching_sha2_password full authentication with the RSA public-key request', async () => {
    const t = await startTestServer({ source: MYSQL_SOURCE, dataDir: sharedDir, settings: { forceFullAuth: true } });
    try {
      // mysql2 without TLS answers perform_full_authentication with a public-key request (0x02).
      const c = await t.connect();
      await c.query('SELECT 1');
      await c.end();
      expect(logged(t, 'client authenticated')[0]).toMatchObject({ plugin: 'caching_sha2_password', fullAuth: 'rsa', tls: false });
      const e = await expectLoginError(t.connect({ password: 'wrong' }));
      expect(e.errno).toBe(1045);
      // A client that already has the key (SOURCE_PUBLIC_KEY_PATH) sends the ciphertext at once; the key is
      // the one kept in the data dir, so it survives restarts.
      const pem = await readFile(path.join(sharedDir, 'tls', 'rsa-public.pem'), 'utf8');
      const up = await UpstreamConnection.connect({ host: '127.0.0.1', port: t.port, user: 'repl', password: 'secret-pw', serverPublicKey: pem, tls: { mode: 'disabled' } });
      expect((await up.query('SELECT 5 AS five')).rows).toEqual([['5']]);
      await up.close();
      expect(logged(t, 'client authenticated')).toHaveLength(2);
    } finally {
      await t.close();
    }
  });

  it('a clear-text password over an unencrypted connection is refused', async () => {
    const t = await startTestServer({ source: MYSQL_SOURCE, dataDir: sharedDir, settings: { forceFullAuth: true } });
    try {
      const c = await RawClient.open(t.port);
      const { packets, last } = await c.login('repl', 'secret-pw', { clearTextWithoutTls: true });
      expect(packets[0]!.payload).toEqual(Buffer.from([0x01, 0x04]));
      expect(decodeErr(last!.payload).code).toBe(1045);
      c.end();
    } finally {
      await t.close();
    }
  });

  it('bad credentials get ERR 1045 with the servers wording, and the connection closes', async () => {
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: sharedDir });
    try {
      const e1 = await expectLoginError(t.connect({ password: 'wrong' }));
      expect([e1.errno, e1.sqlState, e1.sqlMessage]).toEqual([1045, '28000', "Access denied for user 'repl'@'127.0.0.1' (using password: YES)"]);
      const e2 = await expectLoginError(t.connect({ user: 'nobody', password: 'x' }));
      expect(e2.sqlMessage).toBe("Access denied for user 'nobody'@'127.0.0.1' (using password: YES)");
      const e3 = await expectLoginError(t.connect({ password: '' }));
      expect(e3.sqlMessage).toBe("Access denied for user 'repl'@'127.0.0.1' (using password: NO)");
      const e4 = await expectLoginError(t.connect({ user: 'other', password: 'secret-pw' }));
      expect(e4.errno).toBe(1045);
      const ok = await t.connect({ user: 'other', password: 'another-pw' });
      await ok.end();
      expect(logged(t, 'authentication failed')).toHaveLength(4);
    } finally {
      await t.close();
    }
  });

  it('passwordless access only with allow_empty_password', async () => {
    await expect(startTestServer({ users: [{ user: 'repl', password: '' }], dataDir: sharedDir })).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' });
    const t = await startTestServer({ users: [{ user: 'open', password: '' }], allowEmptyPassword: true, dataDir: sharedDir });
    try {
      const c = await t.connect({ user: 'open', password: '' });
      await c.end();
      const e = await expectLoginError(t.connect({ user: 'open', password: 'something' }));
      expect(e.errno).toBe(1045);
    } finally {
      await t.close();
    }
  });

  it('throttles an address after repeated failures with ERR 1129, also for the right password', async () => {
    const t = await startTestServer({ source: MYSQL_SOURCE, dataDir: sharedDir, settings: { authThrottle: { maxFailures: 3, windowMs: 60_000, blockMs: 60_000 } } });
    try {
      for (let i = 0; i < 3; i++) expect((await expectLoginError(t.connect({ password: 'bad' }))).errno).toBe(1045);
      const e = await expectLoginError(t.connect());
      expect([e.errno, e.sqlMessage]).toEqual([1129, "Host '127.0.0.1' is blocked because of many connection errors; unblock with 'mysqladmin flush-hosts'"]);
    } finally {
      await t.close();
    }
  });

  it('a success resets the failure count', async () => {
    const t = await startTestServer({ dataDir: sharedDir, settings: { authThrottle: { maxFailures: 3 } } });
    try {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 2; i++) await expectLoginError(t.connect({ password: 'bad' }));
        const c = await t.connect();
        await c.end();
      }
    } finally {
      await t.close();
    }
  });
});

describe('TLS', () => {
  it('generates the self-signed certificate once in <dataDir>/tls and reuses it', async () => {
    const dir = await makeTempDir('bp-srv-tls-');
    try {
      const t1 = await startTestServer({ dataDir: dir });
      const pem1 = await readFile(path.join(dir, 'tls', 'server-cert.pem'), 'utf8');
      await t1.close();
      const t2 = await startTestServer({ dataDir: dir });
      const pem2 = await readFile(path.join(dir, 'tls', 'server-cert.pem'), 'utf8');
      await t2.close();
      expect(pem2).toBe(pem1);
      expect(logged(t1, 'TLS certificate loaded')[0]).toMatchObject({ origin: 'generated' });
      expect(logged(t2, 'TLS certificate loaded')[0]).toMatchObject({ origin: 'reused' });
    } finally {
      await removeTempDir(dir);
    }
  });

  it('uses a configured certificate and key', async () => {
    const t0 = await startTestServer({ dataDir: sharedDir });
    await t0.close();
    const cert = await readFile(path.join(sharedDir, 'tls', 'server-cert.pem'), 'utf8');
    const key = await readFile(path.join(sharedDir, 'tls', 'server-key.pem'), 'utf8');
    const dir = await makeTempDir('bp-srv-cfg-');
    const t = await startTestServer({ dataDir: dir, settings: { tls: { cert, key } } });
    try {
      expect(logged(t, 'TLS certificate loaded')[0]).toMatchObject({ origin: 'configured' });
      const c = await t.connect({ ssl: { ca: cert, rejectUnauthorized: true } });
      await c.end();
    } finally {
      await t.close();
      await removeTempDir(dir);
    }
    await expect(startTestServer({ dataDir: sharedDir, settings: { tls: { cert: '/nonexistent/cert.pem', key } } })).rejects.toMatchObject({ code: 'ERR_TLS' });
  });

  it('runs without TLS when openssl is missing, and says why', async () => {
    const dir = await makeTempDir('bp-srv-nossl-');
    const t = await startTestServer({ dataDir: dir, settings: { openssl: '/nonexistent/openssl' } });
    try {
      const warn = logged(t, 'running without TLS')[0];
      expect(String(warn?.err)).toContain('is not installed');
      const c = await RawClient.open(t.port);
      expect(c.greeting.capabilities & 0x800).toBe(0);
      c.end();
      const m = await t.connect();
      const [rows] = await m.query('SELECT @@have_ssl AS s');
      expect(rows).toEqual([{ s: 'DISABLED' }]);
      await m.end();
    } finally {
      await t.close();
      await removeTempDir(dir);
    }
  });

  it('accepts a ClientHello that arrives in the same segment as the SSLRequest', async () => {
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: sharedDir });
    try {
      const c = await RawClient.open(t.port);
      await c.startTls(true);
      const { last } = await c.login('repl', 'secret-pw');
      expect(last!.seq).toBe(3);
      expect(last!.payload[0]).toBe(0);
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([['1']]);
      c.end();
    } finally {
      await t.close();
    }
  });

  it('MariaDB flavour over TLS: the OK carries the zero-configuration certificate proof (MDEV-31855)', async () => {
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: sharedDir });
    try {
      const c = await RawClient.open(t.port);
      await c.startTls();
      const { last } = await c.login('repl', 'secret-pw');
      const ok = decodeOk(last!.payload, { capabilities: c.capabilities });
      const der = new X509Certificate(await readFile(path.join(sharedDir, 'tls', 'server-cert.pem'))).raw;
      const expected = createHash('sha256')
        .update(nativePasswordHash('secret-pw'))
        .update(c.greeting.nonce)
        .update(createHash('sha256').update(der).digest())
        .digest('hex')
        .toUpperCase();
      expect(ok.info).toBe(`\x01${expected}`);
      c.end();
      // Not without TLS.
      const plain = await RawClient.open(t.port);
      const r = await plain.login('repl', 'secret-pw');
      expect(decodeOk(r.last!.payload, { capabilities: plain.capabilities }).info).toBe('');
      plain.end();
    } finally {
      await t.close();
    }
  });
});

describe('the MariaDB command-line client (libmariadb)', () => {
  const run = promisify(execFile);
  it('logs in with both plugins, with and without TLS, and reads the replication statements', async () => {
    const bin = requireMariaDBBinaries().client;
    for (const source of [MARIADB_SOURCE, MYSQL_SOURCE]) {
      const t = await startTestServer({ source, dataDir: sharedDir });
      try {
        for (const tls of ['--ssl', '--skip-ssl']) {
          const { stdout } = await run(
            bin,
            ['--no-defaults', '-h', '127.0.0.1', '-P', String(t.port), '-u', 'repl', '--password=secret-pw', tls, '--batch', '--skip-column-names',
              '-e', 'SELECT @@server_id, VERSION(); SHOW MASTER STATUS'],
            { encoding: 'utf8', timeout: 15_000 },
          );
          const lines = stdout.trim().split('\n');
          expect(lines[0]).toBe(`9001\t${source.flavor === 'mysql' ? '8.0.45-binlog-proxy' : '10.11.6-MariaDB-binlog-proxy'}`);
          expect(lines[1]).toMatch(source.flavor === 'mysql' ? /^binlog\.000007\t4242\t\t\t3e11fa47/ : /^bin\.000002\t5678$/);
        }
        expect(logged(t, 'client authenticated').map((l) => [l.plugin, l.tls])).toEqual([
          [source.flavor === 'mysql' ? 'caching_sha2_password' : 'mysql_native_password', true],
          [source.flavor === 'mysql' ? 'caching_sha2_password' : 'mysql_native_password', false],
        ]);
      } finally {
        await t.close();
      }
    }
  });
});

describe('connection phase limits', () => {
  it('closes a client that does not finish the handshake in time', async () => {
    const t = await startTestServer({ dataDir: sharedDir, settings: { limits: { handshakeTimeoutMs: 300 } } });
    try {
      const t0 = Date.now();
      const r = await rawExchange(t.port, [], 5000);
      expect(r.closed).toBe(true);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(splitPackets(r.data)[0]!.payload[0]).toBe(0x0a); // only the greeting
      expect(logged(t, 'handshake timed out')).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it('closes an idle connection after its wait_timeout', async () => {
    const t = await startTestServer({ dataDir: sharedDir });
    try {
      const c = await RawClient.open(t.port);
      await c.login('repl', 'secret-pw');
      c.write(Buffer.concat([Buffer.from([3]), Buffer.from('SET wait_timeout = 1')]), 0);
      expect((await c.read())!.payload[0]).toBe(0);
      const t0 = Date.now();
      expect(await c.read(5000)).toBeNull();
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect(logged(t, 'idle connection closed after wait_timeout')).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it('refuses connections over maxConnections with ERR 1040', async () => {
    const t = await startTestServer({ dataDir: sharedDir, settings: { limits: { maxConnections: 2 } } });
    try {
      const a = await RawClient.open(t.port);
      const b = await RawClient.open(t.port);
      const c = await RawClient.open(t.port);
      const p = await c.read();
      expect(decodeErr(p!.payload)).toEqual({ code: 1040, sqlState: '08004', message: 'Too many connections' });
      expect(await c.read()).toBeNull();
      a.end();
      await new Promise((r) => setTimeout(r, 50));
      const d = await RawClient.open(t.port);
      expect(d.greeting.protocolVersion).toBe(10);
      for (const x of [b, d]) x.end();
    } finally {
      await t.close();
    }
  });

  it('refuses a packet over the pre-authentication limit with ERR 1153', async () => {
    const t = await startTestServer({ dataDir: sharedDir });
    try {
      const header = Buffer.from([0xff, 0xff, 0x0f, 0x01]); // 1 MiB announced
      const r = await rawExchange(t.port, [header, Buffer.alloc(1000)]);
      expect(r.closed).toBe(true);
      const pk = splitPackets(r.data);
      expect(pk).toHaveLength(2);
      expect(decodeErr(pk[1]!.payload)).toEqual({ code: 1153, sqlState: '08S01', message: "Got a packet bigger than 'max_allowed_packet' bytes" });
    } finally {
      await t.close();
    }
  });

  it('answers a wrong sequence id with ERR 1156 and closes', async () => {
    const t = await startTestServer({ dataDir: sharedDir });
    try {
      const c = await RawClient.open(t.port);
      const resp = encodeHandshakeResponse41({
        capabilities: UPSTREAM_CLIENT_CAPABILITIES,
        maxPacketSize: 1 << 24,
        charset: UTF8MB4_GENERAL_CI,
        user: 'repl',
        authResponse: scrambleNativePassword('secret-pw', c.greeting.nonce),
        authPluginName: 'mysql_native_password',
      });
      c.write(resp, 5);
      const p = await c.read();
      expect(decodeErr(p!.payload).code).toBe(1156);
      expect(await c.read()).toBeNull();
    } finally {
      await t.close();
    }
  });

  it('a pre-plugin (4.1 secure connection) client logs in with the native scramble', async () => {
    const t = await startTestServer({ source: MYSQL_SOURCE, dataDir: sharedDir });
    try {
      const c = await RawClient.open(t.port);
      const caps = (UPSTREAM_CLIENT_CAPABILITIES & ~CLIENT_PLUGIN_AUTH & ~0x00200000) | CLIENT_SECURE_CONNECTION;
      const { last } = await c.login('repl', 'secret-pw', { plugin: 'mysql_native_password', caps });
      expect(last!.payload[0]).toBe(0);
      c.end();
    } finally {
      await t.close();
    }
  });
});

describe('SQL over the wire', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ source: MYSQL_SOURCE, dataDir: sharedDir });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers the replication SHOW statements with their column names and types', async () => {
    const c = await t.connect();
    try {
      const [ms, msFields] = await c.query('SHOW BINARY LOG STATUS');
      expect(ms).toEqual([{ File: 'binlog.000007', Position: 4242, Binlog_Do_DB: '', Binlog_Ignore_DB: '', Executed_Gtid_Set: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57' }]);
      expect((msFields as Array<{ name: string; columnType: number }>).map((f) => [f.name, f.columnType])).toEqual([
        ['File', 253],
        ['Position', 8],
        ['Binlog_Do_DB', 253],
        ['Binlog_Ignore_DB', 253],
        ['Executed_Gtid_Set', 253],
      ]);
      const [logs] = await c.query('SHOW BINARY LOGS');
      expect(logs).toEqual([{ Log_name: 'binlog.000007', File_size: 4242, Encrypted: 'No' }]);
      const [v] = await c.query("SHOW GLOBAL VARIABLES LIKE 'binlog_%'");
      expect((v as Array<{ Variable_name: string }>).map((r) => r.Variable_name)).toEqual([
        'binlog_checksum',
        'binlog_format',
        'binlog_row_image',
        'binlog_row_metadata',
        'binlog_transaction_compression',
      ]);
      const [hosts] = await c.query('SHOW SLAVE HOSTS');
      expect(hosts).toEqual([]);
    } finally {
      await c.end();
    }
  });

  it('unknown statements and variables get 1064/1193 and the connection stays usable', async () => {
    const c = await t.connect();
    try {
      for (const [sql, errno] of [
        ['SELEC 1', 1064],
        ['SELECT @@no_such_var', 1193],
        ['SET no_such_var = 1', 1193],
        ['SELECT * FROM mysql.user', 1064],
        ['DROP TABLE t', 1064],
        ["SELECT 'unterminated", 1064],
        ['\u0000\u00ff garbage', 1064],
      ] as const) {
        const e = await c.query(sql).then(
          () => null,
          (err: unknown) => errOf(err),
        );
        expect(e?.errno, sql).toBe(errno);
        const [rows] = await c.query('SELECT 1 AS ok');
        expect(rows).toEqual([{ ok: 1 }]);
      }
    } finally {
      await c.end();
    }
  });

  it('COM_PING, COM_INIT_DB, COM_RESET_CONNECTION and an unknown command', async () => {
    const c = await t.connect({ database: 'somedb' });
    try {
      await c.ping();
      const [db] = await c.query('SELECT DATABASE() AS d');
      expect(db).toEqual([{ d: 'somedb' }]);
      await c.changeUser({ user: 'repl', password: 'secret-pw' }).then(
        () => {
          throw new Error('COM_CHANGE_USER should be refused');
        },
        (e: unknown) => expect(errOf(e).errno).toBe(1047),
      );
    } finally {
      c.destroy();
    }
    const r = await RawClient.open(t.port);
    await r.login('repl', 'secret-pw');
    r.write(Buffer.from([0x1f]), 0); // COM_RESET_CONNECTION
    expect((await r.read())!.payload[0]).toBe(0x00);
    r.write(Buffer.from([0x63, 1, 2, 3]), 0); // no such command
    expect(decodeErr((await r.read())!.payload)).toMatchObject({ code: 1047, sqlState: '08S01' });
    r.write(Buffer.from([0x09]), 0); // COM_STATISTICS
    expect((await r.read())!.payload.toString()).toMatch(/^Uptime: \d+ {2}Threads: \d+/);
    expect((await r.query('SELECT 2 AS two')).rows).toEqual([['2']]);
    r.end();
  });

  it('honours the client not asking for CLIENT_DEPRECATE_EOF', async () => {
    const r = await RawClient.open(t.port);
    await r.login('repl', 'secret-pw', { caps: UPSTREAM_CLIENT_CAPABILITIES & ~CLIENT_DEPRECATE_EOF });
    expect((await r.query('SELECT 3 AS three, @@server_id AS id')).rows).toEqual([['3', '9001']]);
    r.end();
  });
});

describe('COM_REGISTER_SLAVE, SHOW SLAVE HOSTS, status and KILL', () => {
  it('lists registered replicas while they are connected, and KILL ends a connection', async () => {
    const t = await startTestServer({ source: MARIADB_SOURCE, dataDir: sharedDir });
    try {
      const r = await RawClient.open(t.port);
      await r.login('repl', 'secret-pw');
      r.write(encodeComRegisterSlave({ serverId: 12, host: 'replica-a', port: 3310, user: 'x', password: 'y' }), 0);
      expect((await r.read())!.payload[0]).toBe(0);
      r.write(Buffer.from([0x15, 1, 2]), 0); // truncated
      expect(decodeErr((await r.read())!.payload)).toEqual({ code: 1835, sqlState: 'HY000', message: 'Malformed communication packet.' });

      const c = await t.connect();
      const [hosts] = await c.query('SHOW SLAVE HOSTS');
      expect(hosts).toEqual([{ Server_id: 12, Host: 'replica-a', Port: 3310, Master_id: 9001 }]);
      const st = t.server.status();
      expect(st).toMatchObject({ status: 'running', flavor: 'mariadb', server_id: 9001, users: ['repl', 'other'] });
      expect(st.slaves).toEqual([
        expect.objectContaining({ server_id: 12, host_name: 'replica-a', port: 3310, user: 'repl', kind: 'replica', mode: null, remote_address: '127.0.0.1' }),
      ]);
      const id = r.greeting.connectionId;
      const [k] = await c.query(`KILL ${id}`);
      expect(k).toMatchObject({ affectedRows: 0 });
      expect(await r.read()).toBeNull();
      await new Promise((res) => setTimeout(res, 50));
      const [after] = await c.query('SHOW SLAVE HOSTS');
      expect(after).toEqual([]);
      const e = await c.query('KILL 99999').then(
        () => null,
        (err: unknown) => errOf(err),
      );
      expect([e?.errno, e?.sqlMessage]).toEqual([1094, 'Unknown thread id: 99999']);
      await c.end();
    } finally {
      await t.close();
    }
  });

  it('a second start is a conflict; a bind failure is ERR_LISTEN with the OS message; stop is idempotent', async () => {
    const t = await startTestServer({ dataDir: sharedDir });
    try {
      await expect(t.server.start({ addr: '127.0.0.1:0', users: [{ user: 'a', password: 'b' }] })).rejects.toMatchObject({ code: 'ERR_ALREADY_RUNNING' });
      const t2 = await startTestServer({ dataDir: sharedDir }).catch((e: unknown) => e);
      expect(t2).not.toBeInstanceOf(Error);
      if (!(t2 instanceof Error)) await (t2 as TestServer).close();
      const other = await startTestServer({ dataDir: sharedDir });
      await other.server.stop();
      await expect(other.server.start({ addr: `127.0.0.1:${t.port}`, users: [{ user: 'a', password: 'b' }] })).rejects.toMatchObject({
        code: 'ERR_LISTEN',
        message: expect.stringContaining('EADDRINUSE'),
      });
      expect(other.server.status()).toMatchObject({ status: 'error', last_error: { code: 'ERR_LISTEN' } });
      expect((await other.server.stop()).status).toBe('stopped');
      expect((await other.server.stop()).status).toBe('stopped');
      await other.close();
    } finally {
      await t.close();
    }
  });

  it('stop closes client connections', async () => {
    const t = await startTestServer({ dataDir: sharedDir });
    const r = await RawClient.open(t.port);
    await r.login('repl', 'secret-pw');
    await t.close();
    expect(await r.read()).toBeNull();
    expect(t.server.status()).toMatchObject({ status: 'stopped', addr: null, slaves: [] });
  });
});
