// The bench's raw reader counts a dump's packets from the headers alone; TCP may split a header or a payload
// anywhere between chunks. An EOF whose header ended one chunk and whose 0xFE began the next was missed once
// (the reader then waited forever for a dump that had ended): every split point is tried here.
import { describe, expect, it } from 'vitest';
import { DumpCounter } from '../../../bench/raw-reader.js';

function packet(payload: Buffer, seq: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}

const EVENT = Buffer.concat([Buffer.from([0x00]), Buffer.alloc(30, 0x5a)]);
const EOF = Buffer.from([0xfe, 0, 0, 0x02, 0]);
const ERR = Buffer.concat([Buffer.from([0xff, 0xd4, 0x04, 0x23]), Buffer.from('HY000'), Buffer.from('could not find next log')]);

function dump(last: Buffer): Buffer {
  // three events, an empty packet, an event whose first payload byte is 0xFE (a long packet, not an EOF), the end
  const longFe = Buffer.concat([Buffer.from([0xfe]), Buffer.alloc(20, 1)]);
  return Buffer.concat([packet(EVENT, 1), packet(EVENT, 2), packet(EVENT, 3), packet(Buffer.alloc(0), 4), packet(longFe, 5), packet(last, 6)]);
}

/** Pushes the chunks until the counter reports something (the reader stops there); the index and the report. */
function feed(counter: DumpCounter, chunks: Buffer[]): { at: number; result: 'eof' | Error | null } {
  for (let i = 0; i < chunks.length; i++) {
    const result = counter.push(chunks[i]!);
    if (result !== null) return { at: i, result };
  }
  return { at: -1, result: null };
}

describe('DumpCounter', () => {
  it('finds the EOF wherever the stream is split into two chunks', () => {
    const stream = dump(EOF);
    for (let k = 0; k <= stream.length; k++) {
      const counter = new DumpCounter();
      const { at, result } = feed(counter, [stream.subarray(0, k), stream.subarray(k)]);
      expect(result, `split at ${k}`).toBe('eof');
      // The EOF is known at its first payload byte.
      expect(at, `split at ${k}`).toBe(k > stream.length - EOF.length ? 0 : 1);
      expect(counter.packets).toBe(6);
      expect(counter.bytes).toBe(stream.length);
    }
  });

  it('finds the EOF when every byte arrives alone', () => {
    const stream = dump(EOF);
    const counter = new DumpCounter();
    expect(feed(counter, [...stream].map((b) => Buffer.from([b])))).toEqual({ at: stream.length - EOF.length, result: 'eof' });
    expect(counter.packets).toBe(6);
  });

  it('reports an ERR packet wherever the stream is split', () => {
    const stream = dump(ERR);
    for (let k = 0; k <= stream.length; k++) {
      const { result } = feed(new DumpCounter(), [stream.subarray(0, k), stream.subarray(k)]);
      expect(result, `split at ${k}`).toBeInstanceOf(Error);
      // Split inside the ERR packet, the counter sees only a part of it.
      if (k <= stream.length - ERR.length) expect((result as Error).message).toBe('raw reader: ERR 1236: could not find next log');
    }
  });

  it('reports a stream out of step (a sequence id skipped, a packet that is no event) instead of counting on', () => {
    const skipped = Buffer.concat([packet(EVENT, 1), packet(EVENT, 3), packet(EOF, 4)]);
    const r1 = new DumpCounter().push(skipped);
    expect(r1).toBeInstanceOf(Error);
    expect((r1 as Error).message).toBe('raw reader: packet 2 has sequence id 3, expected 2 (the stream is out of step)');
    const noEvent = Buffer.concat([packet(EVENT, 1), packet(Buffer.from([0x07, 1, 2, 3]), 2), packet(EOF, 3)]);
    expect((new DumpCounter().push(noEvent) as Error).message).toBe('raw reader: packet 2 starts with 0x7, not an event, EOF or ERR (the stream is out of step)');
  });

  it('takes the first byte of a packet that continues a 0xFFFFFF-byte payload as data', () => {
    const big = Buffer.alloc(0xffffff, 0x5a);
    big[0] = 0x00;
    const stream = Buffer.concat([packet(big, 1), packet(Buffer.from([0x07, 1, 2]), 2), packet(EVENT, 3), packet(EOF, 4)]);
    const counter = new DumpCounter();
    expect(counter.push(stream)).toBe('eof');
    expect(counter.packets).toBe(4);
  });

  it('stops after stopAfter packets', () => {
    const counter = new DumpCounter(3);
    expect(counter.push(dump(EOF))).toBe('eof');
    expect(counter.packets).toBe(4);
  });
});
