// Deterministic events for the crash test, shared by the child (which writes them) and the parent (which
// checks what survived). An event is a v4 binlog event: 19-byte header (event_size, log_pos set), a body that
// starts with (seq u32, index u16, count u16) followed by bytes derived from those three, and a CRC32 trailer.
import { crc32 } from 'node:zlib';

export const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

/** mulberry32 */
export function prng(seed) {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bodySize(seq, index, avg) {
  return Math.max(8, Math.round(avg / 2 + prng(seq * 131 + index)() * avg));
}

function fill(buf, start, end, seq, index) {
  // Cheap deterministic filler: a 32-bit xorshift stream seeded from (seq, index).
  let x = (seq * 2654435761 + index * 40503 + 1) >>> 0 || 1;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  for (; i < end; i++) buf[i] = 0x5a;
}

function event(seq, index, count, avg, pos, ts) {
  const body = bodySize(seq, index, avg);
  const size = 19 + body + 4;
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32LE(ts, 0);
  b[4] = index === 0 ? 33 : 30;
  b.writeUInt32LE(1, 5);
  b.writeUInt32LE(size, 9);
  b.writeUInt32LE(Number((pos + BigInt(size)) & 0xffffffffn), 13);
  b.writeUInt16LE(0, 17);
  b.writeUInt32LE(seq, 19);
  b.writeUInt16LE(index, 23);
  b.writeUInt16LE(count, 25);
  fill(b, 27, size - 4, seq, index);
  b.writeUInt32LE(crc32(b.subarray(0, size - 4)), size - 4);
  return b;
}

/** Events of unit `seq` (all `count` of them, or only `only`), starting at file position `pos`. */
export function eventsOf(seq, count, avg, pos, ts, only) {
  if (only !== undefined) return [event(seq, only, count, avg, pos, ts)];
  const out = [];
  let at = pos;
  for (let i = 0; i < count; i++) {
    const e = event(seq, i, count, avg, at, ts);
    out.push(e);
    at += BigInt(e.length);
  }
  return out;
}

/** Checks one stored event; returns its (seq, index, count) or throws with the reason. */
export function checkEvent(e, pos) {
  const size = e.readUInt32LE(9);
  if (size !== e.length) throw new Error(`event at ${pos}: size field ${size}, length ${e.length}`);
  if (e.readUInt32LE(13) !== Number((pos + BigInt(size)) & 0xffffffffn)) throw new Error(`event at ${pos}: log_pos ${e.readUInt32LE(13)}`);
  if (e.readUInt32LE(size - 4) !== crc32(e.subarray(0, size - 4))) throw new Error(`event at ${pos}: CRC mismatch`);
  const seq = e.readUInt32LE(19);
  const index = e.readUInt16LE(23);
  const count = e.readUInt16LE(25);
  const want = Buffer.allocUnsafe(size);
  fill(want, 27, size - 4, seq, index);
  if (!want.subarray(27, size - 4).equals(e.subarray(27, size - 4))) throw new Error(`event at ${pos} (unit ${seq} #${index}): body differs`);
  return { seq, index, count };
}
