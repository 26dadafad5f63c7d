/**
 * MariaDB BINLOG_CHECKPOINT_EVENT (161): names the oldest binlog file still needed for crash recovery.
 * Body layout:
 *
 *   offset  size  field
 *   0       4     name length n
 *   4       n     file name (no NUL)
 */
import { ByteWriter } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import { BINLOG_CHECKPOINT_EVENT } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import { buildEvent, type EventHeaderInit } from './event_writer.js';
import type { BinlogEvent } from './header.js';

export interface BinlogCheckpoint {
  fileName: string;
}

export function decodeBinlogCheckpoint(event: BinlogEvent | Buffer, ctx: EventContext): BinlogCheckpoint {
  const { body } = viewOf(event, ctx, [BINLOG_CHECKPOINT_EVENT], 'a BINLOG_CHECKPOINT_EVENT');
  if (body.length < 4) throw new ProtocolError('ERR_TRUNCATED', 'BINLOG_CHECKPOINT body has no name length');
  const len = body.readUInt32LE(0);
  if (len > body.length - 4) {
    throw new ProtocolError('ERR_TRUNCATED', `BINLOG_CHECKPOINT name of ${len} bytes overruns a ${body.length}-byte body`);
  }
  return { fileName: body.toString('utf8', 4, 4 + len) };
}

export function encodeBinlogCheckpoint(
  cp: BinlogCheckpoint,
  header: Omit<EventHeaderInit, 'typeCode'>,
  checksum: boolean,
): Buffer {
  const name = Buffer.from(cp.fileName, 'utf8');
  const body = new ByteWriter(4 + name.length).u32(name.length).bytes(name).finish();
  return buildEvent({ ...header, typeCode: BINLOG_CHECKPOINT_EVENT }, body, checksum);
}
