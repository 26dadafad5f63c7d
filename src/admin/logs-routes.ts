/** GET /binlog/logs (stored files) and POST /binlog/purge (to a file or before a time). */
import type { FastifyInstance } from 'fastify';
import { ValidationError, validate } from '../config/validate.js';
import { requireJsonObject, success } from './body.js';

export interface LogFileSummary {
  name: string;
  first_position: number;
  end_position: number;
  size: number;
  events: number | null;
  first_timestamp: string | null;
  last_timestamp: string | null;
  start_gtids: string | null;
  gtids: string | null;
  active: boolean;
}

export interface PurgeResult {
  purged_files: string[];
  first_file: string | null;
  purged_gtid_set: string;
  /** True when a file the request selected was kept because a connected replica still reads it. */
  kept_for_replicas: boolean;
}

export interface LogsControl {
  list(): Promise<LogFileSummary[]>;
  /** Purges whole files before `toFile` (exclusive) or whose last event is older than `before`; never past a connected replica. */
  purge(req: { toFile?: string; before?: Date }): Promise<PurgeResult>;
}

const purgeSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    to: { type: 'string', minLength: 1, maxLength: 512, pattern: '^[^/\\\\\\u0000]+$' },
    before: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

export async function logsRoutes(app: FastifyInstance, opts: { logs: LogsControl }): Promise<void> {
  app.get('/binlog/logs', async () => success(await opts.logs.list()));
  app.post('/binlog/purge', async (req) => {
    const body = validate<{ to?: string; before?: string }>(purgeSchema, requireJsonObject(req.body));
    if ((body.to === undefined) === (body.before === undefined)) {
      throw new ValidationError('to', 'give exactly one of to (a file name: purge the files before it) or before (an ISO-8601 time)');
    }
    let before: Date | undefined;
    if (body.before !== undefined) {
      before = new Date(body.before);
      if (Number.isNaN(before.getTime())) throw new ValidationError('before', `before must be an ISO-8601 time, got '${body.before}'`);
    }
    return success(await opts.logs.purge({ toFile: body.to, before }));
  });
}
