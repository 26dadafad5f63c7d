/**
 * The discovery HTTP routes (orchestrator's API shape) and the discovery web page, as one fastify plugin.
 *
 *   GET /api/discover/:host/:port        probe now, record, follow source and replicas   200 | 4xx | 502 | 504
 *   GET /api/async-discover/:host/:port  queue the same                                  202 | 400
 *   GET /api/instance/:host/:port        the stored instance                              200 | 404
 *   GET /api/instances                   every stored instance                            200
 *   GET /api/cluster/:hint               topology graph of the hint's cluster             200 | 404
 *   GET /, /web/discover                 the page; /web/discover.js, /web/discover.css its assets
 *
 * Envelope: {"Code":"OK","Message":...,"Details":...}; failures {"Code":"ERROR","Message":...,"Details":{code,...}}
 * with the status from the DiscoveryError catalogue. With `token` set, /api/* needs `Authorization: Bearer`.
 */
import { timingSafeEqual } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { DiscoveryError } from './errors.js';
import { formatKey } from './key.js';
import type { DiscoveryService } from './service.js';

export interface DiscoveryRoutesOptions {
  discovery: DiscoveryService;
  /** When non-empty, every /api/* request needs `Authorization: Bearer <token>` (the admin token). */
  token?: string | null;
  /** Directory of index.html / discover.js / discover.css; default: `web/` next to this module's source. */
  webDir?: string;
}

export interface ApiEnvelope {
  Code: 'OK' | 'ERROR';
  Message: string;
  Details?: unknown;
}

interface HostPortParams {
  host: string;
  port: string;
}

const WEB_ASSETS = {
  'index.html': 'text/html; charset=utf-8',
  'discover.js': 'text/javascript; charset=utf-8',
  'discover.css': 'text/css; charset=utf-8',
} as const;

type AssetName = keyof typeof WEB_ASSETS;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
} as const;

/**
 * Where the page's files are: next to this module when running from source, or back in src/ when running
 * the compiled dist/src/discovery/routes.js (tsc does not copy non-TypeScript files).
 */
export async function findWebDir(): Promise<string> {
  const candidates = [new URL('./web/', import.meta.url), new URL('../../../src/discovery/web/', import.meta.url)];
  for (const c of candidates) {
    const dir = fileURLToPath(c);
    try {
      await access(`${dir}index.html`);
      return dir;
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) throw err;
    }
  }
  throw new Error(`discovery web page not found (looked in ${candidates.map((c) => fileURLToPath(c)).join(', ')})`);
}

async function loadAssets(dir: string): Promise<Map<AssetName, Buffer>> {
  const out = new Map<AssetName, Buffer>();
  const base = dir.endsWith('/') ? dir : `${dir}/`;
  for (const name of Object.keys(WEB_ASSETS) as AssetName[]) out.set(name, await readFile(`${base}${name}`));
  return out;
}

function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (m === null) return false;
  const given = Buffer.from(m[1]!, 'utf8');
  const want = Buffer.from(token, 'utf8');
  return given.length === want.length && timingSafeEqual(given, want);
}

function ok(reply: FastifyReply, status: number, message: string, details: unknown): FastifyReply {
  const body: ApiEnvelope = { Code: 'OK', Message: message, Details: details };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

export const discoveryRoutes: FastifyPluginAsync<DiscoveryRoutesOptions> = async (app: FastifyInstance, opts) => {
  const discovery = opts.discovery;
  const token = opts.token ?? null;
  const assets = await loadAssets(opts.webDir ?? (await findWebDir()));

  const fail = (request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply => {
    let status = 500;
    let body: ApiEnvelope;
    if (err instanceof DiscoveryError) {
      status = err.status;
      body = { Code: 'ERROR', Message: err.message, Details: { code: err.code, ...err.details } };
    } else {
      request.log.error({ err }, 'discovery request failed');
      body = { Code: 'ERROR', Message: 'internal error', Details: { code: 'ERR_INTERNAL' } };
    }
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  };

  const authorised = (request: FastifyRequest): boolean => token === null || token === '' || bearerMatches(request.headers.authorization, token);

  const api = <P>(handler: (request: FastifyRequest<{ Params: P }>, reply: FastifyReply) => Promise<FastifyReply>) =>
    async (request: FastifyRequest<{ Params: P }>, reply: FastifyReply): Promise<FastifyReply> => {
      if (!authorised(request)) {
        void reply.header('www-authenticate', 'Bearer');
        return fail(request, reply, new DiscoveryError('ERR_DISCOVERY_UNAUTHORIZED', 'Unauthorized: a valid admin token is required'));
      }
      try {
        return await handler(request, reply);
      } catch (err) {
        return fail(request, reply, err);
      }
    };

  app.get<{ Params: HostPortParams }>(
    '/api/discover/:host/:port',
    api<HostPortParams>(async (request, reply) => {
      const instance = await discovery.discover(request.params.host, request.params.port);
      return ok(reply, 200, `Instance discovered: ${formatKey(instance.key)}`, instance);
    }),
  );

  app.get<{ Params: HostPortParams }>(
    '/api/async-discover/:host/:port',
    api<HostPortParams>(async (request, reply) => {
      const key = discovery.discoverAsync(request.params.host, request.params.port);
      return ok(reply, 202, `Asynchronous discovery initiated for instance: ${formatKey(key)}`, { key });
    }),
  );

  app.get<{ Params: HostPortParams }>(
    '/api/instance/:host/:port',
    api<HostPortParams>(async (request, reply) => {
      const instance = await discovery.getInstance(request.params.host, request.params.port);
      return ok(reply, 200, `Instance: ${formatKey(instance.key)}`, instance);
    }),
  );

  app.get(
    '/api/instances',
    api<unknown>(async (_request, reply) => {
      const instances = await discovery.listInstances();
      return ok(reply, 200, `${instances.length} instance${instances.length === 1 ? '' : 's'}`, instances);
    }),
  );

  app.get<{ Params: { hint: string } }>(
    '/api/cluster/:hint',
    api<{ hint: string }>(async (request, reply) => {
      const graph = await discovery.cluster(request.params.hint);
      return ok(reply, 200, `Cluster: ${graph.cluster_name}`, graph);
    }),
  );

  const page = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
    reply.code(200).headers(SECURITY_HEADERS).type(WEB_ASSETS['index.html']).send(assets.get('index.html'));
  app.get('/', page);
  app.get('/web/discover', page);
  for (const name of ['discover.js', 'discover.css'] as const) {
    app.get(`/web/${name}`, async (_request, reply) => reply.code(200).headers(SECURITY_HEADERS).type(WEB_ASSETS[name]).send(assets.get(name)));
  }
};

