/**
 * The admin HTTP API (kingbus-compatible). `buildAdminApp(deps)` returns a fastify instance that never
 * listens by itself: main.ts calls `listen`, tests call `inject`.
 *
 * Envelope: success `200 {"message":"success","data":...}`; failure `{"message":"<text>","code":"<CODE>"}` with
 * the HTTP status of the error catalogue. Bodies are validated with our own strict validator (no coercion,
 * no stripping), so a wrong type or an unknown field is a 400 that names the field.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyBaseLogger } from 'fastify';
import { BinlogProxyError, codeOf, httpStatusOf } from '../errors.js';
import { ValidationError } from '../config/validate.js';
import { syncerRoutes } from './syncer-routes.js';
import { serverRoutes, type WaitControl } from './server-routes.js';
import { logsRoutes } from './logs-routes.js';
import { debugRoutes, type DebugControl } from './debug-routes.js';
import type { SyncerControl } from '../syncer/types.js';
import type { ServerControl } from '../server/types.js';
import type { LogsControl } from './logs-routes.js';
import { success } from './body.js';

export { success };

export interface AdminDeps {
  syncer: SyncerControl;
  server: ServerControl;
  /** GET /binlog/server/wait. */
  wait: WaitControl;
  logs: LogsControl;
  /** GET /debug/memory. */
  debug: DebugControl;
  /** Prometheus text exposition. */
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** True while storage is open and the process is serving. */
  healthy: () => boolean;
  token: string | null;
  logger: FastifyBaseLogger;
  /** Extra plugins (discovery, cluster) registered inside the same auth/error handling. */
  plugins?: Array<(app: FastifyInstance) => Promise<void> | void>;
  bodyLimit?: number;
  /** Certificate and key (PEM) to serve HTTPS instead of HTTP (`admin.tls`; see loadAdminTls). */
  https?: { cert: string; key: string } | null;
}

/**
 * The pages that need no token: the discovery page and its static assets (GET/HEAD of the routes `/` and
 * `/web/...`). They are fixed files without data or secrets, and a browser cannot send a bearer header when
 * it loads a page: the page asks for the token and sends it with every API call. Decided by the matched
 * route pattern, not the raw URL, so no path trick reaches another handler without the token.
 */
export function isPublicAsset(method: string, routeUrl: string | undefined): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  return routeUrl === '/' || (routeUrl !== undefined && routeUrl.startsWith('/web/'));
}

/** `admin.tls` {cert, key}: PEM text as given, or the files they name. */
export async function loadAdminTls(tls: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  const pem = async (value: string, field: string): Promise<string> => {
    if (value.includes('-----BEGIN')) return value;
    try {
      return await readFile(value, 'utf8');
    } catch (err) {
      throw new ValidationError(field, `${field} is neither PEM text nor a readable file: ${(err as Error).message}`);
    }
  };
  return { cert: await pem(tls.cert, 'admin.tls.cert'), key: await pem(tls.key, 'admin.tls.key') };
}

export function buildAdminApp(deps: AdminDeps): FastifyInstance {
  const app = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    loggerInstance: deps.logger,
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
    return503OnClosing: true,
    forceCloseConnections: true,
  });

  const tokenDigest = deps.token ? createHash('sha256').update(deps.token).digest() : null;
  app.addHook('onRequest', async (req, reply) => {
    if (!tokenDigest) return;
    if (isPublicAsset(req.method, req.routeOptions.url)) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const given = createHash('sha256').update(m ? m[1]! : '').digest();
    if (!m || !timingSafeEqual(given, tokenDigest)) {
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ message: 'missing or invalid bearer token', code: 'ERR_UNAUTHORIZED' });
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, req: FastifyRequest, reply: FastifyReply) => {
    const mapped = mapError(err);
    if (mapped.status >= 500) req.log.error({ err: { code: mapped.code, message: err.message } }, 'admin request failed');
    void reply.code(mapped.status).send({ message: mapped.message, code: mapped.code, ...(mapped.field ? { field: mapped.field } : {}) });
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ message: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'ERR_NOT_FOUND' });
  });

  app.get('/health', async (_req, reply) => {
    if (!deps.healthy()) return reply.code(503).send({ message: 'storage is not open', code: 'ERR_NOT_READY' });
    return success({ status: 'ok' });
  });

  app.get('/metrics', async (_req, reply) => {
    const m = await deps.metrics();
    return reply.type(m.contentType).send(m.body);
  });

  void app.register(syncerRoutes, { syncer: deps.syncer });
  void app.register(serverRoutes, { server: deps.server, wait: deps.wait });
  void app.register(logsRoutes, { logs: deps.logs });
  void app.register(debugRoutes, { debug: deps.debug });
  for (const p of deps.plugins ?? []) void app.register(async (scope) => p(scope));
  return app;
}

function mapError(err: Error & { statusCode?: number; code?: string; validation?: unknown }): {
  status: number;
  code: string;
  message: string;
  field?: string;
} {
  if (err instanceof ValidationError) return { status: 400, code: err.code, message: err.message, field: err.field };
  if (err instanceof BinlogProxyError) return { status: httpStatusOf(err), code: codeOf(err), message: err.message };
  // fastify's own errors
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'ERR_INVALID_JSON', message: `request body is not valid JSON: ${err.message}` };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'ERR_BODY_TOO_LARGE', message: 'request body is too large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE', message: 'request body must be application/json' };
    default:
      break;
  }
  if (err instanceof SyntaxError) return { status: 400, code: 'ERR_INVALID_JSON', message: `request body is not valid JSON: ${err.message}` };
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, code: 'ERR_INVALID_INPUT', message: err.message };
  }
  return { status: 500, code: 'ERR_INTERNAL', message: 'internal error' };
}
