import { describe, it, expect } from 'vitest';
import { ProtocolError } from '../../../protocol/errors.js';
import {
  MariadbGtidPosition,
  MysqlGtidSet,
  parseMariadbGtid,
  parseMysqlGtid,
} from '../../../protocol/gtid/index.js';
import { prng } from '../../helpers/prng.js';


/** Runs fn; anything but a ProtocolError is rethrown with the input that caused it. */
function only<T>(fn: () => T, input: string): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof ProtocolError) return { ok: false };
    throw new Error(`non-ProtocolError for input ${input}: ${String(err)}`, { cause: err });
  }
}

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '55778904-0299-11f1-b1b8-4ef0c4956feb';

const VALID_SETS = [
  '',
  `${U1}:1-5`,
  `${U1}:1-13:mytag:1-2`,
  `${U1}:1-5:7:9-100,${U2}:3:a:1-9:b:7`,
  `${U2}:zz:9223372036854775806`,
];

function mutateBytes(rnd: () => number, src: Buffer): Buffer {
  let b = Buffer.from(src);
  const ops = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < ops; i++) {
    const op = Math.floor(rnd() * 6);
    const at = Math.floor(rnd() * (b.length + 1));
    if (op === 0 && b.length > 0) b[at % b.length] = Math.floor(rnd() * 256);
    else if (op === 1) b = b.subarray(0, at);
    else if (op === 2) b = Buffer.concat([b, Buffer.from([Math.floor(rnd() * 256)])]);
    else if (op === 3 && b.length >= 8) {
      // overwrite an aligned u64 with an interesting value (counts and interval bounds)
      const pos = Math.floor(rnd() * Math.floor(b.length / 8)) * 8;
      const values = [0n, 1n, 2n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 1n << 56n | 1n];
      b.writeBigUInt64LE(values[Math.floor(rnd() * values.length)]!, pos);
    } else if (op === 4 && b.length > 0) b[at % b.length] ^= 1 << Math.floor(rnd() * 8);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(Math.floor(rnd() * b.length))]);
  }
  return b;
}

function randomText(rnd: () => number, alphabet: string, maxLen: number): string {
  const n = Math.floor(rnd() * maxLen);
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  return s;
}

function mutateText(rnd: () => number, src: string, alphabet: string): string {
  let s = src;
  const ops = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < ops; i++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const op = Math.floor(rnd() * 4);
    const ch = alphabet[Math.floor(rnd() * alphabet.length)]!;
    if (op === 0) s = s.slice(0, at) + ch + s.slice(at);
    else if (op === 1) s = s.slice(0, at) + s.slice(at + 1);
    else if (op === 2) s = s.slice(0, at) + ch + s.slice(at + 1);
    else s = s.slice(0, at) + s.slice(Math.floor(rnd() * s.length));
  }
  return s;
}

describe('fuzz: MysqlGtidSet.decode', () => {
  it('throws only ProtocolError on random and mutated bytes; whatever decodes re-encodes stably', () => {
    const rnd = prng(0xdec0de);
    const seeds = VALID_SETS.flatMap((t) => {
      const s = MysqlGtidSet.parse(t);
      return s.hasTags() ? [s.encode()] : [s.encode(), s.encode({ tagged: true })];
    });
    let decoded = 0;
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const input =
        i % 4 === 0
          ? Buffer.from(Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)))
          : mutateBytes(rnd, seeds[Math.floor(rnd() * seeds.length)]!);
      const r = only(() => MysqlGtidSet.decode(input), input.toString('hex'));
      if (!r.ok) {
        rejected++;
        continue;
      }
      decoded++;
      const again = MysqlGtidSet.decode(r.value.encode());
      if (!again.equals(r.value)) throw new Error(`unstable round trip for ${input.toString('hex')}`);
      if (!MysqlGtidSet.parse(r.value.toString()).equals(r.value)) {
        throw new Error(`decoded set does not print parseably: ${input.toString('hex')}`);
      }
    }
    // both outcomes must actually be exercised
    expect(decoded).toBeGreaterThan(500);
    expect(rejected).toBeGreaterThan(5000);
  });

  it('rejects absurd counts immediately instead of looping or allocating', () => {
    const head = (v: bigint, extra = 0): Buffer => {
      const b = Buffer.alloc(8 + extra);
      b.writeBigUInt64LE(v);
      return b;
    };
    const t0 = performance.now();
    for (const v of [0xffffffffffffffffn, 1n << 40n, (1n << 56n) | (0xffffffffffffn << 8n) | 1n, 1000n]) {
      expect(() => MysqlGtidSet.decode(head(v, 4096))).toThrow(ProtocolError);
    }
    const withIntervals = Buffer.alloc(8 + 16 + 8 + 64);
    withIntervals.writeBigUInt64LE(1n, 0);
    withIntervals.writeBigUInt64LE(0xffffffffffffffffn, 24);
    expect(() => MysqlGtidSet.decode(withIntervals)).toThrow(ProtocolError);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('fuzz: text parsers', () => {
  const SET_ALPHABET = '0123456789abcdefABCDEF-:,_ \n\txyzé+;{}';

  it('MysqlGtidSet.parse throws only ProtocolError; whatever parses round-trips through toString', () => {
    const rnd = prng(0x7e47);
    let parsed = 0;
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const input =
        i % 3 === 0
          ? randomText(rnd, SET_ALPHABET, 60)
          : mutateText(rnd, VALID_SETS[Math.floor(rnd() * VALID_SETS.length)]!, SET_ALPHABET);
      const r = only(() => MysqlGtidSet.parse(input), JSON.stringify(input));
      if (!r.ok) {
        rejected++;
        continue;
      }
      parsed++;
      const text = r.value.toString();
      if (MysqlGtidSet.parse(text).toString() !== text) throw new Error(`unstable text for ${JSON.stringify(input)}`);
      if (!MysqlGtidSet.decode(r.value.encode()).equals(r.value)) throw new Error(`binary mismatch for ${input}`);
    }
    expect(parsed).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(5000);
  });

  it('parseMysqlGtid throws only ProtocolError', () => {
    const rnd = prng(0x91d);
    let ok = 0;
    for (let i = 0; i < 5000; i++) {
      const input = mutateText(rnd, rnd() < 0.5 ? `${U1}:42` : `${U2}:tag:7`, SET_ALPHABET);
      if (only(() => parseMysqlGtid(input), JSON.stringify(input)).ok) ok++;
    }
    expect(ok).toBeGreaterThan(100);
  });

  it('MariaDB parsers throw only ProtocolError; whatever parses round-trips', () => {
    const rnd = prng(0x3a41);
    const alphabet = '0123456789-, \t\nx+.';
    const valid = ['', '0-1-100', '0-1-100,2-7-5', '4294967295-4294967295-18446744073709551615', ' 1-2-3 , 4-5-6 '];
    let parsed = 0;
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const input =
        i % 3 === 0 ? randomText(rnd, alphabet, 40) : mutateText(rnd, valid[Math.floor(rnd() * valid.length)]!, alphabet);
      const r = only(() => MariadbGtidPosition.parse(input), JSON.stringify(input));
      only(() => parseMariadbGtid(input), JSON.stringify(input));
      if (!r.ok) {
        rejected++;
        continue;
      }
      parsed++;
      if (!MariadbGtidPosition.parse(r.value.toString()).equals(r.value)) {
        throw new Error(`unstable MariaDB position for ${JSON.stringify(input)}`);
      }
    }
    expect(parsed).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(5000);
  });

  it('long inputs finish quickly', () => {
    const t0 = performance.now();
    expect(() => MysqlGtidSet.parse(`${U1}:${'9'.repeat(100_000)}`)).toThrow(ProtocolError);
    expect(() => MysqlGtidSet.parse(`${U1}:${'a'.repeat(100_000)}:1`)).toThrow(ProtocolError);
    expect(() => MariadbGtidPosition.parse(`0-1-${'9'.repeat(100_000)}`)).toThrow(ProtocolError);
    expect(() => MariadbGtidPosition.parse(`${'1'.repeat(100_000)}-1-1`)).toThrow(ProtocolError);
    expect(() => MariadbGtidPosition.parse(' '.repeat(100_000) + 'x')).toThrow(ProtocolError);
    const many = Array.from({ length: 5000 }, (_, i) => `${i * 2 + 1}`).join(':');
    expect(MysqlGtidSet.parse(`${U1}:${many}`).intervals(U1)).toHaveLength(5000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
