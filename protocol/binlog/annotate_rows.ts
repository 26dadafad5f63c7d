/**
 * MariaDB ANNOTATE_ROWS_EVENT (160): the SQL text of the rows events that follow. Body layout:
 *
 *   offset  size  field
 *   0       n     SQL text up to the CRC trailer
 */
import { ANNOTATE_ROWS_EVENT } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import type { BinlogEvent } from './header.js';

export interface AnnotateRows {
  sql: Buffer;
  text: string;
}

export function decodeAnnotateRows(event: BinlogEvent | Buffer, ctx: EventContext): AnnotateRows {
  const { body, postHeaderLength } = viewOf(event, ctx, [ANNOTATE_ROWS_EVENT], 'an ANNOTATE_ROWS_EVENT');
  const sql = body.subarray(Math.min(postHeaderLength, body.length));
  return { sql, text: sql.toString('utf8') };
}
