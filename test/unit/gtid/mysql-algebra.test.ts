import { describe, it, expect } from 'vitest';
import { ProtocolError } from '../../../protocol/errors.js';
import { MAX_GNO, MysqlGtidSet, type MysqlGtid } from '../../../protocol/gtid/index.js';
import { prng } from '../../helpers/prng.js';

const A = 'aaaaaaaa-0000-0000-0000-000000000001';
const B = 'bbbbbbbb-0000-0000-0000-000000000002';
const C = 'cccccccc-0000-0000-0000-000000000003';

const p = (t: string): MysqlGtidSet => MysqlGtidSet.parse(t);
const g = (uuid: string, gno: bigint, tag = ''): MysqlGtid => ({ uuid, tag, gno });


describe('MysqlGtidSet algebra: known answers', () => {
  it.each([
    // [a, b, a ∪ b, a − b, b − a, a ∩ b]
    [`${A}:1-5`, `${A}:6-10`, `${A}:1-10`, `${A}:1-5`, `${A}:6-10`, ''],
    [`${A}:1-5`, `${A}:3-8`, `${A}:1-8`, `${A}:1-2`, `${A}:6-8`, `${A}:3-5`],
    [`${A}:1-10`, `${A}:3-4:7`, `${A}:1-10`, `${A}:1-2:5-6:8-10`, '', `${A}:3-4:7`],
    [`${A}:1-3:7-9`, `${A}:2-8`, `${A}:1-9`, `${A}:1:9`, `${A}:4-6`, `${A}:2-3:7-8`],
    [`${A}:1-5`, `${B}:1-5`, `${A}:1-5,${B}:1-5`, `${A}:1-5`, `${B}:1-5`, ''],
    [`${A}:1-5`, `${A}:t:1-5`, `${A}:1-5:t:1-5`, `${A}:1-5`, `${A}:t:1-5`, ''],
    [`${A}:1-5:t:2`, `${A}:t:1-3,${C}:9`, `${A}:1-5:t:1-3,${C}:9`, `${A}:1-5`, `${A}:t:1:3,${C}:9`, `${A}:t:2`],
    ['', `${A}:1`, `${A}:1`, '', `${A}:1`, ''],
    [`${A}:1-${MAX_GNO}`, `${A}:2-${MAX_GNO}`, `${A}:1-${MAX_GNO}`, `${A}:1`, '', `${A}:2-${MAX_GNO}`],
  ])('%s  vs  %s', (a, b, union, aMinusB, bMinusA, inter) => {
    const sa = p(a);
    const sb = p(b);
    expect(sa.union(sb).toString()).toBe(union);
    expect(sb.union(sa).toString()).toBe(union);
    expect(sa.subtract(sb).toString()).toBe(aMinusB);
    expect(sb.subtract(sa).toString()).toBe(bMinusA);
    expect(sa.intersect(sb).toString()).toBe(inter);
    expect(sb.intersect(sa).toString()).toBe(inter);
    expect(sa.union(sb).containsSet(sa)).toBe(true);
    expect(sa.containsSet(sb)).toBe(bMinusA === '');
    expect(sb.containsSet(sa)).toBe(aMinusB === '');
    // the operands are not modified
    expect(sa.toString()).toBe(p(a).toString());
    expect(sb.toString()).toBe(p(b).toString());
  });

  it('contains / containsSet / equals', () => {
    const s = p(`${A}:1-5:10:t:3,${B}:7-8`);
    expect(s.contains(g(A, 1n))).toBe(true);
    expect(s.contains(g(A, 5n))).toBe(true);
    expect(s.contains(g(A, 6n))).toBe(false);
    expect(s.contains(g(A, 9n))).toBe(false);
    expect(s.contains(g(A, 10n))).toBe(true);
    expect(s.contains(g(A, 11n))).toBe(false);
    expect(s.contains(g(A, 3n, 't'))).toBe(true);
    expect(s.contains(g(A, 3n, 'T'))).toBe(true);
    expect(s.contains(g(A, 4n, 't'))).toBe(false);
    expect(s.contains(g(A.toUpperCase(), 10n))).toBe(true);
    expect(s.contains(g(C, 1n))).toBe(false);
    expect(s.containsSet(MysqlGtidSet.empty())).toBe(true);
    expect(MysqlGtidSet.empty().containsSet(s)).toBe(false);
    expect(s.containsSet(p(`${A}:2-4:t:3,${B}:8`))).toBe(true);
    expect(s.containsSet(p(`${A}:4-6`))).toBe(false);
    expect(s.containsSet(p(`${A}:t:3-4`))).toBe(false);
    expect(s.containsSet(p(`${C}:1`))).toBe(false);
    expect(s.equals(p(`${B}:8:7, ${A}:t:3,${A}:1-4:5:10`))).toBe(true);
    expect(s.equals(p(`${A}:1-5:10:t:3,${B}:7`))).toBe(false);
    expect(s.equals(p(`${A}:1-5:10:u:3,${B}:7-8`))).toBe(false);
    expect(MysqlGtidSet.empty().equals(p(''))).toBe(true);
  });

  it('subtracting everything removes the sid', () => {
    const s = p(`${A}:1-5,${B}:1`).subtract(p(`${A}:1-9`));
    expect(s.sids()).toEqual([{ uuid: B, tag: '' }]);
    expect(s.intervals(A)).toEqual([]);
    expect(s.encode().length).toBe(8 + 16 + 8 + 16);
    expect(p(`${A}:1-5`).intersect(p(`${A}:6`)).isEmpty()).toBe(true);
  });

  it('add / addInterval merge and keep the set canonical', () => {
    const s = MysqlGtidSet.empty();
    s.add(g(A, 3n)).add(g(A, 1n)).add(g(A, 2n)).add(g(A, 7n)).add(g(A, 5n)).add(g(A, 6n));
    expect(s.toString()).toBe(`${A}:1-3:5-7`);
    s.add(g(A, 4n));
    expect(s.intervals(A)).toEqual([[1n, 7n]]);
    s.addInterval(A, '', 20n, 30n).addInterval(A, '', 10n, 12n).addInterval(A, '', 9n, 21n);
    expect(s.toString()).toBe(`${A}:1-7:9-30`);
    s.addInterval(A, '', 8n, 8n);
    expect(s.toString()).toBe(`${A}:1-30`);
    s.addInterval(A.toUpperCase(), 'TG', 5n, 5n).add(g(A, 6n, 'tg'));
    expect(s.toString()).toBe(`${A}:1-30:tg:5-6`);
    s.add(g(A, MAX_GNO));
    expect(s.intervals(A)).toEqual([
      [1n, 30n],
      [MAX_GNO, MAX_GNO],
    ]);
    expect(s.count()).toBe(33n);
  });

  it('clone is independent', () => {
    const s = p(`${A}:1-5`);
    const c = s.clone();
    c.add(g(A, 6n)).add(g(B, 1n));
    s.add(g(A, 9n));
    expect(s.toString()).toBe(`${A}:1-5:9`);
    expect(c.toString()).toBe(`${A}:1-6,${B}:1`);
    const u = s.union(MysqlGtidSet.empty());
    u.add(g(A, 6n));
    expect(s.toString()).toBe(`${A}:1-5:9`);
    const d = s.subtract(MysqlGtidSet.empty());
    d.add(g(A, 7n));
    expect(s.toString()).toBe(`${A}:1-5:9`);
  });

  it('intervals() returns copies', () => {
    const s = p(`${A}:1-5`);
    const iv = s.intervals(A);
    iv[0]![1] = 99n;
    iv.push([200n, 300n]);
    expect(s.toString()).toBe(`${A}:1-5`);
  });

  it.each([
    ['gno 0', () => MysqlGtidSet.empty().add(g(A, 0n))],
    ['gno = GNO_END', () => MysqlGtidSet.empty().add(g(A, MAX_GNO + 1n))],
    ['negative gno', () => MysqlGtidSet.empty().add(g(A, -1n))],
    ['bad uuid', () => MysqlGtidSet.empty().add(g('not-a-uuid', 1n))],
    ['bad tag', () => MysqlGtidSet.empty().add(g(A, 1n, '1x'))],
    ['interval end < start', () => MysqlGtidSet.empty().addInterval(A, '', 5n, 4n)],
    ['interval start 0', () => MysqlGtidSet.empty().addInterval(A, '', 0n, 4n)],
    ['interval bad tag', () => MysqlGtidSet.empty().addInterval(A, 'a-b', 1n, 4n)],
    ['contains with a bad uuid', () => MysqlGtidSet.empty().contains(g('x', 1n))],
  ])('%s throws ERR_GTID_SYNTAX', (_name, fn) => {
    expect(fn).toThrow(ProtocolError);
    try {
      fn();
    } catch (err) {
      expect((err as ProtocolError).code).toBe('ERR_GTID_SYNTAX');
    }
  });

  it('adding consecutive GNOs extends one interval (O(1) path) and contains stays exact', () => {
    const s = MysqlGtidSet.empty();
    const n = 200_000n;
    for (let i = 1n; i <= n; i++) s.add({ uuid: A, tag: '', gno: i });
    expect(s.intervals(A)).toEqual([[1n, n]]);
    // many disjoint intervals: binary search must find every member and no gap
    const sparse = MysqlGtidSet.empty();
    for (let i = 1n; i <= 20_000n; i++) sparse.add({ uuid: B, tag: '', gno: i * 2n });
    expect(sparse.intervals(B)).toHaveLength(20_000);
    for (let i = 1n; i <= 40_001n; i++) {
      if (sparse.contains({ uuid: B, tag: '', gno: i }) !== (i % 2n === 0n && i <= 40_000n)) {
        throw new Error(`contains(${i}) is wrong`);
      }
    }
    // filling every gap in reverse merges everything into one interval
    for (let i = 20_000n; i >= 1n; i--) sparse.add({ uuid: B, tag: '', gno: i * 2n - 1n });
    expect(sparse.intervals(B)).toEqual([[1n, 40_000n]]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Property test against a naive model: a JS Set of 'uuid:tag:n' strings over a small universe.

const UUIDS = [A, B, C];
const TAGS = ['', 'a', 'zz'];
const MAX = 40;

type Model = Set<string>;

function modelKey(uuid: string, tag: string, n: number): string {
  return `${uuid}:${tag}:${n}`;
}

function randomSet(rnd: () => number): { set: MysqlGtidSet; model: Model } {
  const set = MysqlGtidSet.empty();
  const model: Model = new Set();
  const ops = Math.floor(rnd() * 8);
  for (let i = 0; i < ops; i++) {
    const uuid = UUIDS[Math.floor(rnd() * UUIDS.length)]!;
    const tag = TAGS[Math.floor(rnd() * TAGS.length)]!;
    const start = 1 + Math.floor(rnd() * MAX);
    if (rnd() < 0.5) {
      set.add({ uuid, tag, gno: BigInt(start) });
      model.add(modelKey(uuid, tag, start));
    } else {
      const end = Math.min(MAX, start + Math.floor(rnd() * 12));
      set.addInterval(uuid, tag, BigInt(start), BigInt(end));
      for (let n = start; n <= end; n++) model.add(modelKey(uuid, tag, n));
    }
  }
  return { set, model };
}

/** Canonical text computed from the model alone. */
function modelText(model: Model): string {
  const parts: string[] = [];
  for (const uuid of [...UUIDS].sort()) {
    let text = '';
    for (const tag of [...TAGS].sort()) {
      const nums: number[] = [];
      for (let n = 1; n <= MAX; n++) if (model.has(modelKey(uuid, tag, n))) nums.push(n);
      if (nums.length === 0) continue;
      if (tag !== '') text += `:${tag}`;
      let i = 0;
      while (i < nums.length) {
        let j = i;
        while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
        text += i === j ? `:${nums[i]}` : `:${nums[i]}-${nums[j]}`;
        i = j + 1;
      }
    }
    if (text !== '') parts.push(uuid + text);
  }
  return parts.join(',');
}

function check(set: MysqlGtidSet, model: Model, what: string): void {
  const text = modelText(model);
  if (set.toString() !== text) throw new Error(`${what}: got ${set.toString()}, model says ${text}`);
  if (set.count() !== BigInt(model.size)) throw new Error(`${what}: count ${set.count()} != ${model.size}`);
}

describe('MysqlGtidSet algebra: property test against a naive model', () => {
  it('agrees with JS Sets on union, subtract, intersect, contains, containsSet, equals and the codecs', () => {
    const rnd = prng(0x6d7973);
    for (let iter = 0; iter < 3000; iter++) {
      const { set: a, model: ma } = randomSet(rnd);
      const { set: b, model: mb } = randomSet(rnd);
      check(a, ma, `a#${iter}`);
      check(b, mb, `b#${iter}`);
      check(a.union(b), new Set([...ma, ...mb]), `union#${iter}`);
      check(a.subtract(b), new Set([...ma].filter((k) => !mb.has(k))), `subtract#${iter}`);
      check(a.intersect(b), new Set([...ma].filter((k) => mb.has(k))), `intersect#${iter}`);
      const subset = [...mb].every((k) => ma.has(k));
      if (a.containsSet(b) !== subset) throw new Error(`containsSet#${iter}: ${a} ⊇ ${b} should be ${subset}`);
      const same = ma.size === mb.size && subset;
      if (a.equals(b) !== same) throw new Error(`equals#${iter}: ${a} = ${b} should be ${same}`);
      for (let k = 0; k < 10; k++) {
        const uuid = UUIDS[Math.floor(rnd() * UUIDS.length)]!;
        const tag = TAGS[Math.floor(rnd() * TAGS.length)]!;
        const n = 1 + Math.floor(rnd() * (MAX + 2));
        if (a.contains({ uuid, tag, gno: BigInt(n) }) !== ma.has(modelKey(uuid, tag, n))) {
          throw new Error(`contains#${iter}: ${uuid}:${tag}:${n} in ${a}`);
        }
      }
      if (!MysqlGtidSet.parse(a.toString()).equals(a)) throw new Error(`text round trip#${iter}: ${a}`);
      if (!MysqlGtidSet.decode(a.encode({ tagged: true })).equals(a)) throw new Error(`binary round trip#${iter}: ${a}`);
      // in-place add of b's members into a clone equals the union
      const c = a.clone();
      for (const key of mb) {
        const [uuid, tag, n] = key.split(':') as [string, string, string];
        c.add({ uuid, tag, gno: BigInt(n) });
      }
      if (!c.equals(a.union(b))) throw new Error(`add-all#${iter}: ${c} vs ${a.union(b)}`);
      // identities
      if (!a.subtract(b).union(a.intersect(b)).equals(a)) throw new Error(`(a-b)∪(a∩b)=a #${iter}`);
      if (!a.union(b).subtract(b).equals(a.subtract(b))) throw new Error(`(a∪b)-b = a-b #${iter}`);
    }
    expect(rnd()).toBeLessThan(1);
  });
});
