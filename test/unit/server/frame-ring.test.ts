// FrameRing hands out slices of one fixed buffer in order; holds() must say false exactly when a later write
// reached a slice's bytes, and true while they are intact (shared frames are sent from a slice only then).
// Writes here use their whole room as scratch space first, as framePackets does (it copies a span to the end
// of its room, then moves the events down and keeps less than the room when ANNOTATE_ROWS events are left out).
import { describe, expect, it } from 'vitest';
import { FrameRing, type RingSlice } from '../../../src/server/dump/frame-ring.js';

function put(ring: FrameRing, fill: number, len: number, room = len): RingSlice {
  return ring.write(room, (buf, start) => {
    buf.fill(0xee, start, start + room);
    buf.fill(fill, start, start + len);
    return start + len;
  });
}

describe('FrameRing', () => {
  it('keeps every slice intact while holds() is true, across many laps', () => {
    const ring = new FrameRing(1000);
    const live: Array<{ s: RingSlice; fill: number; len: number }> = [];
    let seed = 7;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    let dropped = 0;
    for (let i = 0; i < 5000; i++) {
      const len = 1 + rnd(300);
      const fill = i & 0xff;
      live.push({ s: put(ring, fill, len, len + rnd(50)), fill, len });
      for (let k = live.length - 1; k >= 0; k--) {
        const { s, fill: f, len: l } = live[k]!;
        if (!ring.holds(s)) {
          live.splice(k, 1);
          dropped++;
          continue;
        }
        expect(s.bytes.length).toBe(l);
        expect(s.bytes.every((b) => b === f)).toBe(true);
      }
    }
    expect(dropped).toBeGreaterThan(4000);
    // What is still held is the most recent writes, up to about one ring.
    const held = live.reduce((n, x) => n + x.len, 0);
    expect(held).toBeLessThanOrEqual(1000);
    expect(held).toBeGreaterThan(400);
  });

  it('a slice is lost as soon as the next lap writes over its first byte, not before', () => {
    const ring = new FrameRing(100);
    const a = put(ring, 1, 40); // [0, 40)
    const b = put(ring, 2, 40); // [40, 80)
    const c = put(ring, 3, 30); // does not fit at 80: next lap, [0, 30)
    expect(c.start).toBe(0);
    expect(ring.holds(a)).toBe(false);
    expect(ring.holds(b)).toBe(true);
    expect(ring.holds(c)).toBe(true);
    put(ring, 4, 10); // [30, 40)
    expect(ring.holds(b)).toBe(true);
    put(ring, 5, 1); // [40, 41): b's first byte
    expect(ring.holds(b)).toBe(false);
    expect(b.bytes[0]).toBe(5);
  });

  it('a slice of the previous lap under the unused part of a later room is lost (regression: shared frames sent corrupted)', () => {
    const ring = new FrameRing(100);
    put(ring, 1, 50); // [0, 50)
    const b = put(ring, 2, 30); // [50, 80)
    put(ring, 3, 20, 60); // next lap: room [0, 60) used as scratch, keeps [0, 20)
    expect(b.bytes[0]).toBe(0xee);
    expect(ring.holds(b)).toBe(false);
    const c = put(ring, 4, 10); // [20, 30): handed out again
    expect(c.start).toBe(20);
    expect(ring.holds(c)).toBe(true);
  });

  it('gives back the unused part of a room, and refuses a room bigger than the ring or a write outside it', () => {
    const ring = new FrameRing(64);
    const a = put(ring, 1, 10, 60);
    const b = put(ring, 2, 10, 50);
    expect(b.start).toBe(a.start + 10);
    expect(() => ring.write(65, (_b, s) => s)).toThrow(RangeError);
    expect(() => ring.write(8, (_b, s) => s + 9)).toThrow(RangeError);
  });
});
