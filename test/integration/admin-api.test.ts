// The admin API through fastify's inject(), over the real components (store in a temp dir, the real syncer
// pointed at a closed port, the real replica server): validation that rejects and names the field, 409 on a
// second start, the bearer token, secrets never echoed, the kingbus envelope.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { openStore, type BinlogStore } from '../../storage/index.js';
import { Syncer } from '../../src/syncer/syncer.js';
import { ReplicationServer } from '../../src/server/server.js';
import { buildAdminApp, type AdminDeps } from '../../src/admin/app.js';
import { Metrics } from '../../src/metrics.js';
import { getFreePort } from '../helpers/ports.js';
import { makeTempDir } from '../helpers/tmp.js';
import type { LogsControl } from '../../src/admin/logs-routes.js';
import { memoryReport, type CollectGarbage, type MemoryReport } from '../../src/memory.js';
import { GtidWaiter } from '../../src/gtid-wait.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const SECRET = 'upstream-pass-5c1d';
const TOKEN = 'admin-token-0123456789';

function fillJunk(holder: { junk: number[] | null }): void {
  holder.junk = Array.from({ length: 4_000_000 }, (_, i) => i + 0.5);
}

function junkEnd(holder: { junk: number[] | null }): number | undefined {
  return holder.junk?.[holder.junk.length - 1];
}

describe('admin API', () => {
  let store: BinlogStore;
  let syncer: Syncer;
  let server: ReplicationServer;
  let app: FastifyInstance;
  let appWithToken: FastifyInstance;
  let closedPort: number;
  let deps: Omit<AdminDeps, 'token'>;
  const lines: string[] = [];

  beforeAll(async () => {
    const dir = await makeTempDir('binlog-proxy-admin-');
    store = await openStore(dir, { flavor: 'mariadb' });
    const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(s) });
    const metrics = new Metrics({ defaultMetrics: false });
    syncer = new Syncer({ store, log, metrics, tuning: { connectTimeoutMs: 500 } });
    server = new ReplicationServer({ store, dataDir: dir, identity: { serverId: 777, serverUuid: '4c0c3ac6-6f0b-4d0f-9a56-5a8c0a3e2b11' }, log, metrics });
    const logs: LogsControl = {
      list: async () => [],
      purge: async () => ({ purged_files: [], first_file: null, purged_gtid_set: '', kept_for_replicas: false }),
    };
    deps = {
      syncer,
      server,
      wait: new GtidWaiter(store),
      logs,
      metrics: () => metrics.exposition(),
      healthy: () => true,
      logger: log,
      // This process runs without --expose-gc: a collection on request is refused.
      debug: { canCollect: false, memory: () => memoryReport(null) },
    };
    app = buildAdminApp({ ...deps, token: null });
    appWithToken = buildAdminApp({ ...deps, token: TOKEN });
    closedPort = await getFreePort();
  });

  afterAll(async () => {
    await app?.close();
    await appWithToken?.close();
    await syncer?.stop();
    await server?.stop();
    await store?.close();
  });

  // it.each rows are built before beforeAll runs: validation cases use a placeholder port.
  const validStart = () => ({
    mysql_addr: `127.0.0.1:${closedPort ?? 1}`,
    mysql_user: 'repl',
    mysql_password: SECRET,
    syncer_id: 4242,
  });

  it.each([
    [{ ...validStart(), syncer_id: '4242' }, 'syncer_id'],
    [{ ...validStart(), syncer_id: 0 }, 'syncer_id'],
    [{ ...validStart(), mysql_addr: 'no-port' }, 'mysql_addr'],
    [{ ...validStart(), extra: true }, 'extra'],
    [{ ...validStart(), semi_sync: 'yes' }, 'semi_sync'],
    [{ ...validStart(), start: { file: 'bin.000001', pos: 2 } }, 'start.pos'],
    [{ mysql_user: 'u', mysql_password: 'p', syncer_id: 1 }, 'mysql_addr'],
  ])('rejects an invalid syncer start body (case %#), naming the field', async (body, field) => {
    const r = await app.inject({ method: 'PUT', url: '/binlog/syncer/start', payload: body });
    expect(r.statusCode).toBe(400);
    const j = r.json<{ message: string; code: string; field: string }>();
    expect(j.code).toBe('ERR_INVALID_INPUT');
    expect(j.field).toBe(field);
    expect(j.message).toContain(field);
    expect(r.body).not.toContain(SECRET);
    expect(syncer.status().status).toBe('stopped');
  });

  it('rejects malformed JSON and non-object bodies with 400', async () => {
    const bad = await app.inject({ method: 'PUT', url: '/binlog/syncer/start', headers: { 'content-type': 'application/json' }, payload: '{"mysql_addr": ' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ code: string }>().code).toBe('ERR_INVALID_JSON');
    const arr = await app.inject({ method: 'PUT', url: '/binlog/syncer/start', payload: [1, 2] });
    expect(arr.statusCode).toBe(400);
    const big = await app.inject({ method: 'PUT', url: '/binlog/syncer/start', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ x: 'y'.repeat(200_000) }) });
    expect(big.statusCode).toBe(413);
  });

  it('starts once (200, kingbus envelope, no password), then answers 409', async () => {
    const r = await app.inject({ method: 'PUT', url: '/binlog/syncer/start', payload: validStart() });
    expect(r.statusCode).toBe(200);
    const j = r.json<{ message: string; data: { status: string; mysql_addr: string; syncer_id: number } }>();
    expect(j.message).toBe('success');
    expect(['connecting', 'running', 'error']).toContain(j.data.status);
    expect(j.data.syncer_id).toBe(4242);
    expect(r.body).not.toContain(SECRET);

    const again = await app.inject({ method: 'PUT', url: '/binlog/syncer/start', payload: validStart() });
    expect(again.statusCode).toBe(409);
    expect(again.json<{ code: string }>().code).toBe('ERR_ALREADY_RUNNING');

    const status = await app.inject({ method: 'GET', url: '/binlog/syncer/status' });
    expect(status.statusCode).toBe(200);
    expect(status.body).not.toContain(SECRET);
    // The closed port shows up as a clear error while it retries.
    await waitFor(() => syncer.status().last_error !== null, 5000);
    expect(JSON.stringify(syncer.status())).not.toContain(SECRET);

    const stopped = await app.inject({ method: 'PUT', url: '/binlog/syncer/stop' });
    expect(stopped.json<{ data: { status: string } }>().data.status).toBe('stopped');
  });

  it('validates server start bodies and runs the replica server once', async () => {
    const missing = await app.inject({ method: 'PUT', url: '/binlog/server/start', payload: { addr: '127.0.0.1:1' } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json<{ field: string }>().field).toBe('user');
    const port = await getFreePort();
    const ok = await app.inject({ method: 'PUT', url: '/binlog/server/start', payload: { addr: `127.0.0.1:${port}`, user: 'r', password: 'downstream-secret' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).not.toContain('downstream-secret');
    const twice = await app.inject({ method: 'PUT', url: '/binlog/server/start', payload: { addr: `127.0.0.1:${port}`, user: 'r', password: 'x' } });
    expect(twice.statusCode).toBe(409);
    const st = await app.inject({ method: 'GET', url: '/binlog/server/status' });
    expect(st.json<{ data: { status: string; addr: string } }>().data).toMatchObject({ status: 'running', addr: `127.0.0.1:${port}` });
    expect(st.body).not.toContain('downstream-secret');
    await app.inject({ method: 'PUT', url: '/binlog/server/stop' });
  });

  it('requires the bearer token on every route when one is configured', async () => {
    for (const [method, url] of [['GET', '/binlog/syncer/status'], ['GET', '/health'], ['GET', '/metrics'], ['PUT', '/binlog/syncer/stop'], ['GET', '/nope']] as const) {
      const none = await appWithToken.inject({ method, url });
      expect(none.statusCode, `${method} ${url}`).toBe(401);
      const wrong = await appWithToken.inject({ method, url, headers: { authorization: 'Bearer wrong-token-000000' } });
      expect(wrong.statusCode).toBe(401);
    }
    const ok = await appWithToken.inject({ method: 'GET', url: '/binlog/syncer/status', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
  });

  it('serves health, Prometheus metrics and a 404 envelope', async () => {
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    const m = await app.inject({ method: 'GET', url: '/metrics' });
    expect(m.statusCode).toBe(200);
    expect(m.body).toContain('binlog_proxy_events_received_total');
    expect(m.body).not.toContain(SECRET);
    const nf = await app.inject({ method: 'GET', url: '/binlog/nothing' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json<{ code: string }>().code).toBe('ERR_NOT_FOUND');
  });

  it('reports memory; ?gc=1 collects first, and is refused (409) without --expose-gc; bad queries are 400', async () => {
    const MiB = 1 << 20;
    const plain = await app.inject({ method: 'GET', url: '/debug/memory' });
    expect(plain.statusCode).toBe(200);
    const m = plain.json<{ message: string; data: MemoryReport }>();
    expect(m.message).toBe('success');
    expect(m.data.collected).toBe(false);
    expect(m.data.rss_anon_bytes! + m.data.rss_file_bytes!).toBeGreaterThan(0.9 * m.data.rss_bytes);
    expect(m.data.heap_used_bytes).toBeLessThanOrEqual(m.data.heap_total_bytes);
    const refused = await app.inject({ method: 'GET', url: '/debug/memory?gc=1' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ code: string; message: string }>()).toMatchObject({ code: 'ERR_GC_UNAVAILABLE', message: expect.stringContaining('--expose-gc') });
    for (const [url, field] of [['/debug/memory?gc=yes', 'gc'], ['/debug/memory?gc=1&x=2', 'x']] as const) {
      const bad = await app.inject({ method: 'GET', url });
      expect(bad.statusCode, url).toBe(400);
      expect(bad.json<{ code: string; field: string }>()).toMatchObject({ code: 'ERR_INVALID_INPUT', field });
    }

    // V8's real gc, as --expose-gc gives it to the daemon.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as CollectGarbage;
    const withGc = buildAdminApp({ ...deps, token: null, debug: { canCollect: true, memory: (collect) => memoryReport(collect ? gc : null) } });
    try {
      // 4M doubles: a 32 MB backing store in V8's large-object space, which only a full collection frees. Made
      // and checked in plain functions: a suspended async function may keep a temporary of its own alive.
      const holder: { junk: number[] | null } = { junk: null };
      fillJunk(holder);
      const read = async (url: string): Promise<MemoryReport> => {
        const r = await withGc.inject({ method: 'GET', url });
        expect(r.statusCode, r.body).toBe(200);
        return r.json<{ data: MemoryReport }>().data;
      };
      const held = await read('/debug/memory?gc=1');
      expect(junkEnd(holder)).toBe(3_999_999.5);
      holder.junk = null;
      const after = await read('/debug/memory?gc=1');
      expect([held.collected, after.collected]).toEqual([true, true]);
      expect(held.heap_used_bytes - after.heap_used_bytes).toBeGreaterThan(28 * MiB);
    } finally {
      await withGc.close();
    }
  });

  it('never logs the passwords', () => {
    const all = lines.join('');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('downstream-secret');
  });
});

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
