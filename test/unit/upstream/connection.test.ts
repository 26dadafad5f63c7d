/**
 * UpstreamConnection against a scripted in-process server (loopback socket, our own codecs on the server
 * side): both auth plugins (fast path, RSA full authentication with a requested or configured key, full
 * authentication over TLS), auth switch, errors, and the dump stream (events over 16 MiB, ERR/EOF endings,
 * semi-sync sequence reset, backpressure).
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cachingSha2Stage2,
  decodeClearPassword,
  decryptPasswordRsa,
  nativePasswordHash,
  verifyCachingSha2,
  verifyNativePassword,
} from '../../../protocol/auth.js';
import { decodeComBinlogDump, decodeSemiSyncAck, encodeComBinlogDump } from '../../../protocol/commands.js';
import {
  CACHING_SHA2_FAST_AUTH_SUCCESS,
  CACHING_SHA2_PASSWORD,
  CACHING_SHA2_PERFORM_FULL_AUTHENTICATION,
  CACHING_SHA2_REQUEST_PUBLIC_KEY,
  CLIENT_SSL,
  COM_QUERY,
  COM_REGISTER_SLAVE,
  MYSQL_NATIVE_PASSWORD,
} from '../../../protocol/constants.js';
import { encodeEof, encodeErr, encodeOk, MysqlServerError } from '../../../protocol/generic.js';
import {
  decodeHandshakeResponse41,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
  encodeHandshakeV10,
  isSslRequest,
  MYSQL_SERVER_CAPABILITIES,
} from '../../../protocol/handshake.js';
import { encodePacket, frameEventPacket } from '../../../protocol/packet.js';
import { encodeTextResultSet, stringColumn } from '../../../protocol/resultset.js';
import { UpstreamConnection, type UpstreamConnectOptions } from '../../../src/upstream/connection.js';

/**
 * One server-side connection: read packets (with their seq), write packets with explicit seqs. It parses
 * frames itself so that, when the client starts TLS, the bytes after the SSLRequest (the ClientHello) can be
 * handed back to the socket for the TLS layer.
 */
class ServerSide {
  private buf = Buffer.alloc(0);
  private readonly queue: Array<{ seq: number; payload: Buffer }> = [];
  private waiter: ((p: { seq: number; payload: Buffer }) => void) | null = null;
  /** Stop after this many packets (the rest stays in `buf`). */
  private holdAfter = Infinity;
  private onData = (d: Buffer): void => {
    this.buf = Buffer.concat([this.buf, d]);
    this.drain();
  };

  constructor(public socket: net.Socket | tls.TLSSocket) {
    socket.on('data', this.onData);
    socket.on('error', () => undefined);
  }

  private drain(): void {
    while (this.holdAfter > 0 && this.buf.length >= 4) {
      const len = this.buf.readUIntLE(0, 3);
      if (this.buf.length < 4 + len) return;
      const p = { seq: this.buf[3]!, payload: this.buf.subarray(4, 4 + len) };
      this.buf = this.buf.subarray(4 + len);
      this.holdAfter--;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(p);
      } else this.queue.push(p);
    }
  }

  /** Reads exactly one more packet and leaves anything after it unparsed (for a TLS upgrade). */
  readLast(): Promise<{ seq: number; payload: Buffer }> {
    this.holdAfter = 1;
    return this.read();
  }

  read(): Promise<{ seq: number; payload: Buffer }> {
    const p = this.queue.shift();
    if (p) return Promise.resolve(p);
    this.drain();
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  write(payload: Buffer, seq: number): void {
    for (const f of encodePacket(payload, seq).frames) this.socket.write(f);
  }

  writeRaw(frames: Buffer[]): void {
    for (const f of frames) this.socket.write(f);
  }

  async startTls(key: string, cert: string): Promise<void> {
    const raw = this.socket;
    raw.pause();
    raw.off('data', this.onData);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    const secure = new tls.TLSSocket(raw, { isServer: true, key, cert });
    if (rest.length > 0) raw.unshift(rest);
    raw.resume();
    await new Promise<void>((resolve) => secure.once('secure', () => resolve()));
    this.socket = secure;
    this.holdAfter = Infinity;
    secure.on('data', this.onData);
    secure.on('error', () => undefined);
  }
}

type Script = (s: ServerSide, nonce: Buffer) => Promise<void>;

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
/** Failures inside server scripts (an expectation on what the client sent); checked after each test. */
const scriptErrors: unknown[] = [];

async function serve(script: Script, opts: { plugin?: string; tls?: boolean; version?: string } = {}): Promise<number> {
  const server = net.createServer((sock) => {
    sockets.add(sock);
    const s = new ServerSide(sock);
    const nonce = randomBytes(20);
    const caps = opts.tls ? MYSQL_SERVER_CAPABILITIES | CLIENT_SSL : MYSQL_SERVER_CAPABILITIES;
    s.write(
      encodeHandshakeV10({
        serverVersion: opts.version ?? '8.0.45',
        connectionId: 7,
        nonce,
        capabilities: caps >>> 0,
        charset: 45,
        statusFlags: 2,
        authPluginName: opts.plugin ?? MYSQL_NATIVE_PASSWORD,
      }),
      0,
    );
    void script(s, nonce).catch((err: unknown) => {
      scriptErrors.push(err);
      sock.destroy();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

const PASSWORD = 'sekret-pw';
const okPacket = (): Buffer => encodeOk({ statusFlags: 2 }, { capabilities: MYSQL_SERVER_CAPABILITIES });

function options(port: number, over: Partial<UpstreamConnectOptions> = {}): UpstreamConnectOptions {
  return { host: '127.0.0.1', port, user: 'repl', password: PASSWORD, connectTimeoutMs: 3000, tls: { mode: 'disabled' }, ...over };
}

/** Native-password login, checking the scramble. */
async function nativeLogin(s: ServerSide, nonce: Buffer): Promise<void> {
  const hr = await s.read();
  const resp = decodeHandshakeResponse41(hr.payload);
  expect(resp.user).toBe('repl');
  if (!verifyNativePassword(resp.authResponse, nonce, nativePasswordHash(PASSWORD))) {
    s.write(encodeErr({ code: 1045, sqlState: '28000', message: "Access denied for user 'repl'" }), hr.seq + 1);
    return;
  }
  s.write(okPacket(), hr.seq + 1);
}

let rsa: { publicKey: string; privateKey: string };
let certDir: string;
let cert: { key: string; cert: string };

beforeAll(() => {
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  certDir = mkdtempSync(path.join(tmpdir(), 'bp-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  cert = { key: readFileSync(path.join(certDir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(certDir, 'cert.pem'), 'utf8') };
});

afterEach(() => {
  const errs = scriptErrors.splice(0);
  if (errs.length > 0) throw errs[0];
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  rmSync(certDir, { recursive: true, force: true });
});

describe('UpstreamConnection: authentication', () => {
  it('mysql_native_password, then a query with rows and a command answered by OK and by ERR', async () => {
    const port = await serve(async (s, nonce) => {
      await nativeLogin(s, nonce);
      const q = await s.read();
      expect(q.payload[0]).toBe(COM_QUERY);
      expect(q.payload.subarray(1).toString()).toBe('SELECT @@GLOBAL.server_id');
      encodeTextResultSet({ columns: [stringColumn('@@GLOBAL.server_id')], rows: [['1']] }, { capabilities: MYSQL_SERVER_CAPABILITIES }).forEach((p, i) =>
        s.write(p, q.seq + 1 + i),
      );
      const c1 = await s.read();
      expect(c1.payload[0]).toBe(COM_REGISTER_SLAVE);
      s.write(okPacket(), 1);
      const c2 = await s.read();
      s.write(encodeErr({ code: 1227, sqlState: '42000', message: 'Access denied; you need the REPLICATION SLAVE privilege' }), c2.seq + 1);
    });
    const c = await UpstreamConnection.connect(options(port));
    expect(c.serverVersion).toBe('8.0.45');
    expect(c.isMariaDB).toBe(false);
    expect(await c.query('SELECT @@GLOBAL.server_id')).toMatchObject({ columns: ['@@GLOBAL.server_id'], rows: [['1']] });
    await expect(c.command(Buffer.from([COM_REGISTER_SLAVE, 1, 0, 0, 0]))).resolves.toMatchObject({ statusFlags: 2 });
    await expect(c.command(Buffer.from([COM_REGISTER_SLAVE]))).rejects.toMatchObject({ errno: 1227 });
    c.destroy();
  });

  it('a wrong password is a MysqlServerError 1045', async () => {
    const port = await serve(nativeLogin);
    const err = await UpstreamConnection.connect(options(port, { password: 'wrong' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MysqlServerError);
    expect(err).toMatchObject({ errno: 1045 });
  });

  it('caching_sha2_password fast path', async () => {
    const port = await serve(
      async (s, nonce) => {
        const hr = await s.read();
        const resp = decodeHandshakeResponse41(hr.payload);
        expect(resp.authPluginName).toBe(CACHING_SHA2_PASSWORD);
        expect(verifyCachingSha2(resp.authResponse, nonce, cachingSha2Stage2(PASSWORD))).toBe(true);
        s.write(encodeAuthMoreData(Buffer.from([CACHING_SHA2_FAST_AUTH_SUCCESS])), hr.seq + 1);
        s.write(okPacket(), hr.seq + 2);
      },
      { plugin: CACHING_SHA2_PASSWORD },
    );
    const c = await UpstreamConnection.connect(options(port));
    c.destroy();
  });

  for (const withKey of [false, true]) {
    it(`caching_sha2_password full authentication with RSA (${withKey ? 'configured key' : 'key requested from the server'})`, async () => {
      const port = await serve(
        async (s, nonce) => {
          const hr = await s.read();
          s.write(encodeAuthMoreData(Buffer.from([CACHING_SHA2_PERFORM_FULL_AUTHENTICATION])), hr.seq + 1);
          let r = await s.read();
          if (!withKey) {
            expect([...r.payload]).toEqual([CACHING_SHA2_REQUEST_PUBLIC_KEY]);
            s.write(encodeAuthMoreData(Buffer.from(rsa.publicKey)), r.seq + 1);
            r = await s.read();
          }
          const clear = decryptPasswordRsa(r.payload, nonce, rsa.privateKey);
          expect(clear.toString()).toBe(PASSWORD);
          s.write(okPacket(), r.seq + 1);
        },
        { plugin: CACHING_SHA2_PASSWORD },
      );
      const c = await UpstreamConnection.connect(options(port, withKey ? { serverPublicKey: rsa.publicKey } : {}));
      c.destroy();
    });
  }

  it('caching_sha2_password full authentication over TLS sends the clear password', async () => {
    const port = await serve(
      async (s) => {
        const ssl = await s.readLast();
        expect(isSslRequest(ssl.payload)).toBe(true);
        await s.startTls(cert.key, cert.cert);
        const hr = await s.read();
        expect(hr.seq).toBe(2);
        s.write(encodeAuthMoreData(Buffer.from([CACHING_SHA2_PERFORM_FULL_AUTHENTICATION])), hr.seq + 1);
        const r = await s.read();
        expect(decodeClearPassword(r.payload).toString()).toBe(PASSWORD);
        s.write(okPacket(), r.seq + 1);
      },
      { plugin: CACHING_SHA2_PASSWORD, tls: true },
    );
    const c = await UpstreamConnection.connect(options(port, { tls: { mode: 'required' } }));
    expect(c.tlsActive).toBe(true);
    c.destroy();
  });

  it("tls.mode 'required' against a server without TLS fails clearly", async () => {
    const port = await serve(nativeLogin);
    await expect(UpstreamConnection.connect(options(port, { tls: { mode: 'required' } }))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_TLS' });
  });

  it('follows an auth switch to mysql_native_password', async () => {
    const port = await serve(
      async (s) => {
        const hr = await s.read();
        const nonce2 = randomBytes(20);
        s.write(encodeAuthSwitchRequest({ pluginName: MYSQL_NATIVE_PASSWORD, data: Buffer.concat([nonce2, Buffer.from([0])]) }), hr.seq + 1);
        const r = await s.read();
        expect(verifyNativePassword(r.payload, nonce2, nativePasswordHash(PASSWORD))).toBe(true);
        s.write(okPacket(), r.seq + 1);
      },
      { plugin: CACHING_SHA2_PASSWORD },
    );
    const c = await UpstreamConnection.connect(options(port));
    c.destroy();
  });

  it('an auth switch to a plugin it cannot do (client_ed25519) is a clear error', async () => {
    const port = await serve(async (s) => {
      const hr = await s.read();
      s.write(encodeAuthSwitchRequest({ pluginName: 'client_ed25519', data: randomBytes(32) }), hr.seq + 1);
    });
    await expect(UpstreamConnection.connect(options(port))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_AUTH_PLUGIN' });
  });

  it('refused and silent servers', async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    await expect(UpstreamConnection.connect(options(port))).rejects.toMatchObject({ code: 'ERR_UPSTREAM_REFUSED' });

    const silent = net.createServer((sock) => sockets.add(sock));
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const t0 = Date.now();
    await expect(UpstreamConnection.connect(options((silent.address() as net.AddressInfo).port, { connectTimeoutMs: 300 }))).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_TIMEOUT',
    });
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

function fakeEvent(size: number, fill: number): Buffer {
  const e = Buffer.alloc(size, fill);
  e.writeUInt32LE(size, 9);
  return e;
}

describe('UpstreamConnection: dump stream', () => {
  it('delivers events verbatim, an event over 16 MiB in one payload, and ends with the ERR the server sends', async () => {
    const big = fakeEvent(17 * 1024 * 1024, 0x42);
    const small = fakeEvent(40, 0x11);
    const port = await serve(async (s, nonce) => {
      await nativeLogin(s, nonce);
      const d = await s.read();
      expect(decodeComBinlogDump(d.payload)).toMatchObject({ fileName: 'bin.000001', position: 4 });
      let seq = 1;
      s.writeRaw(frameEventPacket(small, seq));
      seq += 1;
      s.writeRaw(frameEventPacket(big, seq));
      seq += 2;
      s.writeRaw(frameEventPacket(small, seq));
      seq += 1;
      s.write(encodeErr({ code: 1236, message: 'Could not find first log file name in binary log index file' }), seq);
    });
    const c = await UpstreamConnection.connect(options(port));
    const got: Buffer[] = [];
    const end = await new Promise<Error | null>((resolve) => {
      c.startStream(
        encodeComBinlogDump({ position: 4, flags: 0, serverId: 9, fileName: 'bin.000001' }),
        (p) => got.push(Buffer.from(p)),
        resolve,
      );
    });
    expect(got.map((p) => p.length)).toEqual([41, big.length + 1, 41]);
    expect(got[1]!.subarray(1).equals(big)).toBe(true);
    expect(end).toBeInstanceOf(MysqlServerError);
    expect(end).toMatchObject({ errno: 1236 });
    c.destroy();
  });

  it('onBatchEnd follows the packets of each socket read; what it throws ends the stream with that error', async () => {
    let release: () => void = () => undefined;
    const second = new Promise<void>((r) => (release = r));
    const port = await serve(async (s, nonce) => {
      await nativeLogin(s, nonce);
      await s.read();
      // Two packets in one write, a pause until the client saw them, then one more.
      s.writeRaw([Buffer.concat([...frameEventPacket(fakeEvent(30, 1), 1), ...frameEventPacket(fakeEvent(30, 2), 2)])]);
      await second;
      s.writeRaw(frameEventPacket(fakeEvent(30, 3), 3));
    });
    const c = await UpstreamConnection.connect(options(port));
    const log: string[] = [];
    const end = await new Promise<Error | null>((resolve) => {
      c.startStream(
        encodeComBinlogDump({ position: 4, flags: 0, serverId: 9, fileName: 'bin.000001' }),
        (p) => log.push(`packet ${p[1 + 19]}`),
        resolve,
        {
          onBatchEnd: () => {
            log.push('batch end');
            if (log.length === 3) release();
            else throw new Error('refused at the end of the read');
          },
        },
      );
    });
    expect(log).toEqual(['packet 1', 'packet 2', 'batch end', 'packet 3', 'batch end']);
    expect(end).toMatchObject({ message: 'refused at the end of the read' });
    expect(c.closed).toBe(true);
  });

  it('onEvent: event packets arrive without their 0x00 (a split one too); ERR still ends the stream', async () => {
    const big = fakeEvent(17 * 1024 * 1024, 0x42);
    const small = fakeEvent(40, 0x11);
    const port = await serve(async (s, nonce) => {
      await nativeLogin(s, nonce);
      await s.read();
      s.writeRaw(frameEventPacket(small, 1));
      s.writeRaw(frameEventPacket(big, 2));
      s.writeRaw(frameEventPacket(small, 4));
      s.write(encodeErr({ code: 1236, message: 'gone' }), 5);
    });
    const c = await UpstreamConnection.connect(options(port));
    const events: Buffer[] = [];
    const packets: Buffer[] = [];
    const end = await new Promise<Error | null>((resolve) => {
      c.startStream(
        encodeComBinlogDump({ position: 4, flags: 0, serverId: 9, fileName: 'bin.000001' }),
        (p) => packets.push(Buffer.from(p)),
        resolve,
        { onEvent: (e) => events.push(Buffer.from(e)) },
      );
    });
    expect(packets).toEqual([]);
    expect(events.map((e) => e.length)).toEqual([small.length, big.length, small.length]);
    expect(events[0]!.equals(small) && events[1]!.equals(big) && events[2]!.equals(small)).toBe(true);
    expect(end).toMatchObject({ errno: 1236 });
    c.destroy();
  });

  it('ends with null on the EOF packet of a non-blocking dump', async () => {
    const port = await serve(async (s, nonce) => {
      await nativeLogin(s, nonce);
      await s.read();
      s.writeRaw(frameEventPacket(fakeEvent(30, 1), 1));
      s.write(encodeEof(), 2);
    });
    const c = await UpstreamConnection.connect(options(port));
    const end = await new Promise<Error | null>((resolve) => c.startStream(encodeComBinlogDump({ position: 4, flags: 1, serverId: 0, fileName: '' }), () => undefined, resolve));
    expect(end).toBeNull();
    c.destroy();
  });

  it('semi-sync: after a packet that asks for an ACK the next one has seq 1; the ACK goes out with seq 0', async () => {
    let ackSeen: { seq: number; payload: Buffer } | null = null;
    const port = await serve(async (s, nonce) => {
      await nativeLogin(s, nonce);
      await s.read();
      s.writeRaw(frameEventPacket(fakeEvent(30, 1), 1, { needAck: false }));
      s.writeRaw(frameEventPacket(fakeEvent(30, 2), 2, { needAck: true }));
      // The source resets its counter after the flagged packet, whatever the replica does.
      s.writeRaw(frameEventPacket(fakeEvent(30, 3), 1, { needAck: false }));
      s.writeRaw(frameEventPacket(fakeEvent(30, 4), 2, { needAck: true }));
      ackSeen = await s.read();
      s.writeRaw(frameEventPacket(fakeEvent(30, 5), 1, { needAck: false }));
      s.socket.end();
    });
    const c = await UpstreamConnection.connect(options(port));
    const got: number[] = [];
    const end = await new Promise<Error | null>((resolve) => {
      c.startStream(
        encodeComBinlogDump({ position: 4, flags: 0, serverId: 9, fileName: 'bin.000001' }),
        (p) => {
          got.push(p[3 + 20]!);
          if (p[2] === 1) {
            c.expectSequenceAfterAck();
            if (got.length === 4) c.writePacket(Buffer.concat([Buffer.from([0xef]), Buffer.alloc(8), Buffer.from('bin.000001')]), 0);
          }
        },
        resolve,
      );
    });
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(end).toMatchObject({ code: 'ERR_UPSTREAM_CLOSED' });
    expect(ackSeen).not.toBeNull();
    expect(ackSeen!.seq).toBe(0);
    expect(decodeSemiSyncAck(ackSeen!.payload)).toEqual({ position: 0n, fileName: 'bin.000001' });
  });

  it('a sequence id out of order ends the stream with a protocol error', async () => {
    const port = await serve(async (s, nonce) => {
      await nativeLogin(s, nonce);
      await s.read();
      s.writeRaw(frameEventPacket(fakeEvent(30, 1), 1));
      s.writeRaw(frameEventPacket(fakeEvent(30, 1), 5));
    });
    const c = await UpstreamConnection.connect(options(port));
    const end = await new Promise<Error | null>((resolve) => c.startStream(encodeComBinlogDump({ position: 4, flags: 0, serverId: 9, fileName: '' }), () => undefined, resolve));
    expect(end).toMatchObject({ code: 'ERR_PACKET_SEQUENCE' });
    expect(c.closed).toBe(true);
  });

  it('pauseStream stops reading (TCP backpressure) until resumeStream', async () => {
    const port = await serve(async (s, nonce) => {
      await nativeLogin(s, nonce);
      await s.read();
      let seq = 1;
      for (let i = 0; i < 2000; i++) {
        s.writeRaw(frameEventPacket(fakeEvent(16 * 1024, i & 0xff), seq));
        seq = (seq + 1) & 0xff;
      }
      s.socket.end();
    });
    const c = await UpstreamConnection.connect(options(port));
    let n = 0;
    let pausedAt = -1;
    const end = new Promise<Error | null>((resolve) =>
      c.startStream(
        encodeComBinlogDump({ position: 4, flags: 0, serverId: 9, fileName: '' }),
        () => {
          n++;
          if (n === 10) {
            pausedAt = n;
            c.pauseStream();
          }
        },
        resolve,
      ),
    );
    const deadline = Date.now() + 5000;
    while (pausedAt < 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    const whilePaused = n;
    await new Promise((r) => setTimeout(r, 200));
    // Nothing more is delivered while paused, beyond what had been read before the pause: far from all 2000.
    expect(n).toBe(whilePaused);
    expect(n).toBeLessThan(2000);
    expect(pausedAt).toBe(10);
    c.resumeStream();
    await end;
    expect(n).toBe(2000);
  });
});
