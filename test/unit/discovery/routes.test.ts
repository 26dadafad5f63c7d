import fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DiscoveryError } from '../../../src/discovery/errors.js';
import { discoveryRoutes, findWebDir } from '../../../src/discovery/routes.js';
import { DiscoveryService } from '../../../src/discovery/service.js';
import { KvInstanceStore, MemoryKvRange } from '../../../src/discovery/store.js';
import { fakeNetwork, mariadbAnswer, type Answer } from './fixtures.js';

const H = '127.0.0.1';
const PASSWORD = 'route-secret-pw';

let app: FastifyInstance | null = null;
let service: DiscoveryService | null = null;

afterEach(async () => {
  await service?.close();
  await app?.close();
  app = null;
  service = null;
});

async function build(opts: { token?: string; fail?: Map<string, DiscoveryError>; user?: string | null } = {}): Promise<FastifyInstance> {
  const answers = new Map<string, Answer>([
    [`${H}:1001`, mariadbAnswer({ serverId: 1, port: 1001, replicas: [{ host: H, port: 1002, serverId: 2 }] })],
    [`${H}:1002`, mariadbAnswer({ serverId: 2, port: 1002, source: { host: H, port: 1001, serverId: 1 } })],
  ]);
  const net = fakeNetwork(answers, { fail: opts.fail });
  service = new DiscoveryService({
    store: await KvInstanceStore.open(new MemoryKvRange()),
    logger: pino({ level: 'silent' }),
    settings: {
      user: opts.user === undefined ? 'orchestrator' : opts.user,
      password: PASSWORD,
      connectTimeoutMs: 500,
      queryTimeoutMs: 500,
      maxDepth: 5,
      maxInstances: 50,
    },
    connector: net.connector,
    resolver: async (h) => h,
  });
  app = fastify({ logger: false });
  await app.register(discoveryRoutes, { discovery: service, token: opts.token ?? null });
  await app.ready();
  return app;
}

describe('discovery routes', () => {
  it('GET /api/discover answers with the orchestrator envelope and the instance', async () => {
    const a = await build();
    const res = await a.inject({ method: 'GET', url: `/api/discover/${H}/1002` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const body = res.json();
    expect(body.Code).toBe('OK');
    expect(body.Message).toBe(`Instance discovered: ${H}:1002`);
    expect(body.Details).toMatchObject({ key: { host: H, port: 1002 }, role: 'replica', master_key: { host: H, port: 1001 } });
    for (const field of [
      'flavor',
      'version',
      'server_id',
      'server_uuid',
      'read_only',
      'log_bin',
      'binlog_format',
      'log_replica_updates',
      'binlog',
      'gtid',
      'semi_sync',
      'master_key',
      'replication',
      'replicas',
      'uptime_seconds',
      'last_checked_at',
      'problems',
      'role',
      'hostname',
      'report_host',
      'version_comment',
      'first_seen_at',
      'last_seen_at',
      'notes',
    ]) {
      expect(body.Details, field).toHaveProperty(field);
    }
    for (const field of ['io_running', 'sql_running', 'seconds_behind_master', 'read_position', 'exec_position', 'using_gtid', 'last_io_error', 'last_sql_error']) {
      expect(body.Details.replication, field).toHaveProperty(field);
    }
    expect(res.body).not.toContain(PASSWORD);
  });

  it('answers 400 for a bad host or port, naming it', async () => {
    const a = await build();
    for (const url of [`/api/discover/${H}/0`, `/api/discover/${H}/99999`, `/api/discover/${H}/abc`, '/api/discover/bad%20host/3306', '/api/async-discover/x%3By/1']) {
      const res = await a.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json(), url).toMatchObject({ Code: 'ERROR', Details: { code: 'ERR_DISCOVERY_BAD_REQUEST' } });
      expect(res.json().Message, url).toMatch(/invalid (host|port)/);
    }
  });

  it('answers 502 for a refused or failing instance and 504 for a timeout, with the server error', async () => {
    const fail = new Map([
      [`${H}:2001`, new DiscoveryError('ERR_DISCOVERY_SERVER_ERROR', `${H}:2001 connect: Access denied for user 'orchestrator'@'localhost' (using password: YES) (ER_ACCESS_DENIED_ERROR 1045, SQLSTATE 28000)`, { details: { errno: 1045, sql_state: '28000' } })],
      [`${H}:2002`, new DiscoveryError('ERR_DISCOVERY_TIMEOUT', `${H}:2002 connect: timed out`)],
    ]);
    const a = await build({ fail });
    const refused = await a.inject({ method: 'GET', url: `/api/discover/${H}/2999` });
    expect(refused.statusCode).toBe(502);
    expect(refused.json()).toMatchObject({ Code: 'ERROR', Details: { code: 'ERR_DISCOVERY_REFUSED' } });
    expect(refused.json().Message).toMatch(/refused/);
    const denied = await a.inject({ method: 'GET', url: `/api/discover/${H}/2001` });
    expect(denied.statusCode).toBe(502);
    expect(denied.json()).toMatchObject({ Code: 'ERROR', Details: { code: 'ERR_DISCOVERY_SERVER_ERROR', errno: 1045, sql_state: '28000' } });
    expect(denied.json().Message).toMatch(/Access denied/);
    const slow = await a.inject({ method: 'GET', url: `/api/discover/${H}/2002` });
    expect(slow.statusCode).toBe(504);
    expect(slow.json()).toMatchObject({ Code: 'ERROR', Details: { code: 'ERR_DISCOVERY_TIMEOUT' } });
  });

  it('GET /api/async-discover answers 202 at once; the instance, instances and cluster routes read the store', async () => {
    const a = await build();
    const res = await a.inject({ method: 'GET', url: `/api/async-discover/${H}/1001` });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ Code: 'OK', Details: { key: { host: H, port: 1001 } } });
    await service!.idle();

    const one = await a.inject({ method: 'GET', url: `/api/instance/${H}/1002` });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ Code: 'OK', Details: { server_id: 2 } });
    const missing = await a.inject({ method: 'GET', url: `/api/instance/${H}/1999` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ Code: 'ERROR', Details: { code: 'ERR_DISCOVERY_NOT_FOUND' } });

    const all = await a.inject({ method: 'GET', url: '/api/instances' });
    expect(all.json().Details.map((i: { server_id: number }) => i.server_id)).toEqual([1, 2]);
    expect(all.json().Message).toBe('2 instances');

    const cluster = await a.inject({ method: 'GET', url: `/api/cluster/${encodeURIComponent(`${H}:1002`)}` });
    expect(cluster.statusCode).toBe(200);
    expect(cluster.json().Details).toMatchObject({
      cluster_name: `${H}:1001`,
      edges: [{ source: { host: H, port: 1001 }, replica: { host: H, port: 1002 } }],
    });
    const noCluster = await a.inject({ method: 'GET', url: `/api/cluster/${encodeURIComponent('10.1.1.1:5')}` });
    expect(noCluster.statusCode).toBe(404);
  });

  it('requires the bearer token on /api/* when one is configured, but serves the page', async () => {
    const a = await build({ token: 'admin-token-123' });
    const none = await a.inject({ method: 'GET', url: `/api/discover/${H}/1001` });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.json()).toMatchObject({ Code: 'ERROR', Details: { code: 'ERR_DISCOVERY_UNAUTHORIZED' } });
    const wrong = await a.inject({ method: 'GET', url: '/api/instances', headers: { authorization: 'Bearer admin-token-124' } });
    expect(wrong.statusCode).toBe(401);
    const right = await a.inject({ method: 'GET', url: '/api/instances', headers: { authorization: 'Bearer admin-token-123' } });
    expect(right.statusCode).toBe(200);
    expect((await a.inject({ method: 'GET', url: '/web/discover' })).statusCode).toBe(200);
  });

  it('answers 503 when no discovery credentials are configured', async () => {
    const a = await build({ user: null });
    const res = await a.inject({ method: 'GET', url: `/api/discover/${H}/1001` });
    expect(res.statusCode).toBe(503);
    expect(res.json().Message).toMatch(/credentials/);
  });

  it('serves the page at / and /web/discover, and its assets, with a strict CSP', async () => {
    const a = await build();
    for (const url of ['/', '/web/discover']) {
      const res = await a.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['content-security-policy']).toMatch(/script-src 'self'/);
      expect(res.body).toContain('id="discover-form"');
      expect(res.body).toContain('/web/discover.js');
    }
    const js = await a.inject({ method: 'GET', url: '/web/discover.js' });
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toContain('/api/discover/');
    const css = await a.inject({ method: 'GET', url: '/web/discover.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('finds the web directory from source', async () => {
    expect(await findWebDir()).toMatch(/src\/discovery\/web\/$/);
  });
});
