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
