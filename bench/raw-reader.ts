/**
 * The benchmark's own minimal binlog reader: log in (mysql_native_password), announce checksums and the
 * MariaDB slave capability, send COM_BINLOG_DUMP and count packets and bytes. It parses nothing but the
 * 4-byte packet headers, so it measures the server, not the client.
 *
 *   readAll(): non-blocking dump of the whole history; resolves at the EOF packet.
 *   follow():  blocking dump from a position; calls `onGtid(seqNo, arrivalMs)` for each MariaDB GTID event
 *              (the only place it looks inside a packet: event type at payload[5], seq_no at payload[20..27]).
 *
 * Packet layout (client/server protocol): 3 bytes payload length (LE), 1 byte sequence id, payload. A dump
 * packet's payload is [0x00 OK marker][event]; [0xFE]+5 bytes is the EOF at the end of a non-blocking dump;
 * [0xFF] is an ERR.
 */
import { BINLOG_DUMP_NON_BLOCK } from '../protocol/constants.js';
import { MARIADB_GTID_EVENT } from '../protocol/binlog/constants.js';
import { errText, login, sendDump, type Endpoint } from '../test/helpers/raw-dump.js';

export type { Endpoint } from '../test/helpers/raw-dump.js';

export interface ReadResult {
  packets: number;
  bytes: number;
  ms: number;
}

/**
 * Counts the packets of a non-blocking dump as socket chunks arrive, reading nothing but the 4-byte headers
 * and the first payload byte of each packet (EOF or ERR). Headers and payloads may be split anywhere between
 * chunks. A stream out of step (a sequence id that does not follow the last one, a packet that is neither an
 * event, an EOF nor an ERR) is reported as an error instead of being counted on: a server that frames a packet
 * wrongly would otherwise leave the reader waiting for bytes that never come.
 */
export class DumpCounter {
  packets = 0;
  bytes = 0;
  /** Bytes of the current packet's payload still to skip. */
  private need = 0;
  private readonly hdr = Buffer.alloc(4);
  private hdrFill = 0;
  /** The current packet's first payload byte is still to be looked at. */
  private atPayloadStart = false;
  /** The sequence id the next packet must have (the dump command was 0). */
  private seq = 1;
  /** The current packet continues a payload of 0xFFFFFF bytes: its first byte is data, not a marker. */
  private continuation = false;
  private lastLength = 0;

  constructor(private readonly stopAfter = Infinity) {}

  /** 'eof' at the dump's EOF packet (or after stopAfter packets), an Error for an ERR packet, else null. */
  push(c: Buffer): 'eof' | Error | null {
    let i = 0;
    let seq = 0;
    const n = c.length;
    while (i < n) {
      if (this.need === 0 && !this.atPayloadStart) {
        // a header
      if (this.hdrFill === 0 && n - i >= 4) {
          this.need = c[i]! | (c[i + 1]! << 8) | (c[i + 2]! << 16);
          seq = c[i + 3]!;
          i += 4;
        } else {
          this.hdr[this.hdrFill++] = c[i++]!;
          if (this.hdrFill < 4) continue;
          this.hdrFill = 0;
          this.need = this.hdr[0]! | (this.hdr[1]! << 8) | (this.hdr[2]! << 16);
          seq = this.hdr[3]!;
        }
        if (seq !== this.seq) return new Error(`raw reader: packet ${this.packets + 1} has sequence id ${seq}, expected ${this.seq} (the stream is out of step)`);
        this.seq = (seq + 1) & 0xff;
        this.continuation = this.lastLength === 0xffffff;
        this.lastLength = this.need;
        this.packets++;
        this.bytes += this.need + 4;
        if (this.packets > this.stopAfter) return 'eof';
        this.atPayloadStart = this.need > 0;
        continue; // the payload may start in the next chunk
      }
      if (this.atPayloadStart) {
        this.atPayloadStart = false;
        const first = c[i]!;
        if (!this.continuation) {
          if (first === 0xfe && this.need < 9) return 'eof';
          if (first === 0xff) return new Error(`raw reader: ${errText(c.subarray(i, i + this.need))}`);
          if (first !== 0x00 && first !== 0xfe) return new Error(`raw reader: packet ${this.packets} starts with 0x${first.toString(16)}, not an event, EOF or ERR (the stream is out of step)`);
        }
      }
      const take = Math.min(this.need, n - i);
      i += take;
      this.need -= take;
    }
    return null;
  }
}

/** How long a non-blocking dump may go without a byte before the reader gives up. */
const STALL_MS = 60_000;

/** Non-blocking dump of everything from `file` (default the first) at position 4; resolves at EOF. */
export async function readAll(ep: Endpoint, serverId: number, file = 'bin.000001', stopAfter = Infinity): Promise<ReadResult> {
  const t0 = performance.now();
  const session = await login(ep);
  const { socket } = session;
  return new Promise<ReadResult>((resolve, reject) => {
    const counter = new DumpCounter(stopAfter);
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      socket.destroy();
      if (err !== null) reject(err);
      else resolve({ packets: counter.packets, bytes: counter.bytes, ms: performance.now() - t0 });
    };
    const onChunk = (c: Buffer): void => {
      const r = counter.push(c);
      if (r !== null) finish(r === 'eof' ? null : r);
    };
    socket.on('error', (e) => finish(e));
    socket.on('close', () => finish(done ? null : new Error('raw reader: connection closed before EOF')));
    // A server that stops sending mid-dump fails the run instead of hanging it.
    socket.setTimeout(STALL_MS, () => finish(new Error(`raw reader: nothing received for ${STALL_MS / 1000} s after ${counter.packets} packets (${counter.bytes} bytes)`)));
    sendDump(session, { position: 4, flags: BINLOG_DUMP_NON_BLOCK, serverId, fileName: file }, onChunk);
  });
}

/** Logs in, starts a non-blocking dump and resolves once the first three events arrived (fake ROTATE, FDE, a stored event). */
export function readFirst(ep: Endpoint, serverId: number): Promise<ReadResult> {
  return readAll(ep, serverId, 'bin.000001', 3);
}

export interface Follower {
  close(): void;
  readonly error: Error | null;
}

/**
 * Blocking dump from file/pos; `onGtid(seqNo, arrivalMs)` for every MariaDB GTID event. Reassembles packets
 * (it must look at payload bytes), so it is only for the low-rate latency scenario.
 */
export async function follow(
  ep: Endpoint,
  serverId: number,
  file: string,
  pos: number,
  onGtid: (seqNo: bigint, arrivalMs: number) => void,
): Promise<Follower> {
  const session = await login(ep);
  const { socket } = session;
  let buf: Buffer = Buffer.alloc(0);
  const state: { error: Error | null } = { error: null };
  const onChunk = (c: Buffer): void => {
    const now = performance.now();
    buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUIntLE(off, 3);
      if (buf.length - off < 4 + len) break;
      const p = buf.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      if (p[0] === 0xff) {
        state.error = new Error(`follower: ${errText(p)}`);
        socket.destroy();
        return;
      }
      if (p[0] === 0x00 && p.length >= 28 && p[5] === MARIADB_GTID_EVENT) onGtid(p.readBigUInt64LE(20), now);
    }
    buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
  };
  socket.on('error', (e) => {
    state.error = e;
  });
  sendDump(session, { position: pos, flags: 0, serverId, fileName: file }, onChunk);
  return {
    close: () => socket.destroy(),
    get error() {
      return state.error;
    },
  };
}
