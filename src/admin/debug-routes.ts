/**
 * GET /debug/memory: the daemon's memory figures (src/memory.ts). With `?gc=1` a full collection runs first,
 * as in Go's /debug/pprof/heap?gc=1, so that heap_used_bytes counts live objects only: the way to tell a leak
 * from garbage V8 has not collected yet. That needs the daemon's `node --expose-gc` (npm start and the
 * shebang of dist/src/main.js pass it); without it `?gc=1` is a 409 ERR_GC_UNAVAILABLE.
 */
import type { FastifyInstance } from 'fastify';
import { ConflictError } from '../errors.js';
import { validate } from '../config/validate.js';
import type { MemoryReport } from '../memory.js';
import { success } from './body.js';

export interface DebugControl {
  /** True when a full collection can be asked for. */
  canCollect: boolean;
  memory(collect: boolean): Promise<MemoryReport>;
}

const memoryQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { gc: { enum: ['0', '1'] } },
} as const;

export async function debugRoutes(app: FastifyInstance, opts: { debug: DebugControl }): Promise<void> {
  app.get('/debug/memory', async (req) => {
    const collect = validate<{ gc?: '0' | '1' }>(memoryQuerySchema, { ...(req.query as object) }).gc === '1';
    if (collect && !opts.debug.canCollect) {
      throw new ConflictError(
        'ERR_GC_UNAVAILABLE',
        'the daemon runs without node --expose-gc, so it cannot run a collection on request (npm start and dist/src/main.js pass the flag)',
      );
    }
    return success(await opts.debug.memory(collect));
  });
}
