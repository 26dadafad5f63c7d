/** PUT /binlog/server/start|stop, GET /binlog/server/status (kingbus names), GET /binlog/server/wait (src/gtid-wait.ts). */
import type { FastifyInstance } from 'fastify';
import { serverArgsSchema } from '../config/schema.js';
import { ValidationError, validate } from '../config/validate.js';
import type { ServerArgs, ServerUser } from '../config/config.js';
import type { ServerControl } from '../server/types.js';
import type { GtidWaitResult } from '../gtid-wait.js';
import { requireJsonObject, success } from './body.js';

interface ServerStartBody {
  addr: string;
  user?: string;
  password?: string;
  users?: ServerUser[];
  allow_empty_password?: boolean;
}

/** kingbus form (addr/user/password) and/or a users list → normalised ServerArgs. */
export function normaliseServerArgs(body: ServerStartBody): ServerArgs {
  const users: ServerUser[] = [...(body.users ?? [])];
  if (body.user !== undefined) {
    if (body.password === undefined) throw new ValidationError('password', 'password is required when user is given');
    users.unshift({ user: body.user, password: body.password });
  } else if (body.password !== undefined) {
    throw new ValidationError('user', 'user is required when password is given');
  }
  const seen = new Set<string>();
  for (const [i, u] of users.entries()) {
    if (seen.has(u.user)) throw new ValidationError(`users.${i}.user`, `user '${u.user}' is listed twice`);
    seen.add(u.user);
  }
  if (users.length === 0 && !body.allow_empty_password) {
    throw new ValidationError('user', 'user and password are required (replicas must authenticate)');
  }
  return { addr: body.addr, users, allow_empty_password: body.allow_empty_password ?? false };
}

/** GET /binlog/server/wait: until the store holds `gtid_set` durably, or `timeout` seconds (default 30). */
export interface WaitControl {
  wait(gtidSet: string, timeoutMs: number, signal: AbortSignal): Promise<GtidWaitResult>;
}

const WAIT_DEFAULT_SECONDS = 30;
const WAIT_MAX_SECONDS = 3600;

const waitQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['gtid_set'],
  properties: {
    gtid_set: { type: 'string' },
    timeout: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?$' },
  },
} as const;

export async function serverRoutes(app: FastifyInstance, opts: { server: ServerControl; wait: WaitControl }): Promise<void> {
  const { server } = opts;
  app.put('/binlog/server/start', async (req) => {
    const body = validate<ServerStartBody>(serverArgsSchema, requireJsonObject(req.body));
    return success(await server.start(normaliseServerArgs(body)));
  });
  app.put('/binlog/server/stop', async () => success(await server.stop()));
  app.get('/binlog/server/status', async () => success(server.status()));
  app.get('/binlog/server/wait', async (req, reply) => {
    const q = validate<{ gtid_set: string; timeout?: string }>(waitQuerySchema, { ...(req.query as object) });
    const seconds = q.timeout === undefined ? WAIT_DEFAULT_SECONDS : Number(q.timeout);
    if (seconds > WAIT_MAX_SECONDS) throw new ValidationError('timeout', `timeout must be at most ${WAIT_MAX_SECONDS} seconds`);
    // The client going away (or the server closing its connection) ends the wait.
    const gone = new AbortController();
    reply.raw.once('close', () => gone.abort());
    return success(await opts.wait.wait(q.gtid_set, seconds * 1000, gone.signal));
  });
}
