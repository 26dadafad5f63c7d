/**
 * The binlog sender: `runDump` serves one COM_BINLOG_DUMP / COM_BINLOG_DUMP_GTID (or MariaDB GTID connect) from
 * the store, as the primary's dump thread would. The session calls it once the replica sent the dump command
 * and awaits it; it resolves when the dump is over: after the EOF of a non-blocking dump or an UNTIL, after the
 * ERR packet of a failed one (ERR 1236 with the primary's wording; MariaDB's 1105 for a malformed GTID state and
 * 1047 for COM_BINLOG_DUMP_GTID; 1053 "Server shutdown in progress" when the store closes under a blocking
 * dump, which replicas retry), or silently when the output's signal fired (connection closed, KILL, replaced by
 * a newer dump: the session tells that replica itself). It never rejects.
 *
 *   plan.ts    start checks and start point, per request kind and flavour
 *   sender.ts  the streaming loop (fake ROTATE, FDE, events, rotations, heartbeats, filters)
 */
import { ProtocolError } from '../../../protocol/errors.js';
import { DumpError, isTransientStorageError, messages, shutdownError, wordingFor } from './errors.js';
import { planDump } from './plan.js';
import { BinlogSender } from './sender.js';
import type { DumpStore } from './store.js';
import type { DumpContext } from './types.js';

export type { DumpStore } from './store.js';
export { DumpError } from './errors.js';

export async function runDump(ctx: DumpContext, store: DumpStore): Promise<void> {
  const { output, log } = ctx;
  let sender: BinlogSender | null = null;
  const started = Date.now();
  try {
    if (ctx.vars.semiSync) {
      ctx.progress.acks ??= 0;
      output.onAck((file, position) => {
        ctx.progress.ackFile = file;
        ctx.progress.ackPosition = Number(position);
        ctx.progress.acks = (ctx.progress.acks ?? 0) + 1;
      });
    }
    const plan = await planDump(ctx, store);
    log.info(
      { mode: plan.mode, file: plan.start.file.name, position: Number(plan.start.pos), flags: ctx.request.flags, server_id: ctx.request.serverId },
      'binlog dump started',
    );
    sender = new BinlogSender(ctx, store, plan);
    await sender.run();
    log.info({ events: ctx.progress.eventsSent, bytes: ctx.progress.bytesSent, ms: Date.now() - started }, 'binlog dump ended');
  } catch (err) {
    if (output.signal.aborted) {
      log.debug({ err }, 'binlog dump stopped: connection gone');
      return;
    }
    const e = toDumpError(err, sender, ctx);
    if (e.code === 'ERR_DUMP_STORAGE' || e.code === 'ERR_DUMP_EVENT') log.error({ err, code: e.code }, 'binlog dump failed');
    else log.warn({ code: e.code, message: e.message }, 'binlog dump refused');
    output.sendError(e.errno, e.sqlState, e.message);
  }
}

function toDumpError(err: unknown, sender: BinlogSender | null, ctx: DumpContext): DumpError {
  let e: DumpError;
  if (err instanceof DumpError) {
    e = err;
  } else if (isTransientStorageError(err)) {
    return shutdownError(err);
  } else if (err instanceof ProtocolError) {
    e = new DumpError('ERR_DUMP_EVENT', messages.bogusData(), { cause: err });
  } else {
    const w = sender?.wording ?? wordingFor(ctx.vars.flavor, null);
    e = new DumpError('ERR_DUMP_STORAGE', messages.storageRead(w), { cause: err });
  }
  if (sender !== null) return sender.located(e);
  return e;
}
