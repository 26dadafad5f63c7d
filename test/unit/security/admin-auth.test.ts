// Security properties of the admin API that need no process: the default listen address is loopback, a
// configured token guards every registered route (found by walking fastify's route table, so a route added
// later is covered without editing this test), the comparison does not depend on the token's length, and the
// discovery page's static files are the only public routes.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { buildAdminApp, isPublicAsset } from '../../../src/admin/app.js';
import { resolveConfig } from '../../../src/config/config.js';
import { discoveryRoutes, DiscoveryService, KvInstanceStore } from '../../../src/discovery/index.js';
import type { KvRange } from '../../../src/discovery/store.js';
import type { SyncerControl, SyncerStatus } from '../../../src/syncer/types.js';
import type { ServerControl, ServerStatus } from '../../../src/server/types.js';

const TOKEN = 'unit-admin-token-4e8d1c';

function fakeApp() {
  const fail = (): never => {
    throw new Error('a handler ran without authentication');
  };
  const syncer: SyncerControl = { start: fail, stop: fail, status: fail as () => SyncerStatus };
  const server: ServerControl = { start: fail, stop: fail, status: fail as () => ServerStatus };
  return buildAdminApp({
    syncer,
    server,
    wait: { wait: fail },
    logs: { list: fail, purge: fail },
    debug: { canCollect: true, memory: fail },
    metrics: fail,
    healthy: fail,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
  });
}

/** Every (method, url) in fastify's route table: lines like "└── /binlog/syncer/status (GET, HEAD)". */
function routesOf(table: string): Array<{ method: string; url: string }> {
  const out: Array<{ method: string; url: string }> = [];
  for (const line of table.split('\n')) {
    const m = /(\/\S*) \(([A-Z, ]+)\)/.exec(line);
    if (!m) continue;
    for (const method of m[2]!.split(',').map((x) => x.trim())) out.push({ method, url: m[1]!.replace(/:(\w+)/g, 'x$1') });
  }
  return out;
}

describe('admin API security', () => {
  it('listens on loopback by default', () => {
    const { config } = resolveConfig({ argv: [], env: {}, readFile: () => '' });
    expect(config.admin.listen).toBe('127.0.0.1:9595');
    expect(config.admin.token).toBeNull();
  });

  it('a configured token guards every route; wrong tokens of any length get the same 401', async () => {
    const app = fakeApp();
    await app.ready();
    const routes = routesOf(app.printRoutes({ commonPrefix: false }));
    expect(routes.length).toBeGreaterThanOrEqual(10);
    expect(routes.map((r) => `${r.method} ${r.url}`)).toContain('PUT /binlog/syncer/start');
    for (const r of routes) {
      for (const auth of [undefined, 'Bearer', 'Bearer x', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, `Bearer ${'a'.repeat(10_000)}`]) {
        const res = await app.inject({ method: r.method as 'GET', url: r.url, headers: auth === undefined ? {} : { authorization: auth }, payload: r.method === 'GET' || r.method === 'HEAD' ? undefined : {} });
        expect(res.statusCode, `${r.method} ${r.url} with ${String(auth).slice(0, 30)}`).toBe(401);
        if (r.method !== 'HEAD') expect(res.json()).toEqual({ message: 'missing or invalid bearer token', code: 'ERR_UNAUTHORIZED' });
      }
    }
    // Unknown paths are refused before routing tells whether they exist.
    expect((await app.inject({ method: 'GET', url: '/../../etc/passwd' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/binlog/%2e%2e/state/syncer.json' })).statusCode).toBe(401);
    await app.close();
  });

  it('the right token passes (the handler runs)', async () => {
    const app = fakeApp();
    const res = await app.inject({ method: 'GET', url: '/binlog/syncer/status', headers: { authorization: `Bearer ${TOKEN}` } });
    // The fake handler throws: a 500 proves the request got past authentication.
    expect(res.statusCode).toBe(500);
    expect(res.json().message).toBe('internal error');
    await app.close();
  });

  it('only the discovery page and its static files are public, and only for GET/HEAD', async () => {
    expect(isPublicAsset('GET', '/')).toBe(true);
    expect(isPublicAsset('HEAD', '/web/discover.js')).toBe(true);
    expect(isPublicAsset('POST', '/')).toBe(false);
    expect(isPublicAsset('GET', '/api/instances')).toBe(false);
    expect(isPublicAsset('GET', undefined)).toBe(false);
    const discovery = new DiscoveryService({
      store: await KvInstanceStore.open(new MemoryKv()),
      logger: pino({ level: 'silent' }),
      settings: { user: null, password: null, connectTimeoutMs: 100, queryTimeoutMs: 100, maxDepth: 1, maxInstances: 1 },
    });
    const app = buildAdminApp({
      syncer: {} as SyncerControl,
      server: {} as ServerControl,
      wait: { wait: () => Promise.reject(new Error('not used')) },
      logs: { list: async () => [], purge: async () => ({ purged_files: [], first_file: null, purged_gtid_set: '', kept_for_replicas: false }) },
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      debug: { canCollect: false, memory: () => Promise.reject(new Error('not used')) },
      healthy: () => true,
      token: TOKEN,
      logger: pino({ level: 'silent' }),
      plugins: [async (scope) => void (await scope.register(discoveryRoutes, { discovery, token: TOKEN }))],
    });
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/web/discover.js' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/web/../binlog/syncer/status' })).statusCode).not.toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/instances' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(401);
    await app.close();
    await discovery.close();
  });
});

/** The smallest KvRange for the discovery store. */
class MemoryKv implements KvRange {
  private readonly m = new Map<string, [Buffer, Buffer]>();
  async get(k: Buffer): Promise<Buffer | undefined> {
    return this.m.get(k.toString('hex'))?.[1];
  }
  async put(k: Buffer, v: Buffer): Promise<void> {
    this.m.set(k.toString('hex'), [k, v]);
  }
  async del(k: Buffer): Promise<void> {
    this.m.delete(k.toString('hex'));
  }
  async *iterate(opts: { gte?: Buffer; lt?: Buffer }): AsyncIterable<[Buffer, Buffer]> {
    const all = [...this.m.values()].sort((a, b) => Buffer.compare(a[0], b[0]));
    for (const e of all) {
      if (opts.gte && Buffer.compare(e[0], opts.gte) < 0) continue;
      if (opts.lt && Buffer.compare(e[0], opts.lt) >= 0) continue;
      yield e;
    }
  }
}
