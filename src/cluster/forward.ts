/**
 * The admin API's cluster plugin:
 *   - on a follower, every request under `/binlog/syncer/` is forwarded to the leader's admin URL (method,
 *     path, query, body bytes, content-type, accept and authorization) and the leader's answer is returned
 *     as it is: status code, content-type and body bytes, errors included (kingbus hid them);
 *   - 503 `{"message":"no leader elected: …","code":"ERR_NO_LEADER"}` while there is no leader;
 *   - `GET /members` and `GET /cluster` (kingbus envelope).
 *
 * Register it on the ROOT admin app (`await app.register(clusterAdminPlugin, opts)` after buildAdminApp),
 * not through `AdminDeps.plugins`: it is not encapsulated (skip-override), so its onRequest hook sees the
 * syncer routes, and it runs after the root's token check (hooks run in the order they were added), so a
 * follower rejects a bad token itself and forwards the Authorization header for the leader to check too.
 *
 * The forwarding hook runs in onRequest, before fastify reads the body: the raw bytes are relayed
 * unparsed (capped at `maxBodyBytes`), so the leader validates exactly what the client sent.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { success } from '../admin/body.js';
import { ClusterError, type ClusterErrorCode } from './errors.js';
import type { Coordinator, LeaderInfo } from './types.js';

export const FORWARDED_BY_HEADER = 'x-binlog-proxy-forwarded-by';
export const LEADER_HEADER = 'x-binlog-proxy-leader';
const FORWARDED_PREFIX = '/binlog/syncer/';
const REQUEST_HEADERS = ['content-type', 'accept', 'authorization'] as const;
const RESPONSE_HEADERS = ['content-type', 'www-authenticate', 'retry-after'] as const;

export interface ClusterAdminOptions {
  coordinator: Coordinator;
  /** How long to wait for the leader's answer (default 30 s: a syncer start connects to the primary). */
  forwardTimeoutMs?: number;
  /** Largest request body relayed to the leader (default 1 MiB). */
  maxBodyBytes?: number;
}

function clusterError(reply: FastifyReply, code: ClusterErrorCode, message: string): FastifyReply {
  const err = new ClusterError(code, message);
  return reply.code(err.status).send({ message: err.message, code: err.code });
}

async function readBody(req: FastifyRequest, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.raw) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) return 'too-large';
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; cause?: { name?: string } };
  return e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError';
}

function describeFailure(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

async function forward(
  req: FastifyRequest,
  reply: FastifyReply,
  leader: LeaderInfo,
  self: string,
  timeoutMs: number,
  maxBodyBytes: number,
): Promise<FastifyReply> {
  const headers: Record<string, string> = { [FORWARDED_BY_HEADER]: self, 'x-forwarded-for': req.ip };
  for (const name of REQUEST_HEADERS) {
    const v = req.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  let body: Buffer | undefined;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const read = await readBody(req, maxBodyBytes);
    if (read === 'too-large') {
      return reply.code(413).send({ message: 'request body is too large', code: 'ERR_BODY_TOO_LARGE' });
    }
    if (read.length > 0) body = read;
  }
  const url = leader.adminUrl.replace(/\/+$/, '') + req.url;
  let res: Response;
  let bytes: Buffer;
  try {
    res = await fetch(url, { method: req.method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    bytes = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    req.log.warn({ leader: leader.name, admin_url: leader.adminUrl, err: { message: describeFailure(err) } }, 'forwarding to the leader failed');
    if (isTimeout(err)) {
      return clusterError(reply, 'ERR_LEADER_TIMEOUT', `the leader ${leader.name} (${leader.adminUrl}) did not answer within ${timeoutMs}ms`);
    }
    return clusterError(reply, 'ERR_LEADER_UNREACHABLE', `cannot reach the leader ${leader.name} at ${leader.adminUrl}: ${describeFailure(err)}`);
  }
  reply.code(res.status).header(LEADER_HEADER, leader.name);
  for (const name of RESPONSE_HEADERS) {
    const v = res.headers.get(name);
    if (v !== null) reply.header(name, v);
  }
  if (bytes.length === 0 && res.headers.get('content-type') === null) return reply.send();
  return reply.send(bytes);
}

async function clusterAdmin(app: FastifyInstance, opts: ClusterAdminOptions): Promise<void> {
  const { coordinator } = opts;
  const timeoutMs = opts.forwardTimeoutMs ?? 30_000;
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;

  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith(FORWARDED_PREFIX)) return;
    if (coordinator.isLeader()) return; // handled here, by the cluster-aware syncer control
    const leader = coordinator.leader();
    const forwardedBy = req.headers[FORWARDED_BY_HEADER];
    if (typeof forwardedBy === 'string') {
      // Never forward twice: the sender believed we lead; we do not (any more). The client retries.
      return clusterError(
        reply,
        'ERR_NOT_LEADER',
        `node ${coordinator.name} received a request forwarded by ${forwardedBy} but is not the leader (the leadership is moving); retry`,
      );
    }
    if (leader === null) {
      return clusterError(reply, 'ERR_NO_LEADER', 'no leader elected: an election is in progress or etcd is unreachable; retry in a few seconds');
    }
    if (leader.name === coordinator.name) {
      return clusterError(reply, 'ERR_NO_LEADER', `no leader elected: node ${coordinator.name} is giving up the leadership; retry in a few seconds`);
    }
    return forward(req, reply, leader, coordinator.name, timeoutMs, maxBodyBytes);
  });

  const clusterRoute = (build: () => Promise<unknown>) => async (_req: FastifyRequest, reply: FastifyReply) => {
    try {
      return success(await build());
    } catch (err) {
      if (err instanceof ClusterError) return reply.code(err.status).send({ message: err.message, code: err.code });
      throw err;
    }
  };

  app.get('/members', clusterRoute(() => coordinator.members()));
  app.get(
    '/cluster',
    clusterRoute(async () => {
      const leader = coordinator.leader();
      return {
        name: coordinator.name,
        role: coordinator.role(),
        is_leader: coordinator.isLeader(),
        leader: leader === null
          ? null
          : { name: leader.name, admin_url: leader.adminUrl, server_addr: leader.serverAddr, epoch: leader.epoch.toString() },
        members: await coordinator.members(),
      };
    }),
  );
}

// Not encapsulated: the hook must apply to the routes of the app it is registered on.
(clusterAdmin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

/** Fastify plugin; see the file comment for where to register it. */
export const clusterAdminPlugin = clusterAdmin;
