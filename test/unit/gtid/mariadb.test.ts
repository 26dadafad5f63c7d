import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { ProtocolError } from '../../../protocol/errors.js';
import {
  MariadbGtidPosition,
  formatMariadbGtid,
  parseMariadbGtid,
  type MariadbGtid,
} from '../../../protocol/gtid/index.js';

const FIXTURES = new URL('../../../../shared/fixtures/binlog/', import.meta.url);
const MARIADB_GTID_EVENT = 162;
const MARIADB_GTID_LIST_EVENT = 163;

const gt = (domainId: number, serverId: number, seqNo: bigint): MariadbGtid => ({ domainId, serverId, seqNo });

function syntaxErrorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('ERR_GTID_SYNTAX');
    return err as ProtocolError;
  }
  throw new Error('expected ERR_GTID_SYNTAX, nothing was thrown');
}

describe('parseMariadbGtid / formatMariadbGtid', () => {
  it('parses and formats domain-server-seq', () => {
    expect(parseMariadbGtid('0-1-100')).toEqual(gt(0, 1, 100n));
    expect(parseMariadbGtid(' 2 - 7 - 5 ')).toEqual(gt(2, 7, 5n));
    expect(parseMariadbGtid('4294967295-4294967295-18446744073709551615')).toEqual(
      gt(4294967295, 4294967295, 18446744073709551615n),
    );
    expect(parseMariadbGtid('007-0-0')).toEqual(gt(7, 0, 0n));
    expect(formatMariadbGtid(gt(0, 1, 100n))).toBe('0-1-100');
    expect(formatMariadbGtid(gt(1, 2, 9007199254740993n))).toBe('1-2-9007199254740993');
  });

  it.each([
    [''],
    ['0-1'],
    ['0-1-2-3'],
    ['0--1-2'],
    ['-0-1-2'],
    ['0-1-'],
    ['a-1-2'],
    ['0-1-2x'],
    ['0-1-+2'],
    ['0-1-1.5'],
    ['4294967296-1-1'],
    ['1-4294967296-1'],
    ['1-1-18446744073709551616'],
    ['1-1-000000000000000000000000000018446744073709551616'],
    ['99999999999999999999-1-1'],
    ['0-1-2,3-4-5'],
  ])('rejects %j', (text) => {
    const err = syntaxErrorOf(() => parseMariadbGtid(text));
    expect(err.message).toContain(text.length > 0 ? text.slice(0, 10) : "''");
  });

  it('accepts leading zeros up to the u64 limit', () => {
    expect(parseMariadbGtid('1-1-000000000000000000000000000018446744073709551615').seqNo).toBe(18446744073709551615n);
  });
});

describe('MariadbGtidPosition', () => {
  it('parses, sorts by domain numerically and prints canonically', () => {
    const pos = MariadbGtidPosition.parse('10-1-5, 2-7-5,\n0-1-100 ');
    expect(pos.toString()).toBe('0-1-100,2-7-5,10-1-5');
    expect(pos.domains()).toEqual([gt(0, 1, 100n), gt(2, 7, 5n), gt(10, 1, 5n)]);
    expect(pos.get(2)).toEqual(gt(2, 7, 5n));
    expect(pos.get(3)).toBeUndefined();
    expect(pos.size).toBe(3);
    expect(MariadbGtidPosition.parse(pos.toString()).equals(pos)).toBe(true);
  });

  it('treats empty and blank text as the empty position', () => {
    for (const t of ['', ' ', '\n\t']) {
      const pos = MariadbGtidPosition.parse(t);
      expect(pos.isEmpty()).toBe(true);
      expect(pos.toString()).toBe('');
    }
    expect(MariadbGtidPosition.empty().isEmpty()).toBe(true);
    expect(MariadbGtidPosition.empty().equals(MariadbGtidPosition.parse(''))).toBe(true);
  });

  it.each([
    ['0-1-1,0-2-2', "domain 0 appears more than once ('0-2-2')"],
    ['0-1-1, 5-1-1, 0-1-1', 'domain 0'],
    ['0-1-1,', 'empty element'],
    [',0-1-1', 'empty element'],
    ['0-1-1,,1-1-1', 'empty element'],
    ['0-1-1;1-1-1', '0-1-1;1-1-1'],
    ['0-1-1 1-1-1', '0-1-1 1-1-1'],
  ])('parse(%j) throws ERR_GTID_SYNTAX mentioning %s', (text, part) => {
    expect(syntaxErrorOf(() => MariadbGtidPosition.parse(text)).message).toContain(part);
  });

  it('advance replaces the domain GTID, even with a lower seq_no or another server', () => {
    const pos = MariadbGtidPosition.parse('0-1-100');
    expect(pos.advance(gt(0, 1, 101n))).toBe(pos);
    expect(pos.toString()).toBe('0-1-101');
    pos.advance(gt(0, 2, 50n)).advance(gt(3, 1, 1n));
    expect(pos.toString()).toBe('0-2-50,3-1-1');
  });

  it('advance validates the ids', () => {
    const pos = MariadbGtidPosition.empty();
    for (const bad of [
      gt(-1, 1, 1n),
      gt(4294967296, 1, 1n),
      gt(1.5, 1, 1n),
      gt(0, -1, 1n),
      gt(0, 4294967296, 1n),
      gt(0, 1, -1n),
      gt(0, 1, 1n << 64n),
      { domainId: 0, serverId: 1, seqNo: 5 as unknown as bigint },
    ]) {
      syntaxErrorOf(() => pos.advance(bad));
    }
    expect(pos.isEmpty()).toBe(true);
  });

  it('contains: same domain and seq_no <= the position', () => {
    const pos = MariadbGtidPosition.parse('0-1-100,2-7-5');
    expect(pos.contains(gt(0, 1, 100n))).toBe(true);
    expect(pos.contains(gt(0, 1, 1n))).toBe(true);
    expect(pos.contains(gt(0, 9, 99n))).toBe(true);
    expect(pos.contains(gt(0, 1, 101n))).toBe(false);
    expect(pos.contains(gt(2, 7, 6n))).toBe(false);
    expect(pos.contains(gt(1, 1, 1n))).toBe(false);
    expect(MariadbGtidPosition.empty().contains(gt(0, 0, 0n))).toBe(false);
  });

  it('containsPosition: every domain of other present with seq_no >= other', () => {
    const pos = MariadbGtidPosition.parse('0-1-100,2-7-5');
    expect(pos.containsPosition(MariadbGtidPosition.empty())).toBe(true);
    expect(pos.containsPosition(pos)).toBe(true);
    expect(pos.containsPosition(MariadbGtidPosition.parse('0-1-50'))).toBe(true);
    expect(pos.containsPosition(MariadbGtidPosition.parse('0-3-100,2-7-1'))).toBe(true);
    expect(pos.containsPosition(MariadbGtidPosition.parse('0-1-101'))).toBe(false);
    expect(pos.containsPosition(MariadbGtidPosition.parse('0-1-1,5-1-1'))).toBe(false);
    expect(MariadbGtidPosition.empty().containsPosition(pos)).toBe(false);
  });

  it('equals compares server ids too; clone and get return independent copies', () => {
    const pos = MariadbGtidPosition.parse('0-1-100,2-7-5');
    expect(pos.equals(MariadbGtidPosition.parse('2-7-5,0-1-100'))).toBe(true);
    expect(pos.equals(MariadbGtidPosition.parse('0-2-100,2-7-5'))).toBe(false);
    expect(pos.equals(MariadbGtidPosition.parse('0-1-100'))).toBe(false);
    expect(pos.equals(MariadbGtidPosition.parse('0-1-100,3-7-5'))).toBe(false);
    const c = pos.clone();
    c.advance(gt(0, 1, 200n));
    expect(pos.toString()).toBe('0-1-100,2-7-5');
    const got = pos.get(0)!;
    got.seqNo = 999n;
    pos.domains()[0]!.seqNo = 999n;
    expect(pos.get(0)).toEqual(gt(0, 1, 100n));
    const input = gt(4, 4, 4n);
    pos.advance(input);
    input.seqNo = 5n;
    expect(pos.get(4)).toEqual(gt(4, 4, 4n));
  });

  it('fromList: later entries for a domain replace earlier ones (GTID_LIST order)', () => {
    const pos = MariadbGtidPosition.fromList([gt(0, 1, 10n), gt(1, 1, 3n), gt(0, 2, 7n)]);
    expect(pos.toString()).toBe('0-2-7,1-1-3');
    expect(MariadbGtidPosition.fromList([]).isEmpty()).toBe(true);
    function* gen(): Generator<MariadbGtid> {
      yield gt(5, 1, 1n);
      yield gt(5, 1, 2n);
    }
    expect(MariadbGtidPosition.fromList(gen()).toString()).toBe('5-1-2');
  });

  it('agrees with the real MariaDB 10.11 files: GTIDs of bin.000001 → GTID_LIST of bin.000002 → mariadb-binlog text', () => {
    const walk = (file: string): Array<{ type: number; serverId: number; body: Buffer }> => {
      const buf = readFileSync(new URL(file, FIXTURES));
      const out: Array<{ type: number; serverId: number; body: Buffer }> = [];
      let p = 4;
      while (p + 19 <= buf.length) {
        const size = buf.readUInt32LE(p + 9);
        out.push({ type: buf[p + 4]!, serverId: buf.readUInt32LE(p + 5), body: buf.subarray(p + 19, p + size - 4) });
        p += size;
      }
      expect(p).toBe(buf.length);
      return out;
    };
    const seen = MariadbGtidPosition.empty();
    let count = 0;
    for (const e of walk('mariadb-10.11-crc32/bin.000001')) {
      if (e.type !== MARIADB_GTID_EVENT) continue;
      const g = gt(e.body.readUInt32LE(8), e.serverId, e.body.readBigUInt64LE(0));
      expect(seen.contains(g)).toBe(false);
      seen.advance(g);
      expect(seen.contains(g)).toBe(true);
      count++;
    }
    expect(count).toBe(19);

    const lists = walk('mariadb-10.11-crc32/bin.000002').filter((e) => e.type === MARIADB_GTID_LIST_EVENT);
    expect(lists).toHaveLength(1);
    const body = lists[0]!.body;
    const n = body.readUInt32LE(0) & 0x0fffffff;
    const entries: MariadbGtid[] = [];
    for (let i = 0; i < n; i++) {
      const at = 4 + i * 16;
      entries.push(gt(body.readUInt32LE(at), body.readUInt32LE(at + 4), body.readBigUInt64LE(at + 8)));
    }
    const fromList = MariadbGtidPosition.fromList(entries);
    expect(fromList.equals(seen)).toBe(true);

    const txt = readFileSync(new URL('mariadb-10.11-crc32/bin.000002.txt', FIXTURES), 'utf8').split('\n');
    const at = txt.findIndex((l) => l.includes('Gtid list ['));
    expect(at).toBeGreaterThan(0);
    const printed = (txt[at]!.slice(txt[at]!.indexOf('[') + 1) + txt[at + 1]!.replace(/^#/, '')).replace(/\].*$/, '');
    expect(printed).toBe('0-7-18, 2-7-1');
    expect(MariadbGtidPosition.parse(printed).equals(seen)).toBe(true);
    expect(seen.toString()).toBe('0-7-18,2-7-1');
  });
});
