/**
 * Fuzz: random and mutated events (seeded PRNG, mutations of real fixture events: flipped bytes, changed
 * sizes, truncations, extensions, swapped type codes) through every decoder, readBinlogFile and the tracker.
 * Only ProtocolError may escape.
 */
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../protocol/errors.js';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  BINLOG_CHECKSUM_ALG_OFF,
  BinlogEvent,
  FORMAT_DESCRIPTION_EVENT,
  TransactionTracker,
  readBinlogFile,
  restampFde,
  verifyEventChecksum,
  type EventContext,
  type FormatDescription,
} from '../../../protocol/binlog/index.js';
import { decodeAny, fixtureFiles, readFixture } from './_fixtures.js';
import { prng } from '../../helpers/prng.js';


const KNOWN_TYPES = [
  1, 2, 3, 4, 5, 13, 14, 15, 16, 17, 18, 19, 23, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35, 38, 39, 40, 41, 42, 160, 161, 162,
  163, 164, 165, 166, 167, 168, 169, 170, 171,
];

interface Sample {
  raw: Buffer;
  fde: FormatDescription;
}

const samples: Sample[] = [];
const files: Buffer[] = [];
for (const f of fixtureFiles()) {
  const buf = readFixture(f.name);
  files.push(buf);
  for (const e of readBinlogFile(buf)) samples.push({ raw: e.event.raw, fde: e.fde });
}

let protocolErrors = 0;

/** Runs `fn`; a ProtocolError is fine (counted), anything else fails the test with the input in the message. */
function onlyProtocolErrors(input: Buffer, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) {
      protocolErrors++;
      return;
    }
    throw new Error(`non-ProtocolError ${String(err)} for input ${input.toString('hex').slice(0, 400)}`, { cause: err });
  }
}

function decodeEverything(raw: Buffer, fde: FormatDescription | undefined, tracker: TransactionTracker): void {
  const contexts: EventContext[] = [BINLOG_CHECKSUM_ALG_CRC32, BINLOG_CHECKSUM_ALG_OFF];
  if (fde) contexts.push(fde);
  onlyProtocolErrors(raw, () => verifyEventChecksum(raw, BINLOG_CHECKSUM_ALG_CRC32));
  let event: BinlogEvent | undefined;
  onlyProtocolErrors(raw, () => (event = new BinlogEvent(raw)));
  if (event === undefined) return;
  const e = event;
  for (const ctx of contexts) onlyProtocolErrors(raw, () => decodeAny(e, ctx));
  if (e.typeCode === FORMAT_DESCRIPTION_EVENT) {
    onlyProtocolErrors(raw, () => restampFde(raw, { clearInUse: true, zeroLogPosAndCreated: true }));
  }
  onlyProtocolErrors(raw, () => tracker.push(e, fde ?? BINLOG_CHECKSUM_ALG_CRC32));
}

/** Sets the header's event_size to the buffer's length (so the mutation reaches the decoders). */
function fixSize(b: Buffer): Buffer {
  if (b.length >= 13) b.writeUInt32LE(b.length, 9);
  return b;
}

function mutate(rand: () => number, src: Buffer): Buffer {
  const r = rand();
  const pick = (n: number): number => Math.floor(rand() * n);
  if (r < 0.3) {
    const b = Buffer.from(src);
    const flips = 1 + pick(4);
    // Mostly in the body (so the event still constructs), sometimes in the header.
    for (let i = 0; i < flips; i++) {
      const at = rand() < 0.9 && b.length > 19 ? 19 + pick(b.length - 19) : pick(b.length);
      b[at] = b[at]! ^ (1 << pick(8));
    }
    return b;
  }
  if (r < 0.45) return fixSize(Buffer.from(src.subarray(0, pick(src.length + 1)))); // truncate
  if (r < 0.55) {
    const extra = Buffer.alloc(1 + pick(40));
    for (let i = 0; i < extra.length; i++) extra[i] = pick(256);
    return fixSize(Buffer.concat([src, extra])); // extend
  }
  if (r < 0.7) {
    const b = Buffer.from(src);
    b[4] = KNOWN_TYPES[pick(KNOWN_TYPES.length)]!; // decode as another type
    return b;
  }
  if (r < 0.8) {
    const b = Buffer.from(src);
    b.writeUInt32LE(pick(2) === 0 ? pick(0x100000000) : b.length + pick(9) - 4, 9); // wrong size field
    return b;
  }
  // a random byte anywhere, including the post-header length fields of QUERY / counts of GTID_LIST
  const b = Buffer.from(src);
  b[pick(b.length)] = pick(256);
  return b;
}

describe('fuzz: only ProtocolError escapes', () => {
  it('has real events to mutate', () => {
    expect(samples.length).toBeGreaterThan(800);
  });

  it('20000 mutated real events through every decoder, the checksum check and the tracker', () => {
    const rand = prng(0xb1a5);
    const tracker = new TransactionTracker();
    const before = protocolErrors;
    for (let i = 0; i < 20000; i++) {
      const s = samples[Math.floor(rand() * samples.length)]!;
      const m = mutate(rand, s.raw);
      decodeEverything(m, s.fde, tracker);
      if (rand() < 0.05) tracker.reset();
    }
    expect(protocolErrors - before).toBeGreaterThan(1000);
  });

  it('5000 random events of every known type', () => {
    const rand = prng(42);
    const tracker = new TransactionTracker();
    const fdes = samples.filter((s) => s.raw[4] === FORMAT_DESCRIPTION_EVENT).map((s) => s.fde);
    for (let i = 0; i < 5000; i++) {
      const len = 19 + Math.floor(rand() * (rand() < 0.8 ? 40 : 300));
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = Math.floor(rand() * 256);
      b[4] = KNOWN_TYPES[Math.floor(rand() * KNOWN_TYPES.length)]!;
      b.writeUInt32LE(len, 9);
      decodeEverything(b, rand() < 0.5 ? fdes[Math.floor(rand() * fdes.length)] : undefined, tracker);
    }
  });

  it('300 mutated whole files through readBinlogFile (with and without CRC checks) and the tracker', () => {
    const rand = prng(7);
    for (let i = 0; i < 300; i++) {
      const src = files[Math.floor(rand() * files.length)]!;
      const b = Buffer.from(src.subarray(0, rand() < 0.3 ? Math.floor(rand() * src.length) : src.length));
      const flips = Math.floor(rand() * 6);
      for (let j = 0; j < flips && b.length > 0; j++) {
        const at = Math.floor(rand() * b.length);
        b[at] = b[at]! ^ (1 << Math.floor(rand() * 8));
      }
      for (const verifyChecksums of [true, false]) {
        const tracker = new TransactionTracker();
        onlyProtocolErrors(b, () => {
          let n = 0;
          for (const e of readBinlogFile(b, { verifyChecksums })) {
            n++;
            expect(n).toBeLessThanOrEqual(b.length / 19 + 1);
            decodeAny(e.event, e.fde);
            tracker.push(e.event, e.fde);
          }
        });
      }
    }
  });
});
