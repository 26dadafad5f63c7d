/**
 * The upstream connection against a real MariaDB: TLS (required, verified against a CA, refused with a wrong
 * CA), a user the client cannot authenticate (ed25519), and a whole sync over TLS with an event over 16 MiB.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Syncer } from '../../src/syncer/syncer.js';
import type { SyncerStore } from '../../src/syncer/store.js';
import { UpstreamConnection } from '../../src/upstream/connection.js';
import { startMariaDB, type MariaDBInstance } from '../helpers/mariadb.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { compareWithPrimary, makeHarness, statusLine, syncerArgs, waitCaughtUp, waitFor, type Harness } from './syncer-helpers.js';

let db: MariaDBInstance;
let dir: string;
let ca: string;
let otherCa: string;
const harnesses: Harness[] = [];

function makeCert(name: string): void {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, `${name}-key.pem`), '-out', path.join(dir, `${name}.pem`), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
}

beforeAll(async () => {
  dir = await makeTempDir('bp-tls-');
  makeCert('server');
  makeCert('other');
  ca = readFileSync(path.join(dir, 'server.pem'), 'utf8');
  otherCa = readFileSync(path.join(dir, 'other.pem'), 'utf8');
  db = await startMariaDB({ extraArgs: [`--ssl-cert=${path.join(dir, 'server.pem')}`, `--ssl-key=${path.join(dir, 'server-key.pem')}`] });
  await db.createReplicationUser('repl', 'replpw');
  await db.query("CREATE USER 'tlsrepl'@'%' IDENTIFIED BY 'tlspw' REQUIRE SSL");
  await db.query("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'tlsrepl'@'%'");
  await db.createReplicationUser('edrepl', 'edpw', 'ed25519');
}, 120_000);

afterAll(async () => {
  for (const h of harnesses) await h.destroy();
  await db?.destroy();
  if (dir) await removeTempDir(dir);
});

const base = (): { host: string; port: number } => ({ host: db.host, port: db.port });

describe('UpstreamConnection against MariaDB', () => {
  it('negotiates TLS when required, and a REQUIRE SSL user cannot log in without it', async () => {
    const c = await UpstreamConnection.connect({ ...base(), user: 'tlsrepl', password: 'tlspw', tls: { mode: 'required' } });
    expect(c.tlsActive).toBe(true);
    const r = await c.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    expect(r.rows[0]![1]).toMatch(/^TLSv1\.[23]$/);
    await c.close();
    await expect(UpstreamConnection.connect({ ...base(), user: 'tlsrepl', password: 'tlspw', tls: { mode: 'disabled' } })).rejects.toMatchObject({ errno: 1045 });
    // 'preferred' (the default) uses TLS when the server offers it.
    const p = await UpstreamConnection.connect({ ...base(), user: 'repl', password: 'replpw' });
    expect(p.tlsActive).toBe(true);
    p.destroy();
  });

  it('verifies the server certificate against a CA; a wrong CA fails with ERR_UPSTREAM_TLS', async () => {
    const c = await UpstreamConnection.connect({ ...base(), user: 'repl', password: 'replpw', tls: { mode: 'required', ca, servername: 'localhost' } });
    expect(c.tlsActive).toBe(true);
    c.destroy();
    await expect(
      UpstreamConnection.connect({ ...base(), user: 'repl', password: 'replpw', tls: { mode: 'required', ca: otherCa, servername: 'localhost' } }),
    ).rejects.toMatchObject({ code: 'ERR_UPSTREAM_TLS' });
  });

  it('an ed25519 account is refused with a clear error (the client speaks native and caching_sha2 only)', async () => {
    await expect(UpstreamConnection.connect({ ...base(), user: 'edrepl', password: 'edpw', tls: { mode: 'disabled' } })).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_AUTH_PLUGIN',
      message: expect.stringMatching(/client_ed25519/),
    });
    const h = await makeHarness({ backoff: { baseMs: 20, capMs: 200 } });
    harnesses.push(h);
    await h.syncer.start(syncerArgs(db, { mysql_user: 'edrepl', mysql_password: 'edpw' }));
    const s = await waitFor('the error', () => (h.syncer.status().status === 'error' ? h.syncer.status() : undefined), 10_000, () => statusLine(h.syncer.status()));
    expect(s.last_error).toMatchObject({ code: 'ERR_UPSTREAM_AUTH_PLUGIN', fatal: true });
    await h.syncer.stop();
  });

  it('syncs over TLS byte for byte, an event over 16 MiB included', async () => {
    const h = await makeHarness();
    harnesses.push(h);
    await db.query('CREATE DATABASE tl; CREATE TABLE tl.b (id INT PRIMARY KEY, v LONGBLOB) ENGINE=InnoDB');
    // The CA as a file name (as a config file gives it); an unreadable one is refused at start.
    await expect(
      h.syncer.start(syncerArgs(db, { mysql_user: 'tlsrepl', mysql_password: 'tlspw', tls: { mode: 'required', ca: path.join(dir, 'missing.pem') } })),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', field: 'tls.ca' });
    await h.syncer.start(
      syncerArgs(db, { mysql_user: 'tlsrepl', mysql_password: 'tlspw', tls: { mode: 'required', ca: path.join(dir, 'server.pem'), servername: 'localhost' } }),
    );
    const c = await db.connect();
    try {
      await c.query('INSERT INTO tl.b VALUES (1, ?)', [Buffer.alloc(20 * 1024 * 1024, 0x5a)]);
      await c.query('INSERT INTO tl.b VALUES (2, ?)', [Buffer.alloc(1000, 0x5b)]);
    } finally {
      await c.end();
    }
    await waitCaughtUp(h, db);
    expect(await compareWithPrimary(h.store, await db.binlogFiles())).toBeGreaterThan(20 * 1024 * 1024);
    expect(h.syncer.status().status).toBe('running');
    await h.syncer.stop();
  }, 60_000);

  it('backpressure: a slow store pauses the socket; the pause does not count as an idle primary (regression: reconnect loop); nothing lost', async () => {
    const h = await makeHarness();
    harnesses.push(h);
    const real = h.store;
    const slow: SyncerStore = {
      getState: () => real.getState(),
      append: async (u) => {
        await new Promise((r) => setTimeout(r, 1500));
        return real.append(u);
      },
      beginTransaction: (m) => real.beginTransaction(m),
      waitDurable: (seq) => real.waitDurable(seq),
      flush: () => real.flush(),
      getMeta: (n) => real.getMeta(n),
      putMeta: (n, v) => real.putMeta(n, v),
      setFlavor: (f) => real.setFlavor(f),
    };
    h.syncer = new Syncer({ store: slow, log: h.log, metrics: h.metrics, tuning: { maxPendingBytes: 256 * 1024 } });
    await db.query('CREATE DATABASE bp; CREATE TABLE bp.t (id INT PRIMARY KEY, v MEDIUMBLOB) ENGINE=InnoDB');
    // heartbeat 500 ms: a dead connection is assumed after 1.25 s without packets.
    await h.syncer.start(syncerArgs(db, { start: 'current', tls: { mode: 'disabled' } }));
    await waitFor('running', () => h.syncer.status().status === 'running');
    const c = await db.connect();
    try {
      for (let i = 0; i < 5; i++) await c.query('INSERT INTO bp.t VALUES (?, ?)', [i, Buffer.alloc(100_000, i)]);
    } finally {
      await c.end();
    }
    await waitCaughtUp(h, db);
    expect(h.logs.filter((l) => l.includes('paused reading from the primary')).length).toBeGreaterThan(0);
    expect(h.syncer.status().counters.reconnects).toBe(0);
    await compareWithPrimary(h.store, [h.store.listFiles()[0]!].map((f) => path.join(db.datadir, f.name)));
    await h.syncer.stop();
  }, 60_000);
});
