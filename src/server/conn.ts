/**
 * The one adapter between a client socket and the packet codec: a pull-style packet reader with bounded
 * buffering (the socket is paused while unread input exceeds the packet limit), one sequence-id counter
 * shared by both directions (the server's reply continues the client's numbering, §1.1), framed writes
 * with backpressure accounting, the in-place TLS upgrade after an SSLRequest, and close/timeout handling.
 * It knows nothing about commands or authentication (session.ts does).
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { encodePacket, frameEventPacket, physicalPacketCount, PacketReader, type Packet } from '../../protocol/packet.js';
import { BinlogProxyError } from '../../protocol/errors.js';

/** The connection closed (by the peer, by us, or after an error) while a read was waiting. */
export class ConnectionClosedError extends BinlogProxyError {
  constructor(message = 'connection closed') {
    super('ERR_CONNECTION_CLOSED', message);
  }
}

/** No packet arrived within the allowed time. */
export class ReadTimeoutError extends BinlogProxyError {
  constructor(ms: number) {
    super('ERR_READ_TIMEOUT', `no packet within ${ms} ms`);
  }
}

export interface ReadOptions {
  /** Milliseconds to wait for a complete packet (0 or absent: no limit). */
  timeoutMs?: number;
  /** Ends the wait with an AbortError-like ConnectionClosedError('aborted'). */
  signal?: AbortSignal;
  /**
   * Expect this sequence id and leave the shared counter alone (semi-sync ACKs arrive with seq 0 in the
   * middle of a dump whose own packets keep counting).
   */
  sideSequence?: number;
}

interface Waiter {
  resolve: (p: Packet) => void;
  reject: (err: unknown) => void;
  opts: ReadOptions;
  timer: NodeJS.Timeout | null;
  onAbort: (() => void) | null;
}

export class PacketConn {
  socket: Socket;
  private reader: PacketReader;
  /** Next sequence id: expected on the next read, used by the next write. */
  seq = 0;
  private waiter: Waiter | null = null;
  private failure: unknown = null;
  private readFailure: unknown = null;
  private closedFlag = false;
  private readonly closeListeners = new Set<(err: unknown) => void>();
  private readonly onData = (chunk: Buffer): void => this.handleData(chunk);
  private readonly onEnd = (): void => this.fail(new ConnectionClosedError('connection closed by the client'));
  private readonly onError = (err: Error): void => this.fail(new ConnectionClosedError(`socket error: ${err.message}`));
  private readonly onClose = (): void => this.fail(new ConnectionClosedError());
  /** Bytes written to the socket so far (frames included). */
  bytesWritten = 0;

  constructor(socket: Socket, maxPacketSize: number) {
    this.socket = socket;
    this.reader = new PacketReader({ maxPacketSize });
    this.attach(socket);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get encrypted(): boolean {
    return this.socket instanceof TLSSocket;
  }

  /** Bytes queued in the socket's user-space write buffer. */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('error', this.onError);
    s.on('close', this.onClose);
  }

  private detach(s: Socket): void {
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('error', this.onError);
    s.off('close', this.onClose);
  }

  /**
   * Calls `fn` once when the connection closes or fails; the function returned takes it back (a wait that
   * ended another way must, or a long dump's every wait for the socket would stay registered until it closes).
   */
  onClosed(fn: (err: unknown) => void): () => void {
    if (this.closedFlag) {
      fn(this.failure);
      return () => undefined;
    }
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  /** Listeners waiting for the close (for tests). */
  get closeListenerCount(): number {
    return this.closeListeners.size;
  }

  private handleData(chunk: Buffer): void {
    this.reader.push(chunk);
    this.pump();
  }

  /** Delivers a packet to the waiting reader, or pauses the socket when too much is buffered. */
  private pump(): void {
    const w = this.waiter;
    if (w) {
      let packet: Packet | undefined;
      try {
        packet = this.reader.next();
      } catch (err) {
        // A codec error (bad sequence id, oversized packet): nothing more can be read. The socket stays
        // open so that the session can answer with an ERR packet before it closes the connection.
        this.finishWaiter();
        this.readFailure = err;
        this.socket.pause();
        w.reject(err);
        return;
      }
      if (packet) {
        this.finishWaiter();
        if (w.opts.sideSequence === undefined) this.seq = (packet.seq + 1) & 0xff;
        w.resolve(packet);
        return;
      }
      if (this.socket.isPaused()) this.socket.resume();
      return;
    }
    // Nobody reads: keep at most a little input (a client may not send ahead of our replies).
    if (this.reader.bufferedBytes > 0 && !this.socket.isPaused()) this.socket.pause();
  }

  private finishWaiter(): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = null;
    if (w.timer) clearTimeout(w.timer);
    if (w.onAbort && w.opts.signal) w.opts.signal.removeEventListener('abort', w.onAbort);
  }

  /** The next complete packet. Rejects on close, on a codec error (ProtocolError), on timeout or abort. */
  read(opts: ReadOptions = {}): Promise<Packet> {
    if (this.closedFlag) return Promise.reject(this.failure ?? new ConnectionClosedError());
    if (this.readFailure) return Promise.reject(this.readFailure);
    if (this.waiter) return Promise.reject(new Error('PacketConn.read: a read is already pending'));
    if (opts.signal?.aborted) return Promise.reject(new ConnectionClosedError('aborted'));
    return new Promise<Packet>((resolve, reject) => {
      const w: Waiter = { resolve, reject, opts, timer: null, onAbort: null };
      this.waiter = w;
      // Set once per logical packet: a packet split into 16 MiB chunks may arrive over several data events,
      // and the reader must keep counting through its continuations.
      this.reader.expectSequence(opts.sideSequence ?? this.seq);
      if (opts.timeoutMs && opts.timeoutMs > 0) {
        const ms = opts.timeoutMs;
        w.timer = setTimeout(() => {
          this.finishWaiter();
          reject(new ReadTimeoutError(ms));
        }, ms);
      }
      if (opts.signal) {
        w.onAbort = (): void => {
          this.finishWaiter();
          reject(new ConnectionClosedError('aborted'));
        };
        opts.signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.pump();
    });
  }

  /** Starts a new command: the client's next packet is seq 0. */
  resetSequence(): void {
    this.seq = 0;
  }

  /** Writes one logical packet with the current sequence id(s). */
  write(payload: Buffer): void {
    if (this.closedFlag) return;
    const { frames, nextSeq } = encodePacket(payload, this.seq);
    this.seq = nextSeq;
    this.writeFrames(frames);
  }

  /** Writes several logical packets in one corked burst (a result set). */
  writeAll(payloads: readonly Buffer[]): void {
    if (this.closedFlag) return;
    this.socket.cork();
    for (const p of payloads) this.write(p);
    this.socket.uncork();
  }

  /** Writes a binlog event as a dump packet ([0x00] or [0x00][0xEF][flag] prefix) and advances seq. */
  writeEvent(event: Buffer, semiSync?: { needAck: boolean }): void {
    if (this.closedFlag) return;
    const frames = frameEventPacket(event, this.seq, semiSync);
    this.seq = (this.seq + physicalPacketCount((semiSync ? 3 : 1) + event.length)) & 0xff;
    this.writeFrames(frames);
  }

  /**
   * Writes bytes that are already whole framed packets (the dump output's coalesced buffer, which advanced
   * `seq` itself while framing). The buffer must not be modified until `onWritten` (the socket's write
   * callback: the kernel has the bytes, or the write failed) has been called.
   */
  writeRaw(framed: Buffer, onWritten?: () => void): void {
    if (this.closedFlag) return;
    this.bytesWritten += framed.length;
    if (onWritten === undefined) this.socket.write(framed);
    else this.socket.write(framed, onWritten);
  }

  private writeFrames(frames: Buffer[]): void {
    if (frames.length === 1) {
      this.bytesWritten += frames[0]!.length;
      this.socket.write(frames[0]!);
      return;
    }
    this.socket.cork();
    for (const f of frames) {
      this.bytesWritten += f.length;
      this.socket.write(f);
    }
    this.socket.uncork();
  }

  /** Resolves once the socket's write buffer is at most `below` bytes, or the connection closed. */
  drained(below: number, signal?: AbortSignal): Promise<void> {
    if (this.closedFlag || this.socket.writableLength <= below || signal?.aborted) return Promise.resolve();
    // No 'drain' will come unless a write was refused: the buffer is under the socket's own mark.
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let offClosed: (() => void) | null = null;
      const done = (): void => {
        this.socket.off('drain', check);
        signal?.removeEventListener('abort', done);
        offClosed?.();
        resolve();
      };
      const check = (): void => {
        if (this.closedFlag || this.socket.writableLength <= below) done();
      };
      this.socket.on('drain', check);
      signal?.addEventListener('abort', done, { once: true });
      offClosed = this.onClosed(done);
    });
  }

  /** Replaces the reader by one with another size limit, carrying over unread input. */
  setMaxPacketSize(maxPacketSize: number): void {
    const rest = this.reader.takeQueued();
    this.reader = new PacketReader({ maxPacketSize });
    if (rest.length > 0) this.reader.push(rest);
  }

  /**
   * Server-side TLS upgrade right after an SSLRequest. Input already read past the SSLRequest (the start of
   * the ClientHello) is handed back to the socket before the TLS layer takes it over.
   */
  async upgradeToTls(secureContext: SecureContext, timeoutMs: number): Promise<void> {
    if (this.closedFlag) throw this.failure ?? new ConnectionClosedError();
    const raw = this.socket;
    this.detach(raw);
    raw.pause();
    const rest = this.reader.takeQueued();
    if (rest.length > 0) raw.unshift(rest);
    const secure = new TLSSocket(raw, { isServer: true, secureContext, requestCert: false });
    // Keep errors of the raw socket observed: the TLS socket reports them too.
    raw.on('error', () => undefined);
    this.socket = secure;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new ConnectionClosedError(`TLS handshake did not finish within ${timeoutMs} ms`)), timeoutMs);
      const finish = (err?: unknown): void => {
        clearTimeout(timer);
        secure.off('secure', onSecure);
        secure.off('error', onErr);
        secure.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onSecure = (): void => finish();
      const onErr = (err: Error): void => finish(new ConnectionClosedError(`TLS handshake failed: ${err.message}`));
      const onClose = (): void => finish(new ConnectionClosedError('connection closed during the TLS handshake'));
      secure.once('secure', onSecure);
      secure.once('error', onErr);
      secure.once('close', onClose);
    }).catch((err: unknown) => {
      this.fail(err);
      throw err;
    });
    this.attach(secure);
  }

  /** Flushes what was written, then closes. */
  end(): void {
    if (this.closedFlag) return;
    this.socket.end();
    // A client that never reads could keep a half-closed socket forever.
    const s = this.socket;
    setTimeout(() => s.destroy(), 5000).unref();
    this.fail(new ConnectionClosedError('connection closed by the server'));
  }

  /** Closes at once, dropping unsent output. */
  destroy(reason = 'connection closed by the server'): void {
    this.socket.destroy();
    this.fail(new ConnectionClosedError(reason));
  }

  private fail(err: unknown): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.failure = err;
    const w = this.waiter;
    if (w) {
      this.finishWaiter();
      w.reject(err);
    }
    if (!this.socket.destroyed && !this.socket.writableEnded) {
      // Let queued output (an ERR packet) go, then close.
      this.socket.end();
      const s = this.socket;
      setTimeout(() => s.destroy(), 5000).unref();
    }
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const fn of listeners) fn(err);
  }
}
