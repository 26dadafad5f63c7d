/** PUT /binlog/syncer/start|stop, GET /binlog/syncer/status (kingbus names). */
import type { FastifyInstance } from 'fastify';
import { syncerArgsSchema } from '../config/schema.js';
import { validate } from '../config/validate.js';
import type { SyncerArgs } from '../config/config.js';
import type { SyncerControl } from '../syncer/types.js';
import { requireJsonObject, success } from './body.js';

export async function syncerRoutes(app: FastifyInstance, opts: { syncer: SyncerControl }): Promise<void> {
  const { syncer } = opts;
  app.put('/binlog/syncer/start', async (req) => {
    const args = validate<SyncerArgs>(syncerArgsSchema, requireJsonObject(req.body));
    return success(await syncer.start(args));
  });
  app.put('/binlog/syncer/stop', async () => success(await syncer.stop()));
  app.get('/binlog/syncer/status', async () => success(syncer.status()));
}
