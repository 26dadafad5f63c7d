// A minimal binlog dump client for tests that look at every event a server sends: logs in
// (mysql_native_password), announces CRC32 checksums and the MariaDB GTID capability, sends a non-blocking
// COM_BINLOG_DUMP and hands each event to `onEvent`, checking the framing on the way (consecutive sequence ids,
// the [0x00] marker). Unlike mariadb-binlog it can run many dumps at once in one process, and stop early.
import net from 'node:net';
import { encodeComBinlogDump, encodeComQuery } from '../../protocol/commands.js';
import { scrambleNativePassword } from '../../protocol/auth.js';
import { BINLOG_DUMP_NON_BLOCK, CLIENT_CONNECT_ATTRS, MYSQL_NATIVE_PASSWORD, UTF8MB4_GENERAL_CI } from '../../protocol/constants.js';
import { decodeHandshakeV10, encodeHandshakeResponse41, UPSTREAM_CLIENT_CAPABILITIES } from '../../protocol/handshake.js';

export interface RawDumpOptions {
  port: number;
  host?: string;
  user: string;
  password: string;
  serverId: number;
  file: string;
  pos: number;
  /** COM_BINLOG_DUMP flags besides BINLOG_DUMP_NON_BLOCK (2: BINLOG_SEND_ANNOTATE_ROWS_EVENT). */
  flags?: number;
  /** Called with each event (a copy); an Error ends the dump with it. */
  onEvent: (event: Buffer) => Error | null;
  /** Close the connection after this many events (a replica going away mid-dump). */
  stopAfter?: number;
}

function frame(payload: Buffer, seq: number): Buffer {
  const h = Buffer.allocUnsafe(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

/** Resolves with the number of events received at the EOF (or at stopAfter); rejects on anything wrong. */
export function rawDump(o: RawDumpOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: o.host ?? '127.0.0.1', port: o.port, noDelay: true });
    let buf: Buffer = Buffer.alloc(0);
    let phase = 0;
    let seqWanted = 1;
    let events = 0;
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      s.destroy();
      if (err !== null) reject(err);
      else resolve(events);
    };
    s.on('error', finish);
    s.on('close', () => finish(new Error(`dump closed before its EOF, after ${events} events`)));
    s.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let off = 0;
      while (!done && buf.length - off >= 4) {
        const len = buf.readUIntLE(off, 3);
        const seq = buf[off + 3]!;
        if (buf.length - off < 4 + len) break;
        const p = buf.subarray(off + 4, off + 4 + len);
        off += 4 + len;
        if (phase === 0) {
          const g = decodeHandshakeV10(p);
          const response = encodeHandshakeResponse41({
            capabilities: UPSTREAM_CLIENT_CAPABILITIES & ~CLIENT_CONNECT_ATTRS & g.capabilities,
            maxPacketSize: 1 << 30,
            charset: UTF8MB4_GENERAL_CI,
            user: o.user,
            authResponse: scrambleNativePassword(o.password, g.nonce),
            authPluginName: MYSQL_NATIVE_PASSWORD,
          });
          s.write(frame(response, 1));
          phase = 1;
        } else if (phase === 1 || phase === 2) {
          if (p[0] !== 0x00) return finish(new Error(`login or SET refused: ${p.subarray(9).toString()}`));
          s.write(frame(encodeComQuery(phase === 1 ? "SET @master_binlog_checksum = 'CRC32'" : 'SET @mariadb_slave_capability = 4'), 0));
          phase++;
        } else if (phase === 3) {
          if (p[0] !== 0x00) return finish(new Error(`SET refused: ${p.subarray(9).toString()}`));
          s.write(frame(encodeComBinlogDump({ position: o.pos, flags: BINLOG_DUMP_NON_BLOCK | (o.flags ?? 0), serverId: o.serverId, fileName: o.file }), 0));
          phase = 4;
        } else {
          if (seq !== seqWanted) return finish(new Error(`packet with sequence id ${seq} after ${events} events, expected ${seqWanted}`));
          seqWanted = (seqWanted + 1) & 0xff;
          if (p[0] === 0xfe && len < 9) return finish(null);
          if (p[0] === 0xff) return finish(new Error(`ERR ${p.readUInt16LE(1)}: ${p.subarray(9).toString()}`));
          if (p[0] !== 0x00) return finish(new Error(`packet starting with 0x${p[0]?.toString(16)} after ${events} events`));
          events++;
          const err = o.onEvent(Buffer.from(p.subarray(1)));
          if (err !== null) return finish(err);
          if (events >= (o.stopAfter ?? Infinity)) return finish(null);
        }
      }
      buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
    });
  });
}

const TYPE = 4;
const LOG_POS = 13;
const FLAGS = 17;
const ARTIFICIAL = 0x20;
const FORMAT_DESCRIPTION = 15;
const ANNOTATE_ROWS = 160;
/** BINLOG_SEND_ANNOTATE_ROWS_EVENT (MariaDB). */
export const SEND_ANNOTATE_ROWS = 2;

/** The events of a dump that are the binlog's own, in order, and their index by end position. */
export interface Reference {
  events: Buffer[];
  byEnd: Map<number, number>;
}

/** Not the dump's own start (a fake ROTATE, the file's FORMAT_DESCRIPTION) nor an artificial event. */
function isLogEvent(e: Buffer): boolean {
  return e.readUInt32LE(LOG_POS) !== 0 && (e.readUInt16LE(FLAGS) & ARTIFICIAL) === 0 && e[TYPE] !== FORMAT_DESCRIPTION;
}

/** Everything from `o.file`:`o.pos`, ANNOTATE_ROWS included: what other dumps are compared with. */
export async function referenceDump(o: Omit<RawDumpOptions, 'onEvent' | 'flags' | 'stopAfter'>): Promise<Reference> {
  const ref: Reference = { events: [], byEnd: new Map() };
  await rawDump({
    ...o,
    flags: SEND_ANNOTATE_ROWS,
    onEvent: (e) => {
      if (isLogEvent(e)) {
        ref.byEnd.set(e.readUInt32LE(LOG_POS), ref.events.length);
        ref.events.push(e);
      }
      return null;
    },
  });
  return ref;
}

/**
 * A dump whose every event must be the reference's next one (ANNOTATE_ROWS only when asked for), byte for byte;
 * rejects at the first that is not. `checked`: the events compared.
 */
export function checkedDump(ref: Reference, o: Omit<RawDumpOptions, 'onEvent' | 'flags'> & { annotate: boolean }): Promise<{ events: number; checked: number }> {
  let next = -1;
  let checked = 0;
  const who = `dump of server id ${o.serverId} (from ${o.pos}, ANNOTATE_ROWS ${o.annotate ? 'asked' : 'not asked'})`;
  return rawDump({
    ...o,
    flags: o.annotate ? SEND_ANNOTATE_ROWS : 0,
    onEvent: (e) => {
      if (!isLogEvent(e)) return null;
      const end = e.readUInt32LE(LOG_POS);
      const at = ref.byEnd.get(end);
      if (at === undefined) return new Error(`${who}: an event ending at ${end}, which the reference does not have`);
      let want = next === -1 ? at : next;
      if (!o.annotate) while (ref.events[want]?.[TYPE] === ANNOTATE_ROWS) want++;
      if (at !== want) return new Error(`${who}: event #${at} where #${want} was due`);
      if (!e.equals(ref.events[at]!)) return new Error(`${who}: event #${at} (type ${e[TYPE]}, ending at ${end}) differs from the reference`);
      next = at + 1;
      checked++;
      return null;
    },
  }).then((events) => ({ events, checked }));
}

/** How many events of the reference are ANNOTATE_ROWS (a dump that did not ask for them gets the others). */
export function annotations(ref: Reference): number {
  return ref.events.filter((e) => e[TYPE] === ANNOTATE_ROWS).length;
}
