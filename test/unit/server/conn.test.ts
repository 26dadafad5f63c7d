// PacketConn over a loopback socket pair: reassembly at every split, the shared sequence counter, side
// sequences (semi-sync ACKs), timeouts and aborts, codec errors that leave the socket writable for an ERR.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { framePacket, PacketReader } from '../../../protocol/packet.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { ConnectionClosedError, PacketConn, ReadTimeoutError } from '../../../src/server/conn.js';

const open: net.Socket[] = [];
let server: net.Server | null = null;

afterEach(async () => {
  for (const s of open.splice(0)) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

async function pair(maxPacket = 1024): Promise<{ conn: PacketConn; peer: net.Socket; received: Buffer[] }> {
  const accepted = new Promise<net.Socket>((resolve) => {
    server = net.createServer(resolve);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const port = (server!.address() as net.AddressInfo).port;
  const peer = net.connect({ host: '127.0.0.1', port });
  const s = await accepted;
  open.push(peer, s);
  const received: Buffer[] = [];
  peer.on('data', (c) => received.push(c));
  return { conn: new PacketConn(s, maxPacket), peer, received };
}

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PacketConn', () => {
  it('reassembles packets cut at every offset and keeps one sequence counter for both directions', async () => {
    const { conn, peer, received } = await pair();
    const wire = Buffer.concat([framePacket(Buffer.from('hello'), 0), framePacket(Buffer.from('world!'), 1)]);
    for (let cut = 1; cut < wire.length; cut++) {
      conn.resetSequence();
      const first = conn.read();
      peer.write(wire.subarray(0, cut));
      await tick(2);
      peer.write(wire.subarray(cut));
      expect((await first).payload.toString()).toBe('hello');
      expect((await conn.read()).payload.toString()).toBe('world!');
    }
    expect(conn.seq).toBe(2);
    conn.write(Buffer.from('reply'));
    await tick();
    expect(Buffer.concat(received)).toEqual(framePacket(Buffer.from('reply'), 2));
  });

  it('reads a side sequence without moving the shared counter', async () => {
    const { conn, peer } = await pair();
    conn.seq = 7;
    peer.write(framePacket(Buffer.from([0xef, 1]), 0));
    expect((await conn.read({ sideSequence: 0 })).payload).toEqual(Buffer.from([0xef, 1]));
    expect(conn.seq).toBe(7);
  });

  it('times out, aborts, and reports the close to a waiting read', async () => {
    const { conn, peer } = await pair();
    await expect(conn.read({ timeoutMs: 30 })).rejects.toBeInstanceOf(ReadTimeoutError);
    const ac = new AbortController();
    const p = conn.read({ signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(ConnectionClosedError);
    const q = conn.read();
    peer.destroy();
    await expect(q).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(conn.closed).toBe(true);
    await expect(conn.read()).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('a codec error fails the read but leaves the socket writable for the ERR packet', async () => {
    const { conn, peer, received } = await pair(100);
    peer.write(Buffer.from([200, 0, 0, 0]));
    const err = await conn.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('ERR_PACKET_TOO_LARGE');
    await expect(conn.read()).rejects.toBe(err);
    conn.write(Buffer.from([0xff, 1, 2]));
    conn.end();
    await tick(50);
    expect(Buffer.concat(received)).toEqual(framePacket(Buffer.from([0xff, 1, 2]), 0));
  });

  it('pauses the socket while nobody reads, so unread input stays bounded', async () => {
    const { conn, peer } = await pair(1 << 20);
    // Nobody reads: the client floods.
    const chunk = framePacket(Buffer.alloc(60_000, 1), 0);
    for (let i = 0; i < 200; i++) peer.write(chunk);
    await tick(200);
    expect(conn.socket.isPaused()).toBe(true);
    conn.resetSequence();
    expect((await conn.read()).payload.length).toBe(60_000);
  });

  it('a wait for the socket to drain that ends with the drain leaves no close listener behind (regression: one per wait)', async () => {
    const { conn, peer } = await pair();
    peer.pause();
    const chunk = Buffer.alloc(1 << 20);
    for (let round = 0; round < 20; round++) {
      while (!(conn as unknown as { socket: net.Socket }).socket.writableNeedDrain) conn.writeRaw(chunk);
      const drained = conn.drained(0);
      expect(conn.closeListenerCount).toBe(1);
      peer.resume();
      await drained;
      peer.pause();
      expect(conn.closeListenerCount).toBe(0);
    }
    // A wait the close ends is told too.
    while (!(conn as unknown as { socket: net.Socket }).socket.writableNeedDrain) conn.writeRaw(chunk);
    const waiting = conn.drained(0);
    peer.destroy();
    await waiting;
    expect(conn.closed).toBe(true);
    expect(conn.closeListenerCount).toBe(0);
  });

  it('switches the size limit after login, carrying over unread input', async () => {
    const { conn, peer } = await pair(10);
    peer.write(framePacket(Buffer.alloc(50, 2), 0));
    await tick();
    conn.setMaxPacketSize(100);
    expect((await conn.read()).payload.length).toBe(50);
  });
});

describe('PacketReader.takeQueued (added for the TLS upgrade and the post-login size limit)', () => {
  it('hands over exactly the unread bytes, from any chunk layout', () => {
    const wire = Buffer.concat([framePacket(Buffer.from('ab'), 1), Buffer.from('TLS-CLIENT-HELLO')]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const r = new PacketReader();
      r.expectSequence(1);
      r.push(wire.subarray(0, cut));
      r.push(wire.subarray(cut));
      expect(r.next()!.payload.toString()).toBe('ab');
      expect(r.takeQueued().toString()).toBe('TLS-CLIENT-HELLO');
      expect(r.bufferedBytes).toBe(0);
      expect(r.takeQueued().length).toBe(0);
    }
  });

  it('refuses while a split packet is half assembled', () => {
    const r = new PacketReader();
    r.push(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0]), Buffer.alloc(0xffffff)]));
    expect(r.next()).toBeUndefined();
    expect(() => r.takeQueued()).toThrow(ProtocolError);
  });
});
