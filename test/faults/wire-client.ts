// A minimal replica over our own protocol codecs, for the fault suite: log in (mysql_native_password, with
// an auth switch if asked), declare CRC32, register and start a file/position dump; then read, stall or
// disconnect on demand. Each client can bind its own loopback source address (throttling is per address).
import net from 'node:net';
import { scrambleNativePassword } from '../../protocol/auth.js';
import { encodeComBinlogDump, encodeComQuery, encodeComRegisterSlave } from '../../protocol/commands.js';
import { UTF8MB4_GENERAL_CI } from '../../protocol/constants.js';
import { authDataNonce, decodeAuthSwitchRequest, decodeHandshakeV10, encodeHandshakeResponse41, UPSTREAM_CLIENT_CAPABILITIES } from '../../protocol/handshake.js';
import { framePacket, PacketReader } from '../../protocol/packet.js';

export interface WireClientOptions {
  port: number;
  user: string;
  password: string;
  localAddress?: string;
}

export class WireClient {
  readonly socket: net.Socket;
  private readonly reader = new PacketReader({ checkSequence: false });
  private readonly queue: Array<{ seq: number; payload: Buffer }> = [];
  private waiter: ((p: { seq: number; payload: Buffer } | null) => void) | null = null;
  closed = false;
  /** Bytes received since the dump started. */
  dumpBytes = 0;
  private dumping = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => {
      if (this.dumping) {
        this.dumpBytes += c.length;
        return;
      }
      this.reader.push(c);
      for (let p = this.reader.next(); p; p = this.reader.next()) {
        const w = this.waiter;
        this.waiter = null;
        if (w) w(p);
        else this.queue.push(p);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      const w = this.waiter;
      this.waiter = null;
      w?.(null);
    });
    socket.on('error', () => undefined);
  }

  static async connect(opts: Pick<WireClientOptions, 'port' | 'localAddress'>): Promise<WireClient> {
    const s = net.connect({ host: '127.0.0.1', port: opts.port, localAddress: opts.localAddress });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    return new WireClient(s);
  }

  read(ms = 5000): Promise<{ seq: number; payload: Buffer } | null> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, ms);
      this.waiter = (p) => {
        clearTimeout(t);
        resolve(p);
      };
    });
  }

  /** Logs in; returns the first byte of the final answer (0x00 OK, 0xff ERR) and the ERR text. */
  async login(user: string, password: string): Promise<{ ok: boolean; error: string | null }> {
    const g = await this.read();
    if (!g) return { ok: false, error: 'closed before the greeting' };
    if (g.payload[0] === 0xff) return { ok: false, error: g.payload.subarray(9).toString('utf8') };
    const hs = decodeHandshakeV10(g.payload);
    this.socket.write(
      framePacket(
        encodeHandshakeResponse41({
          capabilities: UPSTREAM_CLIENT_CAPABILITIES,
          maxPacketSize: 1 << 24,
          charset: UTF8MB4_GENERAL_CI,
          user,
          authResponse: scrambleNativePassword(password, hs.nonce),
          authPluginName: 'mysql_native_password',
          connectAttributes: [['program_name', 'fault-suite']],
        }),
        1,
      ),
    );
    let r = await this.read();
    if (r && r.payload[0] === 0xfe) {
      const sw = decodeAuthSwitchRequest(r.payload);
      this.socket.write(framePacket(scrambleNativePassword(password, authDataNonce(sw.data)), r.seq + 1));
      r = await this.read();
    }
    if (!r) return { ok: false, error: 'closed during authentication' };
    if (r.payload[0] === 0x00) return { ok: true, error: null };
    return { ok: false, error: r.payload.subarray(9).toString('utf8') };
  }

  async query(sql: string): Promise<Buffer | null> {
    this.socket.write(framePacket(encodeComQuery(sql), 0));
    const r = await this.read();
    return r ? r.payload : null;
  }

  /** Declares CRC32, registers and starts a dump from `file`:4; the dump bytes are only counted. */
  async startDump(serverId: number, file: string): Promise<boolean> {
    const a = await this.query("SET @master_binlog_checksum = 'CRC32'");
    const b = await this.query('SET @mariadb_slave_capability = 4');
    if (!a || !b || a[0] !== 0 || b[0] !== 0) return false;
    this.socket.write(framePacket(encodeComRegisterSlave({ serverId }), 0));
    const reg = await this.read();
    if (!reg || reg.payload[0] !== 0) return false;
    this.dumping = true;
    this.socket.write(framePacket(encodeComBinlogDump({ position: 4, flags: 0, serverId, fileName: file }), 0));
    return true;
  }

  /** Stops reading: the kernel buffers fill and the server sees a replica that no longer reads. */
  stall(): void {
    this.socket.pause();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Waits until the server closes the connection, at most `ms`. */
  async waitClosed(ms: number): Promise<boolean> {
    if (this.closed) return true;
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }
}
