/** PUT /binlog/server/start|stop, GET /binlog/server/status (kingbus names). */
import type { FastifyInstance } from 'fastify';
import { serverArgsSchema } from '../config/schema.js';
import { ValidationError, validate } from '../config/validate.js';
import type { ServerArgs, ServerUser } from '../config/config.js';
import type { ServerControl } from '../server/types.js';
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

export async function serverRoutes(app: FastifyInstance, opts: { server: ServerControl }): Promise<void> {
  const { server } = opts;
  app.put('/binlog/server/start', async (req) => {
    const body = validate<ServerStartBody>(serverArgsSchema, requireJsonObject(req.body));
    return success(await server.start(normaliseServerArgs(body)));
  });
  app.put('/binlog/server/stop', async () => success(await server.stop()));
  app.get('/binlog/server/status', async () => success(server.status()));
}
