// A replica's side of the binlog protocol for the bench and the tests, kept minimal: the login of a replica
// (mysql_native_password, CRC32 checksums, the MariaDB GTID capability), used by the bench's raw reader
// (bench/raw-reader.ts), and a non-blocking COM_BINLOG_DUMP that hands each event to `onEvent`. The dump reads
// its packets with the protocol's PacketReader (sequence ids checked, 0xFFFFFF splits joined) and checks the
// [0x00] marker. Unlike mariadb-binlog it can run many dumps at once in one process, and stop early.
import net from 'node:net';
import { scrambleNativePassword } from '../../protocol/auth.js';
import { ANNOTATE_ROWS_EVENT, FORMAT_DESCRIPTION_EVENT, LOG_EVENT_ARTIFICIAL_F } from '../../protocol/binlog/constants.js';
import { EVENT_TYPE_OFFSET, FLAGS_OFFSET, LOG_POS_OFFSET } from '../../protocol/binlog/header.js';
import { encodeComBinlogDump, encodeComQuery, type ComBinlogDump } from '../../protocol/commands.js';
import {
  BINLOG_DUMP_NON_BLOCK,
  BINLOG_SEND_ANNOTATE_ROWS_EVENT,
  CLIENT_CONNECT_ATTRS,
  MYSQL_NATIVE_PASSWORD,
  UTF8MB4_GENERAL_CI,
} from '../../protocol/constants.js';
import { decodeHandshakeV10, encodeHandshakeResponse41, UPSTREAM_CLIENT_CAPABILITIES } from '../../protocol/handshake.js';
import { framePacket, PacketReader } from '../../protocol/packet.js';

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Frames packets out of socket chunks during the login phase (small and rare: simple code is fine). */
class LoginFramer {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<(p: Buffer) => void> = [];
  private queue: Buffer[] = [];

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 4) {
      const len = this.buf.readUIntLE(0, 3);
      if (this.buf.length < 4 + len) break;
      const p = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      const w = this.waiters.shift();
      if (w !== undefined) w(p);
      else this.queue.push(p);
    }
  }

  /** Bytes received after the last whole packet (handed to the dump counter). */
  rest(): Buffer {
    return this.buf;
  }

  next(): Promise<Buffer> {
    const p = this.queue.shift();
    if (p !== undefined) return Promise.resolve(p);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** The text of an ERR packet's payload (or of its first part: the bench's counter sees one chunk at a time). */
export function errText(p: Buffer): string {
  if (p.length < 3) return 'ERR packet';
  return `ERR ${p.readUInt16LE(1)}: ${p.subarray(9).toString('utf8')}`;
}

/**
 * Connects and logs in, then announces CRC32 checksums and the MariaDB GTID capability as a replica does;
 * returns the socket, the login framer (its rest(): bytes read past the last login packet) and the function that
 * takes the login's listeners off the socket.
 */
export async function login(ep: Endpoint): Promise<{ socket: net.Socket; framer: LoginFramer; detach: () => void }> {
  const socket = net.connect({ host: ep.host, port: ep.port, noDelay: true });
  const framer = new LoginFramer();
  let failed: Error | null = null;
  const onData = (c: Buffer): void => framer.push(c);
  const onError = (e: Error): void => {
    failed = e;
  };
  socket.on('data', onData);
  socket.on('error', onError);
  const next = async (): Promise<Buffer> => {
    const p = await Promise.race([
      framer.next(),
      new Promise<never>((_, reject) => socket.once('close', () => reject(failed ?? new Error(`connection to ${ep.host}:${ep.port} closed`)))),
    ]);
    if (p[0] === 0xff) throw new Error(`${ep.host}:${ep.port}: ${errText(p)}`);
    return p;
  };
  try {
    const greeting = decodeHandshakeV10(await next());
    const caps = UPSTREAM_CLIENT_CAPABILITIES & ~CLIENT_CONNECT_ATTRS & greeting.capabilities;
    const response = encodeHandshakeResponse41({
      capabilities: caps,
      maxPacketSize: 1 << 30,
      charset: UTF8MB4_GENERAL_CI,
      user: ep.user,
      authResponse: scrambleNativePassword(ep.password, greeting.nonce),
      authPluginName: MYSQL_NATIVE_PASSWORD,
    });
    socket.write(framePacket(response, 1));
    let reply = await next();
    if (reply[0] === 0xfe) {
      // AuthSwitchRequest: [0xFE] plugin<NUL> nonce<NUL>
      const nul = reply.indexOf(0, 1);
      const plugin = reply.subarray(1, nul).toString();
      if (plugin !== MYSQL_NATIVE_PASSWORD) throw new Error(`raw reader: unsupported auth plugin ${plugin}`);
      const nonce = reply.subarray(nul + 1, reply.length - (reply.at(-1) === 0 ? 1 : 0));
      socket.write(framePacket(scrambleNativePassword(ep.password, nonce), 3));
      reply = await next();
    }
    if (reply[0] !== 0x00) throw new Error(`raw reader: unexpected auth reply 0x${reply[0]?.toString(16)}`);
    for (const sql of ["SET @master_binlog_checksum = 'CRC32'", 'SET @mariadb_slave_capability = 4']) {
      socket.write(framePacket(encodeComQuery(sql), 0));
      const ok = await next();
      if (ok[0] !== 0x00) throw new Error(`raw reader: ${sql} failed`);
    }
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return {
    socket,
    framer,
    detach: () => {
      socket.off('data', onData);
      socket.off('error', onError);
    },
  };
}

/**
 * Sends COM_BINLOG_DUMP on a connection `login` set up and hands every byte after it to `onChunk`: first what the
 * login read past its last packet, then the socket's data (the login's listeners come off first).
 */
export function sendDump(session: Awaited<ReturnType<typeof login>>, cmd: ComBinlogDump, onChunk: (chunk: Buffer) => void): void {
  const { socket, framer, detach } = session;
  detach();
  socket.on('data', onChunk);
  socket.write(framePacket(encodeComBinlogDump(cmd), 0));
  const early = framer.rest();
  if (early.length > 0) onChunk(early);
}

export interface RawDumpOptions {
  port: number;
  host?: string;
  user: string;
  password: string;
  serverId: number;
  file: string;
  pos: number;
  /** COM_BINLOG_DUMP flags besides BINLOG_DUMP_NON_BLOCK (BINLOG_SEND_ANNOTATE_ROWS_EVENT). */
  flags?: number;
  /** Called with each event (a copy); an Error ends the dump with it. */
  onEvent: (event: Buffer) => Error | null;
  /** Close the connection after this many events (a replica going away mid-dump). */
  stopAfter?: number;
}

/** Resolves with the number of events received at the EOF (or at stopAfter); rejects on anything wrong. */
export async function rawDump(o: RawDumpOptions): Promise<number> {
  const session = await login({ host: o.host ?? '127.0.0.1', port: o.port, user: o.user, password: o.password });
  const { socket } = session;
  return new Promise((resolve, reject) => {
    const reader = new PacketReader();
    let events = 0;
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(events);
    };
    const onChunk = (chunk: Buffer): void => {
      reader.push(chunk);
      while (!done) {
        let p: Buffer | undefined;
        try {
          p = reader.nextPayload();
        } catch (err) {
          return finish(new Error(`after ${events} events: ${(err as Error).message}`));
        }
        if (p === undefined) return;
        if (p[0] === 0xfe && p.length < 9) return finish(null);
        if (p[0] === 0xff) return finish(new Error(errText(p)));
        if (p[0] !== 0x00) return finish(new Error(`${p.length === 0 ? 'an empty packet' : `a packet starting with 0x${p[0]!.toString(16)}`} after ${events} events`));
        events++;
        const err = o.onEvent(Buffer.from(p.subarray(1)));
        if (err !== null) return finish(err);
        if (events >= (o.stopAfter ?? Infinity)) return finish(null);
      }
    };
    socket.on('error', finish);
    socket.on('close', () => finish(new Error(`dump closed before its EOF, after ${events} events`)));
    reader.expectSequence(1); // the answer to a command sent with sequence id 0
    sendDump(session, { position: o.pos, flags: BINLOG_DUMP_NON_BLOCK | (o.flags ?? 0), serverId: o.serverId, fileName: o.file }, onChunk);
  });
}

/** The events of a dump that are the binlog's own, in order, and their index by end position. */
export interface Reference {
  events: Buffer[];
  byEnd: Map<number, number>;
}

/** Not the dump's own start (a fake ROTATE, the file's FORMAT_DESCRIPTION) nor an artificial event. */
function isLogEvent(e: Buffer): boolean {
  return e.readUInt32LE(LOG_POS_OFFSET) !== 0 && (e.readUInt16LE(FLAGS_OFFSET) & LOG_EVENT_ARTIFICIAL_F) === 0 && e[EVENT_TYPE_OFFSET] !== FORMAT_DESCRIPTION_EVENT;
}

/** Everything from `o.file`:`o.pos`, ANNOTATE_ROWS included: what other dumps are compared with. */
export async function referenceDump(o: Omit<RawDumpOptions, 'onEvent' | 'flags' | 'stopAfter'>): Promise<Reference> {
  const ref: Reference = { events: [], byEnd: new Map() };
  await rawDump({
    ...o,
    flags: BINLOG_SEND_ANNOTATE_ROWS_EVENT,
    onEvent: (e) => {
      if (isLogEvent(e)) {
        ref.byEnd.set(e.readUInt32LE(LOG_POS_OFFSET), ref.events.length);
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
    flags: o.annotate ? BINLOG_SEND_ANNOTATE_ROWS_EVENT : 0,
    onEvent: (e) => {
      if (!isLogEvent(e)) return null;
      const end = e.readUInt32LE(LOG_POS_OFFSET);
      const at = ref.byEnd.get(end);
      if (at === undefined) return new Error(`${who}: an event ending at ${end}, which the reference does not have`);
      let want = next === -1 ? at : next;
      if (!o.annotate) while (ref.events[want]?.[EVENT_TYPE_OFFSET] === ANNOTATE_ROWS_EVENT) want++;
      if (at !== want) return new Error(`${who}: event #${at} where #${want} was due`);
      if (!e.equals(ref.events[at]!)) return new Error(`${who}: event #${at} (type ${e[EVENT_TYPE_OFFSET]}, ending at ${end}) differs from the reference`);
      next = at + 1;
      checked++;
      return null;
    },
  }).then((events) => ({ events, checked }));
}

/** How many events of the reference are ANNOTATE_ROWS (a dump that did not ask for them gets the others). */
export function annotations(ref: Reference): number {
  return ref.events.filter((e) => e[EVENT_TYPE_OFFSET] === ANNOTATE_ROWS_EVENT).length;
}
