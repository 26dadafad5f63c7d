// One malformed session against a MySQL-protocol server (the proxy's replica port), from a seeded generator:
// shared by the integration storm (test/integration/server-session-hostile.test.ts) and the fault suite's
// storm against the built daemon (test/faults/replication-port.test.ts). It reads the greeting, then does one
// hostile thing, and resolves when the server answered and closed, or after a short wait.
import net from 'node:net';
import { encodeComBinlogDump, encodeComBinlogDumpGtid, encodeComQuery, encodeComRegisterSlave } from '../../protocol/commands.js';
import { decodeHandshakeV10, encodeSslRequest, UPSTREAM_CLIENT_CAPABILITIES } from '../../protocol/handshake.js';
import { framePacket } from '../../protocol/packet.js';

export interface HostileOptions {
  /** A well-formed HandshakeResponse41 payload for the greeting's nonce (right or wrong password). */
  handshakeResponse(nonce: Buffer): Buffer;
  /** Connect from this local address (e.g. 127.0.0.2, so that throttling it spares other clients). */
  localAddress?: string;
  /** The session is given up after this many ms plus up to 300 more (default 200). */
  waitMs?: number;
}

/** The kinds of hostile session (see the switch below). */
const KINDS = 11;

export function hostileSession(port: number, rnd: () => number, opts: HostileOptions): Promise<void> {
  const int = (n: number): number => Math.floor(rnd() * n);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  const kind = int(KINDS);
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}) });
    let buf = Buffer.alloc(0);
    let acted = false;
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(done, (opts.waitMs ?? 200) + int(300));
    s.on('error', done);
    s.on('close', done);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (acted || buf.length < 4 || buf.length < 4 + buf.readUIntLE(0, 3)) return;
      acted = true;
      let nonce: Buffer = Buffer.alloc(20);
      try {
        nonce = decodeHandshakeV10(buf.subarray(4, 4 + buf.readUIntLE(0, 3))).nonce;
      } catch {
        // a refusal (ERR 1129 once throttled) instead of a greeting: be hostile anyway
      }
      const good = framePacket(opts.handshakeResponse(nonce), 1);
      switch (kind) {
        case 0: // random bytes
          s.write(bytes(int(400)));
          break;
        case 1: // an oversized length header (up to 16 MiB - 1), then some bytes
          s.write(Buffer.concat([Buffer.from([0xff, 0xff, int(256), int(256)]), bytes(int(3000))]));
          break;
        case 2: // a truncated real handshake response
          s.write(good.subarray(0, int(good.length)));
          break;
        case 3: {
          // a mutated real handshake response
          const m = Buffer.from(good);
          for (let i = 0, n = 1 + int(8); i < n; i++) m[int(m.length)] = int(256);
          s.write(m);
          break;
        }
        case 4: {
          // a good response with a wrong sequence id
          const m = Buffer.from(good);
          m[3] = 2 + int(250);
          s.write(m);
          break;
        }
        case 5: {
          // commands before authentication
          const cmds = [
            encodeComQuery('SHOW BINARY LOGS'),
            encodeComBinlogDump({ position: 4, flags: 0, serverId: 9, fileName: 'bin.000001' }),
            encodeComRegisterSlave({ serverId: 3 }),
            Buffer.from([0x01]),
            Buffer.from([0x0e]),
          ];
          s.write(framePacket(cmds[int(cmds.length)]!, int(3)));
          break;
        }
        case 6: {
          // the handshake response, then an absurd dump request
          const absurd = [
            encodeComBinlogDump({ position: 0xffffffff, flags: 0xffff, serverId: 0, fileName: '../../etc/passwd' }),
            encodeComBinlogDumpGtid({ flags: 4, serverId: 1, fileName: 'x'.repeat(int(5000)), position: 2n ** 63n, gtidData: bytes(int(2000)) }),
          ];
          s.write(Buffer.concat([good, framePacket(absurd[int(absurd.length)]!, 0)]));
          break;
        }
        case 7: // an SSLRequest followed by garbage instead of a TLS ClientHello
          s.write(Buffer.concat([framePacket(encodeSslRequest({ capabilities: UPSTREAM_CLIENT_CAPABILITIES, maxPacketSize: 1 << 24, charset: 45 }), 1), bytes(int(300))]));
          break;
        case 8: // many tiny packets
          for (let i = 0; i < 60; i++) s.write(framePacket(bytes(int(5)), (1 + i) & 0xff));
          break;
        case 9: {
          // log in, then garbage commands (never COM_PROCESS_KILL: it could hit a neighbour)
          s.write(good);
          const after: Buffer[] = [];
          for (let i = 0, n = 1 + int(5); i < n; i++) {
            let cmd = int(0x20);
            if (cmd === 0x0c) cmd = 0x0e;
            after.push(framePacket(Buffer.concat([Buffer.from([cmd]), bytes(int(60))]), 0));
          }
          setTimeout(() => {
            if (!s.destroyed) s.write(Buffer.concat(after));
          }, 20);
          break;
        }
        default:
          // a length header that promises 16 MiB, then silence (the handshake timeout must end it)
          s.write(Buffer.from([0xfe, 0xff, 0xff, 1]));
      }
    });
  });
}
