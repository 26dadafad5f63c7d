import { describe, it, expect } from 'vitest';
import {
  PacketReader,
  PacketWriter,
  encodePacket,
  framePacket,
  frameEventPacket,
  physicalPacketCount,
  type Packet,
} from '../../../protocol/packet.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { prng } from '../../helpers/prng.js';

const MAX = 0xffffff;

/** Frames payloads by hand (independently of encodePacket): header = int<3> length + seq. */
function handFrame(payloads: Buffer[], startSeq = 0): { stream: Buffer; lastSeqs: number[] } {
  const parts: Buffer[] = [];
  const lastSeqs: number[] = [];
  let seq = startSeq;
  for (const p of payloads) {
    let off = 0;
    for (;;) {
      const n = Math.min(MAX, p.length - off);
      parts.push(Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, seq & 0xff]));
      parts.push(p.subarray(off, off + n));
      seq = (seq + 1) & 0xff;
      off += n;
      if (n < MAX) break;
    }
    lastSeqs.push((seq - 1) & 0xff);
  }
  return { stream: Buffer.concat(parts), lastSeqs };
}

/** A payload whose bytes depend on their position and a tag, so that misplaced bytes are detected. */
function patterned(length: number, tag: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + tag * 7 + (i >> 8)) & 0xff;
  return b;
}

function drain(reader: PacketReader): Packet[] {
  const out: Packet[] = [];
  for (let p = reader.next(); p; p = reader.next()) out.push(p);
  return out;
}

function feedCuts(stream: Buffer, cuts: number[], opts?: ConstructorParameters<typeof PacketReader>[0], viaPayload = false): Packet[] {
  const reader = new PacketReader(opts);
  const out: Packet[] = [];
  let prev = 0;
  for (const c of [...cuts, stream.length]) {
    reader.push(stream.subarray(prev, c));
    if (viaPayload) {
      for (let p = reader.nextPayload(); p !== undefined; p = reader.nextPayload()) out.push({ seq: reader.lastSequence, payload: p });
    } else {
      out.push(...drain(reader));
    }
    prev = c;
  }
  expect(reader.bufferedBytes).toBe(0);
  return out;
}


function expectPackets(got: Packet[], payloads: Buffer[], lastSeqs: number[]): void {
  expect(got.length).toBe(payloads.length);
  for (let i = 0; i < payloads.length; i++) {
    expect(got[i]!.seq).toBe(lastSeqs[i]);
    expect(got[i]!.payload.length).toBe(payloads[i]!.length);
    expect(got[i]!.payload.equals(payloads[i]!)).toBe(true);
  }
}

describe('PacketReader on small packets', () => {
  const payloads = [
    Buffer.alloc(0),
    Buffer.from([0x03]),
    patterned(5, 1),
    Buffer.alloc(0),
    patterned(250, 2),
    patterned(1, 3),
    patterned(40, 4),
  ];
  const { stream, lastSeqs } = handFrame(payloads);

  it('decodes the stream cut at every single offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      expectPackets(feedCuts(stream, [cut]), payloads, lastSeqs);
    }
  });

  it('nextPayload() and lastSequence: the same packets, cut at every single offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      expectPackets(feedCuts(stream, [cut], undefined, true), payloads, lastSeqs);
    }
  });

  it('nextPayload(true) drops a leading 0x00 (dump events), keeps other payloads whole, at every cut', () => {
    // The same packets with a 0x00 in front of every other one (an event packet of a dump).
    const withOk = payloads.map((p, i) => (i % 2 === 0 ? Buffer.concat([Buffer.from([0]), p]) : p));
    const framed = handFrame(withOk);
    for (let cut = 0; cut <= framed.stream.length; cut++) {
      const reader = new PacketReader();
      const got: Array<{ payload: Buffer; dropped: boolean; seq: number }> = [];
      for (const part of [framed.stream.subarray(0, cut), framed.stream.subarray(cut)]) {
        reader.push(part);
        for (let p = reader.nextPayload(true); p !== undefined; p = reader.nextPayload(true)) {
          got.push({ payload: Buffer.from(p), dropped: reader.lastDroppedOk, seq: reader.lastSequence });
        }
      }
      expect(got.map((g) => g.seq)).toEqual(framed.lastSeqs);
      for (const [i, g] of got.entries()) {
        // A payload that starts with 0x00 anyway (payloads[1] is [0x03], payloads[0] empty) is dropped too.
        const expectDropped = withOk[i]!.length > 0 && withOk[i]![0] === 0;
        expect(g.dropped).toBe(expectDropped);
        expect(g.payload.equals(expectDropped ? withOk[i]!.subarray(1) : withOk[i]!)).toBe(true);
      }
    }
  });

  it('decodes the stream cut at every pair of offsets', () => {
    for (let a = 0; a <= stream.length; a += 3) {
      for (let b = a; b <= stream.length; b += 5) {
        expectPackets(feedCuts(stream, [a, b]), payloads, lastSeqs);
      }
    }
  });

  it('decodes the stream fed one byte at a time', () => {
    const cuts = Array.from({ length: stream.length }, (_, i) => i);
    expectPackets(feedCuts(stream, cuts), payloads, lastSeqs);
  });

  it('returns a zero-copy subarray when a packet lies in one chunk', () => {
    const chunk = Buffer.from(stream);
    const reader = new PacketReader();
    reader.push(chunk);
    const big = drain(reader)[4]!;
    const before = big.payload[0]!;
    chunk[chunk.indexOf(big.payload)] = before ^ 0xff; // writing the chunk shows through the payload
    expect(big.payload[0]).toBe(before ^ 0xff);
  });

  it('copies a packet that spans chunks', () => {
    const reader = new PacketReader();
    const a = Buffer.from([5, 0, 0, 0, 1, 2]);
    const b = Buffer.from([3, 4, 5]);
    reader.push(a);
    expect(reader.next()).toBeUndefined();
    expect(reader.bufferedBytes).toBe(6);
    reader.push(b);
    const p = reader.next()!;
    expect([...p.payload]).toEqual([1, 2, 3, 4, 5]);
    a[4] = 99; // the payload is a copy, not a view over the chunks
    b[0] = 99;
    expect([...p.payload]).toEqual([1, 2, 3, 4, 5]);
    expect(reader.bufferedBytes).toBe(0);
  });

  it('survives many tiny chunks without losing data (chunk-list compaction)', () => {
    const many = Array.from({ length: 500 }, (_, i) => patterned(i % 37, i));
    const seqs = many.map((_, i) => i & 0xff);
    const { stream: s } = handFrame(many);
    const reader = new PacketReader();
    const out: Packet[] = [];
    for (let i = 0; i < s.length; i += 2) {
      reader.push(s.subarray(i, Math.min(i + 2, s.length)));
      if (i % 50 === 0) out.push(...drain(reader));
    }
    out.push(...drain(reader));
    expectPackets(out, many, seqs);
  });

  it('wraps the sequence id past 255', () => {
    const many = Array.from({ length: 600 }, (_, i) => patterned(3, i));
    const { stream: s, lastSeqs: seqs } = handFrame(many, 250);
    const reader = new PacketReader();
    reader.expectSequence(250);
    reader.push(s);
    const got = drain(reader);
    expectPackets(got, many, seqs);
    expect(got[5]!.seq).toBe(255);
    expect(got[6]!.seq).toBe(0);
    expect(reader.expectedSequence).toBe((250 + 600) & 0xff);
  });

  it('rejects a wrong sequence id, naming expected and got', () => {
    const reader = new PacketReader();
    reader.push(Buffer.from([1, 0, 0, 0, 0xaa, 1, 0, 0, 5, 0xbb]));
    expect(reader.next()!.seq).toBe(0);
    let err: unknown;
    try {
      reader.next();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('ERR_PACKET_SEQUENCE');
    expect((err as Error).message).toMatch(/expected sequence id 1, got 5/);
  });

  it('checks the sequence on the header alone, before the payload arrives', () => {
    const reader = new PacketReader();
    reader.push(Buffer.from([100, 0, 0, 3]));
    expect(() => reader.next()).toThrow(ProtocolError);
  });

  it('accepts any sequence id when checkSequence is false, and tracks it', () => {
    const reader = new PacketReader({ checkSequence: false });
    reader.push(Buffer.from([1, 0, 0, 7, 0xaa, 1, 0, 0, 42, 0xbb]));
    expect(reader.next()!.seq).toBe(7);
    expect(reader.next()!.seq).toBe(42);
    expect(reader.expectedSequence).toBe(43);
  });

  it('resetSequence and expectSequence set the next expected id', () => {
    const reader = new PacketReader();
    reader.push(Buffer.from([1, 0, 0, 0, 0xaa]));
    reader.next();
    expect(reader.expectedSequence).toBe(1);
    reader.resetSequence();
    expect(reader.expectedSequence).toBe(0);
    reader.expectSequence(1); // e.g. after a semi-sync ACK
    reader.push(Buffer.from([1, 0, 0, 1, 0xbb]));
    expect(reader.next()!.payload[0]).toBe(0xbb);
    expect(() => reader.expectSequence(256)).toThrow(RangeError);
  });

  it('rejects an oversize packet as soon as its header is seen', () => {
    const reader = new PacketReader({ maxPacketSize: 1000 });
    reader.push(Buffer.from([0xd0, 0x07, 0, 0])); // announces 2000 bytes, none of them sent
    let err: unknown;
    try {
      reader.next();
    } catch (e) {
      err = e;
    }
    expect((err as ProtocolError).code).toBe('ERR_PACKET_TOO_LARGE');
  });

  it('accepts a packet of exactly maxPacketSize', () => {
    const reader = new PacketReader({ maxPacketSize: 3 });
    reader.push(Buffer.from([3, 0, 0, 0, 1, 2, 3]));
    expect(reader.next()!.payload.length).toBe(3);
  });
});

describe('PacketReader on payloads of 0xFFFFFF bytes and more', () => {
  // Sizes of the brief: exactly 0xFFFFFF, 2 × 0xFFFFFF, 0xFFFFFF + 1, zero-length, with small ones around.
  const payloads = [patterned(10, 1), patterned(MAX, 2), Buffer.alloc(0), patterned(MAX * 2, 3), patterned(MAX + 1, 4), patterned(7, 5)];
  const { stream, lastSeqs } = handFrame(payloads);

  // Cutting a 84 MB stream at every offset is not feasible; cut at every offset within ±6 bytes of each
  // header and of each physical-packet boundary (where the bugs live), plus random multi-cuts.
  const boundaries: number[] = [];
  {
    let off = 0;
    for (const p of payloads) {
      let left = p.length;
      for (;;) {
        const n = Math.min(MAX, left);
        boundaries.push(off, off + 4);
        off += 4 + n;
        left -= n;
        if (n < MAX) break;
      }
    }
    boundaries.push(off);
  }
  const interesting = [...new Set(boundaries.flatMap((b) => Array.from({ length: 13 }, (_, i) => b - 6 + i)))].filter(
    (c) => c >= 0 && c <= stream.length,
  );

  it('reports the sequence id of the last physical packet', () => {
    expect(lastSeqs).toEqual([0, 2, 3, 6, 8, 9]);
  });

  it('decodes the stream cut at every offset near a header or boundary', () => {
    for (const cut of interesting) expectPackets(feedCuts(stream, [cut]), payloads, lastSeqs);
  });

  it('nextPayload(true) returns a split packet whole, with its leading 0x00', () => {
    const reader = new PacketReader();
    const big = Buffer.concat([Buffer.from([0]), patterned(MAX, 9)]);
    reader.push(handFrame([big]).stream);
    const p = reader.nextPayload(true)!;
    expect(reader.lastDroppedOk).toBe(false);
    expect(p.equals(big)).toBe(true);
  });

  it('nextPayload() and lastSequence: the same split packets, cut near every header or boundary', () => {
    for (const cut of interesting) expectPackets(feedCuts(stream, [cut], undefined, true), payloads, lastSeqs);
  });

  it('decodes the stream cut at random multi-cuts', () => {
    const rnd = prng(0x5eed);
    for (let round = 0; round < 20; round++) {
      const k = 1 + Math.floor(rnd() * 30);
      const cuts = Array.from({ length: k }, () => Math.floor(rnd() * stream.length)).sort((a, b) => a - b);
      expectPackets(feedCuts(stream, cuts), payloads, lastSeqs);
    }
  });

  it('rejects an oversize multi-packet payload at the second header, before buffering it', () => {
    const first = 4 + MAX;
    const twoParts = handFrame([patterned(MAX * 2, 9)]).stream;
    const r2 = new PacketReader({ maxPacketSize: MAX + 10 });
    r2.push(twoParts.subarray(0, first + 4));
    let err: unknown;
    try {
      r2.next();
    } catch (e) {
      err = e;
    }
    expect((err as ProtocolError).code).toBe('ERR_PACKET_TOO_LARGE');
    expect(r2.bufferedBytes).toBeLessThan(MAX * 2);
  });
});

describe('encodePacket / PacketWriter / framePacket', () => {
  it('frames a small payload as [header, zero-copy payload]', () => {
    const payload = Buffer.from('hello');
    const { frames, nextSeq } = encodePacket(payload, 3);
    expect(frames.map((f) => f.toString('hex'))).toEqual(['05000003', '68656c6c6f']);
    expect(frames[1]!.buffer).toBe(payload.buffer);
    expect(frames[1]!.byteOffset).toBe(payload.byteOffset);
    expect(nextSeq).toBe(4);
  });

  it('frames an empty payload as a lone header', () => {
    const { frames, nextSeq } = encodePacket(Buffer.alloc(0), 255);
    expect(frames.map((f) => f.toString('hex'))).toEqual(['000000ff']);
    expect(nextSeq).toBe(0);
  });

  it('adds an empty trailing packet for exact multiples of 0xFFFFFF', () => {
    for (const [len, count] of [[MAX, 2], [MAX * 2, 3], [MAX + 1, 2], [MAX - 1, 1]] as const) {
      const payload = patterned(len, len & 0xff);
      const { frames, nextSeq } = encodePacket(payload, 254);
      expect(physicalPacketCount(len)).toBe(count);
      expect(nextSeq).toBe((254 + count) & 0xff);
      const headers = frames.filter((f) => f.length === 4 && f.buffer !== payload.buffer);
      expect(headers.length).toBe(count);
      const reader = new PacketReader();
      reader.expectSequence(254);
      for (const f of frames) reader.push(f);
      const got = reader.next()!;
      expect(got.seq).toBe((254 + count - 1) & 0xff);
      expect(got.payload.equals(payload)).toBe(true);
      expect(reader.next()).toBeUndefined();
      expect(Buffer.concat(frames).equals(handFrame([payload], 254).stream)).toBe(true);
    }
  });

  it('PacketWriter tracks and wraps the sequence id', () => {
    const w = new PacketWriter(254);
    w.frame(Buffer.from([1]));
    expect(w.seq).toBe(255);
    w.frame(Buffer.from([2]));
    expect(w.seq).toBe(0);
    w.reset(1);
    expect(w.frame(Buffer.from([9]))[0]!.toString('hex')).toBe('01000001');
    w.reset();
    expect(w.seq).toBe(0);
  });

  it('framePacket builds one buffer: COM_QUERY "SELECT 1"', () => {
    const payload = Buffer.concat([Buffer.from([0x03]), Buffer.from('SELECT 1')]);
    expect(framePacket(payload, 0).toString('hex')).toBe('09000000' + '0353454c4543542031');
  });
});

describe('frameEventPacket', () => {
  // §3.4: fake ROTATE for binlog.000001 pos 4, server_id 1, CRC32, first packet of the dump (seq 1).
  const fakeRotate = Buffer.from(
    '00000000' + '04' + '01000000' + '2c000000' + '00000000' + '2000' + '0400000000000000' + '62696e6c6f672e303030303031' + 'e9d2ca6e',
    'hex',
  );

  it('reproduces the fake ROTATE packet of the protocol brief', () => {
    expect(fakeRotate.length).toBe(44);
    const frames = frameEventPacket(fakeRotate, 1);
    expect(Buffer.concat(frames).toString('hex')).toBe('2d000001' + '00' + fakeRotate.toString('hex'));
    expect(frames[1]!.buffer).toBe(fakeRotate.buffer); // event bytes are not copied
    expect(frames[1]!.byteOffset).toBe(fakeRotate.byteOffset);
  });

  it('adds the semi-sync magic and flag', () => {
    expect(Buffer.concat(frameEventPacket(fakeRotate, 1, { needAck: true })).subarray(0, 7).toString('hex')).toBe('2f00000100ef01');
    expect(Buffer.concat(frameEventPacket(fakeRotate, 1, { needAck: false })).subarray(0, 7).toString('hex')).toBe('2f00000100ef00');
  });

  it('splits when 1 + event reaches 0xFFFFFF, and round-trips through PacketReader', () => {
    for (const [len, semi] of [[MAX - 1, false], [MAX - 2, false], [MAX - 3, true], [MAX * 2 + 5, true], [MAX, false]] as const) {
      const event = patterned(len, 9);
      const semiSync = semi ? { needAck: true } : undefined;
      const frames = frameEventPacket(event, 200, semiSync);
      const prefix = semi ? Buffer.from([0, 0xef, 1]) : Buffer.from([0]);
      const expected = handFrame([Buffer.concat([prefix, event])], 200).stream;
      expect(Buffer.concat(frames).equals(expected)).toBe(true);
      const w = new PacketWriter(200);
      w.frameEvent(event, semiSync);
      expect(w.seq).toBe((200 + physicalPacketCount(prefix.length + len)) & 0xff);
    }
  });
});
