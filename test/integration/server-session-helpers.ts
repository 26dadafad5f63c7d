// Test helpers for the replica-facing server: start a ReplicationServer on a free port with a temp data
// dir, collect its logs, and talk to it with mysql2 or raw sockets.
import net from 'node:net';
import { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import mysql from 'mysql2/promise';
import type { Connection, ConnectionOptions } from 'mysql2/promise';
import { ReplicationServer, type ReplicationServerSettings } from '../../src/server/server.js';
import { StaticSourceView, type StaticSourceInit, type SourceView } from '../../src/server/source.js';
import type { DumpContext } from '../../src/server/dump/types.js';
import type { SyncerStatus } from '../../src/syncer/types.js';
import type { ServerUser } from '../../src/config/config.js';
import type { PassthroughTarget } from '../../src/server/passthrough.js';
import { Metrics } from '../../src/metrics.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import tls from 'node:tls';
import { PacketReader, framePacket, type Packet } from '../../protocol/packet.js';
import {
  decodeHandshakeV10,
  encodeHandshakeResponse41,
  encodeSslRequest,
  UPSTREAM_CLIENT_CAPABILITIES,
  type HandshakeV10,
} from '../../protocol/handshake.js';
import { scrambleCachingSha2, scrambleNativePassword } from '../../protocol/auth.js';
import { CLIENT_DEPRECATE_EOF, CLIENT_PLUGIN_AUTH, CLIENT_SSL, UTF8MB4_GENERAL_CI } from '../../protocol/constants.js';
import { encodeComQuery } from '../../protocol/commands.js';
import { TextResultSetDecoder, textRows } from '../../protocol/resultset.js';

export const SERVER_UUID = '5d4c3b2a-1f0e-4d3c-8b7a-0123456789ab';

export const MARIADB_SOURCE: StaticSourceInit = {
  flavor: 'mariadb',
  serverVersion: '10.11.6-MariaDB-log',
  binlogChecksum: 'CRC32',
  files: [
    { name: 'bin.000001', size: 1234 },
    { name: 'bin.000002', size: 5678 },
  ],
  mariadbGtidBinlogPos: '0-1-42',
  gtidPositions: { 'bin.000002:4': '0-1-40' },
  newestEventTimestamp: 1_700_000_000,
};

export const MYSQL_SOURCE: StaticSourceInit = {
  flavor: 'mysql',
  serverVersion: '8.0.45',
  binlogChecksum: 'CRC32',
  files: [{ name: 'binlog.000007', size: 4242 }],
  gtidExecuted: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-57',
  gtidPurged: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5',
  hasGtids: true,
  newestEventTimestamp: 1_700_000_000,
};

export interface TestServer {
  server: ReplicationServer;
  port: number;
  dataDir: string;
  logs: string[];
  metrics: Metrics;
  connect(opts?: Partial<ConnectionOptions>): Promise<Connection>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  source?: StaticSourceInit | SourceView;
  settings?: ReplicationServerSettings;
  users?: ServerUser[];
  allowEmptyPassword?: boolean;
  runDump?: (ctx: DumpContext) => Promise<void>;
  syncerStatus?: () => SyncerStatus | null;
  passthroughTarget?: () => PassthroughTarget | null;
  /** Reuse a data dir (keeps the generated certificate between servers). */
  dataDir?: string;
  serverId?: number;
}

export const USERS: ServerUser[] = [
  { user: 'repl', password: 'secret-pw' },
  { user: 'other', password: 'another-pw' },
];

export function memoryLogger(lines: string[], level = 'debug'): Logger {
  return pino({ level }, { write: (line: string) => void lines.push(line) });
}

async function noDump(ctx: DumpContext): Promise<void> {
  ctx.output.sendError(1236, 'HY000', 'test server: no binlog sender');
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await makeTempDir('bp-srv-'));
  const logs: string[] = [];
  const metrics = new Metrics({ defaultMetrics: false });
  const given = opts.source;
  const source: SourceView =
    given !== undefined && typeof (given as SourceView).flavor === 'function'
      ? (given as SourceView)
      : new StaticSourceView((given as StaticSourceInit | undefined) ?? MARIADB_SOURCE);
  const server = new ReplicationServer({
    source,
    dataDir,
    identity: { serverId: opts.serverId ?? 9001, serverUuid: SERVER_UUID },
    settings: opts.settings,
    syncerStatus: opts.syncerStatus,
    passthroughTarget: opts.passthroughTarget,
    runDump: opts.runDump ?? noDump,
    log: memoryLogger(logs),
    metrics,
  });
  await server.start({ addr: '127.0.0.1:0', users: opts.users ?? USERS, allow_empty_password: opts.allowEmptyPassword ?? false });
  const port = server.port!;
  return {
    server,
    port,
    dataDir,
    logs,
    metrics,
    connect: (o = {}) =>
      mysql.createConnection({ host: '127.0.0.1', port, user: 'repl', password: 'secret-pw', connectTimeout: 5000, ...o }),
    close: async () => {
      await server.stop();
      if (ownDir) await removeTempDir(dataDir);
    },
  };
}

/** A raw TCP client: write bytes, read whatever comes until the server closes or `ms` pass. */
export function rawExchange(port: number, send: Buffer[] | ((s: net.Socket) => void), ms = 2000): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port });
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const t = setTimeout(() => finish(false), ms);
    s.on('data', (c) => chunks.push(c));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', () => {
      if (typeof send === 'function') send(s);
      else for (const b of send) s.write(b);
    });
  });
}

/** Splits raw server bytes into [seq, payload] packets (ignores a trailing partial packet). */
export function splitPackets(data: Buffer): Array<{ seq: number; payload: Buffer }> {
  const out: Array<{ seq: number; payload: Buffer }> = [];
  let off = 0;
  while (off + 4 <= data.length) {
    const len = data.readUIntLE(off, 3);
    if (off + 4 + len > data.length) break;
    out.push({ seq: data[off + 3]!, payload: data.subarray(off + 4, off + 4 + len) });
    off += 4 + len;
  }
  return out;
}

export function errOf(e: unknown): { errno?: number; sqlState?: string; sqlMessage?: string; code?: string; message: string } {
  return e as { errno?: number; sqlState?: string; sqlMessage?: string; code?: string; message: string };
}

// ---------------------------------------------------------------------------------------------------------
// A raw protocol client over our own codecs: full control of plugins, TLS, sequence ids and commands.

export class RawClient {
  greeting!: HandshakeV10;
  socket: net.Socket;
  private reader = new PacketReader({ checkSequence: false });
  private queue: Packet[] = [];
  private waiters: Array<(p: Packet | null) => void> = [];
  closed = false;
  capabilities = 0;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(s: net.Socket): void {
    s.on('data', (c: Buffer) => {
      this.reader.push(c);
      for (let p = this.reader.next(); p; p = this.reader.next()) {
        const w = this.waiters.shift();
        if (w) w(p);
        else this.queue.push(p);
      }
    });
    s.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
    s.on('error', () => undefined);
  }

  static async open(port: number): Promise<RawClient> {
    const s = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    const c = new RawClient(s);
    const g = await c.read();
    if (!g) throw new Error('closed before the greeting');
    if (g.payload[0] === 0xff) {
      c.greeting = { protocolVersion: 0, serverVersion: '', connectionId: 0, nonce: Buffer.alloc(0), capabilities: 0, charset: 0, statusFlags: 0, authPluginName: null, mariadbExtendedCapabilities: 0 };
      c.queue.unshift(g);
      return c;
    }
    c.greeting = decodeHandshakeV10(g.payload);
    return c;
  }

  /** The next packet, or null when the server closed (or `ms` passed). */
  read(ms = 3000): Promise<Packet | null> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(null);
      }, ms);
      const w = (p: Packet | null): void => {
        clearTimeout(t);
        resolve(p);
      };
      this.waiters.push(w);
    });
  }

  write(payload: Buffer, seq: number): void {
    this.socket.write(framePacket(payload, seq));
  }

  /** SSLRequest (seq 1) then the TLS handshake; `coalesce` sends the SSLRequest and the ClientHello in one write. */
  async startTls(coalesce = false): Promise<void> {
    const caps = (UPSTREAM_CLIENT_CAPABILITIES | CLIENT_SSL) & this.greeting.capabilities;
    const ssl = framePacket(encodeSslRequest({ capabilities: caps, maxPacketSize: 1 << 24, charset: UTF8MB4_GENERAL_CI }), 1);
    const raw = this.socket;
    raw.removeAllListeners('data');
    let transport: net.Socket | Duplex = raw;
    if (coalesce) {
      let first = true;
      const d = new Duplex({
        write(chunk: Buffer, _enc, cb) {
          if (first) {
            first = false;
            raw.write(Buffer.concat([ssl, chunk]), cb);
          } else {
            raw.write(chunk, cb);
          }
        },
        read() {
          /* pushed from raw */
        },
      });
      raw.on('data', (c) => d.push(c));
      raw.on('end', () => d.push(null));
      transport = d;
    } else {
      raw.write(ssl);
    }
    const secure = tls.connect({ socket: transport as net.Socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  /**
   * Sends a HandshakeResponse41 scrambled for `plugin` (default: the greeting's) and answers AuthSwitch
   * and fast-auth steps. Returns every packet the server sent until OK/ERR.
   */
  async login(
    user: string,
    password: string,
    opts: { plugin?: string; database?: string; caps?: number; clearTextWithoutTls?: boolean } = {},
  ): Promise<{ packets: Packet[]; last: Packet | null }> {
    const tlsOn = this.socket instanceof tls.TLSSocket;
    let caps = (opts.caps ?? UPSTREAM_CLIENT_CAPABILITIES) & this.greeting.capabilities;
    if (tlsOn) caps |= CLIENT_SSL;
    this.capabilities = caps;
    let plugin = opts.plugin ?? this.greeting.authPluginName ?? 'mysql_native_password';
    let nonce = this.greeting.nonce;
    const scramble = (): Buffer => (plugin === 'caching_sha2_password' ? scrambleCachingSha2(password, nonce) : scrambleNativePassword(password, nonce));
    this.write(
      encodeHandshakeResponse41({
        capabilities: caps,
        maxPacketSize: 1 << 24,
        charset: UTF8MB4_GENERAL_CI,
        user,
        authResponse: scramble(),
        database: opts.database ?? null,
        authPluginName: caps & CLIENT_PLUGIN_AUTH ? plugin : null,
      }),
      tlsOn ? 2 : 1,
    );
    const packets: Packet[] = [];
    for (;;) {
      const p = await this.read();
      if (!p) return { packets, last: null };
      packets.push(p);
      const h = p.payload[0];
      if (h === 0x00 || h === 0xff) return { packets, last: p };
      if (h === 0xfe) {
        const nul = p.payload.indexOf(0, 1);
        plugin = p.payload.subarray(1, nul).toString();
        nonce = p.payload.subarray(nul + 1, p.payload.length - 1);
        this.write(scramble(), (p.seq + 1) & 0xff);
        continue;
      }
      if (h === 0x01 && p.payload[1] === 0x04 && (tlsOn || opts.clearTextWithoutTls)) {
        this.write(Buffer.concat([Buffer.from(password), Buffer.from([0])]), (p.seq + 1) & 0xff);
      }
    }
  }

  /** COM_QUERY; resolves with column names and rows, or throws the ERR text. */
  async query(sql: string): Promise<{ columns: string[]; rows: Array<Array<string | null>> }> {
    this.write(encodeComQuery(sql), 0);
    const dec = new TextResultSetDecoder({ capabilities: this.capabilities || CLIENT_DEPRECATE_EOF });
    for (;;) {
      const p = await this.read();
      if (!p) throw new Error('connection closed');
      const rs = dec.push(p.payload);
      if (rs) return { columns: rs.columns.map((c) => c.name), rows: textRows(rs) };
    }
  }

  end(): void {
    this.socket.destroy();
  }
}
