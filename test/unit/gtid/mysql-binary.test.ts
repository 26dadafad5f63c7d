import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { ByteReader } from '../../../protocol/bytes.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { GNO_END, MAX_GNO, MysqlGtidSet } from '../../../protocol/gtid/index.js';

const FIXTURES = new URL('../../../../shared/fixtures/binlog/', import.meta.url);
const GTID_LOG_EVENT = 33;
const PREVIOUS_GTIDS_LOG_EVENT = 35;

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

interface RawEvent {
  type: number;
  offset: number;
  /** Body between the 19-byte header and the 4-byte CRC trailer. */
  body: Buffer;
}

/** Walks a binlog file's v4 headers (event_size at offset 9); every file used here has CRC32 trailers. */
function events(file: string): RawEvent[] {
  const buf = readFileSync(new URL(file, FIXTURES));
  expect(buf.subarray(0, 4).toString('hex')).toBe('fe62696e');
  const out: RawEvent[] = [];
  let pos = 4;
  while (pos + 19 <= buf.length) {
    const size = buf.readUInt32LE(pos + 9);
    expect(size).toBeGreaterThanOrEqual(23);
    expect(pos + size).toBeLessThanOrEqual(buf.length);
    out.push({ type: buf[pos + 4]!, offset: pos, body: buf.subarray(pos + 19, pos + size - 4) });
    pos += size;
  }
  expect(pos).toBe(buf.length);
  return out;
}

function previousGtids(file: string): Buffer {
  const prev = events(file).filter((e) => e.type === PREVIOUS_GTIDS_LOG_EVENT);
  expect(prev).toHaveLength(1);
  return prev[0]!.body;
}

/** Set of GTIDs of the GTID_LOG_EVENTs of a file (flags 1, uuid 16, gno 8). */
function gtidEvents(file: string): MysqlGtidSet {
  const set = MysqlGtidSet.empty();
  for (const e of events(file)) {
    if (e.type !== GTID_LOG_EVENT) continue;
    const h = e.body.toString('hex', 1, 17);
    const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    set.add({ uuid, tag: '', gno: e.body.readBigUInt64LE(17) });
  }
  return set;
}

function protocolErrorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '55778904-0299-11f1-b1b8-4ef0c4956feb';

describe('MysqlGtidSet binary encoding: golden bytes', () => {
  it('encodes the COM_BINLOG_DUMP_GTID example of §3.4 (48 bytes)', () => {
    const golden = hex(`01 00 00 00 00 00 00 00 | 3e 11 fa 47 71 ca 11 e1 9e 33 c8 0a a9 42 95 62 |
      01 00 00 00 00 00 00 00 | 01 00 00 00 00 00 00 00 | 06 00 00 00 00 00 00 00`);
    const set = MysqlGtidSet.parse(`${U1}:1-5`);
    expect(set.encodedLength()).toBe(48);
    expect(set.encode().equals(golden)).toBe(true);
    expect(MysqlGtidSet.decode(golden).toString()).toBe(`${U1}:1-5`);
  });

  it('encodes the empty set as eight zero bytes, or as the tagged header with a zero count', () => {
    expect(MysqlGtidSet.empty().encode().toString('hex')).toBe('0000000000000000');
    expect(MysqlGtidSet.empty().encode({ tagged: true }).toString('hex')).toBe('0100000000000001');
    expect(MysqlGtidSet.decode(hex('0100000000000001')).isEmpty()).toBe(true);
    expect(MysqlGtidSet.decode(hex('0000000000000000')).isEmpty()).toBe(true);
  });

  it('decodes the tagged PREVIOUS_GTIDS of the MySQL 9.6.0 fixture and re-encodes it byte for byte', () => {
    const body = previousGtids('mysql-8-9-misc/binlog_transaction_with_GTID_TAG.000001');
    // header: format 1 in byte 0 and byte 7, two entries in bytes 1..6
    expect(body.subarray(0, 8).toString('hex')).toBe('0102000000000001');
    const set = MysqlGtidSet.decode(body);
    expect(set.toString()).toBe(`${U2}:1-13:mytag:1-2`);
    expect(set.sids()).toEqual([
      { uuid: U2, tag: '' },
      { uuid: U2, tag: 'mytag' },
    ]);
    expect(set.intervals(U2)).toEqual([[1n, 13n]]);
    expect(set.intervals(U2, 'mytag')).toEqual([[1n, 2n]]);
    expect(set.hasTags()).toBe(true);
    expect(set.encodedLength()).toBe(body.length);
    expect(set.encode().equals(body)).toBe(true);
    expect(set.encode({ tagged: true }).equals(body)).toBe(true);
    const err = protocolErrorOf(() => set.encode({ tagged: false }));
    expect(err.code).toBe('ERR_UNSUPPORTED');
    expect(() => set.encodedLength({ tagged: false })).toThrow(ProtocolError);
  });

  it('decodes the untagged PREVIOUS_GTIDS of MySQL 5.7.23 like mysqlbinlog (12.txt)', () => {
    const txt = readFileSync(new URL('mysql-5.7.23-gtid/12.txt', FIXTURES), 'utf8').split('\n');
    const at = txt.findIndex((l) => l.endsWith('Previous-GTIDs'));
    expect(at).toBeGreaterThan(0);
    const printed = txt[at + 1]!.replace(/^# /, '');
    expect(printed).toBe('214eb71f-96ec-11e8-ab4f-fa163e72d4ae:1-11800');
    const body = previousGtids('mysql-5.7.23-gtid/mysql_bin.000012');
    const set = MysqlGtidSet.decode(body);
    expect(set.toString()).toBe(printed);
    expect(set.equals(MysqlGtidSet.parse(printed))).toBe(true);
    expect(set.encode().equals(body)).toBe(true);
    expect(set.count()).toBe(11800n);
  });

  it('chains PREVIOUS_GTIDS across MySQL 5.7.23 files: next = previous ∪ GTIDs of the file', () => {
    const files = ['mysql_bin.000011', 'mysql_bin.000012', 'mysql_bin.000013'].map((f) => `mysql-5.7.23-gtid/${f}`);
    for (let i = 0; i + 1 < files.length; i++) {
      const prev = MysqlGtidSet.decode(previousGtids(files[i]!));
      const seen = gtidEvents(files[i]!);
      expect(seen.isEmpty()).toBe(false);
      expect(prev.intersect(seen).isEmpty()).toBe(true);
      const next = MysqlGtidSet.decode(previousGtids(files[i + 1]!));
      expect(prev.union(seen).equals(next)).toBe(true);
      expect(next.subtract(prev).equals(seen)).toBe(true);
      expect(next.containsSet(prev)).toBe(true);
      expect(prev.containsSet(next)).toBe(false);
    }
  });

  it('decodes the PREVIOUS_GTIDS of MySQL 8.0.45 (empty in binlog.000001, then the GTIDs written there)', () => {
    const first = previousGtids('mysql-8.0.45-gtid/binlog.000001');
    expect(first.toString('hex')).toBe('0000000000000000');
    expect(MysqlGtidSet.decode(first).isEmpty()).toBe(true);
    const body = previousGtids('mysql-8.0.45-gtid/binlog.000002');
    const set = MysqlGtidSet.decode(body);
    expect(set.toString()).toBe('396e294c-1ca4-11f1-9ae7-00155da79c6b:1-4');
    expect(set.equals(gtidEvents('mysql-8.0.45-gtid/binlog.000001'))).toBe(true);
    expect(set.encode().equals(body)).toBe(true);
  });

  it('decodes the untagged PREVIOUS_GTIDS of the MySQL 8.0.40 fixture', () => {
    const body = previousGtids('mysql-8-9-misc/binlog_transaction_previous_GTID_no_tag.000001');
    const set = MysqlGtidSet.decode(body);
    expect(set.toString()).toBe('b9b88c66-0755-11f1-9899-4a9da94c4d71:1-2');
    expect(set.encode().equals(body)).toBe(true);
  });

  it('raises ERR_TRUNCATED for every cut of the real bodies, and ERR_MALFORMED for any extra byte', () => {
    // (The `truncated/` fixture is cut inside the PREVIOUS_GTIDS *header*, so it holds no body to decode.)
    const bodies = [
      previousGtids('mysql-8-9-misc/binlog_transaction_with_GTID_TAG.000001'),
      previousGtids('mysql-5.7.23-gtid/mysql_bin.000012'),
    ];
    for (const body of bodies) {
      for (let cut = 0; cut < body.length; cut++) {
        const err = protocolErrorOf(() => MysqlGtidSet.decode(body.subarray(0, cut)));
        expect(err.code).toBe('ERR_TRUNCATED');
      }
      const err = protocolErrorOf(() => MysqlGtidSet.decode(Buffer.concat([body, Buffer.from([0])])));
      expect(err.code).toBe('ERR_MALFORMED');
    }
  });
});

describe('MysqlGtidSet binary encoding: round trips', () => {
  const samples = [
    '',
    `${U1}:1`,
    `${U1}:1-5:7:9-100`,
    `${U1}:1-5,${U2}:3`,
    `${U1}:mytag:1-2`,
    `${U1}:1-13:a:1:b:5-6,${U2}:zz:${MAX_GNO}`,
    `ffffffff-ffff-ffff-ffff-ffffffffffff:1-${MAX_GNO}`,
    `00000000-0000-0000-0000-000000000000:1`,
  ];

  it.each(samples)('untagged/tagged round trip of %j', (text) => {
    const set = MysqlGtidSet.parse(text);
    const tagged = set.encode({ tagged: true });
    expect(tagged.length).toBe(set.encodedLength({ tagged: true }));
    expect(MysqlGtidSet.decode(tagged).equals(set)).toBe(true);
    expect(tagged[0]).toBe(1);
    expect(tagged[7]).toBe(1);
    const auto = set.encode();
    expect(auto.length).toBe(set.encodedLength());
    expect(MysqlGtidSet.decode(auto).toString()).toBe(set.toString());
    if (!set.hasTags()) {
      const untagged = set.encode({ tagged: false });
      expect(untagged.equals(auto)).toBe(true);
      expect(untagged.readBigUInt64LE(0)).toBe(BigInt(set.sids().length));
    } else {
      expect(auto.equals(tagged)).toBe(true);
    }
  });

  it('sorts sids by uuid bytes and tag, and writes the tag as len<<1 followed by the lowercase bytes', () => {
    const set = MysqlGtidSet.parse(`${U2}:B:1,${U1}:2,${U2}:a:3,${U2}:4`);
    const buf = set.encode();
    const r = new ByteReader(buf);
    expect(r.u64()).toBe((1n << 56n) | (4n << 8n) | 1n);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const uuid = r.bytes(16).toString('hex');
      const len = r.u8();
      const tag = r.bytes(len >> 1).toString('latin1');
      expect(r.u64()).toBe(1n);
      const start = r.u64();
      const end = r.u64();
      seen.push(`${uuid.slice(0, 8)}/${tag}/${start}-${end}`);
    }
    expect(r.remaining).toBe(0);
    expect(seen).toEqual(['3e11fa47//2-3', '55778904//4-5', '55778904/a/3-4', '55778904/b/1-2']);
  });

  it('read() leaves the reader right after the set', () => {
    const set = MysqlGtidSet.parse(`${U1}:1-5`);
    const buf = Buffer.concat([hex('aabb'), set.encode(), hex('ccdd')]);
    const r = new ByteReader(buf, 2);
    expect(MysqlGtidSet.read(r).equals(set)).toBe(true);
    expect(r.remaining).toBe(2);
  });
});

describe('MysqlGtidSet.decode: malformed input', () => {
  const u1 = U1.replaceAll('-', '');
  const u64 = (v: bigint): string => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return b.toString('hex');
  };
  const untagged = (nIntervals: bigint, ...pairs: bigint[]): Buffer =>
    hex(u64(1n) + u1 + u64(nIntervals) + pairs.map(u64).join(''));

  it('normalises unsorted, overlapping and adjacent intervals', () => {
    const set = MysqlGtidSet.decode(untagged(4n, 10n, 12n, 1n, 3n, 3n, 5n, 2n, 4n));
    expect(set.toString()).toBe(`${U1}:1-4:10-11`);
  });

  it('merges a uuid listed twice', () => {
    const buf = hex(u64(2n) + u1 + u64(1n) + u64(1n) + u64(3n) + u1 + u64(1n) + u64(5n) + u64(6n));
    expect(MysqlGtidSet.decode(buf).toString()).toBe(`${U1}:1-2:5`);
  });

  it.each([
    ['empty buffer', '', 'ERR_TRUNCATED'],
    ['short count', '01000000', 'ERR_TRUNCATED'],
    ['count larger than the bytes', u64(1n), 'ERR_TRUNCATED'],
    ['huge count', u64(0xffffffffffffffffn) + u1, 'ERR_TRUNCATED'],
    ['huge tagged count', '01ffffffffffff01' + u1, 'ERR_TRUNCATED'],
    ['huge interval count', u64(1n) + u1 + u64(1n << 62n) + u64(1n) + u64(2n), 'ERR_TRUNCATED'],
    ['interval count one too many', u64(1n) + u1 + u64(2n) + u64(1n) + u64(2n), 'ERR_TRUNCATED'],
    ['half an interval', u64(1n) + u1 + u64(1n) + u64(1n), 'ERR_TRUNCATED'],
    ['end = start', u64(1n) + u1 + u64(1n) + u64(5n) + u64(5n), 'ERR_MALFORMED'],
    ['end < start', u64(1n) + u1 + u64(1n) + u64(5n) + u64(2n), 'ERR_MALFORMED'],
    ['start 0', u64(1n) + u1 + u64(1n) + u64(0n) + u64(2n), 'ERR_MALFORMED'],
    ['end beyond GNO_END', u64(1n) + u1 + u64(1n) + u64(1n) + u64(GNO_END + 1n), 'ERR_MALFORMED'],
    ['negative as int64', u64(1n) + u1 + u64(1n) + u64(1n << 63n) + u64((1n << 63n) + 1n), 'ERR_MALFORMED'],
    ['trailing garbage', u64(0n) + '00', 'ERR_MALFORMED'],
    ['trailing interval', u64(1n) + u1 + u64(1n) + u64(1n) + u64(2n) + u64(3n) + u64(4n), 'ERR_MALFORMED'],
    ['tag length with varlen continuation bit', '0101000000000001' + u1 + '03' + u64(0n), 'ERR_MALFORMED'],
    ['tag longer than 32', '0101000000000001' + u1 + '42' + '61'.repeat(33) + u64(0n), 'ERR_MALFORMED'],
    ['tag starting with a digit', '0101000000000001' + u1 + '04' + '3161' + u64(0n), 'ERR_MALFORMED'],
    ['tag with a dash', '0101000000000001' + u1 + '04' + '612d' + u64(0n), 'ERR_MALFORMED'],
    ['tag cut short', '0101000000000001' + u1 + '0a' + '6162' + u64(0n).slice(0, 4), 'ERR_TRUNCATED'],
  ])('%s → %s', (_name, bytes, code) => {
    const err = protocolErrorOf(() => MysqlGtidSet.decode(hex(bytes)));
    expect(err.code).toBe(code);
  });

  it('accepts an interval ending exactly at GNO_END', () => {
    const set = MysqlGtidSet.decode(untagged(1n, MAX_GNO, GNO_END));
    expect(set.contains({ uuid: U1, tag: '', gno: MAX_GNO })).toBe(true);
    expect(set.encode().equals(untagged(1n, MAX_GNO, GNO_END))).toBe(true);
  });

  it('lowercases an uppercase tag from the wire', () => {
    const set = MysqlGtidSet.decode(hex('0101000000000001' + u1 + '04' + '4142' + u64(1n) + u64(1n) + u64(2n)));
    expect(set.toString()).toBe(`${U1}:ab:1`);
  });
});
