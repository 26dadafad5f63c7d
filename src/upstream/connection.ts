/**
 * A MySQL/MariaDB client connection written on `net`/`tls` over our own `protocol/` codecs.
 *
 * Why not mysql2 for the replication connection: the dump stream must stay verbatim bytes (mysql2 wraps every
 * packet in its own Packet object and its binlog support parses events), semi-sync needs control of sequence
 * ids (the ACK goes out with seq 0 and the next source packet is seq 1 again), and the ingest path must be
 * zero-copy with socket-level backpressure. Our codecs already implement the handshake, both auth plugins
 * (including caching_sha2_password full authentication over TLS or RSA) and the text protocol, so the client
 * is a thin adapter: one socket, one PacketReader, one command at a time. mysql2 remains the client for
 * discovery SQL, where none of this matters.
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  CACHING_SHA2_FAST_AUTH_SUCCESS,
  CACHING_SHA2_PASSWORD,
  CACHING_SHA2_PERFORM_FULL_AUTHENTICATION,
  CACHING_SHA2_REQUEST_PUBLIC_KEY,
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_PLUGIN_AUTH,
  CLIENT_SSL,
  MYSQL_NATIVE_PASSWORD,
  UTF8MB4_GENERAL_CI,
} from '../../protocol/constants.js';
import { PacketReader, PacketWriter } from '../../protocol/packet.js';
import {
  UPSTREAM_CLIENT_CAPABILITIES,
  decodeAuthMoreData,
  decodeAuthSwitchRequest,
  decodeHandshakeV10,
  encodeHandshakeResponse41,
  encodeSslRequest,
  authDataNonce,
  type HandshakeV10,
} from '../../protocol/handshake.js';
import {
  encodeClearPassword,
  encryptPasswordRsa,
  scrambleCachingSha2,
  scrambleNativePassword,
} from '../../protocol/auth.js';
import { MysqlServerError, decodeErr, decodeOk, isErrPacket, type OkPacket } from '../../protocol/generic.js';
import { TextResultSetDecoder, textRows, type TextResultSet } from '../../protocol/resultset.js';
import { encodeComQuery, encodeComQuit } from '../../protocol/commands.js';
import { ProtocolError } from '../../protocol/errors.js';
import { UpstreamError } from './errors.js';

export interface UpstreamTlsOptions {
  /** 'disabled': never; 'preferred': when the server offers it; 'required': fail without it. */
  mode: 'disabled' | 'preferred' | 'required';
  /** Verify the server certificate against `ca` (or the system store). Default false when no CA is given. */
  verify?: boolean;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
}

export interface UpstreamConnectOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
  tls?: UpstreamTlsOptions;
  /** PEM public key of the server for caching_sha2_password RSA exchange; requested from the server when absent. */
  serverPublicKey?: string;
  connectTimeoutMs?: number;
  connectAttributes?: ReadonlyArray<readonly [string, string]>;
  /** Largest logical packet accepted (the primary's max_allowed_packet ceiling is 1 GiB). */
  maxPacketSize?: number;
}

export interface QueryResult {
  columns: string[];
  rows: Array<Array<string | null>>;
  ok: OkPacket | null;
}

/** Handler of dump-stream packets. Return false to stop reading (backpressure) until `resumeStream()`. */
export type StreamHandler = (payload: Buffer, seq: number) => void;

export interface StreamOptions {
  /**
   * Called after the packets one socket read completed were handed over (a handler may work per batch); like
   * the packet handlers, it ends the stream with the error it throws.
   */
  onBatchEnd?: () => void;
  /**
   * Packets that start with 0x00 (the events of a dump without the semi-sync header) go here without that
   * byte, as one view each, instead of to `onPacket`.
   */
  onEvent?: (event: Buffer, seq: number) => void;
}

type Waiter = { resolve: (p: Buffer) => void; reject: (e: Error) => void };

export class UpstreamConnection {
  readonly greeting: HandshakeV10;
  readonly capabilities: number;
  readonly tlsActive: boolean;
  private socket: net.Socket | tls.TLSSocket;
  private readonly reader: PacketReader;
  private readonly writer = new PacketWriter(0);
  private waiter: Waiter | null = null;
  private queue: Buffer[] = [];
  private closedError: Error | null = null;
  private stream: {
    onPacket: StreamHandler;
    onEnd: (err: Error | null) => void;
    onBatchEnd: (() => void) | undefined;
    onEvent: ((event: Buffer, seq: number) => void) | undefined;
  } | null = null;
  private onSocketData = (chunk: Buffer): void => this.handleData(chunk);

  private constructor(
    socket: net.Socket | tls.TLSSocket,
    reader: PacketReader,
    greeting: HandshakeV10,
    capabilities: number,
    tlsActive: boolean,
  ) {
    this.socket = socket;
    this.reader = reader;
    this.greeting = greeting;
    this.capabilities = capabilities;
    this.tlsActive = tlsActive;
    this.attach(socket);
  }

  get serverVersion(): string {
    return this.greeting.serverVersion;
  }

  get connectionId(): number {
    return this.greeting.connectionId;
  }

  get isMariaDB(): boolean {
    return /mariadb/i.test(this.greeting.serverVersion);
  }

  /** Connects, negotiates TLS and authenticates. Rejects with UpstreamError (codes below) or MysqlServerError. */
  static async connect(opts: UpstreamConnectOptions): Promise<UpstreamConnection> {
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const handshake = new Handshake(opts);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        handshake.abort();
        reject(new UpstreamError('ERR_UPSTREAM_TIMEOUT', `connecting to ${opts.host}:${opts.port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([handshake.run(), timeout]);
    } catch (err) {
      // Whatever failed (ERR greeting, TLS, authentication, timeout), the socket must not linger.
      handshake.abort();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs one statement with the text protocol and returns its rows as strings. */
  async query(sql: string): Promise<QueryResult> {
    const rs = await this.queryRaw(sql);
    return { columns: rs.columns.map((c) => c.name), rows: textRows(rs), ok: rs.ok };
  }

  async queryRaw(sql: string): Promise<TextResultSet> {
    this.send(encodeComQuery(sql), true);
    const decoder = new TextResultSetDecoder({ capabilities: this.capabilities });
    for (;;) {
      const payload = await this.nextPacket();
      const done = decoder.push(payload);
      if (done) return done;
    }
  }

  /** Sends a command that answers with OK or ERR (COM_REGISTER_SLAVE, COM_PING, ...). */
  async command(payload: Buffer): Promise<OkPacket> {
    this.send(payload, true);
    const reply = await this.nextPacket();
    if (isErrPacket(reply)) throw MysqlServerError.fromPacket(decodeErr(reply));
    return decodeOk(reply, { capabilities: this.capabilities });
  }

  /**
   * Sends a dump command and switches to streaming: every following packet goes to `onPacket` synchronously,
   * in order, as a zero-copy payload. `onEnd` is called once: with null when the stream ended normally (EOF),
   * with the error otherwise (ERR from the server, protocol error, socket closed). See StreamOptions for
   * `onBatchEnd` and `onEvent`.
   */
  startStream(command: Buffer, onPacket: StreamHandler, onEnd: (err: Error | null) => void, opts: StreamOptions = {}): void {
    if (this.waiter) throw new Error('a command is still running on this connection');
    this.stream = { onPacket, onEnd, onBatchEnd: opts.onBatchEnd, onEvent: opts.onEvent };
    this.send(command, true);
    // Packets that arrived before (none are expected) go through the stream handler.
    const pending = this.queue;
    this.queue = [];
    for (const p of pending) this.handleData(p);
  }

  /** Stops reading from the socket (TCP backpressure reaches the primary). */
  pauseStream(): void {
    this.socket.pause();
  }

  resumeStream(): void {
    this.socket.resume();
  }

  /**
   * Semi-sync: the source resets its sequence counter after a packet that asked for an ACK, so the next
   * packet comes with seq 1, and the ACK itself goes out with seq 0 (§5.3).
   */
  expectSequenceAfterAck(): void {
    this.reader.expectSequence(1);
  }

  /** Writes one packet with an explicit sequence id (semi-sync ACKs use 0). */
  writePacket(payload: Buffer, seq: number): void {
    const w = new PacketWriter(seq);
    const frames = w.frame(payload);
    this.writeFrames(frames);
  }

  /** Sends COM_QUIT and closes (waits up to a second for the server to close, then destroys the socket). */
  async close(): Promise<void> {
    if (this.closedError) return;
    this.send(encodeComQuit(), true);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 1000);
      timer.unref();
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }

  /**
   * Closes the socket at once. `err` (if given) is what a running command or stream fails with; otherwise
   * they fail with ERR_UPSTREAM_CLOSED.
   */
  destroy(err?: Error): void {
    if (err) this.fail(err);
    this.socket.destroy();
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  private send(payload: Buffer, newCommand: boolean): void {
    if (this.closedError) throw this.closedError;
    if (newCommand) {
      this.writer.reset(0);
      this.reader.resetSequence();
    }
    this.writeFrames(this.writer.frame(payload));
    if (newCommand) this.reader.expectSequence(this.writer.seq);
  }

  private writeFrames(frames: Buffer[]): void {
    if (frames.length === 1) {
      this.socket.write(frames[0]!);
      return;
    }
    this.socket.cork();
    for (const f of frames) this.socket.write(f);
    this.socket.uncork();
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', this.onSocketData);
    socket.on('error', (err) => this.fail(new UpstreamError('ERR_UPSTREAM_IO', `upstream connection error: ${err.message}`, { cause: err })));
    socket.on('close', () => this.fail(new UpstreamError('ERR_UPSTREAM_CLOSED', 'upstream connection closed')));
  }

  private handleData(chunk: Buffer): void {
    this.reader.push(chunk);
    let streamed = false;
    for (;;) {
      let p;
      try {
        p = this.reader.nextPayload(this.stream?.onEvent !== undefined);
      } catch (err) {
        this.abort(err);
        return;
      }
      if (p === undefined) {
        if (streamed && this.stream?.onBatchEnd) {
          try {
            this.stream.onBatchEnd();
          } catch (err) {
            this.abort(err);
          }
        }
        return;
      }
      if (this.stream) {
        const onEvent = this.stream.onEvent;
        if (onEvent !== undefined && (this.reader.lastDroppedOk || (p.length > 0 && p[0] === 0x00))) {
          try {
            streamed = true;
            // A split (over 16 MiB) event comes with its 0x00.
            onEvent(this.reader.lastDroppedOk ? p : p.subarray(1), this.reader.lastSequence);
          } catch (err) {
            this.abort(err);
            return;
          }
          continue;
        }
        if (p.length > 0 && p[0] === 0xff) {
          const s = this.stream;
          this.stream = null;
          let err: Error;
          try {
            err = MysqlServerError.fromPacket(decodeErr(p));
          } catch (e) {
            err = e as Error;
          }
          s.onEnd(err);
          continue;
        }
        if (p.length > 0 && p[0] === 0xfe && p.length < 9) {
          const s = this.stream;
          this.stream = null;
          s.onEnd(null);
          continue;
        }
        try {
          streamed = true;
          this.stream.onPacket(p, this.reader.lastSequence);
        } catch (err) {
          // The handler refused the packet (bad checksum, malformed event, ...): the stream ends with its error.
          this.abort(err);
          return;
        }
      } else if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w.resolve(p);
      } else {
        this.queue.push(p);
      }
    }
  }

  private nextPacket(): Promise<Buffer> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Ends the connection with `err` (a protocol error, or one a stream handler threw). */
  private abort(err: unknown): void {
    this.fail(err instanceof Error ? err : new Error(String(err)));
    this.socket.destroy();
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    }
    if (this.stream) {
      const s = this.stream;
      this.stream = null;
      s.onEnd(err);
    }
  }

  /** Used by Handshake to hand over the authenticated socket. */
  static fromHandshake(
    socket: net.Socket | tls.TLSSocket,
    reader: PacketReader,
    greeting: HandshakeV10,
    capabilities: number,
    tlsActive: boolean,
    leftover: Buffer[],
  ): UpstreamConnection {
    const c = new UpstreamConnection(socket, reader, greeting, capabilities, tlsActive);
    for (const b of leftover) c.queue.push(b);
    return c;
  }
}

/** The connection phase: greeting → (TLS) → response → auth switch / more data → OK. */
class Handshake {
  private socket: net.Socket | tls.TLSSocket | null = null;
  private readonly reader: PacketReader;
  private readonly packets: Buffer[] = [];
  private waiter: Waiter | null = null;
  private error: Error | null = null;
  private lastSeq = 0;
  private aborted = false;

  constructor(private readonly opts: UpstreamConnectOptions) {
    this.reader = new PacketReader({ maxPacketSize: opts.maxPacketSize ?? 1024 * 1024 * 1024 });
  }

  abort(): void {
    this.aborted = true;
    this.socket?.destroy();
  }

  async run(): Promise<UpstreamConnection> {
    const { host, port } = this.opts;
    const raw = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      s.setNoDelay(true);
      // Without heartbeats (period 0) a dead peer is only noticed by TCP keepalive.
      s.setKeepAlive(true, 15_000);
      const onError = (err: Error): void => {
        reject(new UpstreamError(refusedCode(err), `cannot connect to ${host}:${port}: ${err.message}`, { cause: err }));
      };
      s.once('error', onError);
      s.once('connect', () => {
        s.off('error', onError);
        resolve(s);
      });
      this.socket = s;
    });
    if (this.aborted) raw.destroy();
    this.listen(raw);

    const greetingPayload = await this.next();
    if (isErrPacket(greetingPayload)) throw MysqlServerError.fromPacket(decodeErr(greetingPayload));
    const greeting = decodeHandshakeV10(greetingPayload);
    const tlsOpts = this.opts.tls ?? { mode: 'preferred' as const };
    const serverTls = (greeting.capabilities & CLIENT_SSL) !== 0;
    let caps = UPSTREAM_CLIENT_CAPABILITIES;
    if (this.opts.database) caps |= CLIENT_CONNECT_WITH_DB;
    caps = (caps & greeting.capabilities) >>> 0;
    let seq = this.lastSeq + 1;
    let tlsActive = false;
    if (tlsOpts.mode !== 'disabled' && serverTls) {
      caps = (caps | CLIENT_SSL) >>> 0;
      this.write(encodeSslRequest({ capabilities: caps, maxPacketSize: 1 << 30, charset: UTF8MB4_GENERAL_CI }), seq++);
      await this.upgradeTls(raw, tlsOpts);
      tlsActive = true;
    } else if (tlsOpts.mode === 'required') {
      throw new UpstreamError('ERR_UPSTREAM_TLS', `${host}:${port} does not offer TLS but tls.mode is 'required'`);
    }

    const nonce = greeting.nonce.subarray(0, 20);
    let plugin = greeting.authPluginName ?? MYSQL_NATIVE_PASSWORD;
    if (plugin !== MYSQL_NATIVE_PASSWORD && plugin !== CACHING_SHA2_PASSWORD) plugin = MYSQL_NATIVE_PASSWORD;
    let currentNonce = nonce;
    const response = encodeHandshakeResponse41({
      capabilities: caps,
      maxPacketSize: 1 << 30,
      charset: UTF8MB4_GENERAL_CI,
      user: this.opts.user,
      authResponse: this.scramble(plugin, currentNonce),
      database: this.opts.database ?? null,
      authPluginName: caps & CLIENT_PLUGIN_AUTH ? plugin : null,
      connectAttributes: caps & CLIENT_CONNECT_ATTRS
        ? (this.opts.connectAttributes ?? [['program_name', 'binlog-proxy'], ['_client_role', 'binary_log_listener']])
        : null,
    });
    this.write(response, seq++);

    for (;;) {
      const reply = await this.next();
      seq = this.lastSeq + 1;
      const head = reply[0];
      if (head === 0x00) {
        decodeOk(reply, { capabilities: caps });
        const socket = this.socket!;
        this.unlisten(socket);
        return UpstreamConnection.fromHandshake(socket, this.reader, greeting, caps, tlsActive, this.packets.splice(0));
      }
      if (head === 0xff) {
        const err = MysqlServerError.fromPacket(decodeErr(reply));
        this.socket?.destroy();
        throw err;
      }
      if (head === 0xfe) {
        const sw = decodeAuthSwitchRequest(reply);
        if (sw.pluginName !== MYSQL_NATIVE_PASSWORD && sw.pluginName !== CACHING_SHA2_PASSWORD) {
          this.socket?.destroy();
          throw new UpstreamError('ERR_UPSTREAM_AUTH_PLUGIN', `the server asks for authentication plugin '${sw.pluginName}', which binlog-proxy does not support`);
        }
        plugin = sw.pluginName;
        currentNonce = authDataNonce(sw.data);
        this.write(this.scramble(plugin, currentNonce), seq);
        continue;
      }
      if (head === 0x01) {
        const data = decodeAuthMoreData(reply);
        if (plugin !== CACHING_SHA2_PASSWORD) {
          throw new ProtocolError('ERR_MALFORMED', `unexpected AuthMoreData during ${plugin} authentication`);
        }
        if (data.length === 1 && data[0] === CACHING_SHA2_FAST_AUTH_SUCCESS) continue; // OK follows
        if (data.length === 1 && data[0] === CACHING_SHA2_PERFORM_FULL_AUTHENTICATION) {
          if (tlsActive) {
            this.write(encodeClearPassword(this.opts.password), seq);
          } else if (this.opts.serverPublicKey) {
            this.write(encryptPasswordRsa(this.opts.password, currentNonce, this.opts.serverPublicKey), seq);
          } else {
            this.write(Buffer.from([CACHING_SHA2_REQUEST_PUBLIC_KEY]), seq);
          }
          continue;
        }
        // Anything else is the PEM public key we asked for.
        const pem = data.toString('utf8');
        if (!pem.includes('PUBLIC KEY')) throw new ProtocolError('ERR_MALFORMED', 'AuthMoreData is neither a status byte nor a public key');
        this.write(encryptPasswordRsa(this.opts.password, currentNonce, pem), seq);
        continue;
      }
      throw new ProtocolError('ERR_MALFORMED', `unexpected packet 0x${(head ?? 0).toString(16)} during authentication`);
    }
  }

  private scramble(plugin: string, nonce: Buffer): Buffer {
    if (this.opts.password === '') return Buffer.alloc(0);
    return plugin === CACHING_SHA2_PASSWORD
      ? scrambleCachingSha2(this.opts.password, nonce)
      : scrambleNativePassword(this.opts.password, nonce);
  }

  private async upgradeTls(raw: net.Socket, o: UpstreamTlsOptions): Promise<void> {
    this.unlisten(raw);
    const verify = o.verify ?? o.ca !== undefined;
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        socket: raw,
        // The identity check uses `host` (default 'localhost' when a socket is given): an IP address in
        // mysql_addr must match the certificate's IP SANs, a name its DNS SANs.
        host: this.opts.host,
        servername: o.servername ?? (net.isIP(this.opts.host) ? undefined : this.opts.host),
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        rejectUnauthorized: verify,
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', (err) =>
        reject(new UpstreamError('ERR_UPSTREAM_TLS', `TLS handshake with ${this.opts.host}:${this.opts.port} failed: ${err.message}`, { cause: err })),
      );
    });
    this.socket = secure;
    this.listen(secure);
  }

  private onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    try {
      for (let p = this.reader.next(); p; p = this.reader.next()) {
        this.lastSeq = p.seq;
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(p.payload);
        } else {
          this.packets.push(p.payload);
        }
      }
    } catch (err) {
      this.failWith(err as Error);
    }
  };

  private onError = (err: Error): void => {
    this.failWith(new UpstreamError('ERR_UPSTREAM_IO', `connection to ${this.opts.host}:${this.opts.port} failed: ${err.message}`, { cause: err }));
  };

  private onClose = (): void => {
    this.failWith(new UpstreamError('ERR_UPSTREAM_CLOSED', `${this.opts.host}:${this.opts.port} closed the connection during the handshake`));
  };

  private listen(s: net.Socket | tls.TLSSocket): void {
    s.on('data', this.onData);
    s.on('error', this.onError);
    s.on('close', this.onClose);
  }

  private unlisten(s: net.Socket | tls.TLSSocket): void {
    s.off('data', this.onData);
    s.off('error', this.onError);
    s.off('close', this.onClose);
  }

  private failWith(err: Error): void {
    if (this.error) return;
    this.error = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    }
  }

  private next(): Promise<Buffer> {
    const p = this.packets.shift();
    if (p) return Promise.resolve(p);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private write(payload: Buffer, seq: number): void {
    const w = new PacketWriter(seq);
    const frames = w.frame(payload);
    for (const f of frames) this.socket!.write(f);
    this.reader.expectSequence(w.seq);
  }
}

function refusedCode(err: NodeJS.ErrnoException): 'ERR_UPSTREAM_REFUSED' | 'ERR_UPSTREAM_UNREACHABLE' | 'ERR_UPSTREAM_IO' {
  if (err.code === 'ECONNREFUSED') return 'ERR_UPSTREAM_REFUSED';
  if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
    return 'ERR_UPSTREAM_UNREACHABLE';
  }
  return 'ERR_UPSTREAM_IO';
}
