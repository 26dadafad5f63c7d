// Security at the daemon level (the built CLI as a child process):
// - the admin API with a token: every route needs it; hostile requests (malformed JSON, wrong types, huge
//   bodies, unknown fields, path tricks) get a clear 4xx and persist nothing;
// - replicas must authenticate (no passwordless server unless configured), failures are throttled per address;
// - secrets never appear in status, metrics or error bodies (the logs are checked by the global teardown);
// - the data dir is owner-only (state, LevelDB, the self-signed TLS key);
// - TLS on the admin listener, on the replication listener and towards the primary.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MariaDBInstance } from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { makeTempDir } from '../helpers/tmp.js';
import type { DaemonProcess } from '../helpers/daemon.js';
import { captureLogs, spawnDaemon, startPrimary, waitFor, waitForProxy } from './helpers.js';
import { ALL_SECRETS, SECRETS } from './secrets.js';
import { WireClient } from './wire-client.js';
import './setup-file.js';

const AUTH = { authorization: `Bearer ${SECRETS.adminToken}` };

function expectNoSecret(what: string, text: string): void {
  for (const s of ALL_SECRETS) expect(text.includes(s), `${what} contains a secret`).toBe(false);
}

/** A self-signed certificate for 127.0.0.1 in `dir` (cert.pem, key.pem). */
function selfSigned(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

function httpsGet(port: number, path: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, ca, headers }, (res) => {
      let body = '';
      const protocol = (res.socket as TLSSocket).getProtocol() ?? '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol }));
    });
    req.on('error', reject);
    req.end();
  });
}

function walk(dir: string): Array<{ path: string; mode: number; dir: boolean }> {
  const out: Array<{ path: string; mode: number; dir: boolean }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push({ path: p, mode: statSync(p).mode & 0o777, dir: e.isDirectory() });
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

describe('security (daemon level)', () => {
  let primary: MariaDBInstance;
  let daemon: DaemonProcess;
  let tlsDir: string;
  let certs: { cert: string; key: string };
  let serverPort: number;

  beforeAll(async () => {
    tlsDir = await makeTempDir('bp-sec-tls-');
    certs = selfSigned(tlsDir);
    // A primary that accepts the replication account only over TLS.
    primary = await startPrimary(71, [`--ssl-cert=${certs.cert}`, `--ssl-key=${certs.key}`]);
    await primary.query("ALTER USER 'repl'@'%' REQUIRE SSL");
    const config = join(tlsDir, 'binlog-proxy.yaml');
    writeFileSync(config, `admin:\n  tls:\n    cert: ${certs.cert}\n    key: ${certs.key}\n`);
    // A shell umask that would make files world-readable: the daemon must not care.
    daemon = await startDaemonWithUmask(['--config', config, '--admin-token', SECRETS.adminToken]);
    captureLogs('security', daemon);
    serverPort = await getFreePort();
  });

  afterAll(async () => {
    await daemon?.kill();
    await primary?.destroy();
  });

  it('serves the admin API over TLS only, and every route needs the token', async () => {
    const ca = readFileSync(certs.cert, 'utf8');
    const health = await httpsGet(daemon.adminPort, '/health', ca, AUTH);
    expect(health.status).toBe(200);
    expect(health.protocol).toMatch(/^TLSv1\.[23]$/);
    // Plain HTTP on the TLS port gets no API answer.
    const plain = await fetch(`http://127.0.0.1:${daemon.adminPort}/health`, { signal: AbortSignal.timeout(3000) }).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
    for (const [method, path] of [
      ['GET', '/health'],
      ['GET', '/metrics'],
      ['GET', '/binlog/syncer/status'],
      ['PUT', '/binlog/syncer/start'],
      ['PUT', '/binlog/syncer/stop'],
      ['GET', '/binlog/server/status'],
      ['PUT', '/binlog/server/start'],
      ['PUT', '/binlog/server/stop'],
      ['GET', '/binlog/logs'],
      ['POST', '/binlog/purge'],
      ['GET', '/api/instances'],
      ['GET', '/nope'],
    ] as const) {
      const r = await adminRequest(method, path, ca, {});
      expect(r.status, `${method} ${path}`).toBe(401);
      const wrong = await adminRequest(method, path, ca, { authorization: `Bearer ${SECRETS.adminToken.slice(0, -1)}Z` });
      expect(wrong.status, `${method} ${path} wrong token`).toBe(401);
    }
    // The discovery page's static files are public (no data; the page asks for the token).
    expect((await adminRequest('GET', '/', ca, {})).status).toBe(200);
  });

  it('hostile admin requests get a clear 4xx and persist nothing', async () => {
    const ca = readFileSync(certs.cert, 'utf8');
    const stateDir = join(daemon.dataDir, 'state');
    const snapshot = (): string => JSON.stringify(readdirSync(stateDir).map((f) => [f, readFileSync(join(stateDir, f), 'utf8')]));
    const before = snapshot();
    const good = { mysql_addr: `127.0.0.1:${primary.port}`, mysql_user: 'repl', mysql_password: SECRETS.replPassword, syncer_id: 9101 };
    const cases: Array<[string, string, string | Buffer, number[]]> = [
      ['PUT', '/binlog/syncer/start', '{"mysql_addr": ', [400]],
      ['PUT', '/binlog/syncer/start', '[]', [400]],
      ['PUT', '/binlog/syncer/start', 'null', [400]],
      ['PUT', '/binlog/syncer/start', '"x"', [400]],
      ['PUT', '/binlog/syncer/start', JSON.stringify({ ...good, syncer_id: '9101' }), [400]],
      ['PUT', '/binlog/syncer/start', JSON.stringify({ ...good, syncer_id: -1 }), [400]],
      ['PUT', '/binlog/syncer/start', JSON.stringify({ ...good, mysql_addr: '127.0.0.1' }), [400]],
      ['PUT', '/binlog/syncer/start', JSON.stringify({ ...good, extra: true }), [400]],
      ['PUT', '/binlog/syncer/start', JSON.stringify({ ...good, __proto__: { admin: true } }).replace('{', '{"__proto__":{"x":1},'), [400]],
      ['PUT', '/binlog/syncer/start', JSON.stringify({ ...good, start: { file: '../../etc/passwd', pos: 4 } }), [400]],
      ['PUT', '/binlog/syncer/start', JSON.stringify({ ...good, tls: { ca: '/etc/shadow-does-not-exist' } }), [400]],
      ['PUT', '/binlog/syncer/start', JSON.stringify({ ...good, mysql_password: 'x'.repeat(5000) }), [400]],
      ['PUT', '/binlog/syncer/start', Buffer.alloc(2 * 1024 * 1024, 0x20), [413]],
      ['PUT', '/binlog/server/start', JSON.stringify({ addr: `127.0.0.1:${serverPort}`, user: 'repl', password: '' }), [400]],
      ['PUT', '/binlog/server/start', JSON.stringify({ addr: `127.0.0.1:${serverPort}` }), [400]],
      ['PUT', '/binlog/server/start', JSON.stringify({ addr: `127.0.0.1:${serverPort}`, users: [{ user: 'a', password: 1 }] }), [400]],
      ['POST', '/binlog/purge', JSON.stringify({ to_file: '../state/syncer.json' }), [400, 404]],
      ['POST', '/binlog/purge', JSON.stringify({ before: 'yesterday' }), [400]],
      ['GET', '/binlog/..%2f..%2fstate/syncer.json', '', [404]],
      ['GET', '/web/..%2f..%2fstate%2fsyncer.json', '', [404]],
      ['GET', '/%2e%2e/%2e%2e/etc/passwd', '', [404]],
    ];
    for (const [method, path, body, statuses] of cases) {
      const r = await adminRequest(method, path, ca, { ...AUTH, 'content-type': 'application/json' }, body);
      const label = `${method} ${path} ${String(body).slice(0, 60)}`;
      expect(statuses, `${label} -> ${r.status} ${r.body.slice(0, 200)}`).toContain(r.status);
      const parsed = JSON.parse(r.body) as { message: string; code: string };
      expect(parsed.code, label).toMatch(/^ERR_/);
      expect(parsed.message.length, label).toBeGreaterThan(5);
      expectNoSecret(label, r.body);
    }
    // Nothing persisted, nothing started.
    expect(snapshot()).toBe(before);
    const st = await adminRequest('GET', '/binlog/syncer/status', ca, AUTH);
    expect(JSON.parse(st.body).data.status).toBe('stopped');
    expect(daemon.child.exitCode).toBeNull();
  });

  it('replicates from a TLS-only primary and serves replicas over TLS; replicas must authenticate and are throttled', async () => {
    const ca = readFileSync(certs.cert, 'utf8');
    const json = { ...AUTH, 'content-type': 'application/json' };
    const started = await adminRequest(
      'PUT',
      '/binlog/syncer/start',
      ca,
      json,
      JSON.stringify({
        mysql_addr: `127.0.0.1:${primary.port}`,
        mysql_user: 'repl',
        mysql_password: SECRETS.replPassword,
        syncer_id: 9102,
        tls: { mode: 'required', verify: true, ca: certs.cert },
      }),
    );
    expect(started.status, started.body).toBe(200);
    expectNoSecret('syncer start answer', started.body);
    const srv = await adminRequest('PUT', '/binlog/server/start', ca, json, JSON.stringify({ addr: `127.0.0.1:${serverPort}`, user: 'repl', password: SECRETS.serverPassword }));
    expect(srv.status, srv.body).toBe(200);
    await primary.query('CREATE TABLE fault.sec (id INT PRIMARY KEY)');
    await primary.query('INSERT INTO fault.sec VALUES (1), (2)');
    const proxyApi = { api: (m: string, p: string) => adminRequest(m, p, ca, AUTH).then((r) => ({ status: r.status, body: JSON.parse(r.body) as unknown })) };
    await waitForProxy(proxyApi as unknown as DaemonProcess, primary, 30_000);

    // The replication listener speaks TLS.
    // (its self-signed certificate from <dataDir>/tls: encryption without verification here)
    const c = await mysql.createConnection({ host: '127.0.0.1', port: serverPort, user: 'repl', password: SECRETS.serverPassword, ssl: { rejectUnauthorized: false } });
    const stream = (c as unknown as { connection: { stream: { encrypted?: boolean; getProtocol?: () => string | null } } }).connection.stream;
    expect(stream.encrypted).toBe(true);
    expect(stream.getProtocol?.()).toMatch(/^TLSv1\.[23]$/);
    await c.end();

    // No password, a wrong password, an unknown user: refused with 1045, the secret never echoed.
    for (const [user, password] of [
      ['repl', ''],
      ['repl', SECRETS.wrongPassword],
      ['root', SECRETS.serverPassword],
    ] as const) {
      const w = await WireClient.connect({ port: serverPort, localAddress: '127.0.0.4' });
      const r = await w.login(user, password);
      w.destroy();
      expect(r.ok).toBe(false);
      expect(r.error ?? '').toMatch(/Access denied/);
      expectNoSecret('login error', r.error ?? '');
    }
    // Ten failures from 127.0.0.5 block that address even for the right password; 127.0.0.1 is unaffected.
    for (let i = 0; i < 10; i++) {
      const w = await WireClient.connect({ port: serverPort, localAddress: '127.0.0.5' });
      await w.login('repl', SECRETS.wrongPassword);
      w.destroy();
    }
    const blocked = await WireClient.connect({ port: serverPort, localAddress: '127.0.0.5' });
    const b = await blocked.login('repl', SECRETS.serverPassword);
    blocked.destroy();
    expect(b.ok).toBe(false);
    expect(b.error ?? '').toMatch(/blocked/i);
    const ok = await WireClient.connect({ port: serverPort });
    expect((await ok.login('repl', SECRETS.serverPassword)).ok).toBe(true);
    ok.destroy();

    // Secrets appear in no status and no metric.
    for (const p of ['/binlog/syncer/status', '/binlog/server/status', '/metrics', '/binlog/logs']) {
      const r = await adminRequest('GET', p, ca, AUTH);
      expect(r.status).toBe(200);
      expectNoSecret(p, r.body);
    }
  });

  it('a wrong upstream password shows a clear error without the password', async () => {
    const ca = readFileSync(certs.cert, 'utf8');
    await adminRequest('PUT', '/binlog/syncer/stop', ca, AUTH);
    const other = await spawnDaemon({ args: ['--admin-token', SECRETS.adminToken] });
    captureLogs('security-wrongpw', other);
    try {
      const r = await other.api('PUT', '/binlog/syncer/start', {
        mysql_addr: `127.0.0.1:${primary.port}`,
        mysql_user: 'repl',
        mysql_password: SECRETS.wrongPassword,
        syncer_id: 9103,
        tls: { mode: 'required', verify: false },
      }, AUTH);
      expect(r.status).toBe(200);
      await waitFor(
        async () => (await other.api<{ data: { last_error: { code: string } | null } }>('GET', '/binlog/syncer/status', undefined, AUTH)).body.data.last_error?.code === 'ERR_UPSTREAM_ACCESS_DENIED',
        20_000,
        'the access-denied error',
      );
      const st = await other.api('GET', '/binlog/syncer/status', undefined, AUTH);
      expectNoSecret('status with an upstream error', JSON.stringify(st.body));
    } finally {
      await other.kill();
    }
  });

  it('keeps the data dir owner-only: state, LevelDB files and the self-signed TLS key', () => {
    const entries = walk(daemon.dataDir);
    expect(entries.some((e) => e.path.endsWith(join('state', 'syncer.json')))).toBe(true);
    expect(entries.some((e) => e.path.includes(join('binlog', 'CURRENT')))).toBe(true);
    const tlsKey = entries.find((e) => e.path.startsWith(join(daemon.dataDir, 'tls')) && /key/.test(e.path));
    expect(tlsKey, 'the self-signed key in <dataDir>/tls').toBeDefined();
    expect(tlsKey!.mode).toBe(0o600);
    const loose = entries.filter((e) => (e.mode & 0o077) !== 0).map((e) => `${e.path} ${e.mode.toString(8)}`);
    expect(loose).toEqual([]);
    expect(statSync(daemon.dataDir).mode & 0o077).toBe(0);
  });

  async function adminRequest(method: string, path: string, ca: string, headers: Record<string, string>, body?: string | Buffer): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: daemon.adminPort, path, method, ca, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      if (body !== undefined && body !== '') req.write(body);
      req.end();
    });
  }

  /** The daemon started from a shell with a permissive umask (022). */
  async function startDaemonWithUmask(args: string[]): Promise<DaemonProcess> {
    const old = process.umask(0o022);
    try {
      return await startDaemonTls(args);
    } finally {
      process.umask(old);
    }
  }

  async function startDaemonTls(args: string[]): Promise<DaemonProcess> {
    return spawnDaemon({ args });
  }
});
